"""Tests for the arm64 stage-2 model (kvmspte.arches.arm64).

Sources are cited as file:function @ v6.9; see the module for the copy each was
read in (mmu.c: a v6.8 full copy + the v6.9-rc removal diff; pgtable.c: a
v6.8-v6.10 generation copy).
"""

from __future__ import annotations

import pytest

from kvmspte import engine, scenario
from kvmspte.arches.arm64 import EAGAIN, ENOMEM, OK, Model
from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import GfnRange, Memslot
from kvmspte.pagetable import Leaf, MemoryCache, TablePage
from kvmspte.trace import FLUSH, Trace

GFN = engine.TARGET_GFN          # 0x100210, inside the second 2 MiB of the slot
HVA_BASE, PFN_BASE = engine.BASE_HVA, engine.BASE_PFN


def slot(**flags) -> Memslot:
    return Memslot(id=0, base_gfn=engine.BASE_GFN, npages=engine.NPAGES,
                   userspace_addr=HVA_BASE, **flags)


def host(thp: bool = False, write: bool = True) -> HostMM:
    return HostMM(HVA_BASE, engine.NPAGES, PFN_BASE, thp=thp,
                  pte=HostPte(pfn=0, write=write, dirty=write))


def model(**options) -> Model:
    return Model(Trace(), options)


def pfn_of(gfn: int) -> int:
    return PFN_BASE + gfn - engine.BASE_GFN


def path(m: Model, gfn: int):
    """(table page, entry) per level on the root-to-leaf walk."""
    return [(t, e) for t, _, e in m.pt.walk(gfn)]


def flushes(m: Model, since: int = 0) -> list[str]:
    return [s.text for s in m.trace.since(since) if s.kind == FLUSH]


def set_spte(m: Model, gfn: int, pfn: int, s: Memslot | None = None) -> bool:
    return m.set_spte_gfn(GfnRange(s or slot(), gfn, gfn + 1, HostPte(pfn=pfn)))


def unmap(m: Model, start: int, end: int) -> bool:
    return m.unmap_gfn_range(GfnRange(slot(), start, end, may_block=True))


# --------------------------------------------------------------------------------------
# Fault path: arch/arm64/kvm/mmu.c:user_mem_abort @ v6.9
# --------------------------------------------------------------------------------------

def test_geometry_three_levels_from_level_1():
    """stage2_pgtable.h:stage2_pgtable_levels @ v6.9: 40-bit IPA -> 3 levels, start level 1."""
    m = model()
    assert m.pt.g.levels == 3 and m.pt.g.names == ("L3", "L2", "L1")
    assert m.pt.root.depth == 2


def test_fault_4k_builds_l2_and_l3_tables_and_a_page_leaf():
    """mmu.c:user_mem_abort tops the cache up to levels-1 = 2 pages
    (stage2_pgtable.h:kvm_mmu_cache_min_pages); pgtable.c:stage2_map_walk_leaf links a table
    per missing level; stage2_set_prot_attr gives S2AP R|W, XN (no exec fault), AF."""
    m = model()
    got = m.fault_in(slot(), GFN, host(), write=True)
    assert got.pages == 1
    (root, l2), (l2p, l3), (l3p, leaf) = path(m, GFN)
    assert isinstance(l2, TablePage) and isinstance(l3, TablePage)
    assert leaf == Leaf(pfn=pfn_of(GFN), read=True, write=True, exec=False, dirty=None,
                        young=True, native=("KVM_PTE_TYPE_PAGE",))
    # each table page: 1 + one counted entry (pgtable.c:stage2_make_pte get_page)
    assert (root.refcount, l2p.refcount, l3p.refcount) == (2, 2, 2)
    assert m.memcache.pages == 0 and len(m.pt.pages) == 3
    assert flushes(m) == []        # old entries were invalid: no TLBI (stage2_try_break_pte)


