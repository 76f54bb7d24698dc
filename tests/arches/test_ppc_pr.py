"""PowerPC Book3S PR model against book3s_pr.c, book3s_mmu_hpte.c and
book3s_64_mmu_host.c @ v6.9 (notes/ppc.md §1, §5)."""

import pytest

from kvmspte.arches.ppc_pr import PP_RO, PP_RW, Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.trace import FLUSH, Trace
from tests.conftest import run_named
from kvmspte.testing import NOT_REACHED, SLOT

GFN = 0x100210


def fresh(thp=False, pte=None):
    return Model(Trace()), HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp, pte=pte)


def rng(gfn, pfn=0xC0000, present=True):
    return GfnRange(SLOT, gfn, gfn + 1, HostPte(pfn, present=present))


# -- fault path -----------------------------------------------------------------------------

def test_fault_builds_one_cache_entry_and_one_4k_host_hpte():
    # book3s_64_mmu_host.c:kvmppc_mmu_map_page: one MMU_PAGE_4K host HPTE, writable when the
    # guest pte allows write and the host page is writable; book3s_mmu_hpte.c:
    # kvmppc_mmu_hpte_cache_map records slot, host_vpn, the guest pte and the pfn.
    m, host = fresh()
    res = m.fault_in(SLOT, GFN, host, write=True)
    assert res.pages == 1
    [entry] = m.vcpus[0].entries
    assert entry.pte.raddr == GFN << 12 and entry.pfn == 0x80210 and entry.pagesize == "4K"
    hpte = m.hpt.slots[entry.slot]
    assert (hpte.pfn, hpte.pp, hpte.noexec, hpte.vpn) == (0x80210, PP_RW, False, entry.host_vpn)
    assert m.vcpus[1].entries == []
    assert m.lookup(GFN).perms == "rwx"


def test_write_protected_host_page_gives_read_only_hpte():
    # kvmppc_mmu_map_page: PP_RXRX unless the host page (kvmppc_gpa_to_pfn's writable) allows it
    m, host = fresh(pte=HostPte(pfn=0, write=False))
    m.fault_in(SLOT, GFN, host, write=False)
    [entry] = m.vcpus[0].entries
    assert m.hpt.slots[entry.slot].pp == PP_RO


def test_read_only_memslot_gives_read_only_hpte():
    # kvmppc_gpa_to_pfn reports a read-only slot as not writable -> PP_RXRX
    m, host = fresh()
    m.fault_in(Memslot(0, 0x100000, 0x1000, 0x7F0000000000, readonly=True), GFN, host, False)
    assert m.lookup(GFN).perms == "r-x"


def test_thp_host_still_gets_a_4k_shadow():
    # kvmppc_mmu_map_page: 4K host HPTEs only (64K only for a VSID_64K guest segment)
    m, host = fresh(thp=True)
    res = m.fault_in(SLOT, GFN, host, write=True)
    assert res.pages == 1 and res.source.function == "kvmppc_mmu_map_page"
    assert m.lookup(GFN).pages == 1 and m.lookup(GFN + 1) is None


def test_no_memory_cache_concept():
    # PR has no kvm_mmu_memory_cache and no table pages: each fault adds exactly one cache
    # entry and one host HPTE (kvmppc_mmu_hpte_cache_next allocates from its kmem_cache).
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.fault_in(SLOT, GFN + 1, host, write=True)
    assert len(m.vcpus[0].entries) == 2 and len(m.hpt.slots) == 2


# -- unmap / change_pte ---------------------------------------------------------------------

def test_unmap_pflushes_every_vcpu_and_returns_false():
    # book3s_pr.c:do_kvm_unmap_gfn: kvmppc_mmu_pte_pflush on each vCPU over the gpa range;
    # invalidate_pte -> kvmppc_mmu_invalidate_pte (hpte_invalidate, global tlbie); returns false.
    m, host = fresh()
    m.map_page(0, SLOT, GFN, host, True)
    m.map_page(1, SLOT, GFN, host, True)
    m.map_page(0, SLOT, GFN + 1, host, True)
    assert m.unmap_gfn_range(rng(GFN)) is False
    assert m.vcpus[1].entries == []
    assert [e.pte.raddr >> 12 for e in m.vcpus[0].entries] == [GFN + 1]
    assert len(m.hpt.slots) == 1
    flushes = [s for s in m.trace.steps if s.kind == FLUSH]
    assert [s.source.function for s in flushes] == ["kvmppc_mmu_invalidate_pte"] * 2


