"""MIPS model against arch/mips/kvm/mmu.c and arch/mips/include/asm/pgtable*.h @ v6.9.

mmu.c was read as the content of blob 467ee6b95ae1 (the base of the v6.9-rc
change_pte removal patch); see /work/notes/mips.md.
"""

import pytest

from kvmspte.arches import mips
from kvmspte.arches.mips import Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim.release import Release
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.trace import Trace
from tests.conftest import run_named
from kvmspte.testing import NOT_REACHED, SLOT
from kvmspte.sim.engine import run

BASE_HVA = 0x7F0000000000
LOGGING = Memslot(0, 0x100000, 0x1000, BASE_HVA, dirty_logging=True)
READONLY = Memslot(0, 0x100000, 0x1000, BASE_HVA, readonly=True)
BOTH = Memslot(0, 0x100000, 0x1000, BASE_HVA, dirty_logging=True, readonly=True)
G = 0x100210

BASE_BITS = {"_PAGE_PRESENT", "_PAGE_VALID", "_PAGE_READ", "_PAGE_ACCESSED",
             "_page_cachable_default"}


def fresh(thp=False, write=True):
    m = Model(Trace())
    host = HostMM(BASE_HVA, 0x1000, 0x80000, thp=thp,
                  pte=HostPte(pfn=0, write=write, dirty=write, young=True))
    return m, host


def bits(m, gfn):
    hit = m.pt.lookup(gfn)
    return set(hit[0].native) if hit else None


def present_gfns(m):
    return sorted(int(k.split("@gfn ")[1], 16) for k, v in m.snapshot().items()
                  if k.startswith("leaf") and v["present"])


def change(gfn, pte, slot=SLOT):
    return GfnRange(slot, gfn, gfn + 1, pte)


# -- fault path ---------------------------------------------------------------------------
def test_read_fault_builds_pgd_pmd_pte_and_a_clean_soft_writable_pte():
    # kvm_mips_map_page: kvm_mips_walk_pgd allocates a pmd (pmd_init) and a pte table
    # (clear_page) from the cache; pfn_pte with _PAGE_PRESENT | __READABLE | cachable, plus
    # _PAGE_WRITE because the host page is writable; __WRITEABLE only on a write fault.
    m, host = fresh()
    got = m.fault_in(SLOT, G, host, write=False)
    assert got.pages == 1
    assert sorted(p.depth for p in m.pt.pages.values()) == [0, 1, 2]
    leaf, depth = m.pt.lookup(G)
    assert depth == 0 and leaf.pfn == 0x80210
    assert set(leaf.native) == BASE_BITS | {"_PAGE_WRITE"}
    assert (leaf.perms, leaf.dirty, leaf.young) == ("rwx", False, True)


def test_write_fault_adds_writeable_bits():
    # kvm_mips_map_page: writeable && write_fault -> __WRITEABLE (_PAGE_DIRTY | _PAGE_WRITE |
    # _PAGE_MODIFIED) and mark_page_dirty.
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=True)
    assert bits(m, G) == BASE_BITS | {"_PAGE_WRITE", "_PAGE_DIRTY", "_PAGE_MODIFIED"}


def test_read_only_slot_never_gets_write_and_a_write_fault_fails():
    # kvm_mips_map_page: gfn_to_pfn_prot reports !writeable for KVM_MEM_READONLY; a write
    # fault gets an error pfn -> -EFAULT (MMIO).
    m, host = fresh()
    m.fault_in(READONLY, G, host, write=False)
    assert bits(m, G) == BASE_BITS
    m2, host2 = fresh()
    assert m2.fault_in(READONLY, G, host2, write=True).pages == 0
    assert m2.pt.lookup(G) is None


def test_thp_backed_fault_still_maps_4k_and_cites_map_page():
    # kvm_mips_map_page / kvm_mips_walk_pgd: always one PAGE_SIZE pte at the pte level.
    m, host = fresh(thp=True)
    got = m.fault_in(SLOT, G, host, write=True)
    assert got.pages == 1 and got.source.function == "kvm_mips_map_page"
    assert m.pt.lookup(G)[1] == 0 and m.pt.lookup(G + 1) is None