def test_fault_thp_maps_a_2m_block_with_one_table():
    """mmu.c:transparent_hugepage_adjust @ v6.9: host THP + aligned slot -> PMD_SIZE, ipa and
    pfn aligned down; the block sits at L2 (pgtable.c:stage2_leaf_mapping_allowed)."""
    m = model()
    got = m.fault_in(slot(), GFN, host(thp=True), write=True)
    assert got.pages == 512
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 1 and leaf.pfn == pfn_of(GFN & ~511) and leaf.native == ("KVM_PTE_TYPE_BLOCK",)
    assert len(m.pt.pages) == 2 and m.memcache.pages == 1


def test_fault_dirty_logging_forces_4k_and_read_faults_map_read_only():
    """mmu.c:user_mem_abort @ v6.9: logging_active -> force_pte/PAGE_SIZE even with a THP,
    and a non-write fault under logging clears writable."""
    m = model()
    got = m.fault_in(slot(dirty_logging=True), GFN, host(thp=True), write=False)
    assert got.pages == 1 and "logging" in got.why
    assert m.pt.lookup(GFN)[0].perms == "r--"
    m.fault_in(slot(dirty_logging=True), GFN + 1, host(thp=True), write=True)
    assert m.pt.lookup(GFN + 1)[0].perms == "rw-"


def test_fault_readonly_slot_maps_without_write_and_write_is_mmio():
    """mmu.c:kvm_handle_guest_abort/user_mem_abort @ v6.9: a read-only memslot gives
    writable=false; a write to it is MMIO and never maps."""
    m = model()
    m.fault_in(slot(readonly=True), GFN, host(), write=False)
    assert m.pt.lookup(GFN)[0].perms == "r--"
    assert m.fault_in(slot(readonly=True), GFN + 1, host(), write=True).pages == 0
    assert m.pt.lookup(GFN + 1) is None


def test_dic_option_maps_normal_ram_executable():
    """mmu.c:user_mem_abort @ v6.9: with ARM64_HAS_CACHE_DIC, X is added for normal RAM."""
    m = model(dic=True)
    m.fault_in(slot(), GFN, host(), write=False)
    assert m.pt.lookup(GFN)[0].exec is True


def test_thp_fault_replaces_existing_l3_table_by_block_and_frees_it():
    """pgtable.c:stage2_map_walk_table_pre @ v6.9: a block may replace a table; the old
    subtree is unlinked and freed; the table entry break TLBIs (stage2_try_break_pte)."""
    m = model()
    m.fault_in(slot(), GFN + 1, host(), write=True)          # builds an L3 table
    l3 = path(m, GFN)[1][1]
    mark = m.trace.mark()
    m.fault_in(slot(), GFN, host(thp=True), write=True)
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 1 and l3.id not in m.pt.pages
    assert len(flushes(m, mark)) == 1


def test_mte_fault_tags_the_mapped_pages():
    """mmu.c:sanitise_mte_tags @ v6.9: a non-permission fault on an MTE VM marks every page
    it maps PG_mte_tagged (the host page's flag, not the model's)."""
    m, h = model(mte=True), host(thp=True)
    m.fault_in(slot(), GFN, h, write=True)
    assert {pfn_of(GFN & ~511), pfn_of((GFN & ~511) + 511)} <= h.tagged
    h2 = host()
    model().fault_in(slot(), GFN, h2, write=True)          # no MTE: nothing tagged
    assert h2.tagged == set()


# --------------------------------------------------------------------------------------
# Unmap: mmu.c:kvm_unmap_gfn_range, pgtable.c:kvm_pgtable_stage2_unmap/stage2_unmap_walker
# --------------------------------------------------------------------------------------

