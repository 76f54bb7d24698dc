"""Tests for the arm64 stage-2 model (kvmspte.arches.arm64).

Sources are cited as file:function @ v6.9; see the module for the copy each was
read in (mmu.c: a v6.8 full copy + the v6.9-rc removal diff; pgtable.c: a
v6.8-v6.10 generation copy).
"""

from __future__ import annotations

import pytest

from kvmspte.sim import engine
from kvmspte.scenarios import loader as scenario
from kvmspte.arches.arm64 import EAGAIN, ENOMEM, OK, PGTABLE_C, Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim.pagetable import Leaf, MemoryCache, TablePage
from kvmspte.sim.trace import EVENT, FLUSH, Trace
from kvmspte.testing import NOT_REACHED, change_pte_steps

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
    assert got.pages == 1 and got.source.function == "user_mem_abort"
    assert m.pt.lookup(GFN)[1] == 0                      # a 4 KiB page at L3, not a block
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


@pytest.mark.parametrize("kernel", ["5.15", "6.1"])
def test_before_6_2_a_block_replaces_a_table_through_the_anchor(kernel):
    """pgtable.c:stage2_map_walk_table_pre/_post before the parallel-fault walker (read at
    stored ids 52532632576, 138899356): the table entry is zeroed, the whole VMID is
    invalidated, the tables below are freed and the block lands in the empty entry at
    TABLE_POST, so no second break.  Same end state as v6.9; the flush differs."""
    m = Model(Trace(), {}, Release.parse(kernel))
    m.fault_in(slot(), GFN + 1, host(), write=True)
    l3 = path(m, GFN)[1][1]
    parent = path(m, GFN)[0][0]
    count = parent.refcount
    mark = m.trace.mark()
    m.fault_in(slot(), GFN, host(thp=True), write=True)
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 1 and l3.id not in m.pt.pages and parent.refcount == count
    assert [f for f in flushes(m, mark)] == [
        "TLBI the whole VMID (__kvm_tlb_flush_vmid): the detached table may hold many valid "
        "leaves"]
    cited = {s.source for s in m.trace.since(mark) if s.source.function ==
             "stage2_map_walk_table_pre"}
    assert {s.release for s in cited} == {"v5.10"} and all("138899356" in s.via for s in cited)
    assert Model.switches.get("table_pre_try_leaf").since == Release(6, 2)


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

