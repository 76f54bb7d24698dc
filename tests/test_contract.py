"""The shared contract (kvmspte.testing): every architecture model passes every check."""

import pytest

from kvmspte import testing
from kvmspte.plugins.registry import models


@pytest.mark.parametrize("check", testing.CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("arch", list(models()))
def test_model_passes_the_contract(arch, check):
    check(models()[arch])


def test_not_reached_is_the_generic_layer_s_early_returns():
    assert testing.NOT_REACHED == {"ksm-merge-invalid-slot", "ksm-merge-unwrapped",
                                   "cow-unwrapped"}