def test_fast_path_dirties_a_present_clean_writable_pte_without_allocating():
    # _kvm_mips_map_page_fast: write_fault && !pte_dirty && pte_write -> pte_mkdirty
    # (MODIFIED, and hw _PAGE_DIRTY since _PAGE_WRITE is set).
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=False)
    pages = len(m.pt.pages)
    m.fault_in(SLOT, G, host, write=True)
    assert bits(m, G) == BASE_BITS | {"_PAGE_WRITE", "_PAGE_DIRTY", "_PAGE_MODIFIED"}
    assert len(m.pt.pages) == pages


def test_fast_path_makes_an_old_pte_young():
    # _kvm_mips_map_page_fast: !pte_young -> set_pte(pte_mkyoung) (ACCESSED and hw VALID).
    m, host = fresh()
    m.set_spte_gfn(change(G + 1, HostPte(0x1234, young=False)))   # no table yet: nothing
    m.fault_in(SLOT, G, host, write=False)
    m.set_spte_gfn(change(G, HostPte(0x1234, young=False)))
    assert not {"_PAGE_ACCESSED", "_PAGE_VALID"} & bits(m, G)
    m.fault_in(SLOT, G, host, write=False)
    assert {"_PAGE_ACCESSED", "_PAGE_VALID"} <= bits(m, G)
    assert m.pt.lookup(G)[0].pfn == 0x1234


# -- unmap ----------------------------------------------------------------------------------
def test_unmap_one_gfn_also_clears_the_next_and_keeps_the_table():
    # kvm_unmap_gfn_range passes range->end to kvm_mips_flush_gpa_pt, whose helpers loop
    # i_min..i_max inclusive: slots g and g+1 are zeroed; the pte table is freed only for
    # the span 0..511 (kvm_mips_flush_gpa_pte/_pmd); the return is always true.
    m, host = fresh()
    for gfn in (G, G + 1, G + 2):
        m.fault_in(SLOT, gfn, host, write=True)
    pages = set(m.pt.pages)
    assert m.unmap_gfn_range(GfnRange(SLOT, G, G + 1)) is True
    assert present_gfns(m) == [G + 2]
    assert set(m.pt.pages) == pages


def test_unmap_of_last_slot_spills_into_the_next_table():
    # kvm_mips_flush_gpa_pmd: i_max is the next pmd index, whose pte table is flushed up to
    # and including pte_index(end) == 0; neither table covers its whole span.
    m, host = fresh()
    last = 0x1003FF
    for gfn in (last, last + 1, last + 2):
        m.fault_in(SLOT, gfn, host, write=False)
    m.unmap_gfn_range(GfnRange(SLOT, last, last + 1))
    assert present_gfns(m) == [last + 2]
    assert sum(p.depth == 0 for p in m.pt.pages.values()) == 2


def test_unmap_of_a_whole_table_frees_it_and_clears_one_more_gfn():
    # kvm_mips_flush_gpa_pte returns safe_to_remove for i_min == 0 and i_max == 511;
    # kvm_mips_flush_gpa_pmd then does pmd_clear + pte_free_kernel.
    m, host = fresh()
    for gfn in (0x100400, 0x1005FF, 0x100600, 0x100601):
        m.fault_in(SLOT, gfn, host, write=False)
    m.unmap_gfn_range(GfnRange(SLOT, 0x100400, 0x100600))
    assert present_gfns(m) == [0x100601]
    assert m.walk(0x100400, None) is None              # table gone, entry cleared
    assert m.walk(0x100600, None) is not None


def test_unmap_of_a_whole_pmd_span_frees_pte_and_pmd_tables():
    # kvm_mips_flush_gpa_pud: a fully flushed pmd table -> pud_clear + pmd_free (the pgd
    # entry goes back to invalid_pmd_table); pgd_clear/pud_free are folded no-ops.
    m, host = fresh()
    m.fault_in(SLOT, 0x100000, host, write=False)
    m.fault_in(SLOT, 0x13FFFF, host, write=False)
    m.unmap_gfn_range(GfnRange(SLOT, 0x100000, 0x140000))
    assert list(m.pt.pages) == [m.pt.root.id] and not m.pt.root.entries


