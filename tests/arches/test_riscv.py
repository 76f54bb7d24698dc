"""RISC-V G-stage model against arch/riscv/kvm/mmu.c @ v6.9."""

import pytest

from kvmspte.arches.riscv import EEXIST, ENOMEM, Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim.pagetable import MemoryCache
from kvmspte.sim.release import Release
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.trace import FLUSH, WARN, Trace
from tests.conftest import run_named
from kvmspte.testing import NOT_REACHED, SLOT, change_pte_steps

LOGGING = Memslot(0, 0x100000, 0x1000, 0x7F0000000000, dirty_logging=True)
READONLY = Memslot(0, 0x100000, 0x1000, 0x7F0000000000, readonly=True)
GFN = 0x100210


def fresh(thp=False, hugetlb_shift=None, cls=Model):
    m = cls(Trace())
    m.hugetlb_shift = hugetlb_shift
    return m, HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp)


def flushes(m):
    return [s.text for s in m.trace.steps if s.kind == FLUSH]


def one(gfn, pte=None):
    return GfnRange(SLOT, gfn, gfn + 1, pte)


# -- fault path: kvm_riscv_gstage_map ---------------------------------------------------

def test_fault_builds_sv39x4_tables_and_a_rwx_leaf_with_a_and_d():
    # kvm_riscv_gstage_map: writable page -> gstage_map_page(rdonly=false, exec=true), i.e.
    # PAGE_WRITE_EXEC + pte_mkdirty; gstage_set_pte links level-1 and level-0 tables from the
    # cache and, having written a leaf, calls gstage_remote_tlb_flush.
    m, host = fresh()
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 1
    assert len(m.pt.pages) == 3          # root (level 2) + level 1 + level 0
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 0 and m.pt.g.names[depth] == "level 0"
    assert (leaf.pfn, leaf.perms, leaf.dirty, leaf.young) == (0x80210, "rwx", True, True)
    assert set(leaf.native) == {"_PAGE_PRESENT", "_PAGE_USER"}
    assert [s.source.function for s in m.trace.steps if s.kind == FLUSH] == \
        ["gstage_remote_tlb_flush"]


def test_fault_on_thp_host_stays_4k_and_cites_gstage_map():
    # kvm_riscv_gstage_map: vma_pagesize comes from a hugetlb VMA only; THP does not count.
    m, host = fresh(thp=True)
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 1 and got.source.function == "kvm_riscv_gstage_map"
    assert m.pt.lookup(GFN)[1] == 0 and m.pt.lookup(GFN + 1) is None


def test_fault_on_hugetlb_vma_maps_a_2m_block_unless_dirty_logging():
    # kvm_riscv_gstage_map: PMD_SIZE hugetlb page -> gfn aligned down, 2 MiB block at level 1;
    # with logging (dirty bitmap, not read-only) vma_pagesize is forced to PAGE_SIZE.
    m, host = fresh(hugetlb_shift=21)
    assert m.fault_in(SLOT, GFN, host, write=True).pages == 512
    leaf, depth = m.pt.lookup(GFN)
    assert depth == 1 and leaf.pfn == 0x80200
    m2, host2 = fresh(hugetlb_shift=21)
    got = m2.fault_in(LOGGING, GFN, host2, write=True)
    assert got.pages == 1 and got.source.function == "kvm_riscv_gstage_map"
    assert m2.pt.lookup(GFN)[1] == 0


def test_fault_read_under_logging_and_readonly_slot_map_read_only():
    # kvm_riscv_gstage_map: logging && !is_write -> writable = false; a read-only memslot gives
    # writable = false from gfn_to_pfn_prot.  Without logging a read fault maps W at once.
    for slot, write, perms in ((LOGGING, False, "r-x"), (READONLY, False, "r-x"),
                               (SLOT, False, "rwx")):
        m, host = fresh()
        m.fault_in(slot, GFN, host, write=write)
        assert m.pt.lookup(GFN)[0].perms == perms


# -- unmap: kvm_unmap_gfn_range -> gstage_unmap_range ------------------------------------