def test_unmap_alone_frees_l3_and_l2_but_not_the_root():
    """pgtable.c:stage2_unmap_walker @ v6.9 at TABLE_POST: a child whose count is 1 is
    unlinked and freed, even though the range covers it only partly; roots stay."""
    m = model()
    m.fault_in(slot(), GFN, host(), write=True)
    assert unmap(m, GFN, GFN + 1) is False      # mmu.c:kvm_unmap_gfn_range always false
    assert list(m.pt.pages) == [m.pt.root.id]
    assert m.pt.root.refcount == 1 and m.pt.root.entries == {}
    # leaf, then the L2 entry, then the L1 entry: one TLBI each (stage2_unmap_put_pte)
    assert len(flushes(m)) == 3
    assert sum("partly covered" in s.text and "freed" in s.text for s in m.trace.steps) == 2


def test_unmap_with_neighbour_keeps_the_l3_table():
    """pgtable.c:stage2_unmap_walker @ v6.9: page_count(childp) != 1 -> keep the table."""
    m = model()
    m.fault_in(slot(), GFN, host(), write=True)
    m.fault_in(slot(), GFN + 1, host(), write=True)
    unmap(m, GFN, GFN + 1)
    (_, _), (l3p, _), (_, entry) = path(m, GFN)
    assert entry is None and l3p.refcount == 2 and len(m.pt.pages) == 3


def test_unmap_one_page_removes_the_whole_block():
    """pgtable.c:stage2_unmap_walker @ v6.9: a block is a leaf and is removed whole, with no
    split, when any page of it is in the range; the neighbour block keeps the L2 table."""
    m = model()
    m.fault_in(slot(), GFN, host(thp=True), write=True)
    m.fault_in(slot(), (GFN & ~511) + 512, host(thp=True), write=True)
    unmap(m, GFN, GFN + 1)
    assert m.pt.lookup(GFN & ~511) is None
    assert m.pt.lookup((GFN & ~511) + 512) is not None
    l2p = path(m, GFN)[1][0]
    assert l2p.refcount == 2


def test_unmap_deferred_tlbi_covers_leaves_but_not_table_entries():
    """pgtable.c:stage2_unmap_put_pte @ v6.9 (f62d4c3eb687 and 36e008323926, both merged
    for v6.9-rc3): with FWB and TLBIRANGE (stage2_unmap_defer_tlb_flush) the leaf's TLBI
    is left to one range TLBI after the walk (kvm_pgtable_stage2_unmap), but each cleared
    table entry (here the L2 entry for the L3 table, then the L1 entry for the L2 table)
    is invalidated at once, with no level hint."""
    m = model(fwb=True, tlbi_range=True)
    m.fault_in(slot(), GFN, host(), write=True)
    unmap(m, GFN, GFN + 1)
    got = flushes(m)
    assert len(got) == 3
    assert all("no level hint" in f and "not deferred" in f for f in got[:2])
    assert "range" in got[2]
    assert not any("with level hint" in f for f in got)     # the leaf's TLBI was deferred


def test_unmap_deferred_tlbi_with_neighbour_clears_no_table():
    """pgtable.c:stage2_unmap_put_pte @ v6.9: with the L3 table kept (a neighbour is
    mapped) only the leaf is cleared, so the deferral leaves just the range TLBI."""
    m = model(fwb=True, tlbi_range=True)
    m.fault_in(slot(), GFN, host(), write=True)
    m.fault_in(slot(), GFN + 1, host(), write=True)
    mark = m.trace.mark()
    unmap(m, GFN, GFN + 1)
    assert flushes(m, mark) == [f"deferred range TLBI over gfn [{GFN:#x}, {GFN + 1:#x})"]


def test_unmap_table_entry_tlbi_has_no_level_hint_without_deferral():
    """pgtable.c:stage2_unmap_put_pte @ v6.9 (36e008323926): a cleared table entry is
    invalidated with TLBI_TTL_UNKNOWN, a leaf with its own level as hint."""
    m = model()
    m.fault_in(slot(), GFN, host(), write=True)
    unmap(m, GFN, GFN + 1)
    got = flushes(m)
    assert "with level hint L3" in got[0]
    assert all("no level hint" in f for f in got[1:]) and len(got) == 3


