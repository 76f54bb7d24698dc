"""PowerPC Book3S HV HPT model against arch/powerpc/kvm/book3s_64_mmu_hv.c,
book3s_hv_rm_mmu.c and book3s.c @ v6.9 (copies and dates in /work/notes/ppc.md §0)."""

from kvmspte.records import replace

import pytest

from kvmspte.arches.ppc_hv_hpt import Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.trace import FLUSH, Trace
from tests.conftest import run_named
from kvmspte.testing import NOT_REACHED, SLOT, change_pte_steps

HVA = 0x7F0000000000
LOGGING = replace(SLOT, dirty_logging=True)
GFN = 0x100210


def fresh(thp=False, pte=None, guest_pages=1):
    m = Model(Trace())
    m.guest_pages = guest_pages
    return m, HostMM(HVA, 0x1000, 0x80000, thp=thp, pte=pte)


def flushes(m):
    return [s.text for s in m.trace.steps if s.kind == FLUSH]


def one(gfn, slot=SLOT):
    return GfnRange(slot, gfn, gfn + 1, HostPte(0xC0000))


# -- fault path -------------------------------------------------------------------------
# H_ENTER: book3s_hv_rm_mmu.c:kvmppc_do_h_enter @ v6.9, read in stored copy 91330101 (v6.1+:
# mmu_invalidate_seq / mmu_invalidate_retry); its host PTE walk and update in
# kvm_book3s_64.h:find_kvm_host_pte / kvmppc_read_update_linux_pte @ v6.9, stored copy
# 40086437794 (v6.1+).

def test_h_enter_with_the_host_page_present_makes_the_hpte_valid_and_links_it_at_once():
    # kvmppc_do_h_enter @ v6.9 (copy 91330101): the Linux PTE of the hva is present, so its
    # pfn goes into the R word and the entry is VALID; under the rmap lock no invalidation is
    # in progress, so kvmppc_add_revmap_chain links it.  No hypervisor page fault runs.  The
    # retried store then sets R and C.
    m, host = fresh()
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 1 and got.source.function == "kvmppc_do_h_enter"
    (h,) = m.hpt.hptes.values()
    assert (h.valid, h.absent, h.pfn, h.perms) == (True, False, 0x80210, "rwx")
    assert (h.r, h.c) == (True, True)
    assert m.hpt.rmaps[GFN].chain == [h.index]
    assert m.lookup(GFN).pfn == 0x80210
    ran = {s.source.function for s in m.trace.steps}
    assert "kvmppc_book3s_hv_page_fault" not in ran
    assert {"kvmppc_do_h_enter", "kvmppc_read_update_linux_pte",
            "kvmppc_add_revmap_chain"} <= ran
    # the Linux PTE is made young and dirty (kvmppc_read_update_linux_pte), not the page
    # (set_page_dirty_lock is the page fault's)
    texts = " ".join(s.text for s in m.trace.steps)
    assert "dirty since the guest's HPTE asks for write" in texts
    assert "set_page_dirty_lock" not in texts


def test_read_only_host_page_gives_a_read_only_hpte_with_only_r():
    # kvmppc_do_h_enter @ v6.9 (copy 91330101): the HPTE asks for write and the host PTE is
    # not writable -> hpte_make_readonly; kvmppc_read_update_linux_pte marks it young only;
    # a load sets only R.
    m, host = fresh(pte=HostPte(0, write=False, dirty=False))
    m.fault_in(SLOT, GFN, host, write=False)
    (h,) = m.hpt.hptes.values()
    assert (h.valid, h.perms, h.r, h.c) == (True, "r-x", True, False)
    assert any("hpte_make_readonly" in s.text for s in m.trace.steps)