def test_unmap_leaves_a_non_present_value_in_place():
    # kvm_mips_flush_gpa_pte only zeroes ptes for which pte_present is true.
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=False)
    dev = HostPte(0xF0000, present=False, write=True, young=False, special="device-private")
    m.set_spte_gfn(change(G, dev))
    m.unmap_gfn_range(GfnRange(SLOT, G, G + 1))
    assert m.snapshot()[f"leaf 4K @gfn {G:#x}"]["present"] is False


# -- walk without a memory cache ----------------------------------------------------------
def test_walk_without_cache_finds_slots_only_where_the_pte_table_exists():
    # kvm_mips_walk_pgd with cache == NULL: NULL at pud_none/pmd_none, else the slot pointer
    # whether or not the pte is set.
    m, host = fresh()
    m.fault_in(SLOT, G + 5, host, write=False)
    table, idx = m.walk(G, None)
    assert idx == G & 511 and idx not in table.entries
    assert m.walk(G + 512, None) is None                   # no pte table
    assert m.walk(0x200000, None) is None                  # no pmd table
    assert m.pt.g.index(0x100210, 2) == 4 and m.pt.g.index(1 << 27, 2) == 512   # 1024 pgd slots


def test_set_spte_with_no_table_returns_false_and_allocates_nothing():
    # kvm_set_spte_gfn: kvm_mips_pte_for_gpa(kvm, NULL, gpa) == NULL -> return false.
    m, _ = fresh()
    assert m.set_spte_gfn(change(G, HostPte(0xC0000))) is False
    assert list(m.pt.pages) == [m.pt.root.id]


# -- kvm_set_spte_gfn ------------------------------------------------------------------------
def test_set_spte_installs_the_host_pte_after_a_one_page_unmap():
    # kvm_unmap_gfn_range keeps the table; kvm_set_spte_gfn set_pte()s the host pte and
    # returns false since the old pte is 0 (not present).
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=True)
    m.unmap_gfn_range(GfnRange(SLOT, G, G + 1))
    assert m.set_spte_gfn(change(G, HostPte(0xD0000, write=True, dirty=True))) is False
    assert m.lookup(G).pfn == 0xD0000


def test_dirty_logging_with_clean_old_pte_mkcleans_even_on_a_read_only_slot():
    # kvm_set_spte_gfn: LOG_DIRTY_PAGES && !pte_dirty(old) -> pte_mkclean; the READONLY
    # wrprotect is an else-if, so _PAGE_WRITE survives.
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=False)
    m.set_spte_gfn(change(G, HostPte(0xD0000, write=True, dirty=True), BOTH))
    b = bits(m, G)
    assert "_PAGE_WRITE" in b and not {"_PAGE_MODIFIED", "_PAGE_DIRTY"} & b


def test_dirty_logging_with_dirty_old_pte_falls_through_to_readonly():
    # kvm_set_spte_gfn: old dirty -> no mkclean; READONLY -> pte_wrprotect keeps MODIFIED.
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=True)
    m.set_spte_gfn(change(G, HostPte(0xD0000, write=True, dirty=True), BOTH))
    b = bits(m, G)
    assert "_PAGE_MODIFIED" in b and not {"_PAGE_WRITE", "_PAGE_DIRTY"} & b
    m2, host2 = fresh()
    m2.fault_in(SLOT, G, host2, write=True)
    m2.set_spte_gfn(change(G, HostPte(0xD0000, write=True, dirty=True), LOGGING))
    assert {"_PAGE_WRITE", "_PAGE_DIRTY", "_PAGE_MODIFIED"} <= bits(m2, G)


@pytest.mark.parametrize("new, flush", [
    (HostPte(0x80210, write=True, dirty=True), False),        # same pfn, young, dirty
    (HostPte(0xC0000, write=True, dirty=True), True),         # pfn changed
    (HostPte(0x80210, write=True, dirty=True, young=False), True),   # new not young
    (HostPte(0x80210, write=True, dirty=False), True),        # dirty old -> clean new
    (HostPte(0x80210, present=False), True),                  # new not present
])
def test_flush_decision_on_a_present_young_old_pte(new, flush):
    # kvm_set_spte_gfn: with old present and young, flush iff new !present || !young ||
    # pfn differs || (old dirty && new clean).
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=True)
    assert m.set_spte_gfn(change(G, new)) is flush