# The verdicts are the catalogue's [expect] (tests/test_contract.py); these tables say why.
# name -> the pfn kvm_set_spte_gfn installs read-only (mmu.c:kvm_set_spte_gfn,
# pgtable.c:stage2_map_walker_try_leaf @ v6.9), where the unmap left the L3 table in place
INSTALLED = {
    # unmap keeps the L3 table (neighbour); kvm_set_spte_gfn -> try_leaf installs R-only
    "ksm-merge": 0xC0000,
    # neighbour built the L3 table; the never-touched gfn gets an R-only leaf
    # (mmu.c:kvm_set_spte_gfn: no check that the gfn was mapped)
    "ksm-merge-unmapped": 0xC0000,
    # dirty logging does not matter to kvm_set_spte_gfn: R-only leaf as in ksm-merge
    "ksm-merge-dirty-log": 0xC0000,
    # read-only slot: same R-only leaf (prot is R regardless)
    "ksm-merge-readonly": 0xC0000,
    # same pfn, but the unmap zeroed the entry: try_leaf installs R-only (stage2_pte_needs_update
    # is true for an invalid old entry)
    "ksm-wrprotect": pfn_of(GFN), "ksm-wrprotect-dirty-log": pfn_of(GFN),
    # new COW page is writable on the host, yet prot is R only (mmu.c:kvm_set_spte_gfn)
    "cow-4k": 0xD0000, "cow-unmapped": 0xD0000, "cow-dirty-log": 0xD0000,
    "cow-readonly": 0xD0000,
    # the copy of a tagged page is tagged (mm/copypage.c:copy_highpage), so kvm_set_spte_gfn's
    # MTE check passes and the page is installed as in cow-4k
    "cow-4k-mte": 0xD0000,
    # executable text page, but kvm_set_spte_gfn passes no X: XN set (stage2_set_prot_attr)
    "uprobe-4k": 0xE0000,
    # pte_pfn() of the non-present device-private entry is used unchecked
    # (mmu.c:kvm_set_spte_gfn) and mapped as Normal R-only memory
    "migrate-zero": 0xF0000, "migrate-zero-unmapped": 0xF0000,
}
# name -> the deepest table left on the gfn's walk; the no-cache kvm_pgtable_stage2_map needs
# one below it and pgtable.c:stage2_map_walk_leaf @ v6.9 gives -ENOMEM (ignored)
ENOMEM_BELOW = {
    # unmap frees L3 and L2 at TABLE_POST (stage2_unmap_walker: no neighbour holds them)
    "ksm-merge-alone": "L1", "cow-4k-alone": "L1", "uprobe-alone": "L1",
    # the PMD split's unmap removes the whole block (stage2_unmap_walker); L2 entry empty ->
    # -E2BIG (stage2_leaf_mapping_allowed) -> -ENOMEM
    "ksm-merge-huge": "L2", "cow-huge": "L2",
    # block removed, L2 table freed at TABLE_POST; L1 entry empty -> -ENOMEM
    "ksm-merge-huge-alone": "L1",
    # root only
    "ksm-merge-unmapped-alone": "L1",
}
# never faulted, so untagged and mergeable; mmu.c:kvm_set_spte_gfn @ v6.9: MTE VM and the KSM
# page is not PG_mte_tagged -> return false before mapping
MTE_EARLY_RETURN = {"ksm-merge-mte-unmapped"}
# name -> the function that refuses the starting state
REFUSED = {
    # mmu.c:user_mem_abort: logging_active forces PAGE_SIZE, so no 2 MiB mapping exists
    "huge-dirty-log": "user_mem_abort",
    # the guest's fault tagged the page (mmu.c:sanitise_mte_tags); kernel/mte.c:memcmp_pages
    # refuses tagged pages, so KSM never reaches replace_page (mm/ksm.c:cmp_and_merge_page)
    "ksm-merge-mte": "memcmp_pages",
}
# kvm_main.c:kvm_change_spte_gfn skips KVM_MEMSLOT_INVALID slots;
# kvm_main.c:kvm_mmu_notifier_change_pte: mmu_invalidate_in_progress == 0 -> return


def test_every_builtin_scenario_is_covered():
    sets = [set(INSTALLED), set(ENOMEM_BELOW), MTE_EARLY_RETURN, set(REFUSED), NOT_REACHED]
    assert sum(map(len, sets)) == len(set().union(*sets))           # disjoint
    assert set().union(*sets) == set(scenario.catalogue())



@pytest.mark.parametrize("name", sorted(set(scenario.catalogue()) - NOT_REACHED))
def test_builtin_scenario_mechanism(name):
    res = engine.run(scenario.catalogue()[name], Model)
    if name in REFUSED:
        assert res.reason_source.function == REFUSED[name]
        return
    assert res.reached_arch_hook is True and res.flush is False
    ran = [s.source.function for s in change_pte_steps(res) if s.actor == "arch"]
    if name in INSTALLED:
        assert TARGET_LEAF not in res.before
        assert res.after[TARGET_LEAF] == {**R_ONLY, "pfn": hex(INSTALLED[name])}
        table = f"table L3 @gfn {GFN & ~511:#x}"
        assert res.after[table]["refcount"] == res.before[table]["refcount"] + 1
        assert {c.key for c in res.diff} == {TARGET_LEAF, table}
        assert "stage2_make_pte" in ran
        return
    assert res.before == res.after and res.diff == []
    if name in MTE_EARLY_RETURN:
        assert set(ran) == {"kvm_set_spte_gfn"}        # returned before kvm_pgtable_stage2_map
        return
    tables = sorted(k.split()[1] for k in res.before if k.startswith("table "))
    assert tables[-1] == ENOMEM_BELOW[name]
    assert ran[-2:] == ["stage2_map_walk_leaf", "kvm_set_spte_gfn"]     # -ENOMEM, ignored


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
    assert (res.reason_source.file, res.reason_source.function) == \
        ("arch/arm64/kernel/mte.c", "memcmp_pages")
    assert any(s.source.function == "sanitise_mte_tags" for s in res.trace)
    assert any(s.source.function == "cmp_and_merge_page" for s in res.trace)
    assert not [s for s in res.trace if s.kind == EVENT]       # replace_page never ran