def test_no_host_page_stores_the_hpte_absent_for_the_hypervisor_page_fault():
    # kvmppc_do_h_enter @ v6.9 (copy 91330101): kvmppc_read_update_linux_pte reads a
    # non-present PTE as none, so there is no pfn: the entry is written ABSENT and not linked.
    # kvmppc_book3s_hv_page_fault backs it later (here once the host page is present).
    m, host = fresh(pte=HostPte(0, present=False))
    hpte, why = m._h_enter(SLOT, GFN, 1, host)
    assert why == "" and (hpte.valid, hpte.absent, hpte.pfn) == (False, True, None)
    assert GFN not in m.hpt.rmaps
    host.set_pte(HVA + 0x210 * 4096, HostPte(0x80210, write=True, dirty=True))
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.source.function == "kvmppc_book3s_hv_page_fault"
    assert (hpte.valid, hpte.pfn) == (True, 0x80210) and m.hpt.rmaps[GFN].chain == [hpte.index]


def test_invalidation_in_progress_stores_the_hpte_absent_and_unlinked():
    # kvmppc_do_h_enter @ v6.9 (copy 91330101): find_kvm_host_pte returns no PTE when
    # mmu_invalidate_retry reports an invalidation, so the entry is ABSENT; the older copies
    # (2310820074, v4.17-v5.7; HEAD side of 3059436873, v3.3) find the pfn but the same check
    # under the rmap lock writes the entry ABSENT instead of linking it.  The later page
    # fault backs and links it.
    for kernel in ("6.9", "4.19", "3.4"):
        m, host = at(kernel)
        hpte, why = m._h_enter(SLOT, GFN, 1, host, retry=True)
        assert why == "" and (hpte.valid, hpte.absent) == (False, True), kernel
        assert GFN not in m.hpt.rmaps, kernel
        texts = " ".join(s.text for s in m.trace.steps)
        assert ("find_kvm_host_pte" in texts) is (kernel == "6.9"), kernel
        # find_kvm_host_pte (kvm_book3s_64.h @ v6.9, stored copy 40086437794) returns no PTE
        # while the retry check fails
        assert (("find_kvm_host_pte", "v6.9") in sources(m)) is (kernel == "6.9"), kernel
        assert ("under the rmap lock" in texts) is (kernel != "6.9"), kernel
        got = m.fault_in(SLOT, GFN, host, write=True)
        assert got.source.function == "kvmppc_book3s_hv_page_fault", kernel
        assert hpte.valid and m.hpt.rmaps[GFN].chain == [hpte.index], kernel


def test_invalid_memslot_stores_an_absent_mmio_hpte():
    # kvmppc_do_h_enter @ v6.9 (copy 91330101): no valid memslot -> ABSENT with key 31
    # (emulated MMIO), nothing linked; the page fault then emulates the access.
    m, host = fresh()
    hpte, _ = m._h_enter(replace(SLOT, invalid=True), GFN, 1, host)
    assert (hpte.valid, hpte.absent) == (False, True) and not m.hpt.rmaps
    assert any("emulated MMIO" in s.text for s in m.trace.steps)


def test_thp_host_still_gets_a_4k_hpte_so_no_2m_mapping():
    # HPTE sizes are 4K/64K/16M (note §4.5): there is no 2 MiB HPTE; the guest's 4K HPTE is
    # backed by one sub-page of the THP at H_ENTER (kvmppc_do_h_enter @ v6.9, copy 91330101).
    m, host = fresh(thp=True)
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 1 and got.source.function == "kvmppc_do_h_enter"
    assert "H_PARAMETER" in got.why
    assert m.lookup(GFN).pages == 1 and m.lookup(GFN + 1) is None


def test_64k_hpte_on_a_thp_host_is_linked_under_its_base_gfn_only():
    # kvmppc_do_h_enter @ v6.9 (copy 91330101): psize <= host page size is allowed; the rmap
    # used is memslot->arch.rmap[gfn_base - base_gfn].
    m, host = fresh(thp=True, guest_pages=16)
    got = m.fault_in(SLOT, GFN + 3, host, write=True)
    (h,) = m.hpt.hptes.values()
    assert got.pages == 16 and (h.gfn, h.pfn) == (GFN, 0x80210)
    assert list(m.hpt.rmaps) == [GFN]
    assert m.lookup(GFN + 15).pages == 16


