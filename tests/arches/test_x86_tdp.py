"""x86 TDP MMU model against arch/x86/kvm/mmu/{tdp_mmu.c,mmu.c,spte.c} @ v6.9."""

import pytest

from kvmspte.arches.x86_tdp import Model
from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import GfnRange, Memslot
from kvmspte.scenario import catalogue
from kvmspte.trace import Trace
from tests.conftest import run_named

SLOT = Memslot(0, 0x100000, 0x1000, 0x7F0000000000)


def fresh(thp=False):
    m = Model(Trace())
    return m, HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp)


def test_fault_builds_four_levels_and_a_writable_dirty_leaf():
    # kvm_tdp_mmu_map links tables at levels 3, 2, 1 below the level-4 root; make_spte on a
    # host-writable page sets W, MMU-writable, host-writable, Accessed and Dirty.
    m, host = fresh()
    got = m.fault_in(SLOT, 0x100210, host, write=True)
    assert got.pages == 1
    assert len(m.pt.pages) == 4
    leaf, depth = m.pt.lookup(0x100210)
    assert depth == 0 and leaf.pfn == 0x80210 and leaf.perms == "rwx"
    assert leaf.dirty and leaf.young and {"host-writable", "mmu-writable"} <= set(leaf.native)


def test_fault_on_thp_maps_2m_unless_dirty_logging():
    # kvm_mmu_hugepage_adjust: host PMD level -> 2M; kvm_slot_dirty_track_enabled -> 4K
    m, host = fresh(thp=True)
    assert m.fault_in(SLOT, 0x100210, host, write=True).pages == 512
    m2, host2 = fresh(thp=True)
    logging = Memslot(0, 0x100000, 0x1000, 0x7F0000000000, dirty_logging=True)
    assert m2.fault_in(logging, 0x100210, host2, write=True).pages == 1


def test_unmap_zaps_a_whole_2m_leaf_and_keeps_table_pages():
    # tdp_mmu_zap_leafs: any present leaf overlapping [start, end) is zapped; no kvm_mmu_page
    # is freed on this path.
    m, host = fresh(thp=True)
    m.fault_in(SLOT, 0x100210, host, write=True)
    pages = len(m.pt.pages)
    assert m.unmap_gfn_range(GfnRange(SLOT, 0x100210, 0x100211)) is True
    assert m.pt.lookup(0x100200) is None and len(m.pt.pages) == pages


def test_set_spte_gfn_on_present_4k_leaf_installs_read_only_not_accessed():
    # set_spte_gfn: zap to 0, then for a read-only new host PTE install
    # kvm_mmu_changed_pte_notifier_make_spte (pfn replaced; W, host-W, MMU-W, A cleared).
    m, host = fresh()
    m.fault_in(SLOT, 0x100210, host, write=True)
    flush = m.set_spte_gfn(GfnRange(SLOT, 0x100210, 0x100211, HostPte(0xC0000)))
    leaf, _ = m.pt.lookup(0x100210)
    assert flush is True
    assert (leaf.pfn, leaf.perms, leaf.young, leaf.dirty) == (0xC0000, "r-x", False, True)
    assert not {"host-writable", "mmu-writable"} & set(leaf.native)


def test_set_spte_gfn_with_writable_new_pte_only_zaps():
    # set_spte_gfn: no install when the new host PTE is writable
    m, host = fresh()
    m.fault_in(SLOT, 0x100210, host, write=True)
    assert m.set_spte_gfn(GfnRange(SLOT, 0x100210, 0x100211, HostPte(0xD0000, write=True)))
    assert m.pt.lookup(0x100210) is None


def test_set_spte_gfn_leaves_2m_leaf_untouched():
    # set_spte_gfn returns false for iter->level != PG_LEVEL_4K
    m, host = fresh(thp=True)
    m.fault_in(SLOT, 0x100210, host, write=True)
    assert m.set_spte_gfn(GfnRange(SLOT, 0x100210, 0x100211, HostPte(0xC0000))) is False
    assert m.pt.lookup(0x100210)[0].pfn == 0x80200


# Every built-in scenario.  invalidate_range_start has already zapped the leaf
# (tdp_mmu_zap_leafs), so set_spte_gfn finds no present 4 KiB leaf and returns false;
# where generic code returns first (kvm_change_spte_gfn's KVM_MEMSLOT_INVALID skip,
# kvm_mmu_notifier_change_pte's in_progress == 0 return) the hook is not reached;
# dirty logging forbids the 2 MiB start state (kvm_mmu_hugepage_adjust).
NOT_REACHED = {"ksm-merge-invalid-slot", "ksm-merge-unwrapped", "cow-unwrapped"}
NA = {"huge-dirty-log"}


@pytest.mark.parametrize("name", list(catalogue()))
def test_catalogue_verdicts(name):
    res = run_named(name, Model)
    if name in NA:
        assert res.verdict == "n/a" and "dirty logging" in res.reason
        return
    assert res.verdict == "no-op"
    assert res.reached_arch_hook is (name not in NOT_REACHED)
    assert res.flush is False