def test_mte_ksm_write_protect_of_a_mapped_page_cannot_happen_either():
    """mm/ksm.c:cmp_and_merge_page: write_protect_page also sits behind the comparison
    (try_to_merge_one_page is reached only after a match; the ksm_use_zero_pages path,
    off by default, is not modelled)."""
    sc = scenario.Scenario(name="wp-mte", description="", trigger="ksm-write-protect",
                           mte=True)
    res = engine.run(sc, Model)
    # not a catalogue scenario, so no [expect] table states this verdict
    assert res.verdict == "n/a" and res.reason_source.function == "memcmp_pages"
    assert not [s for s in res.trace if s.kind == EVENT]       # write_protect_page never ran


def test_mte_ksm_merge_of_a_never_mapped_page_reaches_the_early_return():
    """(b) no fault tagged the page, so memcmp_pages compares contents and KSM merges it;
    mmu.c:kvm_set_spte_gfn returns false before kvm_pgtable_stage2_map because the KSM
    page is not PG_mte_tagged: no-op with the hook reached (without MTE the same state
    gives "changes", see ksm-merge-unmapped)."""
    res = engine.run(scenario.catalogue()["ksm-merge-mte-unmapped"], Model)
    assert (res.reached_arch_hook, res.flush, res.diff) == (True, False, [])
    assert res.reason_source.function == "kvm_set_spte_gfn"
    assert {s.source.function for s in change_pte_steps(res) if s.actor == "arch"} == \
        {"kvm_set_spte_gfn"}                                   # no kvm_pgtable_stage2_map
    plain = engine.run(scenario.catalogue()["ksm-merge-unmapped"], Model)
    assert plain.before == res.before and TARGET_LEAF in plain.after


def test_mte_cow_of_a_mapped_page_installs_the_tagged_copy():
    """(c) mm/memory.c:__wp_page_copy_user -> copy_user_highpage -> arm64/mm/copypage.c:
    copy_highpage copies a tagged page's tags and marks the copy PG_mte_tagged, so
    mmu.c:kvm_set_spte_gfn does not return early and installs the read-only page exactly
    as without MTE (cow-4k)."""
    res = engine.run(scenario.catalogue()["cow-4k-mte"], Model)
    plain = engine.run(scenario.catalogue()["cow-4k"], Model)
    assert res.diff and res.diff == plain.diff
    assert any(s.source is not None and s.source.function == "copy_highpage"
               for s in res.trace)


# --------------------------------------------------------------------------------------
# Releases v3.11..v6.9: one test (at least) per switch point in arches/arm64.py SWITCHES.
# The stored copies named here were read with read_file (ids in brackets); a full-file
# copy's release is judged from its content (see each Source's via).
# --------------------------------------------------------------------------------------

from kvmspte.arches.arm64 import ARRIVED, SWITCHES  # noqa: E402
from kvmspte.plugins.contract import CannotExist  # noqa: E402
from kvmspte.sim.release import Release  # noqa: E402


def km(kernel: str, **options) -> Model:
    return Model(Trace(), options, Release.parse(kernel))


def texts(m: Model, since: int = 0) -> list[str]:
    return [s.text for s in m.trace.since(since)]


def mapped_neighbour(m: Model, target_too: bool = False, write: bool = True) -> None:
    """A 4 KiB fault on GFN + 1 (builds the L2/L3 tables), optionally on GFN too; with
    write=False the host page is read-only too, so the fault maps read-only."""
    m.fault_in(slot(), GFN + 1, host(write=write), write=write)
    if target_too:
        m.fault_in(slot(), GFN, host(write=write), write=write)


def test_switch_table_is_cited_at_its_own_release():
    """Every switch's Source names the release the switch starts at (the copy read for that
    era), and the table covers the arm64 eras of the brief."""
    for sw in SWITCHES:
        assert sw.source.release == str(sw.since), sw.name
        assert sw.source.via, sw.name
    assert {s.name for s in SWITCHES} >= {
        "block_mappings", "bbm_set_pte", "s2_xn_default", "skip_identical_pte",
        "clean_dcache_set_spte", "int_return", "kvm_pgtable", "perm_only_eagain", "gfn_range",
        "mte", "cmo_in_walker", "mte_untagged_return", "table_tlbi_no_hint",
        "table_tlbi_not_deferred"}


