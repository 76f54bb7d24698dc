"""PowerPC Book3S HV radix model against arch/powerpc/kvm/book3s_64_mmu_radix.c,
book3s_64_mmu_hv.c and book3s.c @ v6.9 (copies and dates in /work/notes/ppc.md §0)."""

from kvmspte.records import replace

import pytest

from kvmspte.arches.ppc_hv_radix import Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange
from kvmspte.sim.pagetable import Leaf
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.trace import FLUSH, Trace
from tests.conftest import run_named
from kvmspte.testing import NOT_REACHED, SLOT, change_pte_steps

HVA = 0x7F0000000000
LOGGING = replace(SLOT, dirty_logging=True)
READONLY = replace(SLOT, readonly=True)
GFN = 0x100210


def fresh(thp=False, pte=None):
    m = Model(Trace())
    return m, HostMM(HVA, 0x1000, 0x80000, thp=thp, pte=pte)


def flushes(m):
    return [s.text for s in m.trace.steps if s.kind == FLUSH]


def one(gfn, pte=None):
    return GfnRange(SLOT, gfn, gfn + 1, pte or HostPte(0xC0000))


# -- fault path -------------------------------------------------------------------------

def test_fault_builds_pgd_pud_pmd_pte_and_a_writable_dirty_leaf():
    # kvmppc_create_pte: pre-allocates a pud, a pmd and a pte page for an empty tree and
    # populates them; kvmppc_book3s_instantiate_page: host PTE | EXEC | ACCESSED, plus
    # DIRTY on a write to a writable host page.
    m, host = fresh()
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 1
    assert sorted(p.depth for p in m.pt.pages.values()) == [0, 1, 2, 3]
    assert [m.pt.g.names[p.depth] for p in sorted(m.pt.pages.values(), key=lambda p: -p.depth)] \
        == ["pgd", "pud", "pmd", "pte"]
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 0
    assert leaf == Leaf(0x80210, True, True, True, dirty=True, young=True,
                        native=("_PAGE_PRESENT", "_PAGE_PTE"))


def test_read_fault_on_writable_host_page_is_upgraded_to_writable_dirty():
    # instantiate_page: get_user_page_fast_only(FOLL_WRITE) succeeds -> upgrade_write, and the
    # host PTE has _PAGE_WRITE -> DIRTY is set even for a read.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=False)
    leaf, _ = m.pt.lookup(GFN)
    assert (leaf.perms, leaf.dirty, leaf.young) == ("rwx", True, True)


def test_read_fault_on_read_only_host_page_maps_read_only_clean():
    # instantiate_page: no upgrade; not writing -> WRITE and DIRTY cleared; EXEC and ACCESSED
    # always set.
    m, host = fresh(pte=HostPte(0, write=False, dirty=False, young=False))
    m.fault_in(SLOT, GFN, host, write=False)
    leaf, _ = m.pt.lookup(GFN)
    assert (leaf.perms, leaf.dirty, leaf.young) == ("r-x", False, True)


def test_read_only_slot_read_fault_gets_no_write_upgrade():
    # kvmppc_book3s_radix_page_fault: KVM_MEM_READONLY read fault -> kvm_ro, which skips the
    # FOLL_WRITE fast GUP, so the entry is read-only although the host page is writable.
    m, host = fresh()
    m.fault_in(READONLY, GFN, host, write=False)
    leaf, _ = m.pt.lookup(GFN)
    assert (leaf.perms, leaf.dirty) == ("r-x", False)


def test_read_only_slot_write_fault_injects_dsi_and_maps_nothing():
    # kvmppc_book3s_radix_page_fault: a store to a KVM_MEM_READONLY slot gets a DSI.
    m, host = fresh()
    got = m.fault_in(READONLY, GFN, host, write=True)
    assert got.pages == 0 and m.pt.lookup(GFN) is None and len(m.pt.pages) == 1


