"""LoongArch model against arch/loongarch/kvm/mmu.c and asm/kvm_mmu.h @ v6.9 (4KB_3LEVEL)."""

import pytest

from kvmspte.arches import loongarch as la
from kvmspte.arches.loongarch import Model
from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import GfnRange, Memslot
from kvmspte.pagetable import Leaf, MemoryCache
from kvmspte.scenario import catalogue
from kvmspte.trace import FLUSH, WARN, Trace
from tests.conftest import run_named

SLOT = Memslot(0, 0x100000, 0x1000, 0x7F0000000000)
LOGGING = Memslot(0, 0x100000, 0x1000, 0x7F0000000000, dirty_logging=True)
READONLY = Memslot(0, 0x100000, 0x1000, 0x7F0000000000, readonly=True)
GFN = 0x100210
P, V, W, D, H, CC = (la._PAGE_PRESENT, la._PAGE_VALID, la._PAGE_WRITE, la._PAGE_DIRTY,
                     la._PAGE_HUGE, la._CACHE_CC)


def fresh(thp=False):
    return Model(Trace()), HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp)


def value(m, gfn):
    table, idx, _ = m.pt.walk(gfn)[-1]
    return m.bits_at(table, idx), table.depth


def one(gfn, pte=None):
    return GfnRange(SLOT, gfn, gfn + 1, pte)


# -- entry format ---------------------------------------------------------------------------

def test_leaf_conversion_is_exact():
    # kvm_pfn_pte / pgtable-bits.h: pfn << PFN_PTE_SHIFT | flags; the Leaf form must round-trip.
    for v in (0, P | V | CC | 0x80210 << 12, P | V | W | D | H | CC | 0x80200 << 12,
              P | la._PAGE_MODIFIED | 0x1 << 12):
        assert la.to_value(la.to_leaf(v)) == v


# -- fault path: kvm_handle_mm_fault -> kvm_map_page -------------------------------------------

def test_write_fault_builds_three_levels_and_a_dirty_writable_entry():
    # kvm_map_page: prot = PRESENT|__READABLE|CACHE_CC, + WRITE when writeable, + __WRITEABLE on
    # a write; kvm_populate_gpa takes the PMD and PTE tables from the cache
    # (KVM_MMU_CACHE_MIN_PAGES = levels - 1); kvm_handle_mm_fault then does kvm_flush_tlb_gpa.
    m, host = fresh()
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 1 and len(m.pt.pages) == 3
    assert value(m, GFN) == (P | V | W | D | CC | 0x80210 << 12, 0)
    assert m.pt.g.names == ("PTE (level 0)", "PMD (level 1)", "PGD (level 2)")
    assert any("invtlb" in s.text for s in m.trace.steps if s.kind == FLUSH)


def test_read_fault_maps_write_without_dirty_and_readonly_slot_without_write():
    # kvm_map_page: a read fault on writable memory gets _PAGE_WRITE but not _PAGE_DIRTY; a
    # read-only memslot makes gfn_to_pfn_prot report not writeable.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=False)
    assert value(m, GFN)[0] & (W | D) == W
    m2, host2 = fresh()
    m2.fault_in(READONLY, GFN, host2, write=False)
    assert value(m2, GFN)[0] & (W | D) == 0


def test_fast_path_makes_a_write_mapped_entry_dirty_without_new_tables():
    # kvm_map_page_fast: present entry, write, not dirty, _PAGE_WRITE set -> kvm_pte_mkdirty.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=False)
    pages = len(m.pt.pages)
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.source.function == "kvm_map_page_fast"
    assert value(m, GFN)[0] & (W | D) == W | D and len(m.pt.pages) == pages


def test_thp_host_gives_a_huge_pmd_entry_but_not_for_a_logged_write():
    # fault_supports_huge_mapping (slot KVM_MEM_HUGEPAGE_CAPABLE: size, gpa, hva 2M aligned) and
    # host_pfn_mapping_level (host PMD has _PAGE_HUGE) -> level 1, _PAGE_HUGE, pfn aligned down.
    m, host = fresh(thp=True)
    assert m.fault_in(SLOT, GFN, host, write=True).pages == 512
    assert value(m, GFN) == (P | V | W | D | H | CC | 0x80200 << 12, 1)
    assert len(m.pt.pages) == 2                      # no PTE table
    m2, host2 = fresh(thp=True)
    got = m2.fault_in(LOGGING, GFN, host2, write=True)
    assert got.pages == 1 and "dirty logging" in got.why
    m3, host3 = fresh(thp=True)                      # a read fault under logging may go huge
    assert m3.fault_in(LOGGING, GFN, host3, write=False).pages == 512