def test_no_flush_when_the_old_pte_is_old():
    # kvm_set_spte_gfn: !pte_young(old) -> return false, the new pte is still stored.
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=True)
    m.set_spte_gfn(change(G, HostPte(0xC0000, young=False)))
    assert m.set_spte_gfn(change(G, HostPte(0xD0000))) is False
    assert m.lookup(G).pfn == 0xD0000


def test_non_present_host_pte_is_stored_and_shown_not_present():
    # kvm_set_spte_gfn: set_pte of the device-private swap pte without a presence check.
    m, host = fresh()
    m.fault_in(SLOT, G, host, write=False)
    dev = HostPte(0xF0000, present=False, write=True, young=False, special="device-private")
    m.set_spte_gfn(change(G, dev))
    entry = m.snapshot()[f"leaf 4K @gfn {G:#x}"]
    assert entry["present"] is False and entry["bits"] == ["swp:SWP_DEVICE_WRITE"]
    assert entry["pfn"] == "0xf0000" and m.lookup(G) is None


# -- every built-in scenario -------------------------------------------------------------
def leaf(pfn, perms, dirty, young, bitset, present=True):
    return {"level": "pte", "pfn": pfn, "perms": perms, "dirty": dirty, "young": young,
            "bits": sorted(bitset), "present": present}


PRESENT_RO = {"_PAGE_PRESENT", "_PAGE_READ", "_page_cachable_default"}
YOUNG = {"_PAGE_ACCESSED", "_PAGE_VALID"}
COW = PRESENT_RO | YOUNG | {"_PAGE_NO_EXEC", "_PAGE_WRITE", "_PAGE_MODIFIED", "_PAGE_DIRTY"}
# The KSM page: mk_pte(kpage, vm_page_prot), read-only, not young, not executable.
KSM = leaf("0xc0000", "r--", False, False, PRESENT_RO | {"_PAGE_NO_EXEC"})
# ksm write_protect_page: same pfn, wrprotect + mkclean of a young anonymous pte.
WRPROTECT = leaf("0x80210", "r--", False, True, PRESENT_RO | YOUNG | {"_PAGE_NO_EXEC"})
COW_LEAF = leaf("0xd0000", "rw-", True, True, COW)
# pte_mkclean drops MODIFIED and hw DIRTY, keeps WRITE.
COW_CLEAN = leaf("0xd0000", "rw-", False, True, COW - {"_PAGE_MODIFIED", "_PAGE_DIRTY"})
# pte_wrprotect drops WRITE and hw DIRTY, keeps MODIFIED.
COW_WRPROT = leaf("0xd0000", "r--", True, True, COW - {"_PAGE_WRITE", "_PAGE_DIRTY"})
UPROBE = leaf("0xe0000", "r-x", False, False, PRESENT_RO)
DEVICE = leaf("0xf0000", "---", False, False, {"swp:SWP_DEVICE_WRITE"}, present=False)

# kvm_set_spte_gfn stores the (adjusted) host pte in the slot that the one-page unmap
# zeroed but did not free (kvm_mips_flush_gpa_pte/_pmd), returning false because the old
# pte is 0; with neighbours=true but the target unmapped, the neighbour's pte table lets
# the cache-less walk (kvm_mips_walk_pgd) find the target slot too.
CHANGES = {
    "ksm-merge": KSM, "ksm-merge-alone": KSM, "ksm-merge-unmapped": KSM,
    "ksm-merge-dirty-log": KSM,      # mkclean: already clean
    "ksm-merge-readonly": KSM,       # wrprotect: already read-only
    "ksm-merge-mte": KSM,            # MIPS has no MTE: the option changes nothing
    "ksm-merge-mte-unmapped": KSM,
    "ksm-wrprotect": WRPROTECT, "ksm-wrprotect-dirty-log": WRPROTECT,
    "cow-4k": COW_LEAF, "cow-4k-alone": COW_LEAF, "cow-unmapped": COW_LEAF,
    "cow-4k-mte": COW_LEAF,
    "cow-dirty-log": COW_CLEAN, "cow-readonly": COW_WRPROT,
    "uprobe-4k": UPROBE, "uprobe-alone": UPROBE,
    "migrate-zero": DEVICE, "migrate-zero-unmapped": DEVICE,
}
# kvm_mips_map_page / kvm_mips_walk_pgd: no 2 MiB GPA mapping ever exists.
NA = {"ksm-merge-huge", "ksm-merge-huge-alone", "cow-huge", "huge-dirty-log"}
# kvm_set_spte_gfn: kvm_mips_pte_for_gpa(NULL) finds no table -> return false.
NOOP_IN_HOOK = {"ksm-merge-unmapped-alone"}
# kvm_change_spte_gfn skips KVM_MEMSLOT_INVALID; kvm_mmu_notifier_change_pte returns when
# mmu_invalidate_in_progress == 0 (pre-3.7 ordering has no surrounding invalidation).