def test_thp_host_maps_a_2m_pmd_leaf_unless_dirty_logging():
    # instantiate_page: host shift == PMD_SHIFT and gpa == hva mod 2M -> level 1;
    # large_enable is false for a KVM_MEM_LOG_DIRTY_PAGES slot -> level 0.
    m, host = fresh(thp=True)
    got = m.fault_in(SLOT, GFN, host, write=True)
    leaf, depth = m.pt.lookup(GFN)
    assert (got.pages, depth, leaf.pfn, m.num_2m) == (512, 1, 0x80200, 1)
    assert len(m.pt.pages) == 3   # pgd, pud, pmd: no pte page for a pmd leaf
    m2, host2 = fresh(thp=True)
    got2 = m2.fault_in(LOGGING, GFN, host2, write=True)
    assert got2.pages == 1 and got2.source.function == "kvmppc_book3s_instantiate_page"
    assert m2.pt.lookup(GFN)[0].pfn == 0x80210


def test_allocation_failure_installs_where_tables_exist_and_fails_where_not():
    # kvmppc_create_pte: table pages come from GFP_KERNEL kmem caches before mmu_lock (no
    # kvm_mmu_memory_cache); a missing level with no pre-allocated page -> -ENOMEM.
    m, host = fresh()
    m.kmem_ok = False
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 0 and got.source.function == "kvmppc_create_pte" and "-12" in got.why
    assert m.pt.lookup(GFN) is None
    m2, host2 = fresh()
    m2.fault_in(SLOT, GFN, host2, write=True)
    m2.kmem_ok = False
    assert m2.fault_in(SLOT, GFN + 1, host2, write=True).pages == 1   # same pte page
    assert m2.pt.lookup(GFN + 1) is not None


def test_2m_leaf_replaces_a_pte_table_freeing_it_with_a_pwc_flush():
    # kvmppc_create_pte -> kvmppc_unmap_free_pmd_entry_table: clear the pmd entry, flush the
    # page-walk cache, unmap leftover PTEs (tlbie each) and free the pte page.
    m, host = fresh(thp=True)
    m.fault_in(LOGGING, GFN, host, write=True)
    pages = len(m.pt.pages)
    m.fault_in(SLOT, GFN + 1, host, write=True)
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 1 and len(m.pt.pages) == pages - 1
    texts = flushes(m)
    assert any("page-walk cache" in t for t in texts)
    assert any("4K page at gpa 0x100210000" in t for t in texts)


def test_4k_fault_under_a_2m_leaf_unmaps_it_and_populates_a_pte_page():
    # kvmppc_create_pte: a 2M leaf where level 0 is wanted is removed with kvmppc_unmap_pte
    # (PMD_SHIFT, tlbie of the 2M page) and a pte page is populated.
    m, host = fresh(thp=True)
    m.fault_in(SLOT, GFN, host, write=True)
    m.fault_in(LOGGING, GFN, host, write=True)
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 0 and m.pt.lookup(GFN + 1) is None and m.num_2m == 0
    assert any("2M page at gpa 0x100200000" in t for t in flushes(m))


def test_fault_on_a_present_entry_ors_bits_and_never_repoints():
    # kvmppc_create_pte: an identical entry is left; otherwise the new W/D/A bits are ORed in
    # with kvmppc_radix_update_pte (a WARN if other bits differ), never a new pfn.
    m, host = fresh(pte=HostPte(0, write=False, dirty=False))
    m.fault_in(SLOT, GFN, host, write=False)
    host.set_pte(SLOT.gfn_to_hva(GFN), HostPte(0x90000, write=True, dirty=True))
    m.fault_in(SLOT, GFN, host, write=True)
    leaf, _ = m.pt.lookup(GFN)
    assert (leaf.pfn, leaf.perms, leaf.dirty) == (0x80210, "rwx", True)
    assert any(s.kind == "warn" for s in m.trace.steps)


# -- unmap and set_spte ---------------------------------------------------------------------

def test_unmap_clears_the_whole_2m_leaf_tlbies_and_keeps_table_pages():
    # kvm_unmap_radix -> find_kvm_secondary_pte returns the pmd leaf -> kvmppc_unmap_pte
    # clears it whole and tlbies at 2M; table pages are never freed here;
    # kvm_unmap_gfn_range_hv returns false.
    m, host = fresh(thp=True)
    m.fault_in(SLOT, GFN, host, write=True)
    pages = len(m.pt.pages)
    assert m.unmap_gfn_range(one(GFN)) is False
    assert m.pt.lookup(0x100200) is None and m.pt.lookup(0x1003FF) is None
    assert len(m.pt.pages) == pages and m.num_2m == 0
    assert flushes(m) == ["tlbie: partition-scoped invalidation of the 2M page at gpa "
                          "0x100200000"]