def test_unaligned_slot_is_hugepage_incapable():
    # kvm_arch_prepare_memory_region: gpa and hva offsets within a PMD differ -> INCAPABLE.
    m, host = fresh(thp=True)
    slot = Memslot(0, 0x100001, 0xFFF, 0x7F0000000000)
    ok, why = m.supports_huge(slot, 0x7F0000200000, True)
    assert not ok and "INCAPABLE" in why


def test_logged_write_to_a_huge_entry_splits_it():
    # kvm_map_page_fast refuses (huge + dirty tracking); kvm_map_page maps level 0, finds the huge
    # PMD through kvm_populate_gpa and, as this is a write, kvm_split_huge fills a PTE table with
    # the huge value minus _PAGE_HUGE, one page further per entry.
    m, host = fresh(thp=True)
    m.fault_in(LOGGING, GFN, host, write=False)      # huge, WRITE but not DIRTY
    m.fault_in(LOGGING, GFN, host, write=True)
    assert value(m, GFN) == (P | V | W | D | CC | 0x80210 << 12, 0)
    assert value(m, 0x100211) == (P | V | W | CC | 0x80211 << 12, 0)
    pte_table = m.pt.walk(GFN)[-1][0]
    assert len(pte_table.entries) == 512


# -- unmap: kvm_unmap_gfn_range (flag 0) ----------------------------------------------------------

def test_unmap_zeroes_the_4k_entry_returns_true_and_frees_no_table():
    # kvm_ptw_leaf -> kvm_flush_pte writes 0; kvm_need_flush is false with flag 0.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    pages = len(m.pt.pages)
    assert m.unmap_gfn_range(one(GFN)) is True
    assert m.pt.lookup(GFN) is None and len(m.pt.pages) == pages
    assert m.pt.walk(GFN)[-1][0].depth == 0          # the empty PTE table is still linked
    assert m.unmap_gfn_range(one(GFN)) is False      # nothing present any more


def test_unmap_of_one_gfn_resets_the_whole_huge_entry():
    # kvm_ptw_dir: a huge entry gets kvm_flush_pte whole, with no alignment or size test.
    m, host = fresh(thp=True)
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.unmap_gfn_range(one(GFN)) is True
    assert m.pt.lookup(0x100200) is None and m.pt.lookup(0x1003FF) is None
    assert len(m.pt.pages) == 2


# -- kvm_populate_gpa with no cache -------------------------------------------------------------

def test_populate_without_cache_is_null_at_a_missing_level_and_stops_at_a_huge_entry():
    m, host = fresh(thp=True)
    assert m.populate(None, GFN, 0) is None
    m.fault_in(SLOT, GFN, host, write=True)
    table, idx = m.populate(None, GFN, 0)
    assert table.depth == 1 and m.bits_at(table, idx) & H


# -- kvm_set_spte_gfn (v6.9 body) ------------------------------------------------------------------

def test_set_spte_gfn_on_a_present_young_entry_installs_with_both_sides_rule():
    # PRESENT|__READABLE, the new PTE's cache bits, and __WRITEABLE & old & new; returns true.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)                       # old: WRITE|DIRTY
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is True     # KSM: read-only, clean
    assert value(m, GFN) == (P | V | CC | 0xC0000 << 12, 0)
    m.fault_in(SLOT, GFN, host, write=False)                      # fast path: young already
    m2, host2 = fresh()
    m2.fault_in(SLOT, GFN, host2, write=False)                    # old: WRITE only
    m2.set_spte_gfn(one(GFN, HostPte(0xD0000, write=True, dirty=True)))
    assert value(m2, GFN)[0] & (W | D) == W


