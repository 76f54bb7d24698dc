"""PowerPC e500 model against arch/powerpc/kvm/e500_mmu_host.c @ v6.9 (notes/ppc.md §6)."""

import pytest

from kvmspte.arches.ppc_e500 import Model
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.plugins.contract import CannotExist
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.trace import FLUSH, Trace
from tests.conftest import run_named
from kvmspte.testing import NOT_REACHED, SLOT

GFN = 0x100210


def fresh(thp=False, pte=None):
    return Model(Trace()), HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp, pte=pte)


def rng(gfn, pfn=0xC0000):
    return GfnRange(SLOT, gfn, gfn + 1, HostPte(pfn, present=False))


# -- fault path -----------------------------------------------------------------------------

def test_fault_sets_up_valid_ref_and_4k_host_tlb0_entry():
    # e500_mmu_host.c:kvmppc_mmu_map -> kvmppc_e500_tlb0_map -> kvmppc_e500_shadow_map:
    # kvmppc_e500_ref_setup stores pfn + E500_TLB_VALID; write_host_tlbe writes a 4K TLB0 entry.
    m, host = fresh()
    res = m.fault_in(SLOT, GFN, host, write=True)
    assert res.pages == 1
    ref = m.vcpu.refs[GFN]
    assert (ref.gfn, ref.pfn, ref.valid) == (GFN, 0x80210, True)
    stlbe = m.vcpu.host_tlb0[GFN]
    assert (stlbe.pfn, stlbe.tsize, stlbe.perms) == (0x80210, "4K", "rwx")
    assert m.lookup(GFN).pfn == 0x80210


def test_thp_host_gets_4k():
    # kvmppc_e500_shadow_map sizes above 4K only for guest TLB1 in hugetlb/VM_PFNMAP VMAs
    m, host = fresh(thp=True)
    res = m.fault_in(SLOT, GFN, host, write=True)
    assert res.pages == 1 and res.source.function == "kvmppc_e500_shadow_map"


def test_write_lookup_breaks_cow_first():
    # kvmppc_e500_shadow_map uses gfn_to_pfn_memslot, a write lookup: a CoW page in a
    # writable VMA is broken for write (mm/memory.c:do_wp_page) and the copy is mapped.
    m, host = fresh(pte=HostPte(pfn=0, write=False))
    m.fault_in(SLOT, GFN, host, write=False)
    copy = host.pte(SLOT.gfn_to_hva(GFN))
    assert copy.write and copy.pfn != 0x80210
    assert m.vcpu.host_tlb0[GFN].pfn == copy.pfn


def test_write_lookup_fails_without_vm_write():
    # the same write lookup on a VMA without VM_WRITE (a uprobe's text mapping) fails
    m, host = fresh(pte=HostPte(pfn=0, write=False, vma_write=False))
    with pytest.raises(CannotExist) as exc:
        m.fault_in(SLOT, GFN, host, write=False)
    assert exc.value.source.function == "kvmppc_e500_shadow_map"
    assert m.vcpu.refs == {} and m.vcpu.host_tlb0 == {}


def test_read_only_memslot_cannot_be_mapped():
    # __gfn_to_pfn_memslot: a write lookup on KVM_MEM_READONLY gives an error pfn -> -EINVAL
    m, host = fresh()
    with pytest.raises(CannotExist) as exc:
        m.fault_in(Memslot(0, 0x100000, 0x1000, 0x7F0000000000, readonly=True), GFN, host, False)
    assert exc.value.source.function == "__gfn_to_pfn_memslot"


def test_no_memory_cache_or_tables():
    # No kvm_mmu_memory_cache or table pages: a fault fills one tlbe_ref and one host entry.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    m.fault_in(SLOT, GFN + 1, host, write=True)
    assert len(m.vcpu.refs) == 2 and len(m.vcpu.host_tlb0) == 2


# -- unmap / change_pte ---------------------------------------------------------------------