# --------------------------------------------------------------------------------------
# Map with no memory cache: mmu.c:kvm_set_spte_gfn -> pgtable.c:kvm_pgtable_stage2_map
# --------------------------------------------------------------------------------------

def test_map_no_cache_installs_where_the_l3_table_exists():
    """pgtable.c:stage2_map_walker_try_leaf @ v6.9: an empty L3 slot under existing tables
    gets a 4 KiB page leaf R, XN, AF (prot R from kvm_set_spte_gfn); no TLBI."""
    m = model()
    m.fault_in(slot(), GFN + 1, host(), write=True)
    l3p = path(m, GFN)[2][0]
    mark = m.trace.mark()
    assert set_spte(m, GFN, 0xC0000) is False           # always false (kvm_set_spte_gfn)
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 0 and leaf == Leaf(0xC0000, True, False, False, None, True,
                                       ("KVM_PTE_TYPE_PAGE",))
    assert l3p.refcount == 3 and flushes(m, mark) == []


def test_map_no_cache_fails_with_enomem_where_a_table_is_missing():
    """pgtable.c:stage2_map_walk_leaf @ v6.9: -E2BIG from try_leaf and mc == NULL -> -ENOMEM;
    nothing changes."""
    m = model()
    before = m.snapshot()
    assert m.stage2_map(GFN, 1, 0xC0000, (True, False, False), None,
                        handle_fault=False) == ENOMEM
    assert m.snapshot() == before
    assert set_spte(m, GFN, 0xC0000) is False and m.snapshot() == before


def test_map_no_cache_leaves_a_block_alone():
    """pgtable.c:stage2_map_walk_leaf @ v6.9: a block covering the gfn -> -E2BIG -> -ENOMEM
    with no memory cache: not split, not replaced."""
    m = model()
    m.fault_in(slot(), GFN, host(thp=True), write=True)
    before = m.snapshot()
    assert m.stage2_map(GFN, 1, 0xC0000, (True, False, False), None,
                        handle_fault=False) == ENOMEM
    assert m.snapshot() == before


def test_map_with_cache_splits_a_block_into_an_empty_table():
    """pgtable.c:stage2_map_walk_leaf @ v6.9: with a memory cache a block is broken (TLBI)
    and replaced by an empty table; only the requested page is then mapped."""
    m = model()
    m.fault_in(slot(), GFN, host(thp=True), write=True)
    assert m.stage2_map(GFN, 1, 0xC0000, (True, False, False), MemoryCache(1),
                        handle_fault=True) == OK
    assert m.pt.lookup(GFN)[1] == 0 and m.pt.lookup(GFN + 1) is None
    assert path(m, GFN)[2][0].refcount == 2


def test_map_same_pfn_perm_only_difference_is_eagain_and_no_change():
    """pgtable.c:stage2_pte_needs_update @ v6.9: same pfn, only S2AP/XN differ -> -EAGAIN,
    swallowed without HANDLE_FAULT; the W mapping is not downgraded."""
    m = model()
    m.fault_in(slot(), GFN, host(), write=True)
    before = m.snapshot()
    assert m.stage2_map(GFN, 1, pfn_of(GFN), (True, False, False), None,
                        handle_fault=True) == EAGAIN
    assert m.stage2_map(GFN, 1, pfn_of(GFN), (True, False, False), None,
                        handle_fault=False) == OK
    set_spte(m, GFN, pfn_of(GFN))
    assert m.snapshot() == before and m.pt.lookup(GFN)[0].perms == "rw-"