def test_hpte_larger_than_the_host_page_is_refused_by_h_enter():
    # kvmppc_do_h_enter @ v6.9 (copy 91330101): host page size < psize -> H_PARAMETER back to
    # the guest before any HPTE slot is taken: nothing stored, nothing linked, no page fault.
    # The v3.3 form (HEAD side of copy 3059436873) refuses the same way in kvmppc_h_enter.
    for kernel, fn in (("6.9", "kvmppc_do_h_enter"), ("3.4", "kvmppc_h_enter")):
        for thp, pages in ((False, 16), (True, 4096)):
            m, host = at(kernel, thp=thp)
            m.guest_pages = pages
            got = m.fault_in(SLOT, GFN, host, write=True)
            assert got.pages == 0 and "H_PARAMETER" in got.why, (kernel, pages)
            assert got.source.function == fn, kernel
            assert m.hpt.hptes == {} and not m.hpt.rmaps and m.lookup(GFN) is None
            assert "kvmppc_book3s_hv_page_fault" not in {s.source.function
                                                        for s in m.trace.steps}


def test_page_fault_still_refuses_an_oversized_absent_hpte():
    # kvmppc_book3s_hv_page_fault (intel/tdx copy 98ba09b4, about v6.0): an ABSENT HPTE
    # larger than the host page fails with -EFAULT; such an entry can only come from an
    # H_ENTER that found no host PTE (kvmppc_do_h_enter @ v6.9, copy 91330101).
    m, host = fresh(pte=HostPte(0, present=False), guest_pages=16)
    hpte, _ = m._h_enter(SLOT, GFN, 16, host)
    assert hpte.absent
    host.set_pte(HVA + 0x210 * 4096, HostPte(0x80210, write=True, dirty=True))
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert got.pages == 0 and "-EFAULT" in got.why
    assert got.source.function == "kvmppc_book3s_hv_page_fault" and not m.hpt.rmaps


def test_v3_4_h_enter_cites_kvmppc_h_enter_at_v3_3():
    # HEAD side of merge copy 3059436873: the v3.3 body is in the vcpu-based kvmppc_h_enter;
    # it backs a present host page at once, as v6.9 does.
    m, host = at("3.4")
    got = m.fault_in(SLOT, GFN, host, write=True)
    assert (got.source.function, got.source.release) == ("kvmppc_h_enter", "v3.3")
    assert ("kvmppc_h_enter", "v3.3") in sources(m)
    assert not any(f.startswith("kvmppc_do_h_enter") or f == "kvmppc_read_update_linux_pte"
                   for f, _ in sources(m))
    (h,) = m.hpt.hptes.values()
    assert h.valid and m.hpt.rmaps[GFN].chain == [h.index]


def test_refault_after_unmap_relinks_and_keeps_rc_set_in_rmap_and_guest_rpte():
    # kvmppc_book3s_hv_page_fault: R/C stay in the real HPTE when set in both the rmap RC field
    # and guest_rpte (both were filled by kvmppc_unmap_hpte's harvest).
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.unmap_gfn_range(one(GFN))
    m.fault_in(SLOT, GFN, host, write=False)
    (h,) = m.hpt.hptes.values()
    assert h.valid and m.hpt.rmaps[GFN].chain == [h.index] and (h.r, h.c) == (True, True)


def test_fault_on_an_already_valid_hpte_invalidates_it_without_relinking():
    # kvmppc_book3s_hv_page_fault (copy 98ba09b4, about v6.0): an HPTE that is already valid
    # (here made so by kvmppc_do_h_enter @ v6.9, copy 91330101) is made absent and
    # invalidated (tlbie), its R/C kept, and it is not added to the rmap a second time.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    h = next(iter(m.hpt.hptes.values()))
    assert m._page_fault(SLOT, h, host) == ""
    assert m.hpt.rmaps[GFN].chain == [h.index] and h.valid and (h.r, h.c) == (True, True)
    assert len(flushes(m)) == 1


# -- unmap and set_spte ---------------------------------------------------------------------