def test_arrived_v3_11_with_the_shared_arm_mmu_c():
    """arm64 KVM builds arch/arm/kvm/mmu.c ($(ARM)/mmu.o in arch/arm64/kvm/Makefile, read at
    columbia/linux-kvm-arm 045bd714 [410199871]); the ~v3.11 mmu.c [16264858] has the arm64
    helpers.  v3.11 itself is recollection (said so in the via)."""
    assert Model.arrived is ARRIVED and ARRIVED.since == Release(3, 11)
    assert "[410199871]" in ARRIVED.source.via and "recollection" in ARRIVED.source.via


def test_hooks_at_names_the_hva_functions_before_v5_13():
    """Before 5.13 the hooks are kvm_set_spte_hva / kvm_unmap_hva_range (arch/arm/kvm/mmu.c
    at ~3.11 [16264858]; arch/arm64/kvm/mmu.c at 5.10 per e9edb17ae0a2); 5.13 on: v6.9."""
    old = Model.hooks_at(Release(3, 11))
    assert old["set_spte_gfn"][0].function == "kvm_set_spte_hva"
    assert old["set_spte_gfn"][0].file == "arch/arm/kvm/mmu.c"
    assert old["unmap_gfn_range"][0].function == "kvm_unmap_hva_range"
    mid = Model.hooks_at(Release(5, 10))
    assert mid["set_spte_gfn"][0].function == "kvm_set_spte_hva"
    assert mid["set_spte_gfn"][0].release == "v5.10"
    assert Model.hooks_at(Release(5, 13)) == Model.hooks   # no copy read for 5.13
    assert Model.hooks_at(Release(6, 9)) == Model.hooks


@pytest.mark.parametrize("kernel, mmu, pgt", [
    ("5.15", "2597665", "138899356"), ("6.1", "2597665", "138899356"),
    ("6.6", "69485482386", "7470364385")])
def test_lts_hooks_cite_the_copies_of_their_era(kernel, mmu, pgt):
    """5.15/6.1: mmu.c at stored id 2597665 (v5.14-v6.1) and hyp/pgtable.c at 138899356
    (v5.15-v6.1), where break-before-make is stage2_put_pte and there is no deferred unmap
    TLBI; 6.6: Android's 6.6 mmu.c [69485482386] and the 6.6 range-TLBI text [7470364385]."""
    at = Release.parse(kernel)
    hooks = Model.hooks_at(at)
    cited = [s for v in hooks.values() for s in v]
    assert all(Release.parse(s.release) <= at for s in cited)
    assert hooks["set_spte_gfn"][0].function == "kvm_set_spte_gfn" and mmu in \
        hooks["set_spte_gfn"][0].via
    assert any(pgt in s.via for s in cited if s.file == PGTABLE_C)
    names = {s.function for s in cited}
    old = at < Release(6, 2)
    assert ("stage2_try_break_pte" in names) is not old
    assert ("stage2_unmap_defer_tlb_flush" in names) is not old


# -- v3.11: kvm_set_spte_hva -> stage2_set_pte with no cache --------------------------

def test_v3_11_change_pte_installs_where_the_pte_table_exists():
    """arch/arm/kvm/mmu.c:kvm_set_spte_hva/stage2_set_pte @ v3.11 ([16264858]): the pte is
    pfn + PAGE_S2 (read-only, no XN before 4.16, so executable); an empty pte slot under an
    existing pte table is written and the table gains a reference (get_page); no TLBI."""
    m = km("3.11")
    mapped_neighbour(m)
    l3p = path(m, GFN)[2][0]
    mark = m.trace.mark()
    assert set_spte(m, GFN, 0xC0000) is False
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 0 and (leaf.pfn, leaf.perms) == (0xC0000, "r-x")
    assert l3p.refcount == 3 and flushes(m, mark) == []
    assert all(s.source.release != "v6.9" for s in m.trace.steps if s.source)
    assert "return (void)" in texts(m, mark)