def test_set_spte_gfn_on_an_absent_or_old_entry_writes_zero_and_returns_false():
    # "absent or old": !_PAGE_PRESENT or !young -> kvm_set_pte(ptep, 0), false.
    m, host = fresh()
    m.fault_in(SLOT, GFN + 1, host, write=True)
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is False
    assert m.pt.lookup(GFN) is None
    m.fault_in(SLOT, GFN, host, write=True)
    table, idx, _ = m.pt.walk(GFN)[-1]
    m.store(table, idx, m.bits_at(table, idx) & ~V)   # as kvm_mkold_pte (kvm_age_gfn) leaves it
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is False
    assert m.pt.lookup(GFN) is None


def test_set_spte_gfn_with_no_tables_returns_false():
    # kvm_populate_gpa(kvm, NULL, gpa, 0) == NULL -> false.
    m, _ = fresh()
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is False and len(m.pt.pages) == 1


def test_set_spte_gfn_without_a_prior_unmap_hits_the_huge_entry_itself():
    # populate returns the huge PMD; young -> overwritten with a small-format value (no
    # _PAGE_HUGE); made old first -> a plain 0, which is not the level's invalid value.
    m, host = fresh(thp=True)
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is True
    v, depth = value(m, GFN)
    assert depth == 1 and not v & H and v >> 12 == 0xC0000
    assert any(s.kind == WARN for s in m.trace.steps)
    m2, host2 = fresh(thp=True)
    m2.fault_in(SLOT, GFN, host2, write=True)
    table, idx = m2.populate(None, GFN, 0)
    m2.store(table, idx, m2.bits_at(table, idx) & ~V)
    assert m2.set_spte_gfn(one(GFN, HostPte(0xC0000))) is False
    assert isinstance(table.entries[idx], Leaf) and la.to_value(table.entries[idx]) == 0
    assert m2.lookup(GFN) is None


def test_memory_cache_top_up_is_levels_minus_one():
    # KVM_MMU_CACHE_MIN_PAGES = CONFIG_PGTABLE_LEVELS - 1: enough for a PMD and a PTE table.
    m, _ = fresh()
    cache = MemoryCache(m.pt.g.levels - 1)
    assert m.populate(cache, GFN, 0) is not None and cache.pages == 0


# -- every built-in scenario ----------------------------------------------------------------------
# invalidate_range_start's kvm_unmap_gfn_range has already zeroed the 4 KiB entry (or reset the
# whole huge PMD entry to the invalid-table value, which also leaves kvm_populate_gpa(NULL)
# returning NULL), so kvm_set_spte_gfn finds an absent entry, writes 0 and returns false, or
# returns false on NULL.  Generic code returns before the hook for KVM_MEMSLOT_INVALID
# (kvm_change_spte_gfn) and in_progress == 0 (kvm_mmu_notifier_change_pte).  huge-dirty-log:
# fault_supports_huge_mapping refuses a huge mapping for a write fault under dirty logging.
NOT_REACHED = {"ksm-merge-invalid-slot", "ksm-merge-unwrapped", "cow-unwrapped"}
NA = {"huge-dirty-log"}
POPULATE_NULL = {"ksm-merge-huge", "ksm-merge-huge-alone", "cow-huge", "ksm-merge-unmapped-alone"}


@pytest.mark.parametrize("name", list(catalogue()))
def test_catalogue_verdicts(name):
    res = run_named(name, Model)
    if name in NA:
        assert res.verdict == "n/a" and "dirty logging" in res.reason
        assert res.reason_source.function == "fault_supports_huge_mapping"
        return
    assert (res.verdict, res.flush, res.diff) == ("no-op", False, [])
    assert res.reached_arch_hook is (name not in NOT_REACHED)
    if name in NOT_REACHED:
        return
    expect = "returned NULL" if name in POPULATE_NULL else "absent or old"
    assert expect in res.reason and res.reason_source.function == "kvm_set_spte_gfn"


def test_huge_scenarios_really_started_huge():
    # The no-op for the huge scenarios must come from a real 2 MiB start state.
    res = run_named("ksm-merge-huge", Model)
    text = [s.text for s in res.trace if s.actor == "arch"]
    assert any("reset the 2M entry" in t for t in text)
