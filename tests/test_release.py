"""The release type and switch-point tables (kvmspte.release)."""

import pytest

from kvmspte.sim.release import (
    DEFAULT, FIRST, REMOVED, Release, ReleaseError, Switch, Switches, span,
)
from kvmspte.sim.source import Source

SRC = Source("virt/kvm/kvm_main.c", "kvm_mmu_notifier_change_pte")


@pytest.mark.parametrize("text, key", [
    ("6.9", (6, 9, 0)), ("v6.9", (6, 9, 0)), ("2.6.32", (2, 6, 32)), ("v2.6.31", (2, 6, 31)),
    ("5.15.100", (5, 15, 0)), ("3.0", (3, 0, 0)), (" 6.10 ", (6, 10, 0)),
])
def test_parse(text, key):
    assert Release.parse(text).key == key


@pytest.mark.parametrize("text", ["", "6", "six.nine", "6.9-rc3", "v6.9.1.2", "1234.5", "6..9"])
def test_parse_rejects(text):
    with pytest.raises(ReleaseError):
        Release.parse(text)


def test_order_spans_the_2_6_series():
    # 2.6.39 was followed by 3.0 (2011); 3.19 by 4.0; 5.19 by 6.0
    seq = ["2.6.32", "2.6.39", "3.0", "3.7", "3.19", "4.0", "5.9", "5.10", "6.9", "6.10"]
    rels = [Release.parse(s) for s in seq]
    assert rels == sorted(rels)
    assert FIRST == Release.parse("2.6.32") and DEFAULT == Release.parse("6.9")
    assert REMOVED == Release.parse("6.10") and str(FIRST) == "v2.6.32" and str(DEFAULT) == "v6.9"


def _table():
    return Switches([
        Switch("gfn-range", Release(5, 13), "3039bcc74498", "gfn-range callbacks", SRC),
        Switch("early-return", Release(5, 15), "071064f14d87", "return when nothing runs", SRC),
    ])


def test_active_and_span():
    t = _table()
    assert not t.active("gfn-range", Release(5, 12)) and t.active("gfn-range", Release(5, 13))
    assert str(span(Release(5, 14), [t])) == "v5.13..v5.15"
    assert str(span(Release(6, 9), [t])) == "v5.15..v6.10"
    assert str(span(Release(6, 10), [t])) == "v6.10.."
    assert str(span(Release(4, 0), [t])) == "v2.6.32..v5.13"
    with pytest.raises(KeyError):
        t.active("no-such-switch", DEFAULT)


def test_duplicate_names_rejected():
    s = Switch("a", Release(5, 0), "x", "y", SRC)
    with pytest.raises(ValueError):
        Switches([s, s])