def test_v3_11_change_pte_missing_table_returns_silently():
    """stage2_set_pte @ v3.11 ([16264858]): an empty pud/pmd entry and no cache -> return 0
    (the 'ignore calls from kvm_set_spte_hva' case): nothing mapped, no error, no WARN."""
    m = km("3.11")
    before = m.snapshot()
    assert set_spte(m, GFN, 0xC0000) is False
    assert m.snapshot() == before
    assert any("no memory cache: return 0" in t for t in texts(m))
    assert not any(s.kind == "warn" for s in m.trace.steps)


def test_v3_11_unmap_frees_tables_by_page_count_like_v6_9():
    """arch/arm/kvm/mmu.c:unmap_range @ v3.11 ([16264858]): clear the pte (TLBI by IPA,
    put_page), then free the pte table when its page count is 1, and the pmd table likewise;
    the root stays.  With a mapped neighbour the pte table survives: the same refcount rule
    as v6.9 (free_policy unreferenced)."""
    m = km("3.11")
    m.fault_in(slot(), GFN, host(), write=True)
    assert unmap(m, GFN, GFN + 1) is False
    assert list(m.pt.pages) == [m.pt.root.id] and m.pt.root.refcount == 1
    assert flushes(m) == [f"TLBI by IPA for gfn {GFN:#x}"] * 3
    n = km("3.11")
    mapped_neighbour(n, target_too=True)
    unmap(n, GFN, GFN + 1)
    assert path(n, GFN)[2][0].refcount == 2 and len(n.pt.pages) == 3
    assert Model.free_policy == "unreferenced"


# -- v3.13: block mappings ----------------------------------------------------------------

def test_block_mappings_from_v3_13():
    """ad361f093c1e (hugetlbfs) / THP: user_mem_abort maps a 2 MiB block via
    stage2_set_pmd_huge (read at ~v3.15 [81490837]); the ~v3.11 copy [16264858] maps every
    fault with a pte.  So at 3.12 a huge starting state cannot exist."""
    assert km("3.12").fault_in(slot(), GFN, host(thp=True), write=True).pages == 1
    m = km("3.13")
    assert m.fault_in(slot(), GFN, host(thp=True), write=True).pages == 512
    assert m.pt.lookup(GFN)[1] == 1
    old = engine.run(scenario.catalogue()["ksm-merge-huge"], Model, kernel=Release(3, 12))
    assert (old.reason_source.function, old.reason_source.release) == ("user_mem_abort", "v3.11")
    assert old.reached_arch_hook is False
    new = engine.run(scenario.catalogue()["ksm-merge-huge"], Model, kernel=Release(3, 13))
    assert new.reached_arch_hook is True and new.diff == [] and new.flush is False


def test_legacy_change_pte_on_a_block_is_reported_not_modelled():
    """stage2_set_pte before 5.10 (~v4.1 [33472881], ~v5.x [138114889]): only dirty logging
    dissolves a huge pmd; kvm_set_spte_hva passes no flag, so on a still-mapped block (only
    reachable unbracketed) it would read the block's output page as a pte table.  The model
    warns and changes nothing; 5.10's walker (-ENOMEM) leaves the block alone silently."""
    m = km("5.9")
    m.fault_in(slot(), GFN, host(thp=True), write=True)
    before = m.snapshot()
    set_spte(m, GFN, 0xC0000)
    assert m.snapshot() == before and any(s.kind == "warn" for s in m.trace.steps)
    n = km("5.10")
    n.fault_in(slot(), GFN, host(thp=True), write=True)
    before = n.snapshot()
    set_spte(n, GFN, 0xC0000)
    assert n.snapshot() == before and not any(s.kind == "warn" for s in n.trace.steps)


# -- v4.7: break-before-make in stage2_set_pte --------------------------------------------