def test_scenario_sets_cover_the_catalogue():
    assert set(CHANGES) | NA | NOOP_IN_HOOK | NOT_REACHED == set(catalogue())


@pytest.mark.parametrize("name", [n for n in catalogue() if n not in NOT_REACHED])
def test_catalogue_mechanism(name):
    # The verdicts are the catalogue's [expect] (tests/test_contract.py); here, why.
    # mmu.c:kvm_mips_map_page @ v6.9 refuses the 2 MiB starts; kvm_set_spte_gfn never asks
    # for a flush (the old pte is 0 after the unmap) and either finds no table through
    # kvm_mips_pte_for_gpa(NULL) or stores the host pte in the slot the unmap zeroed.
    res = run_named(name, Model)
    if name in NA:
        assert res.reason_source.function == "kvm_mips_map_page"
        return
    assert res.reached_arch_hook is True and res.flush is False
    if name in NOOP_IN_HOOK:
        assert res.diff == [] and res.reason_source.function == "kvm_mips_pte_for_gpa"
        return
    assert [(c.key, c.kind, c.new) for c in res.diff] == \
        [(f"leaf 4K @gfn {G:#x}", "added", CHANGES[name])]
    # the unmap cleared g+1 too (inclusive end), so the neighbour is gone before change_pte
    assert f"leaf 4K @gfn {G + 1:#x}" not in res.before
    assert f"table pte @gfn {G & ~511:#x}" in res.before


def test_describe_lists_hooks_entry_functions_and_findings():
    d = Model.describe()
    assert d["id"] == "mips" and d["family"] == "mips"
    assert d["hooks"]["set_spte_gfn"][0]["function"] == "kvm_set_spte_gfn"
    assert d["hooks"]["unmap_gfn_range"][0]["function"] == "kvm_unmap_gfn_range"
    assert d["findings"] and "kvm_set_spte_gfn" in d["findings"][0]
    assert mips.GEOMETRY.names == ("pte", "pmd", "pgd")


def test_pgd_index_is_cited_from_the_generic_header():
    """pgd_index is the generic macro of include/linux/pgtable.h: Mike Rapoport's 2020
    'consolidate pgd_index() and pgd_offset{_k}() definitions'
    (<20200512184422.12418-13-rppt@kernel.org>) deletes the MIPS copy from
    arch/mips/include/asm/pgtable-64.h; PTRS_PER_PGD stays there."""
    cited = {(s["file"], s["function"]) for s in Model.describe()["hooks"]["fault_in"]}
    assert ("include/linux/pgtable.h", "pgd_index") in cited
    assert ("arch/mips/include/asm/pgtable-64.h", "PTRS_PER_PGD") in cited
    assert not any(f.endswith("pgtable-64.h") and "pgd_index" in fn for f, fn in cited)


# -- releases (kvmspte.release switch points) ----------------------------------------------


def at(kernel):
    m = Model(Trace(), None, Release.parse(kernel))
    host = HostMM(BASE_HVA, 0x1000, 0x80000, thp=False,
                  pte=HostPte(pfn=0, write=True, dirty=True, young=True))
    return m, host


def flushes(m):
    return [s for s in m.trace.steps if s.kind == "flush"]