def test_unmap_moves_dirty_to_the_bitmap_only_with_dirty_logging():
    # kvmppc_unmap_pte: old _PAGE_DIRTY and a dirty bitmap -> kvmppc_update_dirty_map.
    m, host = fresh()
    m.fault_in(LOGGING, GFN, host, write=True)
    m.unmap_gfn_range(GfnRange(LOGGING, GFN, GFN + 1))
    assert m.dirty.has(LOGGING, GFN)
    m2, host2 = fresh()
    m2.fault_in(SLOT, GFN, host2, write=True)
    m2.unmap_gfn_range(one(GFN))
    assert not m2.dirty.bits


def test_unmap_of_a_2m_leaf_marks_512_bits_from_the_unaligned_gfn():
    # kvmppc_unmap_pte computes gfn from the unaligned gpa and passes it with page_size 2M to
    # kvmppc_update_dirty_map (ceil(psize/PAGE_SIZE) bits from gfn - base_gfn).
    m, host = fresh(thp=True)
    m.fault_in(SLOT, GFN, host, write=True)     # 2M leaf made before logging was enabled
    m.unmap_gfn_range(GfnRange(LOGGING, GFN, GFN + 1))
    bits = m.dirty.bits[0]
    assert min(bits) == GFN and max(bits) == GFN + 511 and len(bits) == 512


def test_unmap_of_nothing_mapped_does_nothing():
    # kvm_unmap_radix: NULL or non-present entry -> nothing, no tlbie, nothing allocated.
    m, host = fresh()
    assert m.unmap_gfn_range(one(GFN)) is False
    assert len(m.pt.pages) == 1 and flushes(m) == []


def test_set_spte_gfn_unmaps_a_present_leaf_ignores_the_new_pte_and_returns_false():
    # kvm_set_spte_gfn_hv: kvm_unmap_radix(range->slot, range->start); range->arg.pte unread;
    # returns false (the tlbie was issued by kvmppc_unmap_pte itself).
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.fault_in(SLOT, GFN + 1, host, write=True)
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is False
    assert m.pt.lookup(GFN) is None and m.pt.lookup(GFN + 1) is not None
    assert flushes(m) == ["tlbie: partition-scoped invalidation of the 4K page at gpa "
                          "0x100210000"]


def test_set_spte_gfn_on_a_2m_leaf_removes_all_of_it():
    # kvm_set_spte_gfn_hv -> kvm_unmap_radix: the leaf covering the gfn goes, whatever its size.
    m, host = fresh(thp=True)
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.set_spte_gfn(one(GFN)) is False
    assert m.pt.lookup(0x100200) is None


def test_set_spte_gfn_warns_on_a_range_wider_than_one_gfn():
    # kvm_set_spte_gfn_hv: WARN unless range->end - range->start == 1.
    m, _ = fresh()
    m.set_spte_gfn(GfnRange(SLOT, GFN, GFN + 2, HostPte(0xC0000)))
    assert any(s.kind == "warn" for s in m.trace.steps)


def test_describe_and_hooks():
    d = Model.describe()
    assert d["id"] == "ppc-hv-radix" and d["family"] == "powerpc"
    assert d["hooks"]["set_spte_gfn"][0]["function"] == "kvm_set_spte_gfn"
    assert d["hooks"]["set_spte_gfn"][0]["file"] == "arch/powerpc/kvm/book3s.c"
    assert d["hooks"]["unmap_gfn_range"][0]["function"] == "kvm_unmap_gfn_range"
    assert [s["function"] for s in d["chain"]] == [
        "kvm_set_spte_gfn", "kvm_set_spte_gfn_hv", "kvm_unmap_radix", "kvmppc_unmap_pte"]