def test_bbm_set_pte_from_v4_7_on_a_still_mapped_pte():
    """stage2_set_pte: ~v3.11 [16264858] writes the new pte over a present one and then
    TLBIs by IPA; the ~v4.0-v4.6-content copy [33472881] zeroes, TLBIs, then writes
    (d4b9e0790aa7, v4.7: recollection, see the switch's via).  The unbracketed case: a
    different pfn replaces the mapped one in both, the refcount is unchanged."""
    for kernel, first in (("4.6", "write"), ("4.7", "zero")):
        m = km(kernel)
        mapped_neighbour(m, target_too=True)
        l3p = path(m, GFN)[2][0]
        mark = m.trace.mark()
        set_spte(m, GFN, 0xC0000)
        assert m.pt.lookup(GFN)[0].pfn == 0xC0000 and l3p.refcount == 3
        steps = [s for s in m.trace.since(mark) if "is present" in s.text or s.kind == FLUSH]
        assert first in steps[0].text and len(flushes(m, mark)) == 1
        assert steps[0].source.release == ("v3.11" if kernel == "4.6" else "v4.7")


# -- v4.16: stage 2 is execute-never by default --------------------------------------------

def test_s2_xn_default_from_v4_16():
    """d0e22b4ac3ba (named in [25172151471]: 'KVM used to map every page executable'):
    before 4.16 both ordinary faults and change_pte map executable; from 4.16 XN."""
    for kernel, fault, change in (("4.15", "rwx", "r-x"), ("4.16", "rw-", "r--")):
        m = km(kernel)
        mapped_neighbour(m)
        assert m.pt.lookup(GFN + 1)[0].perms == fault
        set_spte(m, GFN, 0xC0000)
        assert m.pt.lookup(GFN)[0].perms == change


def test_uprobe_scenario_executable_only_before_v4_16():
    """The catalogue's uprobe-4k installs an executable page before 4.16 (PAGE_S2 had no
    XN, [16264858]) and an XN one from 4.16 on (d0e22b4ac3ba)."""
    sc = scenario.catalogue()["uprobe-4k"]
    leaf = f"leaf 4K @gfn {GFN:#x}"
    assert engine.run(sc, Model, kernel=Release(4, 15)).after[leaf]["perms"] == "r-x"
    assert engine.run(sc, Model, kernel=Release(4, 16)).after[leaf]["perms"] == "r--"


# -- v4.19: identical-pte skip, dcache clean, FWB/DIC ----------------------------------------

def test_skip_identical_pte_from_v4_19():
    """'KVM: arm/arm64: Skip updating PTE entry if no change' (in the 4.19-rc1 KVM pull,
    [33109698463]; code read at [138114889]): a present pte equal to the new one is left
    alone.  At 4.18 the same (unbracketed) call breaks and rewrites it with a TLBI."""
    for kernel, nflush in (("4.18", 1), ("4.19", 0)):
        m = km(kernel)
        mapped_neighbour(m, target_too=True, write=False)   # r-- XN, as PAGE_S2
        before = m.snapshot()
        mark = m.trace.mark()
        set_spte(m, GFN, pfn_of(GFN))
        assert m.snapshot() == before and len(flushes(m, mark)) == nflush


def test_clean_dcache_before_mapping_v4_19_to_v5_13():
    """694556d54f35 (mails [32990765959], [32763704363]): kvm_set_spte_hva cleans the new page
    to PoC before the walk, even when the walk then maps nothing; 25aa28691bb9 (5.14) moves
    the clean into the map walker, which cleans only a leaf it installs."""
    def cleaned(kernel: str) -> bool:
        m = km(kernel)
        set_spte(m, GFN, 0xC0000)              # no tables: nothing can be mapped
        return any("clean the D-cache" in t for t in texts(m))
    assert [cleaned(k) for k in ("4.18", "4.19", "5.10", "5.13", "5.14")] == \
        [False, True, True, True, False]
    m = km("5.14")
    mapped_neighbour(m)
    mark = m.trace.mark()
    set_spte(m, GFN, 0xC0000)
    got = [s for s in m.trace.since(mark) if "clean+invalidate" in s.text]
    assert len(got) == 1 and got[0].source.release == "v5.14"


def test_fwb_and_dic_options_exist_from_v4_19():
    """FWB and the DIC exec rule came in the 4.19-rc1 KVM pull ([33109698463]): before it the
    options change nothing; at 4.19 a DIC CPU's ordinary fault maps executable."""
    old, new = km("4.18", dic=True, fwb=True), km("4.19", dic=True, fwb=True)
    assert (old.fwb, old.dic, new.fwb, new.dic) == (False, False, True, True)
    old.fault_in(slot(), GFN, host(), write=False)
    new.fault_in(slot(), GFN, host(), write=False)
    assert (old.pt.lookup(GFN)[0].exec, new.pt.lookup(GFN)[0].exec) == (False, True)


