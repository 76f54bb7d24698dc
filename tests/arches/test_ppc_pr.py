"""PowerPC Book3S PR model against book3s_pr.c, book3s_mmu_hpte.c and
book3s_64_mmu_host.c @ v6.9 (notes/ppc.md §1, §5)."""

import pytest

from kvmspte.arches.ppc_pr import PP_RO, PP_RW, Model
from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import GfnRange, Memslot
from kvmspte.scenario import catalogue
from kvmspte.trace import FLUSH, Trace
from tests.conftest import run_named

SLOT = Memslot(0, 0x100000, 0x1000, 0x7F0000000000)
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
    assert res.pages == 1 and "kvmppc_mmu_map_page" in res.why and "THP" in res.why
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
    assert len(flushes) == 2 and all("tlbie" in s.text for s in flushes)


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
NOT_REACHED = {"ksm-merge-unwrapped", "cow-unwrapped", "ksm-merge-invalid-slot"}
# kvm_main.c:check_memory_region_flags: powerpc does not select HAVE_KVM_READONLY_MEM
NA_READONLY = {"ksm-merge-readonly", "cow-readonly"}


@pytest.mark.parametrize("name", list(catalogue()))
def test_catalogue_verdicts(name):
    # Everything else: kvm_set_spte_gfn_pr -> do_kvm_unmap_gfn, whose pflush finds nothing
    # because start()'s kvm_unmap_gfn_range_pr already removed the entry; returns false.
    res = run_named(name, Model)
    if name in NA:
        assert res.verdict == "n/a" and "kvmppc_mmu_map_page" in res.reason
        return
    if name in NA_READONLY:
        assert res.verdict == "n/a" and "HAVE_KVM_READONLY_MEM" in res.reason
        return
    assert res.verdict == "no-op"
    assert res.reached_arch_hook is (name not in NOT_REACHED)
    assert res.flush is False and res.diff == []


def test_start_did_the_invalidation_with_its_own_tlbie():
    # The real work happens in invalidate_range_start: kvm_unmap_gfn_range_pr invalidates the
    # host HPTE (tlbie) and returns false, so kvm_flush_remote_tlbs is not called.
    res = run_named("ksm-merge", Model)
    start = [s for s in res.trace if s.phase.endswith("invalidate_range_start") and s.kind == FLUSH]
    assert [s.actor for s in start] == ["arch"]
    assert "slot 0" in start[0].text
    # the neighbour (slot 1) survives change_pte
    assert any("@raddr 0x100211000" in k for k in res.after)
    assert not any("@raddr 0x100210000" in k for k in res.after)


def test_describe_lists_hooks_with_entry_points_first():
    d = Model.describe()
    assert d["hooks"]["set_spte_gfn"][0]["function"] == "kvm_set_spte_gfn"
    assert d["hooks"]["unmap_gfn_range"][0]["function"] == "kvm_unmap_gfn_range"
    assert d["findings"] == []