# -- every built-in scenario ---------------------------------------------------------------
# The verdicts are the catalogue's [expect] (tests/test_contract.py); these tests say why.
# Wrapped triggers: invalidate_range_start -> kvm_unmap_gfn_range_hv -> kvm_unmap_radix has
# already cleared the leaf covering the gfn (book3s_64_mmu_hv.c, book3s_64_mmu_radix.c
# @ v6.9), so kvm_set_spte_gfn_hv's kvm_unmap_radix finds nothing: find_kvm_secondary_pte
# reports no leaf, kvmppc_unmap_pte never runs, no tlbie.
HOOK_NOOP = [
    "ksm-merge", "ksm-merge-alone", "ksm-merge-huge", "ksm-merge-huge-alone",
    "ksm-merge-unmapped", "ksm-merge-unmapped-alone", "ksm-merge-dirty-log",
    "ksm-merge-mte", "ksm-merge-mte-unmapped", "cow-4k-mte",
    "ksm-wrprotect", "ksm-wrprotect-dirty-log",
    "cow-4k", "cow-4k-alone", "cow-huge", "cow-unmapped", "cow-dirty-log",
    "uprobe-4k", "uprobe-alone", "migrate-zero", "migrate-zero-unmapped",
]
# name -> the function that refuses the starting state:
# book3s_64_mmu_radix.c:kvmppc_book3s_instantiate_page @ v6.9: large_enable is false under
# dirty logging; kvm_main.c:check_memory_region_flags @ v6.9: powerpc does not select
# HAVE_KVM_READONLY_MEM (also asserted for every model in
# tests/test_engine.py::test_read_only_memslots_exist_only_where_the_arch_selects_them).
REFUSED = {"huge-dirty-log": "kvmppc_book3s_instantiate_page",
           "ksm-merge-readonly": "check_memory_region_flags",
           "cow-readonly": "check_memory_region_flags"}
# generic code returns before the hook in kvmspte.testing.NOT_REACHED (kvm_main.c)


def test_every_builtin_scenario_is_classified():
    assert sorted([*HOOK_NOOP, *REFUSED, *NOT_REACHED]) == sorted(catalogue())



@pytest.mark.parametrize("name", HOOK_NOOP)
def test_wrapped_scenarios_reach_the_hook_and_find_the_leaf_gone(name):
    r = run_named(name, Model)
    assert (r.reached_arch_hook, r.flush, r.diff) == (True, False, [])
    ran = {s.source.function for s in change_pte_steps(r) if s.actor == "arch"}
    assert ran == {"kvm_set_spte_gfn", "kvm_set_spte_gfn_hv"}      # no kvmppc_unmap_pte
    assert r.reason_source.function == "kvm_set_spte_gfn_hv"
    assert not any(k.startswith("leaf") and "0x100210" in k for k in r.before)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_starting_states_that_cannot_exist_are_refused_where_the_kernel_refuses_them(name):
    assert run_named(name, Model).reason_source.function == REFUSED[name]


def test_huge_scenario_start_cleared_the_whole_2m_leaf_and_kept_the_neighbour():
    # __split_huge_pmd's invalidation runs kvm_unmap_radix on 0x100200..0x1003ff: the first
    # gfn clears the 2M leaf; the neighbouring 2M leaf at 0x100400 stays.
    r = run_named("ksm-merge-huge", Model)
    assert "leaf 2M @gfn 0x100200" not in r.before
    assert "leaf 2M @gfn 0x100400" in r.before and r.before["stat"]["num_2M_pages"] == 1


def test_dirty_log_scenario_dirty_bit_reached_the_bitmap_at_start():
    # kvmppc_unmap_pte at invalidate_range_start moved _PAGE_DIRTY into the bitmap.
    r = run_named("ksm-merge-dirty-log", Model)
    assert r.before["dirty bitmap memslot 0"] == {"gfns": ["0x100210"]}


# -- releases (issue 11): arrival v4.11 and the switch points ---------------------------------

from kvmspte.sim.release import Release  # noqa: E402


def at(kernel, thp=False, pte=None):
    m = Model(Trace(), None, Release.parse(kernel))
    return m, HostMM(HVA, 0x1000, 0x80000, thp=thp, pte=pte)