def test_unmap_clears_the_4k_leaf_fences_it_and_keeps_every_table():
    # gstage_unmap_range -> gstage_op_pte(CLEAR) on the leaf, then gstage_remote_tlb_flush;
    # kvm_unmap_gfn_range always returns false; the put_page branch is never reached.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    pages, before = len(m.pt.pages), len(flushes(m))
    assert m.unmap_gfn_range(one(GFN)) is False
    assert m.pt.lookup(GFN) is None
    assert len(m.pt.pages) == pages
    leaf_table = m.pt.walk(GFN)[-1][0]
    assert leaf_table.depth == 0 and leaf_table.entries == {}   # linked, all zero
    assert len(flushes(m)) == before + 1


def test_unmap_skips_a_partly_covered_block_and_clears_a_fully_covered_one():
    # gstage_unmap_range: clear only when addr is aligned to the leaf size and end - addr is
    # at least that size.
    m, host = fresh(hugetlb_shift=21)
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.unmap_gfn_range(one(GFN)) is False
    assert m.pt.lookup(GFN)[1] == 1                       # 4 KiB inside: skipped
    assert m.unmap_gfn_range(one(0x100200)) is False
    assert m.pt.lookup(GFN)[1] == 1                       # aligned but 4 KiB < 2 MiB
    m.unmap_gfn_range(GfnRange(SLOT, 0x100200, 0x100400))
    assert m.pt.lookup(GFN) is None                       # whole block covered
    assert len(m.pt.pages) == 2                           # root + level-1 table kept


# -- gstage_map_page / gstage_set_pte without a memory cache -----------------------------

def test_map_without_cache_installs_where_tables_exist_and_fences():
    # gstage_set_pte: descend through existing tables, overwrite the slot, fence the leaf.
    m, host = fresh()
    m.fault_in(SLOT, GFN + 1, host, write=True)
    n = len(flushes(m))
    assert m.gstage_map_page(None, GFN, 0xC0000, 1, rdonly=True, exec_=True) == 0
    assert m.pt.lookup(GFN)[0].perms == "r-x"
    assert len(flushes(m)) == n + 1


def test_map_without_cache_fails_with_enomem_where_a_table_is_missing():
    # gstage_set_pte: zero entry above the target level and pcache == NULL -> -ENOMEM.
    m, _ = fresh()
    assert m.gstage_map_page(None, GFN, 0xC0000, 1, True, True) == -ENOMEM
    assert len(m.pt.pages) == 1 and m.pt.lookup(GFN) is None and flushes(m) == []


def test_map_below_a_block_fails_with_eexist_and_changes_nothing():
    # gstage_set_pte: a leaf above the target level -> -EEXIST, nothing written.
    m, host = fresh(hugetlb_shift=21)
    m.fault_in(SLOT, GFN, host, write=True)
    snap = m.snapshot()
    assert m.gstage_map_page(None, GFN, 0xC0000, 1, True, True) == -EEXIST
    assert m.snapshot() == snap


def test_map_with_an_empty_cache_is_enomem_too():
    # gstage_set_pte: cache present but nothing left in it -> -ENOMEM.
    m, _ = fresh()
    assert m.gstage_map_page(MemoryCache(0), GFN, 0xC0000, 1, True, True) == -ENOMEM


# -- kvm_set_spte_gfn ----------------------------------------------------------------------

def test_set_spte_gfn_returns_false_on_success_true_on_failure():
    # kvm_set_spte_gfn: gstage_map_page(NULL cache, PAGE_SIZE, rdonly, exec); non-zero -> true.
    m, host = fresh()
    m.fault_in(SLOT, GFN + 1, host, write=True)
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is False
    assert m.pt.lookup(GFN)[0].pfn == 0xC0000
    m2, _ = fresh()
    assert m2.set_spte_gfn(one(GFN, HostPte(0xC0000))) is True          # -ENOMEM
    m3, host3 = fresh(hugetlb_shift=21)
    m3.fault_in(SLOT, GFN, host3, write=True)
    assert m3.set_spte_gfn(one(GFN, HostPte(0xC0000))) is True           # -EEXIST
    assert m3.pt.lookup(GFN)[0].pfn == 0x80200


def test_set_spte_gfn_overwrites_a_present_writable_leaf_read_only_even_for_a_writable_pte():
    # gstage_set_pte writes the slot with no check of its old value; kvm_set_spte_gfn always
    # passes rdonly = true, whatever the new host PTE allows.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.set_spte_gfn(one(GFN, HostPte(0xD0000, write=True, dirty=True)))
    leaf = m.pt.lookup(GFN)[0]
    assert (leaf.pfn, leaf.perms) == (0xD0000, "r-x")