def test_unmap_touches_nothing_and_returns_true():
    # kvm_unmap_gfn_range -> kvm_e500_mmu_unmap_gfn: no change, returns true
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    before, mark = m.snapshot(), m.trace.mark()
    assert m.unmap_gfn_range(rng(GFN)) is True
    assert m.snapshot() == before
    assert not [s for s in m.trace.since(mark) if s.kind == FLUSH]  # the flush is generic


def test_set_spte_gfn_touches_nothing_and_returns_true():
    # kvm_set_spte_gfn -> kvm_e500_mmu_unmap_gfn: new pte not read, returns true
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    before = m.snapshot()
    assert m.set_spte_gfn(rng(GFN)) is True
    assert m.snapshot() == before and m.lookup(GFN).pfn == 0x80210


def test_stale_ref_is_reused_until_the_requested_flush_is_served():
    # kvmppc_mmu_map reuses a VALID ref's pfn; only kvmppc_core_flush_tlb (at the next entry,
    # via booke.c:kvmppc_core_check_requests) clears refs (clear_tlb_privs) and host entries.
    m, host = fresh()
    m.fault_in(SLOT, GFN, host, write=True)
    host.set_pte(SLOT.gfn_to_hva(GFN), HostPte(0xC0000, write=True))
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.vcpu.host_tlb0[GFN].pfn == 0x80210          # stale pfn reused
    m.serve_tlb_flush()
    assert m.vcpu.host_tlb0 == {} and not m.vcpu.refs[GFN].valid and m.lookup(GFN) is None
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.vcpu.host_tlb0[GFN].pfn == 0xC0000          # looked up again


# -- built-in scenarios ---------------------------------------------------------------------

# kvmppc_e500_shadow_map: 4K only for THP-backed memory
NA_HUGE = {"ksm-merge-huge", "ksm-merge-huge-alone", "cow-huge", "huge-dirty-log"}
# kvm_main.c:check_memory_region_flags: powerpc does not select HAVE_KVM_READONLY_MEM
NA_READONLY = {"ksm-merge-readonly", "cow-readonly"}
# kvmppc_e500_shadow_map looks the pfn up for write (gfn_to_pfn_memslot): the CoW or zero
# page at the gfn is replaced by a private copy before it is mapped, so the trigger's page
# no longer exists; a uprobe's text VMA has no VM_WRITE and the lookup fails.
NA_WRITE = {"cow-4k", "cow-4k-alone", "cow-dirty-log", "cow-unwrapped", "cow-4k-mte",
            "uprobe-4k", "uprobe-alone", "migrate-zero"}
# kvm_main.c: change_pte returns when mmu_invalidate_in_progress is 0 (unwrapped);
# kvm_change_spte_gfn skips KVM_MEMSLOT_INVALID slots


@pytest.mark.parametrize("name", [n for n in catalogue() if n not in NOT_REACHED])
def test_catalogue_mechanism(name):
    # The verdicts are the catalogue's [expect] (tests/test_contract.py); here, which code
    # refuses each start that cannot exist, and what the hook does everywhere else.
    res = run_named(name, Model)
    refused = {**dict.fromkeys(NA_HUGE, "kvmppc_e500_shadow_map"),
               **dict.fromkeys(NA_READONLY, "check_memory_region_flags"),
               **{n: "kvmppc_e500_shadow_map" if n.startswith("uprobe") else "do_wp_page"
                  for n in NA_WRITE}}
    if name in refused:
        assert res.reason_source.function == refused[name]
        return
    # e500_mmu_host.c:kvm_set_spte_gfn -> kvm_e500_mmu_unmap_gfn returns true: nothing
    # changes, and generic code calls kvm_flush_remote_tlbs.
    assert res.reached_arch_hook is True and res.flush is True and res.diff == []
    assert res.flushes == ["kvm_flush_remote_tlbs (a handler asked for it)"]


def test_stale_ref_survives_change_pte():
    # Nothing serves KVM_REQ_TLB_FLUSH inside the notifier: the ref still holds the old pfn.
    res = run_named("ksm-merge", Model)
    assert res.after["vcpu0 tlbe_ref TLB0 epn 0x100210"] == {
        "gfn": "0x100210", "pfn": "0x80210", "valid": True, "flags": ["E500_TLB_VALID"]}