def test_arrives_in_v4_11_with_power9_radix():
    """Merge 167c76e05591 'POWER9 radix MMU host and guest support' (pages corpus); the earliest
    stored radix code (copy 24772949431) predates the v4.13 __find_linux_pte rename: v4.11."""
    assert Model.arrived.since == Release(4, 11)
    assert [str(r) for r in Model.switches.releases()] == [
        "v3.13", "v4.15", "v4.16", "v4.20", "v5.0", "v5.13"]
    assert Model.switches.get("fault-gfn-to-pfn").since == Release(4, 15)


def test_before_v4_16_unmap_clears_only_present_and_leaves_the_value():
    """kvm_unmap_radix in copies 24772949431 (v4.11-v4.12), 274560072 (v4.13-v4.14) and
    52287468 (v4.15): kvmppc_radix_update_pte(clr=_PAGE_PRESENT) then a tlbie; the rest of the
    entry stays.  From v4.16 (bracket: copy 165278135 clears ~0UL) the entry is removed."""
    m, host = at("4.15")
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.set_spte_gfn(one(GFN)) is False
    leaf = m.snapshot()[f"leaf 4K @gfn {GFN:#x}"]
    assert leaf["pfn"] == "0x80210" and leaf["bits"] == ["_PAGE_PTE"] and leaf["dirty"]
    assert m.lookup(GFN) is None and len(flushes(m)) == 1
    # the non-present value is not found again: no second tlbie
    assert m.unmap_gfn_range(one(GFN)) is False and len(flushes(m)) == 1
    m, host = at("4.16")
    m.fault_in(SLOT, GFN, host, write=True)
    m.set_spte_gfn(one(GFN))
    assert not any(k.startswith("leaf") for k in m.snapshot()) and m.lookup(GFN) is None


def test_before_v4_16_a_refault_overwrites_the_leftover_value():
    """v4.11 kvmppc_create_pte (copy 24772949431): at level 0 a non-present entry is simply
    overwritten by kvmppc_radix_set_pte_at; a present one has _PAGE_PRESENT cleared and is
    tlbie'd first."""
    m, host = at("4.12")
    m.fault_in(SLOT, GFN, host, write=True)
    m.unmap_gfn_range(one(GFN))
    host.set_pte(SLOT.gfn_to_hva(GFN), HostPte(0x90000, write=True, dirty=True))
    m.fault_in(SLOT, GFN, host, write=False)
    assert m.lookup(GFN).pfn == 0x90000 and len(flushes(m)) == 1


def test_before_v4_16_a_present_entry_is_replaced_not_merged():
    """v4.11 and v4.15 kvmppc_create_pte (copies 24772949431, 52287468): a present level-0
    entry that differs is unmapped (PRESENT cleared, tlbie) and the new one stored; from v4.16
    the new bits are ORed into it without a tlbie (copy 165278135)."""
    for kernel, tlbies in (("4.14", 1), ("4.15", 1), ("4.16", 0)):
        m, host = at(kernel, pte=HostPte(0, write=False, dirty=False))
        m.fault_in(SLOT, GFN, host, write=False)
        assert m.lookup(GFN).perms == "r-x", kernel
        host.set_pte(SLOT.gfn_to_hva(GFN), HostPte(0x80210, write=True, dirty=True))
        m.fault_in(SLOT, GFN, host, write=True)
        assert m.lookup(GFN).perms == "rwx" and len(flushes(m)) == tlbies, kernel


def test_before_v4_15_a_thp_host_gets_a_4k_leaf():
    """v4.11-v4.14 kvmppc_book3s_radix_page_fault: level 1 only if PageHuge() (hugetlbfs);
    a THP is not PageHuge (copies 24772949431, 274560072).  The v4.15 copy 52287468 tests
    PageCompound, so a THP gives 2 MiB (c459464388c7-era fault path)."""
    m, host = at("4.14", thp=True)
    assert m.fault_in(SLOT, GFN, host, write=True).pages == 1
    m, host = at("4.15", thp=True)
    assert m.fault_in(SLOT, GFN, host, write=True).pages == 512


def test_before_v4_15_a_read_fault_is_writable_only_on_a_dirty_host_pte():
    """v4.11-v4.14 fault: a load gets _PAGE_WRITE only when the host PTE is writable and dirty
    (copy 274560072); from v4.15 a writable fast GUP is enough (upgrade_write, copy
    52287468)."""
    clean = HostPte(0, write=True, dirty=False)
    for kernel, perms in (("4.14", "r-x"), ("4.15", "rwx"), ("4.16", "rwx")):
        m, host = at(kernel, pte=clean)
        m.fault_in(SLOT, GFN, host, write=False)
        assert m.lookup(GFN).perms == perms, kernel