def test_set_spte_gfn_warns_on_a_multi_gfn_range():
    # kvm_set_spte_gfn: WARN_ON(range->end - range->start != 1), then carries on.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.set_spte_gfn(GfnRange(SLOT, GFN, GFN + 2, HostPte(0xC0000)))
    assert any(s.kind == WARN for s in m.trace.steps)


def outcome(res):
    return res.reached_arch_hook, res.flushes, res.diff, res.reason_source


@pytest.mark.parametrize("levels", [4, 5])
def test_deeper_modes_give_the_same_outcomes(levels):
    # arch/riscv/kvm/mmu.c:kvm_riscv_gstage_mode_detect @ v6.9 may pick Sv48x4 / Sv57x4: more
    # table levels above, but the decisive walk is at levels 0-1, so the same diff and flushes.
    cls = type(f"Sv{levels}", (Model,), {"PGD_LEVELS": levels})
    for name in ("ksm-merge", "ksm-merge-unmapped-alone", "cow-huge"):
        assert outcome(run_named(name, cls)) == outcome(run_named(name, Model)), name
    deep, sv39 = run_named("ksm-merge", cls), run_named("ksm-merge", Model)
    assert len(deep.before) == len(sv39.before) + levels - 3        # one table per extra level


# -- every built-in scenario --------------------------------------------------------------
# After invalidate_range_start, gstage_unmap_range has zeroed the 4 KiB leaf but left its
# table linked, so kvm_set_spte_gfn -> gstage_map_page(NULL) -> gstage_set_pte writes a new
# read-only + exec leaf and fences it itself (gstage_remote_tlb_flush), returning false.
# Where no level-1 table exists it fails with -ENOMEM and returns true (generic flush only).
# kvm_riscv_gstage_map never maps THP with blocks -> mapped-huge is n/a.  Generic code returns
# before the hook for KVM_MEMSLOT_INVALID (kvm_change_spte_gfn) and for in_progress == 0
# (kvm_mmu_notifier_change_pte).
CHANGES = {  # scenario -> pfn of the installed leaf (pte_pfn of the new host PTE)
    "ksm-merge": 0xC0000, "ksm-merge-alone": 0xC0000, "ksm-merge-unmapped": 0xC0000,
    "ksm-merge-dirty-log": 0xC0000, "ksm-merge-readonly": 0xC0000, "ksm-merge-mte": 0xC0000,
    "ksm-merge-mte-unmapped": 0xC0000, "cow-4k-mte": 0xD0000,   # the mte option is arm64's
    "ksm-wrprotect": 0x80210, "ksm-wrprotect-dirty-log": 0x80210,
    "cow-4k": 0xD0000, "cow-4k-alone": 0xD0000, "cow-unmapped": 0xD0000,
    "cow-dirty-log": 0xD0000, "cow-readonly": 0xD0000,
    "uprobe-4k": 0xE0000, "uprobe-alone": 0xE0000,
    # device-private swap entry: pte_pfn reads its bits anyway (HostPte.pfn)
    "migrate-zero": 0xF0000, "migrate-zero-unmapped": 0xF0000,
}
FLUSH_ONLY = {"ksm-merge-unmapped-alone"}
NA = {"ksm-merge-huge", "ksm-merge-huge-alone", "cow-huge", "huge-dirty-log"}


def test_catalogue_is_fully_classified():
    assert set(catalogue()) == set(CHANGES) | FLUSH_ONLY | NOT_REACHED | NA