def test_arrives_at_4_11_with_kvm_cap_sync_mmu():
    # 411740f5422a "KVM: MIPS/MMU: Implement KVM_CAP_SYNC_MMU" (v4.11), read as posted
    # <20170202124533.32312-1-james.hogan@imgtec.com> [48239875303]: the patch defines
    # KVM_ARCH_WANT_MMU_NOTIFIER and adds kvm_set_spte_hva; before it MIPS had no notifier.
    assert Model.arrived.since == Release(4, 11) and Model.arrived.commit == "411740f5422a"
    assert Model.arrived.source.function == "kvm_set_spte_hva"
    assert "48239875303" in Model.arrived.source.via
    assert [str(r) for r in Model.switches.releases()] == ["v4.12", "v5.0", "v5.13", "v6.6"]


@pytest.mark.parametrize("kernel", ["4.11", "4.20", "5.0", "5.12"])
def test_before_5_13_set_spte_hva_flushes_itself_and_gives_generic_code_nothing(kernel):
    # v4.11 [48239875303]: kvm_set_spte_hva runs kvm_set_spte_handler through
    # handle_hva_to_gpa and calls kvm_mips_callbacks->flush_shadow_all itself when the
    # handler returns 1 (flush_shadow_all, not flush_shadow_memslot); void until 748c0e312fce
    # (v5.0, [31375062387]) made it return 0 after that flush.
    m, host = at(kernel)
    m.fault_in(SLOT, G, host, write=True)
    before = len(flushes(m))
    assert m.set_spte_gfn(change(G, HostPte(0xC0000, write=True, dirty=True))) is False
    new = flushes(m)[before:]
    shadow_all = "kvm_trap_emul" if kernel == "4.11" else "kvm_vz"
    assert [f.source.function for f in new] == [f"{shadow_all}_flush_shadow_all"]
    ret = m.trace.steps[-1]
    assert ret.source.function == "kvm_set_spte_hva"
    if Release.parse(kernel) >= Release(5, 0):
        assert "returns 0" in ret.text and ret.source.release == "v5.0"
    else:
        assert "void" in ret.text and ret.source.release == "v4.11"
    assert bits(m, G) and m.pt.lookup(G)[0].pfn == 0xC0000


def test_from_5_13_the_flag_goes_to_generic_code_and_mips_does_not_flush():
    # fe9a5b055116 "KVM: MIPS: defer flush to generic MMU notifier code" (read as
    # <20210402155807.49976-5-pbonzini@redhat.com> [1301526765]) then d923ff258423, both
    # v5.13; merged text [15739782074]: kvm_set_spte_gfn returns the handler's flag.
    for kernel, flag in (("5.12", False), ("5.13", True)):
        m, host = at(kernel)
        m.fault_in(SLOT, G, host, write=True)
        before = len(flushes(m))
        assert m.set_spte_gfn(change(G, HostPte(0xC0000, write=True, dirty=True))) is flag
        assert (len(flushes(m)) > before) is (not flag)


def test_no_flush_before_5_13_when_the_handler_says_none_is_needed():
    # v4.11 [48239875303]: flush_shadow_all only when the handler returned 1; an absent old
    # pte (after the unmap) returns 0.
    m, host = at("4.19")
    m.fault_in(SLOT, G, host, write=True)
    m.unmap_gfn_range(GfnRange(SLOT, G, G + 1))
    before = len(flushes(m))
    assert m.set_spte_gfn(change(G, HostPte(0xC0000, write=True, dirty=True))) is False
    assert len(flushes(m)) == before
    assert m.pt.lookup(G)[0].pfn == 0xC0000      # still stored: the table survived


@pytest.mark.parametrize("kernel, ret, arch_flush", [
    ("4.11", False, True), ("5.12", False, True), ("5.13", True, False), ("6.9", True, False)])
def test_unmap_flushes_itself_before_5_13_and_returns_true_after(kernel, ret, arch_flush):
    # v4.11 [48239875303]: kvm_unmap_hva_range calls flush_shadow_all unconditionally and
    # returns 0; from fe9a5b055116 (v5.13, [1301526765], merged [15739782074]) it returns 1/true.
    m, host = at(kernel)
    m.fault_in(SLOT, G, host, write=True)
    before = len(flushes(m))
    assert m.unmap_gfn_range(GfnRange(SLOT, G, G + 1)) is ret
    assert (len(flushes(m)) > before) is arch_flush