def test_unmap_rmapp_invalidates_keeps_the_guest_view_and_harvests_rc():
    # kvm_unmap_rmapp -> kvmppc_unmap_hpte: unlink, HPTE_V_ABSENT, kvmppc_invalidate_hpte
    # (VALID cleared, tlbie), R/C into the rmap and guest_rpte; kvm_unmap_gfn_range_hv
    # returns false.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.unmap_gfn_range(one(GFN)) is False
    (h,) = m.hpt.hptes.values()
    assert (h.valid, h.absent, h.gfn, h.guest_r, h.guest_c) == (False, True, GFN, True, True)
    rmap = m.hpt.rmaps[GFN]
    assert (rmap.present, rmap.r, rmap.c) == (False, True, True)
    assert flushes(m) == [f"tlbie HPTE {h.index:#x} (4K page at gfn {GFN:#x})"]
    assert m.lookup(GFN) is None


def test_unmap_drains_every_hpte_in_the_chain():
    # kvm_unmap_rmapp loops until the rmap is no longer PRESENT: two HPTEs mapping the same
    # page (two guest translations, each linked at its H_ENTER: kvmppc_do_h_enter @ v6.9,
    # copy 91330101) are both invalidated, one tlbie each.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    second, _ = m._h_enter(SLOT, GFN, 1, host)
    assert second.valid and len(m.hpt.rmaps[GFN].chain) == 2
    m.unmap_gfn_range(one(GFN))
    assert not m.hpt.rmaps[GFN].present and len(flushes(m)) == 2
    assert not any(h.valid for h in m.hpt.hptes.values())


def test_unmap_moves_c_to_the_dirty_bitmap_only_with_dirty_logging():
    # kvmppc_unmap_hpte: C set and a dirty bitmap -> kvmppc_update_dirty_map(gfn, psize).
    m, host = fresh()
    m.fault_in(LOGGING, GFN, host, write=True)
    m.unmap_gfn_range(one(GFN, LOGGING))
    assert m.dirty.has(LOGGING, GFN)
    m2, host2 = fresh()
    m2.fault_in(SLOT, GFN, host2, write=True)
    m2.unmap_gfn_range(one(GFN))
    assert not m2.dirty.bits
    m3, host3 = fresh(pte=HostPte(0, write=False, dirty=False))   # a load: R only, no C
    m3.fault_in(LOGGING, GFN, host3, write=False)
    m3.unmap_gfn_range(one(GFN, LOGGING))
    assert not m3.dirty.bits


def test_large_hpte_is_removed_only_by_its_base_gfn():
    # Note §4.5: a large HPTE sits only in its base gfn's rmap, so unmapping another gfn it
    # covers finds nothing; unmapping the base gfn removes it and marks psize worth of bits.
    m, host = fresh(thp=True, guest_pages=16)
    m.fault_in(LOGGING, GFN, host, write=True)
    m.unmap_gfn_range(one(GFN + 5, LOGGING))
    assert m.lookup(GFN + 5) is not None and flushes(m) == []
    m.unmap_gfn_range(one(GFN, LOGGING))
    assert m.lookup(GFN + 5) is None and len(m.dirty.bits[0]) == 16


def test_set_spte_gfn_unmaps_the_gfn_ignores_the_new_pte_and_returns_false():
    # kvm_set_spte_gfn_hv: kvm_unmap_rmapp(range->slot, range->start); range->arg.pte unread.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.fault_in(SLOT, GFN + 1, host, write=True)
    assert m.set_spte_gfn(one(GFN)) is False
    assert m.lookup(GFN) is None and m.lookup(GFN + 1).pfn == 0x80211
    assert len(flushes(m)) == 1
    assert all(h.pfn != 0xC0000 for h in m.hpt.hptes.values())


def test_unmap_of_an_unmapped_gfn_does_nothing():
    # kvm_unmap_rmapp: rmap not PRESENT -> stop at once.
    m, _ = fresh()
    assert m.set_spte_gfn(one(GFN)) is False and flushes(m) == [] and m.snapshot() == {}