@pytest.mark.parametrize("name", [n for n in catalogue() if n not in NOT_REACHED])
def test_catalogue_mechanism(name):
    # The verdicts are the catalogue's [expect] (tests/test_contract.py); here, why:
    # arch/riscv/kvm/mmu.c @ v6.9: kvm_riscv_gstage_map refuses the THP starts; otherwise
    # gstage_set_pte either writes the zeroed level-0 slot and fences it itself
    # (gstage_remote_tlb_flush, hook returns false) or fails -ENOMEM (generic flush).
    res = run_named(name, Model)
    if name in NA:
        assert res.reason_source.function == "kvm_riscv_gstage_map"
        return
    assert res.reached_arch_hook is True
    flushed = [(s.actor, s.source.function) for s in change_pte_steps(res) if s.kind == FLUSH]
    if name in FLUSH_ONLY:
        assert res.diff == [] and flushed == [("kvm", "kvm_flush_remote_tlbs")]
        assert any(s.source.function == "gstage_set_pte" and "-ENOMEM" in s.text
                   for s in change_pte_steps(res))
        return
    # the arch's own fence, and no generic flush (kvm_set_spte_gfn returned false)
    assert flushed == [("arch", "gstage_remote_tlb_flush")] and len(res.flushes) == 1
    [change] = res.diff
    assert (change.key, change.old) == ("leaf 4K @gfn 0x100210", None)
    assert change.new == {"level": "level 0", "pfn": hex(CHANGES[name]), "perms": "r-x",
                          "dirty": True, "young": True,
                          "bits": ["_PAGE_PRESENT", "_PAGE_USER"]}


# -- releases (kvmspte.release switch points) ----------------------------------------------

def at(kernel, hugetlb_shift=None):
    m = Model(Trace(), None, Release.parse(kernel))
    m.hugetlb_shift = hugetlb_shift
    return m, HostMM(0x7F0000000000, 0x1000, 0x80000, thp=False)


def test_arrives_at_5_16():
    # First RISC-V KVM release, read in the v5.16 full copy of arch/riscv/kvm/mmu.c
    # [242339156] (stage2_* names, private kvm_mmu_page_cache): kvm_set_spte_gfn is there.
    assert Model.arrived.since == Release(5, 16)
    assert Model.arrived.source.function == "kvm_set_spte_gfn"
    assert "242339156" in Model.arrived.source.via
    assert [str(r) for r in Model.switches.releases()] == ["v5.17", "v5.19", "v6.6"]


@pytest.mark.parametrize("kernel", ["5.16", "5.17", "5.19", "6.0", "6.9"])
def test_every_release_reinstalls_read_exec_after_the_unmap_and_frees_no_table(kernel):
    # 5.16 [242339156]: stage2_unmap_range clears only the leaf (stage2_op_pte frees tables only
    # when handed a table entry); kvm_set_spte_gfn -> stage2_map_page(NULL, rdonly, exec)
    # installs R+X where the level-0 table survives. Same in the gstage copy [335559122] and v6.9.
    m, host = at(kernel)
    m.fault_in(SLOT, GFN, host, write=True)
    m.unmap_gfn_range(one(GFN))
    assert len(m.pt.pages) == 3 and m.pt.lookup(GFN) is None
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000, write=True))) is False
    assert (m.pt.lookup(GFN)[0].pfn, m.pt.lookup(GFN)[0].perms) == (0xC0000, "r-x")


@pytest.mark.parametrize("kernel, function, release", [
    ("5.16", "stage2_cache_alloc", "v5.16"), ("5.17", "stage2_set_pte", "v5.17"),
    ("5.18", "stage2_set_pte", "v5.17"), ("5.19", "gstage_set_pte", "v5.19"),
    ("6.9", "gstage_set_pte", "v6.9")])
def test_missing_table_is_enomem_and_true_in_every_release_from_its_own_code(kernel, function,
                                                                               release):
    # 5.16 [242339156]: stage2_cache_alloc returns NULL for a NULL cache -> -ENOMEM -> true.
    # cc4f602bc436 (v5.17): the private cache goes; the merged stage2_set_pte checks the NULL
    # cache itself (blob f80a34fbf102 by hunk line numbers in [37014474530] + [48772822770];
    # 5.17 inferred from the pull diffstat [38394388222]); 5.19 rename [37014474530].
    m, _ = at(kernel)
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is True
    enomem = [s for s in m.trace.steps if "-ENOMEM" in s.text][0]
    assert (enomem.source.function, enomem.source.release) == (function, release)
    assert len(m.pt.pages) == 1


@pytest.mark.parametrize("kernel", ["5.16", "5.18", "6.0"])
def test_leaf_above_level_0_is_eexist_and_true_in_every_release(kernel):
    # stage2_set_pte/gstage_set_pte: a leaf above the target level -> -EEXIST [242339156],
    # [335559122]; kvm_set_spte_gfn returns true on any error.
    m, host = at(kernel, hugetlb_shift=21)
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.set_spte_gfn(one(GFN, HostPte(0xC0000))) is True
    assert m.pt.lookup(GFN)[0].pfn == 0x80200