@pytest.mark.parametrize("kernel", ["4.11", "5.4", "5.13", "6.5", "6.9"])
def test_exclusive_end_into_the_inclusive_flush_in_every_release(kernel):
    # 4.11: handle_hva_to_gpa's gfn_end = hva_to_gfn(hva_end + PAGE_SIZE - 1) is exclusive
    # [48239875303] and kvm_mips_flush_gpa_pt takes the last page [48095374275]; 5.13+ passes
    # range->end [15739782074], v6.9 blob 467ee6b95ae1: the gfn after the range is cleared too.
    m, host = at(kernel)
    for g in (G, G + 1, G + 2):
        m.fault_in(SLOT, g, host, write=False)
    m.unmap_gfn_range(GfnRange(SLOT, G, G + 1))
    assert present_gfns(m) == [G + 2]


@pytest.mark.parametrize("kernel", ["4.11", "5.12", "6.9"])
def test_a_table_is_freed_only_when_the_flush_covers_all_its_slots_in_every_release(kernel):
    # kvm_mips_flush_gpa_pte/_pmd: "safe to remove" only for i_min == 0 && i_max == last,
    # unchanged from the 4.11 GPA page-table patch [48095374275] to v6.9.
    m, host = at(kernel)
    m.fault_in(SLOT, G, host, write=False)
    m.unmap_gfn_range(GfnRange(SLOT, 0x100200, 0x100200 + 511))   # end used as the last page
    assert sorted(p.depth for p in m.pt.pages.values()) == [1, 2]
    m2, host2 = at(kernel)
    m2.fault_in(SLOT, G, host2, write=False)
    m2.unmap_gfn_range(GfnRange(SLOT, 0x100200, 0x100200 + 510))
    assert sorted(p.depth for p in m2.pt.pages.values()) == [0, 1, 2]


def test_vz_fault_entry_from_4_12_trap_and_emulate_in_4_11():
    # 4.11 is trap-and-emulate only: kvm_mips_map_page serves kvm_mips_handle_kseg0_tlb_fault
    # (GPA page-table series [48095374275]); the model follows VZ from 4.12 (VZ series,
    # kvm_mips_4.12_1; release inferred), whose root TLB fault handler invalidates the entry.
    m, host = at("4.11")
    m.fault_in(SLOT, G, host, write=False)
    assert not flushes(m)
    assert m.trace.steps[-1].source.function == "kvm_mips_handle_kseg0_tlb_fault"
    m.unmap_gfn_range(GfnRange(SLOT, G, G + 1))
    assert flushes(m)[-1].source.function == "kvm_trap_emul_flush_shadow_all"
    m2, host2 = at("4.12")
    m2.fault_in(SLOT, G, host2, write=False)
    assert flushes(m2)[-1].source.function == "kvm_mips_handle_vz_root_tlb_fault"
    m2.unmap_gfn_range(GfnRange(SLOT, G, G + 1))
    assert flushes(m2)[-1].source.function == "kvm_vz_flush_shadow_all"


@pytest.mark.parametrize("kernel, releases", [
    ("4.11", {"v4.11"}), ("5.12", {"v4.11", "v4.12", "v5.0"}), ("6.5", {"v5.13"}),
    ("6.6", {"v6.6"}), ("6.8", {"v6.6"}), ("6.9", {"v6.9"})])
def test_steps_cite_the_code_of_the_release_run(kernel, releases):
    # Brief: a step of an older path cites the copy read for that era: the 4.11 series
    # [48239875303]/[48095374275] (and 748c0e312fce, VZ flush text [1681812942]) before 5.13,
    # the merged 5.13 text [15739782074] until 3e1efe2b67d3 (v6.6, kvm-x86-generic-6.6 pull
    # [493563804]), the v6.6 text (blob 7b2ac1319d70, = v6.9's 467ee6b95ae1 but for one unused
    # local [18000868261]) until v6.9, the v6.9 copy at v6.9.
    m, host = at(kernel)
    m.fault_in(SLOT, G, host, write=True)
    m.unmap_gfn_range(GfnRange(SLOT, G, G + 1))
    m.set_spte_gfn(change(G, HostPte(0xC0000, write=True, dirty=True)))
    m.fault_in(SLOT, G, host, write=True)
    m.set_spte_gfn(change(G, HostPte(0xD0000, write=True, dirty=True)))
    assert {s.source.release for s in m.trace.steps} <= releases
    assert {s.source.release for s in m.trace.steps} & releases