def test_map_different_pfn_does_break_before_make_with_tlbi():
    """pgtable.c:stage2_try_break_pte/stage2_make_pte @ v6.9: a valid leaf with another pfn
    is zeroed, TLBI'd, and replaced by the R-only leaf; refcount net unchanged."""
    m = model()
    m.fault_in(slot(), GFN, host(), write=True)
    l3p = path(m, GFN)[2][0]
    mark = m.trace.mark()
    assert set_spte(m, GFN, 0xC0000) is False
    leaf, _ = m.pt.lookup(GFN)
    assert (leaf.pfn, leaf.perms) == (0xC0000, "r--")
    assert l3p.refcount == 2 and len(flushes(m, mark)) == 1


def test_set_spte_mte_untagged_returns_before_mapping():
    """mmu.c:kvm_set_spte_gfn @ v6.9 (as deleted by the removal diff): kvm_has_mte and
    !page_mte_tagged(new page) -> return false before kvm_pgtable_stage2_map; a tagged
    new page is mapped as without MTE."""
    m = model(mte=True)
    m.fault_in(slot(), GFN + 1, host(), write=True)
    before = m.snapshot()
    assert set_spte(m, GFN, 0xC0000) is False and m.snapshot() == before
    m.set_spte_gfn(GfnRange(slot(), GFN, GFN + 1, HostPte(pfn=0xD0000, tagged=True)))
    assert m.pt.lookup(GFN)[0].pfn == 0xD0000


def test_host_arch_declares_the_mte_page_rules():
    """arch/arm64/kernel/mte.c:memcmp_pages and arch/arm64/mm/copypage.c:copy_highpage
    @ v6.9 are what the generic host model consults for KSM and CoW."""
    d = Model.describe()["host_mm"]
    assert d["compare_refuses_tagged"]["function"] == "memcmp_pages"
    assert d["copy_keeps_tags"]["file"] == "arch/arm64/mm/copypage.c"
    h = HostMM(HVA_BASE, engine.NPAGES, PFN_BASE, thp=False, arch=Model.host_arch)
    h.tag(0x1234)
    assert h.copy_page(0x1234, 0x5678) is True and h.is_tagged(0x5678)
    assert h.copy_page(0x9999, 0x7777) is False
    assert h.compare_refuses(0x1234).function == "memcmp_pages"
    assert h.compare_refuses(0x9999) is None


def test_describe_and_hooks():
    d = Model.describe()
    assert d["id"] == "arm64" and d["family"] == "arm64"
    assert d["hooks"]["set_spte_gfn"][0]["function"] == "kvm_set_spte_gfn"
    assert d["hooks"]["unmap_gfn_range"][0]["function"] == "kvm_unmap_gfn_range"
    assert d["findings"]


# --------------------------------------------------------------------------------------
# Every built-in scenario
# --------------------------------------------------------------------------------------

R_ONLY = {"level": "L3", "perms": "r--", "young": True, "bits": ["KVM_PTE_TYPE_PAGE"]}
TARGET_LEAF = f"leaf 4K @gfn {GFN:#x}"

