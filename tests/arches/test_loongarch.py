"""LoongArch model against arch/loongarch/kvm/mmu.c and asm/kvm_mmu.h @ v6.9 (4KB_3LEVEL)."""

import pytest

from kvmspte.arches import loongarch as la
from kvmspte.arches.loongarch import Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim.pagetable import Leaf, MemoryCache
from kvmspte.sim.release import Release
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.trace import FLUSH, WARN, Trace
from tests.conftest import run_named
from kvmspte.testing import NOT_REACHED, SLOT

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
    assert [s.source.function for s in m.trace.steps if s.kind == FLUSH] == ["kvm_handle_mm_fault"]


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
    assert got.pages == 1 and got.source.function == "fault_supports_huge_mapping"
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
NA = {"huge-dirty-log"}
POPULATE_NULL = {"ksm-merge-huge", "ksm-merge-huge-alone", "cow-huge", "ksm-merge-unmapped-alone"}


@pytest.mark.parametrize("name", [n for n in catalogue() if n not in NOT_REACHED])
def test_catalogue_mechanism(name):
    # The verdicts are the catalogue's [expect] (tests/test_contract.py); here, why.
    res = run_named(name, Model)
    if name in NA:
        assert res.reason_source.function == "fault_supports_huge_mapping"
        return
    assert (res.flush, res.diff, res.reached_arch_hook) == (False, [], True)
    assert res.reason_source.function == "kvm_set_spte_gfn"
    # kvm_populate_gpa's walk stops at an invalid-table entry (NULL) or reaches the PTE
    walk = [s.source.function for s in res.trace if s.actor == "arch"
            and s.phase.endswith("change_pte")]
    assert ("kvm_populate_gpa" in walk) is (name in POPULATE_NULL), walk


def test_huge_scenarios_really_started_huge():
    # The no-op for the huge scenarios must come from a real 2 MiB start state.
    from kvmspte.sim import engine

    start = engine.snapshot(engine.setup(catalogue()["ksm-merge-huge"], Model))
    assert start["leaf 2M @gfn 0x100200"]["level"] == "PMD (level 1)"
    # invalidate_range_start reset it (the neighbour's 2 MiB leaf stays)
    assert "leaf 2M @gfn 0x100200" not in run_named("ksm-merge-huge", Model).before


# -- releases (kvmspte.release switch points) ----------------------------------------------
PMD = 1 << 21


def at(kernel, thp=False):
    return (Model(Trace(), None, Release.parse(kernel)),
            HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp))


def test_arrives_at_6_7_with_an_inferred_body():
    # 752e2cd7b4fb "LoongArch: KVM: Implement kvm mmu operations" (v6.7). Its kvm_set_spte_gfn
    # was not read at 6.7: inferred from the v6.9-rc text (removal diff, blob a556cff35740) as
    # the 6.8 pull [37792540329] changes mmu.c only by 7ab6fb505b2a and 6.9's [20983237577] not.
    assert (Model.arrived.since, Model.arrived.commit) == (Release(6, 7), "752e2cd7b4fb")
    assert "not read at v6.7" in Model.arrived.source.via
    assert [str(r) for r in Model.switches.releases()] == ["v6.8"]


@pytest.mark.parametrize("base_gfn, npages, uaddr", [
    (0x100000, 0x1000, 0x7F0000000000),          # everything PMD aligned
    (0x100010, 0x1000, 0x7F0000010000),          # same offset, unaligned head and tail
    (0x100010, 0x1000, 0x7F0000020000),          # offsets differ within the PMD
    (0x100010, 0x300, 0x7F0000010000),           # no whole PMD inside
    (0x100010, 0x3F0, 0x7F0000010000),           # exactly up to a PMD boundary
])
def test_6_7_huge_page_check_gives_the_6_8_answer_for_every_hva(base_gfn, npages, uaddr):
    # 7ab6fb505b2a (v6.8), read as posted [1600288028]: the '-' side (6.7) checks the gpa/hva
    # offset and that the hva's PMD lies in the slot; the '+' side precomputes
    # KVM_MEM_HUGEPAGE_CAPABLE/INCAPABLE. Same answer, so no behaviour switch, only the text.
    slot = Memslot(0, base_gfn, npages, uaddr)
    old, _ = at("6.7")
    new, _ = at("6.8")
    for page in range(0, npages, 0x10):
        hva = uaddr + (page << 12)
        assert old.supports_huge(slot, hva, False)[0] == new.supports_huge(slot, hva, False)[0]
    assert "KVM_MEM_HUGEPAGE" not in old.supports_huge(slot, uaddr, False)[1]


def test_6_7_fault_cites_its_own_huge_page_check_and_maps_the_same_2m_block():
    # The 6.7 fault_supports_huge_mapping ([1600288028] '-' side) and host_pfn_mapping_level
    # map a THP-backed aligned slot with a 2 MiB entry, as at v6.8/v6.9.
    for kernel, release in (("6.7", "v6.7"), ("6.8", "v6.9")):
        m, host = at(kernel, thp=True)
        got = m.fault_in(SLOT, GFN, host, write=False)
        assert got.pages == 512
        assert (got.source.function, got.source.release) == ("fault_supports_huge_mapping",
                                                             release)
        assert {s.source.release for s in m.trace.steps} == {release}


@pytest.mark.parametrize("kernel", ["6.7", "6.8", "6.9"])
def test_set_spte_and_unmap_are_the_same_in_every_release(kernel):
    # kvm_unmap_gfn_range (flag 0, no table freed) then kvm_set_spte_gfn on the absent entry:
    # write 0, false; no release 6.7..6.9 changes either (pulls [37792540329], [20983237577]).
    m, host = at(kernel)
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.unmap_gfn_range(one(GFN)) is True
    pages = len(m.pt.pages)
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000, write=True, dirty=True))) is False
    assert len(m.pt.pages) == pages and m.lookup(GFN) is None


def test_hooks_at_6_7_drop_the_empty_prepare_memory_region():
    # In 6.7 kvm_arch_prepare_memory_region returned 0 ([1600288028] '-' side); from 6.8 it
    # computes the hugepage flags, so it is one of the fault path's sources.
    old = Model.hooks_at(Release(6, 7))["fault_in"]
    assert "kvm_arch_prepare_memory_region" not in {s.function for s in old}
    assert all(s.release == "v6.7" for s in old if s.file == la.MMU_C)
    assert Model.hooks_at(Release(6, 8)) == Model.hooks