# -- v5.0: int return ----------------------------------------------------------------

def test_int_return_from_v5_0_is_always_zero():
    """748c0e312fce: kvm_set_spte_hva returns int, always 0 on arm ([138114889]), so the
    generic layer never flushes for it; before 5.0 it is void."""
    for kernel, last in (("4.20", "return (void)"), ("5.0", "return 0")):
        m = km(kernel)
        mapped_neighbour(m)
        assert set_spte(m, GFN, 0xC0000) is False
        assert texts(m)[-1].startswith(last)


# -- v5.10: kvm_pgtable ------------------------------------------------------------------

def test_kvm_pgtable_from_v5_10_same_outcomes_other_code():
    """e9edb17ae0a2 ([30286990747], [31182344801]): kvm_set_spte_hva maps via
    kvm_pgtable_stage2_map (R, no cache).  The outcomes (hook, flushes, diff) do not move
    across the switch (a missing table was a silent return and is now -ENOMEM), only the code
    path cited does."""
    for name in ("ksm-merge", "ksm-merge-alone", "cow-4k", "ksm-merge-unmapped-alone"):
        sc = scenario.catalogue()[name]
        a = engine.run(sc, Model, kernel=Release(5, 9))
        b = engine.run(sc, Model, kernel=Release(5, 10))
        assert (a.reached_arch_hook, a.flushes, a.diff) == \
            (b.reached_arch_hook, b.flushes, b.diff), name
    m = km("5.10")
    set_spte(m, GFN, 0xC0000)
    assert any("-ENOMEM" in t for t in texts(m))
    assert any(s.source.function == "kvm_set_spte_hva" and s.source.release == "v5.10"
               for s in m.trace.steps if s.source)


def test_v5_10_unmap_tlbis_every_entry_with_its_level_as_hint():
    """pgtable.c:stage2_unmap_walker at ~v5.12 ([171353416]): every cleared entry, leaf or
    table, gets a TLBI by IPA with its own level; 36e008323926 (6.9) drops the hint for
    table entries."""
    m = km("6.8")
    m.fault_in(slot(), GFN, host(), write=True)
    unmap(m, GFN, GFN + 1)
    assert [f.split("hint ")[1] for f in flushes(m)] == ["L3", "L2", "L1"]
    n = km("6.9")
    n.fault_in(slot(), GFN, host(), write=True)
    unmap(n, GFN, GFN + 1)
    assert sum("no level hint" in f for f in flushes(n)) == 2


# -- v5.12: perms-only difference kept ------------------------------------------------------

def test_perm_only_eagain_from_v5_12_on_a_still_mapped_leaf():
    """694d071f8d85 (try_leaf read at ~v5.12 [171353416]): a valid leaf for the same pfn that
    differs only in S2AP/XN is kept (-EAGAIN); at 5.11 (v5.10 walker) it is broken (TLBI)
    and replaced by the read-only leaf.  A different pfn is replaced in both."""
    for kernel, perms, nflush in (("5.11", "r--", 1), ("5.12", "rw-", 0)):
        m = km(kernel)
        mapped_neighbour(m, target_too=True)                  # rw- leaf at GFN
        mark = m.trace.mark()
        set_spte(m, GFN, pfn_of(GFN))
        assert m.pt.lookup(GFN)[0].perms == perms and len(flushes(m, mark)) == nflush
        set_spte(m, GFN, 0xC0000)
        assert m.pt.lookup(GFN)[0].pfn == 0xC0000
    m = km("5.11")
    mapped_neighbour(m, target_too=True, write=False)         # r-- XN: identical leaf
    before = m.snapshot()
    set_spte(m, GFN, pfn_of(GFN))
    assert m.snapshot() == before


# -- v5.13: gfn-range API and MTE ------------------------------------------------------------

def test_gfn_range_from_v5_13_returns_false():
    """v5.13 gfn-range API ([1318982929]): bool kvm_set_spte_gfn, always false; before it
    kvm_set_spte_hva returned 0."""
    for kernel, last in (("5.12", "return 0"), ("5.13", "return false")):
        m = km(kernel)
        mapped_neighbour(m)
        assert set_spte(m, GFN, 0xC0000) is False and texts(m)[-1].endswith(last)