def test_hooks_at_names_the_hva_functions_before_5_13():
    # v4.11 [48239875303]: kvm_set_spte_hva -> handle_hva_to_gpa -> kvm_set_spte_handler;
    # kvm_unmap_hva_range -> kvm_unmap_hva_handler; v5.13 merged text [15739782074]; v6.6+
    # is the v6.9 table, cited at v6.6 (blob 7b2ac1319d70) for v6.6-v6.8.
    old = Model.hooks_at(Release(4, 19))
    assert [s.function for s in old["set_spte_gfn"][:3]] == [
        "kvm_set_spte_hva", "handle_hva_to_gpa", "kvm_set_spte_handler"]
    assert old["set_spte_gfn"][-1].function == "kvm_vz_flush_shadow_all"
    assert [s.function for s in old["unmap_gfn_range"][:3]] == [
        "kvm_unmap_hva_range", "handle_hva_to_gpa", "kvm_unmap_hva_handler"]
    assert Model.hooks_at(Release(4, 11))["set_spte_gfn"][-1].function == \
        "kvm_trap_emul_flush_shadow_all"
    assert Model.hooks_at(Release(5, 0))["set_spte_gfn"][0].release == "v5.0"
    mid = Model.hooks_at(Release(5, 13))
    assert mid["set_spte_gfn"][0].function == "kvm_set_spte_gfn"
    assert mid["set_spte_gfn"][0].release == "v5.13"
    assert Model.hooks_at(Release(6, 9)) == Model.hooks
    at66 = Model.hooks_at(Release(6, 6))
    assert {k: [s.function for s in v] for k, v in at66.items()} == \
        {k: [s.function for s in v] for k, v in Model.hooks.items()}
    mips_c = [s for s in at66["set_spte_gfn"] if s.file == "arch/mips/kvm/mmu.c"]
    assert mips_c and all(s.release == "v6.6" and "7b2ac1319d70" in s.via for s in mips_c)


@pytest.mark.parametrize("kernel", ["5.15", "6.1", "6.6"])
def test_lts_runs_read_nothing_arch_side_later(kernel):
    # the fault result (kvm_mips_map_page) is cited at the era's copy too
    at_ = Release.parse(kernel)
    for sc in catalogue().values():
        res = run(sc, Model, kernel=at_)
        assert not [s for s in res.read_later() if s.file.startswith("arch/")], sc.name


@pytest.mark.parametrize("kernel", ["4.11", "5.12", "6.9"])
def test_read_only_dirty_logged_slot_is_left_writable_and_the_guest_writes_it(kernel):
    # Finding. kvm_set_spte_handler (v4.11, [48239875303]) / kvm_set_spte_gfn (merged
    # [15739782074], v6.9 blob 467ee6b95ae1): dirty logging with a clean old pte -> pte_mkclean,
    # else-if read-only -> pte_wrprotect; after the unmap the old pte is 0 (clean), so a writable
    # host pte keeps _PAGE_WRITE. _kvm_mips_map_page_fast (same copies) then only checks
    # pte_write before pte_mkdirty: the guest's write to the read-only slot needs no exit.
    m, host = at(kernel)
    m.fault_in(BOTH, G, host, write=False)
    assert "_PAGE_WRITE" not in bits(m, G)                 # the fault path honours READONLY
    m.unmap_gfn_range(GfnRange(BOTH, G, G + 1))
    m.set_spte_gfn(change(G, HostPte(0xD0000, write=True, dirty=True), BOTH))
    assert "_PAGE_WRITE" in bits(m, G)
    mark = m.trace.mark()
    assert m.fault_in(BOTH, G, host, write=True).pages == 1
    assert {"_PAGE_DIRTY", "_PAGE_MODIFIED"} <= bits(m, G)
    # only the fast path ran: kvm_mips_map_page (the slow path) never saw the write fault
    ran = [s.source.function for s in m.trace.since(mark)]
    assert ran[0] == "_kvm_mips_map_page_fast" and "kvm_mips_map_page" not in ran
    assert any("KVM_MEM_READONLY" in f and "no MMIO exit" in f for f in Model.findings)