def test_describe_and_hooks():
    d = Model.describe()
    assert d["id"] == "ppc-hv-hpt" and d["family"] == "powerpc"
    assert d["hooks"]["set_spte_gfn"][0]["function"] == "kvm_set_spte_gfn"
    assert d["hooks"]["unmap_gfn_range"][0]["function"] == "kvm_unmap_gfn_range"
    assert [s["function"] for s in d["chain"]] == [
        "kvm_set_spte_gfn", "kvm_set_spte_gfn_hv", "kvm_unmap_rmapp", "kvmppc_unmap_hpte"]


# -- every built-in scenario ---------------------------------------------------------------
# The verdicts are the catalogue's [expect] (tests/test_contract.py); these tests say why.
# Wrapped triggers: invalidate_range_start -> kvm_unmap_gfn_range_hv -> kvm_unmap_rmapp has
# already drained the gfn's rmap chain (book3s_64_mmu_hv.c @ v6.9), so kvm_set_spte_gfn_hv's
# kvm_unmap_rmapp finds the rmap not PRESENT: kvmppc_unmap_hpte never runs, no tlbie.
HOOK_NOOP = [
    "ksm-merge", "ksm-merge-alone", "ksm-merge-unmapped", "ksm-merge-unmapped-alone",
    "ksm-merge-dirty-log", "ksm-merge-mte", "ksm-merge-mte-unmapped", "cow-4k-mte",
    "ksm-wrprotect",
    "ksm-wrprotect-dirty-log", "cow-4k", "cow-4k-alone", "cow-unmapped", "cow-dirty-log",
    "uprobe-4k", "uprobe-alone", "migrate-zero", "migrate-zero-unmapped",
]
# name -> the function that refuses the starting state:
# book3s_hv_rm_mmu.c:kvmppc_do_h_enter @ v6.9 (copy 91330101; the guest's 4K HPTE is backed at
# H_ENTER) + note §4.5: no 2 MiB HPTE size exists;
# kvm_main.c:check_memory_region_flags @ v6.9: powerpc does not select HAVE_KVM_READONLY_MEM
# (also asserted for every model in
# tests/test_engine.py::test_read_only_memslots_exist_only_where_the_arch_selects_them).
REFUSED = {**dict.fromkeys(["ksm-merge-huge", "ksm-merge-huge-alone", "cow-huge",
                            "huge-dirty-log"], "kvmppc_do_h_enter"),
           **dict.fromkeys(["ksm-merge-readonly", "cow-readonly"],
                           "check_memory_region_flags")}
# generic code returns before the hook in kvmspte.testing.NOT_REACHED (kvm_main.c)


def test_every_builtin_scenario_is_classified():
    assert sorted([*HOOK_NOOP, *REFUSED, *NOT_REACHED]) == sorted(catalogue())



@pytest.mark.parametrize("name", HOOK_NOOP)
def test_wrapped_scenarios_reach_the_hook_and_find_the_rmap_drained(name):
    r = run_named(name, Model)
    assert (r.reached_arch_hook, r.flush, r.diff) == (True, False, [])
    ran = {s.source.function for s in change_pte_steps(r) if s.actor == "arch"}
    assert ran == {"kvm_set_spte_gfn", "kvm_set_spte_gfn_hv"}      # no kvmppc_unmap_hpte
    assert r.reason_source.function == "kvm_set_spte_gfn_hv"
    rmap = r.before.get("rmap gfn 0x100210")
    assert rmap is None or rmap["present"] is False


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_starting_states_that_cannot_exist_are_refused_where_the_kernel_refuses_them(name):
    assert run_named(name, Model).reason_source.function == REFUSED[name]


def test_mapped_scenario_left_an_absent_hpte_and_kept_the_neighbour():
    # kvmppc_unmap_hpte at invalidate_range_start: the target HPTE stays as an ABSENT entry
    # with R/C harvested; the neighbour's HPTE and rmap are untouched.
    r = run_named("ksm-merge", Model)
    target = [v for v in r.before.values() if v.get("gfn") == "0x100210"][0]
    neighbour = [v for v in r.before.values() if v.get("gfn") == "0x100211"][0]
    assert (target["valid"], target["absent"]) == (False, True)
    assert (neighbour["valid"], neighbour["absent"]) == (True, False)
    assert r.before["rmap gfn 0x100210"] == {"present": False, "chain": [], "R": True, "C": True}