# name: (verdict, hook reached, flush, installed pfn for "changes")
EXPECTED = {
    # unmap keeps the L3 table (neighbour); kvm_set_spte_gfn -> try_leaf installs R-only
    # (mmu.c:kvm_set_spte_gfn, pgtable.c:stage2_map_walker_try_leaf @ v6.9)
    "ksm-merge": ("changes", True, False, 0xC0000),
    # unmap frees L3 and L2 at TABLE_POST; map -> -ENOMEM (pgtable.c:stage2_map_walk_leaf)
    "ksm-merge-alone": ("no-op", True, False, None),
    # the PMD split's unmap removes the whole block (stage2_unmap_walker); L2 entry empty ->
    # -E2BIG -> -ENOMEM (stage2_map_walk_leaf)
    "ksm-merge-huge": ("no-op", True, False, None),
    # block removed, L2 table freed at TABLE_POST; L1 entry empty -> -ENOMEM
    "ksm-merge-huge-alone": ("no-op", True, False, None),
    # neighbour built the L3 table; the never-touched gfn gets an R-only leaf
    # (mmu.c:kvm_set_spte_gfn: no check that the gfn was mapped)
    "ksm-merge-unmapped": ("changes", True, False, 0xC0000),
    # root only: L1 entry empty -> -ENOMEM (stage2_map_walk_leaf)
    "ksm-merge-unmapped-alone": ("no-op", True, False, None),
    # dirty logging does not matter to kvm_set_spte_gfn: R-only leaf as in ksm-merge
    "ksm-merge-dirty-log": ("changes", True, False, 0xC0000),
    # read-only slot: same R-only leaf (prot is R regardless)
    "ksm-merge-readonly": ("changes", True, False, 0xC0000),
    # kvm_main.c:kvm_change_spte_gfn skips KVM_MEMSLOT_INVALID slots
    "ksm-merge-invalid-slot": ("no-op", False, False, None),
    # the guest's fault tagged the page (mmu.c:sanitise_mte_tags); kernel/mte.c:memcmp_pages
    # refuses tagged pages, so KSM never reaches replace_page (mm/ksm.c:cmp_and_merge_page)
    "ksm-merge-mte": ("n/a", False, False, None),
    # never faulted, so untagged and mergeable; mmu.c:kvm_set_spte_gfn: MTE VM and the KSM
    # page is not PG_mte_tagged -> return false before mapping
    "ksm-merge-mte-unmapped": ("no-op", True, False, None),
    # kvm_main.c:kvm_mmu_notifier_change_pte: mmu_invalidate_in_progress == 0 -> return
    "ksm-merge-unwrapped": ("no-op", False, False, None),
    # same pfn, but the unmap zeroed the entry: try_leaf installs R-only (stage2_pte_needs_update
    # is true for an invalid old entry)
    "ksm-wrprotect": ("changes", True, False, pfn_of(GFN)),
    "ksm-wrprotect-dirty-log": ("changes", True, False, pfn_of(GFN)),
    # new COW page is writable on the host, yet prot is R only (mmu.c:kvm_set_spte_gfn)
    "cow-4k": ("changes", True, False, 0xD0000),
    "cow-4k-alone": ("no-op", True, False, None),
    # the copy of a tagged page is tagged (mm/copypage.c:copy_highpage), so kvm_set_spte_gfn's
    # MTE check passes and the page is installed as in cow-4k
    "cow-4k-mte": ("changes", True, False, 0xD0000),
    "cow-huge": ("no-op", True, False, None),
    "cow-unmapped": ("changes", True, False, 0xD0000),
    "cow-dirty-log": ("changes", True, False, 0xD0000),
    "cow-readonly": ("changes", True, False, 0xD0000),
    "cow-unwrapped": ("no-op", False, False, None),
    # executable text page, but kvm_set_spte_gfn passes no X: XN set (stage2_set_prot_attr)
    "uprobe-4k": ("changes", True, False, 0xE0000),
    "uprobe-alone": ("no-op", True, False, None),
    # pte_pfn() of the non-present device-private entry is used unchecked
    # (mmu.c:kvm_set_spte_gfn) and mapped as Normal R-only memory
    "migrate-zero": ("changes", True, False, 0xF0000),
    "migrate-zero-unmapped": ("changes", True, False, 0xF0000),
    # mmu.c:user_mem_abort: logging_active forces PAGE_SIZE, so no 2 MiB mapping exists
    "huge-dirty-log": ("n/a", False, False, None),
}