def test_v4_15_a_2m_leaf_frees_the_pte_page_without_unmapping_it():
    """v4.15 kvmppc_create_pte (copy 52287468): a 2 MiB leaf over a pte table clears the pmd
    entry, flushes the page-walk cache and frees the pte page with its entries, which are
    neither cleared nor tlbie'd; from v4.16 (copy 165278135) kvmppc_unmap_free_pmd_entry_table
    unmaps each one first."""
    for kernel, tlbies in (("4.15", 0), ("4.16", 1)):
        m, small = at(kernel)
        m.fault_in(SLOT, GFN, small, write=True)
        m, huge = m, HostMM(HVA, 0x1000, 0x80000, thp=True)
        assert m.fault_in(SLOT, GFN, huge, write=True).pages == 512, kernel
        assert len([f for f in flushes(m) if f.startswith("tlbie")]) == tlbies, kernel
        assert any(f.startswith("flush the page-walk cache") for f in flushes(m))


def test_before_v4_15_a_larger_leaf_in_the_way_is_eagain():
    """v4.11-v4.14 kvmppc_create_pte: pmd_large -> -EAGAIN (copies 24772949431, 274560072)."""
    m, _ = at("4.14")
    m.pt.set_entry(m.pt.root, 0, Leaf(0x1, True, True, True))  # a leaf high in the tree
    got = m.fault_in(SLOT, GFN, HostMM(HVA, 0x1000, 0x80000, thp=False), write=True)
    assert got.pages == 0 and "-11" in got.why


def test_dirty_logging_forces_4k_only_from_v5_0():
    """Copy 165278135 (v4.17-v4.19) takes the level from the host PTE alone; the v5.13 copy
    clears large_enable for a dirty-logging memslot.  v5.0 ('Map single pages when doing
    dirty page logging', from memory) is UNVERIFIED."""
    for kernel, pages in (("4.19", 512), ("5.0", 1)):
        m, host = at(kernel, thp=True)
        assert m.fault_in(LOGGING, GFN, host, write=True).pages == pages, kernel


def test_dirty_harvest_citation_changes_in_v4_15():
    """e641a317830b (v4.15): kvmppc_update_dirty_map replaces mark_pages_dirty (copy 52287468
    vs 274560072); the same bits for a 4 KiB leaf."""
    for kernel, fn in (("4.14", "mark_pages_dirty"), ("4.15", "kvmppc_update_dirty_map")):
        m, host = at(kernel)
        m.fault_in(LOGGING, GFN, host, write=True)
        m.unmap_gfn_range(GfnRange(LOGGING, GFN, GFN + 1))
        assert m.dirty.has(LOGGING, GFN), kernel
        assert [s.source.function for s in m.trace.steps if "dirty bitmap" in s.text] == [fn]


def test_v4_20_kvmppc_unmap_pte_leaves_the_same_state_as_v4_19():
    """'Use kvmppc_unmap_pte() in kvm_unmap_radix()' (KVM v4.20 pull listing): same whole-entry
    clear, tlbie and dirty harvest as the v4.16-v4.19 body; only the cited code changes."""
    snaps = []
    for kernel in ("4.19", "4.20"):
        m, host = at(kernel)
        m.fault_in(SLOT, GFN, host, write=True)
        m.set_spte_gfn(one(GFN))
        snaps.append(m.snapshot())
        assert {s.source.release for s in m.trace.steps
                if s.source.function == "kvm_unmap_radix"} == {"v" + ("4.16" if kernel == "4.19"
                                                                     else "4.20")}
    assert snaps[0] == snaps[1]


def test_hooks_at_v6_9_are_the_v6_9_hooks():
    assert Model.hooks_at(Release.parse("6.9")) == Model.hooks
    assert [s.function for s in Model.hooks_at(Release.parse("4.12"))["set_spte_gfn"]][-2:] == [
        "kvm_unmap_radix", "kvmppc_radix_tlbie_page"]