# -- releases (issue 11): arrival v3.3 and the switch points ----------------------------------

from kvmspte.sim.release import Release  # noqa: E402


def at(kernel, thp=False, pte=None):
    m = Model(Trace(), None, Release.parse(kernel))
    return m, HostMM(HVA, 0x1000, 0x80000, thp=thp, pte=pte)


def sources(m):
    return [(s.source.function, s.source.release) for s in m.trace.steps if s.source]


def test_arrives_in_v3_3_with_the_book3s_hv_mmu_notifiers():
    """342d3db763f2 'KVM: PPC: Implement MMU notifiers for Book3S HV guests' (v3.3): its
    kvm_host.h hunk defines KVM_ARCH_WANT_MMU_NOTIFIER under CONFIG_KVM_BOOK3S_64_HV (message
    and hunk read via the pages corpus); code read at stored copy 105972674."""
    assert Model.arrived.since == Release(3, 3) and Model.arrived.commit == "342d3db763f2"
    assert [str(r) for r in Model.switches.releases()] == [
        "v3.6", "v3.13", "v3.19", "v4.11", "v4.15", "v5.0", "v5.13"]


def test_v3_4_change_pte_on_a_still_mapped_gfn_unmaps_the_hpte():
    """Before v3.7 change_pte is not bracketed by invalidate_range_start/end, so it finds the
    HPTE valid.  v3.3 kvm_set_spte_hva (copy 105972674): past the using_mmu_notifiers check,
    kvm_handle_hva(hva, kvm_unmap_rmapp): the HPTE goes ABSENT, kvmppc_invalidate_hpte tlbies
    it (HEAD side of copy 3059436873), R/C go into the rmap and guest_rpte; the new PTE is
    never read; void, so nothing for generic code to flush."""
    m, host = at("3.4")
    m.fault_in(LOGGING, GFN, host, write=True)
    before = m.snapshot()
    assert m.set_spte_gfn(one(GFN, LOGGING)) is False
    (h,) = m.hpt.hptes.values()
    assert (h.valid, h.absent, h.guest_r, h.guest_c) == (False, True, True, True)
    rmap = m.hpt.rmaps[GFN]
    assert (rmap.present, rmap.r, rmap.c) == (False, True, True)
    assert flushes(m) == [f"tlbie HPTE {h.index:#x} (4K page at gfn {GFN:#x})"]
    assert m.snapshot() != before and m.lookup(GFN) is None
    # pre-v4.15: C stays in the rmap only, the dirty bitmap is untouched
    assert not any(k.startswith("dirty bitmap") for k in m.snapshot())
    assert ("kvm_set_spte_hva", "v3.3") in sources(m)


def test_v3_4_trace_cites_the_v3_3_code_not_v6_9():
    """Trace steps of a v3.x run cite the copies read for that era (105972674, 3059436873)."""
    m, host = at("3.4")
    m.fault_in(SLOT, GFN, host, write=True)
    m.set_spte_gfn(one(GFN))
    change = [s for s in m.trace.steps if s.source and s.source.function in (
        "kvm_set_spte_hva", "kvm_unmap_rmapp", "kvmppc_invalidate_hpte")]
    assert change and {s.source.release for s in change} == {"v3.3"}


def test_dirty_bitmap_at_unmap_starts_in_v4_15():
    """e641a317830b 'Unify dirty page map between HPT and radix' (v4.15; message via the pages
    corpus): kvmppc_unmap_hpte sets the memslot dirty bitmap for a harvested C (copy 2001413);
    before it the C bit only reaches the rmap's CHANGED bit (copy 105972674)."""
    for kernel, marked in (("4.14", False), ("4.15", True)):
        m, host = at(kernel)
        m.fault_in(LOGGING, GFN, host, write=True)
        m.unmap_gfn_range(one(GFN, LOGGING))
        assert m.dirty.has(LOGGING, GFN) is marked, kernel
        assert m.hpt.rmaps[GFN].c