def test_every_builtin_scenario_is_covered():
    assert set(EXPECTED) == set(scenario.catalogue())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_scenario(name):
    verdict, hook, flush, pfn = EXPECTED[name]
    res = engine.run(scenario.catalogue()[name], Model)
    assert res.verdict == verdict, res.reason
    if verdict == "n/a":
        expect = {"huge-dirty-log": ("logging_active", "user_mem_abort"),
                  "ksm-merge-mte": ("tagged", "memcmp_pages")}[name]
        assert expect[0] in res.reason and res.reason_source.function == expect[1]
        return
    assert res.reached_arch_hook is hook
    assert res.flush is flush
    if verdict == "changes":
        assert TARGET_LEAF not in res.before
        assert res.after[TARGET_LEAF] == {**R_ONLY, "pfn": hex(pfn)}
        table = f"table L3 @gfn {GFN & ~511:#x}"
        assert res.after[table]["refcount"] == res.before[table]["refcount"] + 1
        assert {c.key for c in res.diff} == {TARGET_LEAF, table}
    else:
        assert res.before == res.after


# --------------------------------------------------------------------------------------
# MTE: the three catalogue cells, each from the v6.9 source
# --------------------------------------------------------------------------------------

def test_mte_ksm_merge_of_a_mapped_page_cannot_happen():
    """(a) mmu.c:user_mem_abort -> sanitise_mte_tags tags every page an MTE guest faults in;
    kernel/mte.c:memcmp_pages makes identical pages compare different when either is
    PG_mte_tagged; mm/ksm.c:cmp_and_merge_page reaches try_to_merge_one_page (and so
    write_protect_page and replace_page) only after a tree search found a 0 comparison.
    So the starting state of a KSM merge of a guest-mapped page does not exist: n/a, and
    the reason cites memcmp_pages."""
    res = engine.run(scenario.catalogue()["ksm-merge-mte"], Model)
    assert res.verdict == "n/a" and res.reached_arch_hook is False
    assert res.reason_source.file == "arch/arm64/kernel/mte.c"
    assert "replace_page" in res.reason
    assert any(s.source.function == "cmp_and_merge_page" for s in res.trace)


def test_mte_ksm_write_protect_of_a_mapped_page_cannot_happen_either():
    """mm/ksm.c:cmp_and_merge_page: write_protect_page also sits behind the comparison
    (try_to_merge_one_page is reached only after a match; the ksm_use_zero_pages path,
    off by default, is not modelled)."""
    sc = scenario.Scenario(name="wp-mte", description="", trigger="ksm-write-protect",
                           mte=True)
    res = engine.run(sc, Model)
    assert res.verdict == "n/a" and "write_protect_page" in res.reason


def test_mte_ksm_merge_of_a_never_mapped_page_reaches_the_early_return():
    """(b) no fault tagged the page, so memcmp_pages compares contents and KSM merges it;
    mmu.c:kvm_set_spte_gfn returns false before kvm_pgtable_stage2_map because the KSM
    page is not PG_mte_tagged: no-op with the hook reached (without MTE the same state
    gives "changes", see ksm-merge-unmapped)."""
    res = engine.run(scenario.catalogue()["ksm-merge-mte-unmapped"], Model)
    assert (res.verdict, res.reached_arch_hook, res.flush) == ("no-op", True, False)
    assert "not PG_mte_tagged" in res.reason
    assert res.reason_source.function == "kvm_set_spte_gfn"
    plain = engine.run(scenario.catalogue()["ksm-merge-unmapped"], Model)
    assert plain.verdict == "changes"


def test_mte_cow_of_a_mapped_page_installs_the_tagged_copy():
    """(c) mm/memory.c:__wp_page_copy_user -> copy_user_highpage -> arm64/mm/copypage.c:
    copy_highpage copies a tagged page's tags and marks the copy PG_mte_tagged, so
    mmu.c:kvm_set_spte_gfn does not return early and installs the read-only page exactly
    as without MTE (cow-4k)."""
    res = engine.run(scenario.catalogue()["cow-4k-mte"], Model)
    plain = engine.run(scenario.catalogue()["cow-4k"], Model)
    assert res.verdict == "changes" and res.diff == plain.diff
    assert any(s.source is not None and s.source.function == "copy_highpage"
               for s in res.trace)