def test_set_spte_gfn_ignores_new_pte_and_unmaps():
    # book3s_pr.c:kvm_set_spte_gfn_pr: do_kvm_unmap_gfn, new pte not read, returns false
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.set_spte_gfn(rng(GFN, pfn=0xC0000)) is False
    assert m.lookup(GFN) is None and m.snapshot() == {}


def test_set_spte_gfn_after_unmap_changes_nothing_and_does_not_flush():
    # after start()'s do_kvm_unmap_gfn, kvmppc_mmu_pte_pflush finds no entry in range
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.fault_in(SLOT, GFN + 1, host, write=True)
    m.unmap_gfn_range(rng(GFN))
    before, mark = m.snapshot(), m.trace.mark()
    assert m.set_spte_gfn(rng(GFN, present=False)) is False
    assert m.snapshot() == before
    assert not [s for s in m.trace.since(mark) if s.kind == FLUSH]


# -- built-in scenarios ---------------------------------------------------------------------

# kvmppc_mmu_map_page never builds a 2 MiB shadow (4K host HPTEs only)
NA = {"ksm-merge-huge", "ksm-merge-huge-alone", "cow-huge", "huge-dirty-log"}
# kvm_main.c: kvm_mmu_notifier_change_pte returns when mmu_invalidate_in_progress is 0
# (unwrapped), kvm_change_spte_gfn skips KVM_MEMSLOT_INVALID slots
# kvm_main.c:check_memory_region_flags: powerpc does not select HAVE_KVM_READONLY_MEM
NA_READONLY = {"ksm-merge-readonly", "cow-readonly"}


@pytest.mark.parametrize("name", [n for n in catalogue() if n not in NOT_REACHED])
def test_catalogue_hook_finds_nothing_to_unmap(name):
    # The verdicts are the catalogue's [expect] (tests/test_contract.py).  The mechanism:
    # kvm_set_spte_gfn_pr -> do_kvm_unmap_gfn, whose pflush finds nothing because start()'s
    # kvm_unmap_gfn_range_pr already removed the entry; returns false.  The n/a starts are
    # refused by kvmppc_mmu_map_page (4K shadows only) or check_memory_region_flags.
    res = run_named(name, Model)
    if name in NA | NA_READONLY:
        assert res.reason_source.function == ("check_memory_region_flags" if name in NA_READONLY
                                              else "kvmppc_mmu_map_page")
        return
    assert res.reached_arch_hook and not res.flush and res.diff == []


def test_start_did_the_invalidation_with_its_own_tlbie():
    # The real work happens in invalidate_range_start: kvm_unmap_gfn_range_pr invalidates the
    # host HPTE (tlbie) and returns false, so kvm_flush_remote_tlbs is not called.
    res = run_named("ksm-merge", Model)
    start = [s for s in res.trace if s.phase.endswith("invalidate_range_start") and s.kind == FLUSH]
    assert [s.actor for s in start] == ["arch"]
    assert start[0].source.function == "kvmppc_mmu_invalidate_pte"
    assert "host HPTE slot 0" not in res.after and "host HPTE slot 1" in res.after
    # the neighbour (slot 1) survives change_pte
    assert any("@raddr 0x100211000" in k for k in res.after)
    assert not any("@raddr 0x100210000" in k for k in res.after)


def test_describe_lists_hooks_with_entry_points_first():
    d = Model.describe()
    assert d["hooks"]["set_spte_gfn"][0]["function"] == "kvm_set_spte_gfn"
    assert d["hooks"]["unmap_gfn_range"][0]["function"] == "kvm_unmap_gfn_range"
    assert d["findings"] == []


# -- releases (issue 11): arrival v3.7 and the switch points ----------------------------------

from kvmspte.sim.release import Release  # noqa: E402


def at(kernel):
    return (Model(Trace(), None, Release.parse(kernel)),
            HostMM(0x7F0000000000, 0x1000, 0x80000, thp=False))


def two_vcpus(kernel):
    m, host = at(kernel)
    m.fault_in(SLOT, GFN, host, write=True)
    m.map_page(1, SLOT, GFN, host, True)
    m.map_page(1, SLOT, GFN + 1, host, True)
    return m, host