def test_mte_exists_from_v5_13():
    """KVM_CAP_ARM_MTE arrived with Steven Price's series in 5.13 ([16253278736]): before
    it an MTE VM cannot exist (n/a); from 5.13 the fault tags the page it maps."""
    with pytest.raises(CannotExist):
        km("5.12", mte=True).fault_in(slot(), GFN, host(), write=True)
    h = host()
    km("5.13", mte=True).fault_in(slot(), GFN, h, write=True)
    assert pfn_of(GFN) in h.tagged


def test_mte_untagged_page_sanitised_until_v6_1_early_return_from_v6_2():
    """5.13-6.1: kvm_set_spte_gfn sanitises the new page's tags, then maps it ([16253278736]);
    2dbf12ae132c (applied to kvmarm next 2022-11-29 [99326108], so v6.2, not 6.1) returns
    false before mapping when the page is not PG_mte_tagged."""
    sc = scenario.catalogue()["ksm-merge-mte-unmapped"]
    old = engine.run(sc, Model, kernel=Release(6, 1))
    new = engine.run(sc, Model, kernel=Release(6, 2))
    assert TARGET_LEAF in old.after and TARGET_LEAF not in old.before
    assert any(s.source.function == "kvm_set_spte_gfn" and "sanitise_mte_tags" in s.text
               for s in change_pte_steps(old))
    assert new.diff == [] and new.reached_arch_hook is True
    assert (new.reason_source.function, new.reason_source.release) == \
        ("kvm_set_spte_gfn", "v6.2")


# -- v6.3 / v6.6 / v6.9: walker return and TLBI deferral -------------------------------------

def test_eagain_is_success_outside_a_fault_from_v6_3():
    """kvm_pgtable_walk_continue (added by <20221202185156.696189-3-oliver.upton@linux.dev>
    [37777791203], v6.3 inferred): -EAGAIN without HANDLE_FAULT ends the walk as success;
    at ~v5.12 [171353416] it was returned (and ignored by kvm_set_spte_*)."""
    for kernel, ret in (("6.2", EAGAIN), ("6.3", OK)):
        m = km(kernel)
        mapped_neighbour(m, target_too=True)
        assert m.stage2_map(GFN, 1, pfn_of(GFN), (True, False, False), None,
                            handle_fault=False) == ret


def test_deferred_unmap_tlbi_from_v6_6_and_table_entries_at_once_from_v6_9():
    """v6.6 range-TLBI unmap (pull text, VIA_66): with FWB and TLBIRANGE every cleared entry's
    TLBI is left to one range TLBI; f62d4c3eb687 (6.9-rc3) invalidates cleared table entries
    at once (and 36e008323926 with no level hint).  Before 6.6 nothing is deferred."""
    def run(kernel: str) -> list[str]:
        m = km(kernel, fwb=True, tlbi_range=True)
        m.fault_in(slot(), GFN, host(), write=True)
        unmap(m, GFN, GFN + 1)
        return flushes(m)
    assert len(run("6.5")) == 3 and not any("range" in f for f in run("6.5"))
    assert run("6.8") == [f"deferred range TLBI over gfn [{GFN:#x}, {GFN + 1:#x})"]
    got = run("6.9")
    assert len(got) == 3 and all("not deferred" in f for f in got[:2])


def test_older_runs_cite_their_era_not_v6_9():
    """Trace steps at an older release cite that release's era (the copies read), never the
    v6.9 text: every arch step of every catalogue scenario, at one release per era.  (Hook
    entries are recorded by the generic layer from Model.hooks_at, tested above.)"""
    for kernel in ("3.11", "4.7", "4.19", "5.10", "5.12", "5.14", "6.2", "6.8"):
        rel = Release.parse(kernel)
        for sc in scenario.catalogue().values():
            res = engine.run(sc, Model, kernel=rel)
            for s in res.trace:
                if s.actor == "arch" and s.kind != "hook" and s.source is not None:
                    assert s.source.release != "v6.9", (kernel, sc.name, s.text)
                    assert Release.parse(s.source.release) <= rel, (kernel, sc.name, s.text)