@pytest.mark.parametrize("kernel, text", [
    ("5.16", "sbi_remote_hfence_gvma_vmid"), ("5.18", "sbi_remote_hfence_gvma_vmid"),
    ("5.19", "kvm_riscv_hfence_gvma_vmid_gpa"), ("6.0", "kvm_riscv_hfence_gvma_vmid_gpa"),
    ("6.9", "kvm_riscv_hfence_gvma_vmid_gpa")])
def test_remote_fence_is_sbi_before_5_19_and_vcpu_requests_after(kernel, text):
    # 5.16 [242339156]: stage2_remote_tlb_flush -> sbi_remote_hfence_gvma_vmid over the online
    # harts; 13acfec2dbcc (diff [45405406007]) points gstage_remote_tlb_flush at
    # kvm_riscv_hfence_gvma_vmid_gpa and is in the 'KVM/riscv changes for 5.19' pull
    # [37416743051] (not the 5.20 one); the same call in the v6.1..v6.5 copy [335559122].
    m, host = at(kernel)
    m.fault_in(SLOT, GFN, host, write=True)
    assert text in flushes(m)[-1]


@pytest.mark.parametrize("kernel, names, releases", [
    ("5.16", "stage2_", {"v5.16"}), ("5.18", "stage2_", {"v5.17"}),
    ("5.19", "gstage_", {"v5.19"}), ("6.5", "gstage_", {"v5.19"}), ("6.6", "gstage_", {"v6.6"}),
    ("6.8", "gstage_", {"v6.6"}), ("6.9", "gstage_", {"v6.9"})])
def test_steps_cite_the_code_and_names_of_the_release_run(kernel, names, releases):
    # Names stage2_* until the 5.19 G-stage rename 26708234eb12 (5.19 pull [37416743051]);
    # each era cites the copy read ([242339156], cc4f602bc436's, the rename diff, [335559122]);
    # 3e1efe2b67d3 (v6.6) to v6.8 cite v6.6 for the v6.9 text; never a release after the run.
    m, host = at(kernel)
    m.fault_in(SLOT, GFN, host, write=True)
    m.unmap_gfn_range(one(GFN))
    m.set_spte_gfn(one(GFN, HostPte(0xC0000)))
    m.set_spte_gfn(GfnRange(SLOT, GFN, GFN + 2, HostPte(0xC0000)))      # the WARN path too
    sources = [s.source for s in m.trace.steps]
    assert {s.release for s in sources} == releases
    assert all(names in s.function for s in sources if "stage" in s.function)
    assert any(s.kind == WARN for s in m.trace.steps)


def test_hooks_at_follow_the_names_and_add_the_5_16_cache_helper():
    # v5.16 [242339156]: stage2_map_page, stage2_set_pte, stage2_cache_alloc; v6.6 on = v6.9.
    old = Model.hooks_at(Release(5, 16))["set_spte_gfn"]
    assert [s.function for s in old] == ["kvm_set_spte_gfn", "stage2_map_page", "stage2_set_pte",
                                         "stage2_remote_tlb_flush", "stage2_cache_alloc"]
    assert "stage2_cache_alloc" not in {s.function for s in
                                        Model.hooks_at(Release(5, 17))["set_spte_gfn"]}
    assert Model.hooks_at(Release(6, 9)) == Model.hooks
    six = Model.hooks_at(Release(6, 6))
    assert {k: [s.function for s in v] for k, v in six.items()} == \
        {k: [s.function for s in v] for k, v in Model.hooks.items()}
    assert {s.release for v in six.values() for s in v} == {"v6.6"}


@pytest.mark.parametrize("kernel, function, release", [
    ("5.16", "kvm_riscv_stage2_map", "v5.16"), ("5.18", "kvm_riscv_stage2_map", "v5.17"),
    ("5.19", "kvm_riscv_gstage_map", "v5.19"), ("6.7", "kvm_riscv_gstage_map", "v6.6"),
    ("6.9", "kvm_riscv_gstage_map", "v6.9")])
def test_fault_results_cite_the_fault_path_of_the_release_run(kernel, function, release):
    # kvm_riscv_stage2_map [242339156] until the 26708234eb12 rename (5.19 pull [37416743051]);
    # the result's source follows the release like the fault's steps do.
    m, host = at(kernel)
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert (got.source.function, got.source.release) == (function, release)