def test_findings_and_entry_points():
    d = Model.describe()
    assert d["hooks"]["set_spte_gfn"][0]["function"] == "kvm_set_spte_gfn"
    assert d["hooks"]["unmap_gfn_range"][0]["function"] == "kvm_unmap_gfn_range"
    assert len(d["findings"]) == 1 and "returns true" in d["findings"][0]


# -- releases (issue 11): arrival v3.7 and the switch points ----------------------------------

from kvmspte.sim.release import Release  # noqa: E402


def at(kernel):
    return (Model(Trace(), None, Release.parse(kernel)),
            HostMM(0x7F0000000000, 0x1000, 0x80000, thp=False))


def test_arrives_in_v3_7():
    """e500 MMU notifiers: e500_tlb.c kvm_unmap_hva / kvm_set_spte_hva in copy 63171175 (judged
    v3.7); the introducing commit id was not found in the store."""
    assert Model.arrived.since == Release(3, 7)
    assert [str(r) for r in Model.switches.releases()] == ["v3.12", "v5.0", "v5.13"]


def test_until_v5_12_the_hook_flushes_itself_and_returns_0():
    """Copy 63171175 (v3.7), 11275820060 (v3.8.13), 11273239 (v4.5-v4.12), the v5.0 patch
    31375062387 and the '-' side of 2132829017 (v5.12): kvm_unmap_hva calls
    kvm_flush_remote_tlbs and returns 0, so the generic layer does not flush; the state is
    untouched until each vCPU serves KVM_REQ_TLB_FLUSH."""
    for kernel in ("3.7", "4.20", "5.12"):
        m, host = at(kernel)
        m.fault_in(SLOT, GFN, host, write=True)
        before = m.snapshot()
        assert m.set_spte_gfn(rng(GFN)) is False, kernel
        (f,) = [s for s in m.trace.steps if s.kind == FLUSH]
        assert "kvm_flush_remote_tlbs" in f.text and f.source.function == "kvm_unmap_hva"
        assert m.snapshot() == before
        m.serve_tlb_flush()
        assert m.lookup(GFN) is None


def test_from_v5_13_the_flush_is_left_to_generic_code():
    """b1c5356e873c (v5.13): kvm_e500_mmu_unmap_gfn no longer flushes and returns true."""
    m, host = at("5.13")
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.set_spte_gfn(rng(GFN)) is True
    assert not [s for s in m.trace.steps if s.kind == FLUSH]


def test_unmap_range_is_the_same_flush_before_v5_13():
    """kvm_unmap_hva_range -> kvm_unmap_hva(start) (copies 63171175, 2132829017 '-' side)."""
    m, host = at("3.12")
    m.fault_in(SLOT, GFN, host, write=True)
    assert m.unmap_gfn_range(GfnRange(SLOT, GFN, GFN + 1)) is False
    assert len([s for s in m.trace.steps if s.kind == FLUSH]) == 1


def test_fault_retry_check_appears_between_v3_11_and_v3_18():
    """No mmu_notifier_seq / retry in kvmppc_e500_shadow_map in copies 63171175, 11275820060
    and the v3.10 side of 25663444939; present on its v3.18 side.  v3.12 is UNVERIFIED."""
    for kernel, retry in (("3.11", False), ("3.12", True)):
        m, host = at(kernel)
        m.fault_in(SLOT, GFN, host, write=True)
        assert any("mmu_invalidate_seq" in s.text for s in m.trace.steps) is retry, kernel
        assert m.lookup(GFN) is not None


def test_hook_citations_by_release():
    """e500_tlb.c until the v3.8 split (copy 11275820060 is e500_mmu_host.c); v6.9 hooks from
    v5.13."""
    file = lambda k: Model.hooks_at(Release.parse(k))["set_spte_gfn"][0].file
    assert file("3.7").endswith("e500_tlb.c") and file("3.8").endswith("e500_mmu_host.c")
    assert Model.hooks_at(Release.parse("5.12"))["set_spte_gfn"][0].release == "v5.0"
    assert Model.hooks_at(Release.parse("6.9")) == Model.hooks