def test_arrives_in_v3_7():
    """PR MMU notifiers: book3s_pr.c kvm_unmap_hva / kvm_set_spte_hva in copy 18883897 (judged
    v3.7-v3.12); none before (pages pinned).  The introducing commit id was not found in the
    store."""
    assert Model.arrived.since == Release(3, 7)
    assert [str(r) for r in Model.switches.releases()] == ["v3.13", "v5.0", "v5.13"]


def test_v3_7_change_pte_requests_a_whole_vm_flush_and_drops_nothing_yet():
    """v3.7 kvm_set_spte_hva -> kvm_unmap_hva (copy 18883897): kvm_flush_remote_tlbs, return 0.
    The shadow HPTEs go only when each vCPU serves KVM_REQ_TLB_FLUSH at its next entry
    (kvmppc_core_check_requests -> kvmppc_mmu_pte_flush(vcpu, 0, 0)), so right after the hook
    every entry is still cached: tables unchanged, one flush requested."""
    m, _ = two_vcpus("3.7")
    before = m.snapshot()
    assert m.set_spte_gfn(rng(GFN)) is False
    assert m.snapshot() == before
    (f,) = [s for s in m.trace.steps if s.kind == FLUSH]
    assert (f.actor, f.source.function, f.source.release) == ("arch", "kvm_unmap_hva", "v3.7")
    # the deferred part, at each vCPU's next entry: everything goes, not just the gfn
    m.serve_tlb_flush(0)
    m.serve_tlb_flush(1)
    assert m.snapshot() == {} and m.lookup(GFN + 1) is None


def test_v3_7_unmap_is_the_same_full_deferred_flush():
    """v3.7 kvm_unmap_hva_range calls kvm_unmap_hva once: the same whole-VM flush request."""
    m, _ = two_vcpus("3.12")
    before = m.snapshot()
    assert m.unmap_gfn_range(GfnRange(SLOT, GFN, GFN + 1)) is False
    assert m.snapshot() == before and len([s for s in m.trace.steps if s.kind == FLUSH]) == 1


def test_from_v3_13_the_range_is_pflushed_on_every_vcpu_at_once():
    """v3.18 side of merge copy 25986227933 and copy 37863016: kvm_set_spte_hva_pr ->
    do_kvm_unmap_hva(hva, hva + PAGE_SIZE) -> kvmppc_mmu_pte_pflush on each vCPU; only the gfn's
    entries go, synchronously.  v3.13 for the rework is UNVERIFIED (bracket v3.11..v3.18)."""
    m, _ = two_vcpus("3.13")
    assert m.set_spte_gfn(rng(GFN)) is False
    assert m.lookup(GFN) is None and m.lookup(GFN + 1) is not None
    assert len([s for s in m.trace.steps if s.kind == FLUSH]) == 2
    assert any(s.source.function == "do_kvm_unmap_hva" for s in m.trace.steps)


def test_fault_retry_check_text_follows_the_rework():
    """mmu_notifier_retry in kvmppc_mmu_map_page (copy 14360426) comes with the 2013 rework;
    not in the v3.7 flow (research note)."""
    for kernel, lock in (("3.12", False), ("3.13", True)):
        m, host = at(kernel)
        m.fault_in(SLOT, GFN, host, write=True)
        assert any("take kvm->mmu_lock" in s.text for s in m.trace.steps) is lock, kernel


def test_dispatch_citations_by_release():
    """book3s.c forwards through kvm_ops_pr from v3.13, returns int 0 from v5.0 (748c0e312fce),
    and b1c5356e873c (v5.13) makes it kvm_set_spte_gfn_pr -> do_kvm_unmap_gfn (false)."""
    first = lambda k: Model.hooks_at(Release.parse(k))["set_spte_gfn"][0]
    assert (first("3.12").file, first("3.12").function) == ("arch/powerpc/kvm/book3s_pr.c",
                                                            "kvm_set_spte_hva")
    assert (first("4.0").file, first("4.0").release) == ("arch/powerpc/kvm/book3s.c", "v3.13")
    assert first("5.12").release == "v5.0"
    # from v5.13 the v6.9 functions, re-dated to the era where a copy was read (ppc_eras)
    names = lambda k: {h: [(s.file, s.function) for s in v]
                       for h, v in Model.hooks_at(Release.parse(k)).items()}
    assert names("5.13") == names("6.9")
    for kernel, fn in (("5.12", "do_kvm_unmap_hva"), ("5.13", "do_kvm_unmap_gfn")):
        m, _ = two_vcpus(kernel)
        m.set_spte_gfn(rng(GFN))
        assert m.trace.steps[-1].source.function == fn, kernel
