"""x86 shadow MMU (rmaps) model against arch/x86/kvm/mmu/mmu.c @ v6.9."""

import pytest

from kvmspte.arches.x86_shadow import Model
from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import GfnRange, Memslot
from kvmspte.scenario import catalogue
from kvmspte.trace import Trace
from tests.conftest import run_named

SLOT = Memslot(0, 0x100000, 0x1000, 0x7F0000000000)


def fresh(thp=False):
    return Model(Trace()), HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp)


def test_fault_adds_leaf_to_rmap_of_its_level_and_prefetches_neighbours():
    # rmap_add files the leaf under its own level; direct_pte_prefetch fills the aligned
    # group of PTE_PREFETCH_NUM (8) 4 KiB SPTEs with Accessed clear.
    m, host = fresh()
    m.fault_in(SLOT, 0x100210, host, write=True)
    assert m.rmaps[(0, 0x100210)] == [0x100210]
    for gfn in range(0x100211, 0x100218):
        leaf, depth = m.pt.lookup(gfn)
        assert depth == 0 and leaf.young is False
    assert m.pt.lookup(0x100218) is None


def test_2m_leaf_on_the_2m_rmap():
    m, host = fresh(thp=True)
    m.fault_in(SLOT, 0x100210, host, write=True)
    assert m.rmaps[(1, 0x100200 >> 9)] == [0x100200]


def test_unmap_zaps_rmap_sptes_keeps_shadow_pages():
    # kvm_zap_rmap -> kvm_zap_all_rmap_sptes: clears every SPTE on the head; returns true
    m, host = fresh(thp=True)
    m.fault_in(SLOT, 0x100210, host, write=True)
    pages = len(m.pt.pages)
    assert m.unmap_gfn_range(GfnRange(SLOT, 0x100210, 0x100211)) is True
    assert m.pt.lookup(0x100210) is None and not m.rmaps and len(m.pt.pages) == pages


def test_set_pte_rmap_repoints_even_a_2m_spte_when_new_pte_read_only():
    # kvm_set_pte_rmap runs on the 2M rmap too and keeps PT_PAGE_SIZE: a 2 MiB SPTE would be
    # repointed at a 4 KiB pfn (unreachable in practice: start() zapped it first).
    m, host = fresh(thp=True)
    m.fault_in(SLOT, 0x100210, host, write=True)
    assert m.set_spte_gfn(GfnRange(SLOT, 0x100210, 0x100211, HostPte(0xC0000))) is True
    leaf, depth = m.pt.lookup(0x100210)
    assert depth == 1 and leaf.pfn == 0xC0000 and "PT_PAGE_SIZE" in leaf.native
    assert leaf.perms == "r-x" and leaf.young is False


def test_set_pte_rmap_drops_spte_when_new_pte_writable():
    # kvm_set_pte_rmap: pte_write(new) -> kvm_zap_one_rmap_spte
    m, host = fresh()
    m.fault_in(SLOT, 0x100210, host, write=True)
    assert m.set_spte_gfn(GfnRange(SLOT, 0x100210, 0x100211, HostPte(0xD0000, write=True)))
    assert m.pt.lookup(0x100210) is None and (0, 0x100210) not in m.rmaps


NOT_REACHED = {"ksm-merge-invalid-slot", "ksm-merge-unwrapped", "cow-unwrapped"}


@pytest.mark.parametrize("name", list(catalogue()))
def test_catalogue_verdicts(name):
    # kvm_unmap_gfn_range emptied every rmap head of the gfn (kvm_zap_rmap), so
    # kvm_set_pte_rmap finds no SPTE at 4K, 2M or 1G and need_flush stays false.
    res = run_named(name, Model)
    if name == "huge-dirty-log":
        assert res.verdict == "n/a"
        return
    assert (res.verdict, res.flush) == ("no-op", False)
    assert res.reached_arch_hook is (name not in NOT_REACHED)
