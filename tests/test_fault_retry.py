"""The two fault-path retry predicates of include/linux/kvm_host.h and who calls which."""

import pytest

from kvmspte.sim import kvm
from kvmspte.plugins.registry import models


def test_vm_wide_retry_fires_for_any_invalidation_in_progress():
    # mmu_invalidate_retry: mmu_invalidate_in_progress alone forces a retry
    assert kvm.retry_vm(1, 5, 5) is True
    assert kvm.retry_vm(0, 5, 5) is False
    assert kvm.retry_vm(0, 6, 5) is True           # the sequence moved


def test_gfn_retry_fires_only_for_a_covering_range():
    # mmu_invalidate_retry_gfn: an in-progress invalidation elsewhere does not force a retry
    assert kvm.retry_gfn(1, 0x100, 0x101, 5, 5, 0x200) is False
    assert kvm.retry_gfn(1, 0x100, 0x101, 5, 5, 0x100) is True
    assert kvm.retry_gfn(1, None, None, 5, 5, 0x200) is True   # no range added: WARN, retry
    assert kvm.retry_gfn(0, None, None, 6, 5, 0x200) is True   # the sequence moved


# Read per arch: see kvmspte/faultretry.py for the copies.
EXPECTED = {
    "x86-tdp": kvm.RETRY_GFN, "x86-shadow": kvm.RETRY_GFN, "loongarch": kvm.RETRY_GFN,
    "arm64": kvm.RETRY_VM, "riscv": kvm.RETRY_VM, "mips": kvm.RETRY_VM,
    "ppc-hv-radix": kvm.RETRY_VM, "ppc-hv-hpt": kvm.RETRY_VM, "ppc-pr": kvm.RETRY_VM,
    "ppc-e500": kvm.RETRY_VM,
}


@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_each_model_declares_the_retry_check_its_fault_path_makes(arch):
    model = models()[arch]
    predicate, source = model.fault_retry
    assert predicate == EXPECTED[arch]
    assert source.release == "v6.9" and source.via
    assert model.describe()["fault_retry"]["predicate"] == predicate


def test_kvm_dispatches_by_predicate():
    k = kvm.Kvm(None, [], None)
    k.mmu_invalidate_in_progress = 1
    k.mmu_invalidate_range_start, k.mmu_invalidate_range_end = 0x100, 0x101
    assert k.fault_must_retry(kvm.RETRY_VM, 0, 0x200)
    assert not k.fault_must_retry(kvm.RETRY_GFN, 0, 0x200)