def test_ppc970_gate_is_recorded_until_v3_19():
    """kvm_set_spte_hva(_hv) returns early when kvm->arch.using_mmu_notifiers is clear (copy
    105972674; both sides of merge copy 25902056047, v3.10/v3.18); gone by the v4.1 copy
    24254970671.  The model's host is POWER7+, so the check passes and only a step records it.
    Removal release v3.19 is UNVERIFIED (c17b98cf6028 from memory)."""
    for kernel, gated in (("3.18", True), ("3.19", False)):
        m, host = at(kernel)
        m.fault_in(SLOT, GFN, host, write=True)
        m.set_spte_gfn(one(GFN))
        texts = [s.text for s in m.trace.steps]
        assert any("using_mmu_notifiers" in t for t in texts) is gated, kernel
        assert m.lookup(GFN) is None


def test_dispatch_by_release():
    """book3s_64_mmu_hv.c defines kvm_set_spte_hva itself before the kvmppc_ops split (v3.13,
    UNVERIFIED date); book3s.c forwards to kvm_set_spte_hva_hv (void) until v5.0, then returns
    int 0 (748c0e312fce, copy 31375062387) until v5.12 ('-' side of copy 2132829017);
    b1c5356e873c (v5.13) makes it kvm_set_spte_gfn_hv returning false."""
    expect = {"3.12": ("kvm_set_spte_hva", "book3s_64_mmu_hv.c", "void"),
              "3.13": ("kvm_set_spte_hva", "book3s.c", "void"),
              "4.20": ("kvm_set_spte_hva", "book3s.c", "void"),
              "5.0": ("kvm_set_spte_hva", "book3s.c", "returns 0"),
              "5.12": ("kvm_set_spte_hva", "book3s.c", "returns 0"),
              "5.13": ("kvm_set_spte_gfn", "book3s.c", "returns false")}
    for kernel, (fn, file, ret) in expect.items():
        m, host = at(kernel)
        m.fault_in(SLOT, GFN, host, write=True)
        assert m.set_spte_gfn(one(GFN)) is False
        first = m.trace.steps[[s.text for s in m.trace.steps].index(next(
            s.text for s in m.trace.steps if s.source.function.startswith("kvm_set_spte")))]
        assert first.source.function == fn and first.source.file.endswith(file), kernel
        assert ret in m.trace.steps[-1].text, kernel


def test_kvm_is_radix_dispatch_from_v4_11_only():
    """kvm_is_radix() picks the handler from the POWER9 merge 167c76e05591 (v4.11; copy 2001413
    shows it); before, kvm_handle_hva always runs kvm_unmap_rmapp (copy 24254970671)."""
    for kernel, radix in (("4.10", False), ("4.11", True)):
        m, host = at(kernel)
        m.fault_in(SLOT, GFN, host, write=True)
        m.set_spte_gfn(one(GFN))
        assert any("kvm_is_radix()" in s.text for s in m.trace.steps) is radix, kernel


def test_hooks_at_names_the_hva_entry_points_before_v5_13():
    """kvm_unmap_hva (v3.3-v3.5), kvm_unmap_hva_range from 84504ef38673 (v3.6), book3s.c and
    the _hv ops from v3.13; v6.9 hooks unchanged from v5.13."""
    fn = lambda k, hook: [s.function for s in Model.hooks_at(Release.parse(k))[hook]]
    assert fn("3.5", "unmap_gfn_range")[0] == "kvm_unmap_hva"
    assert fn("3.6", "unmap_gfn_range")[0] == "kvm_unmap_hva_range"
    assert fn("4.0", "set_spte_gfn")[:3] == ["kvm_set_spte_hva", "kvm_ops_hv",
                                              "kvm_set_spte_hva_hv"]
    # from v5.13 the v6.9 functions, re-dated to the era where a copy was read (ppc_eras)
    names = lambda k: {h: [(s.file, s.function) for s in v]
                       for h, v in Model.hooks_at(Release.parse(k)).items()}
    assert names("5.13") == names("6.9")
    assert Model.hooks_at(Release.parse("6.9")) == Model.hooks
