"""Actors: fixed sequences of atomic steps, each read from the kernel source.

A step runs whole or not at all; its guard says when it may run (a lock it needs
is free).  KVM's own notifier handlers run under mmu_lock inside one step, so
steps that take mmu_lock never interleave with each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from kvmspte import kvm, triggers
from kvmspte.explore.world import NONE_PTE, World
from kvmspte.host import PAGE_SIZE, HostPte
from kvmspte.model import CannotExist
from kvmspte.source import Source

Guard = Callable[[World, str], bool]
Act = Callable[[World, str], None]

SRC_PTL = Source("mm/memory.c", "wp_page_copy",
                 via="the PTE is changed under the page-table lock (pte_offset_map_lock)")
SRC_END_PUT = Source("mm/memory.c", "wp_page_copy",
                     via="the old folio's references are dropped after invalidate_range_end")
SRC_ZAP_START = Source("mm/memory.c", "zap_page_range_single",
                       via="MADV_DONTNEED: invalidate_range_start, unmap_single_vma, "
                           "invalidate_range_end, then tlb_finish_mmu")
SRC_ZAP_PTE = Source("mm/memory.c", "zap_pte_range",
                     via="clears the PTE under the PTL; the page waits in the mmu_gather batch")
SRC_TLB_FINISH = Source("mm/mmu_gather.c", "tlb_finish_mmu",
                        via="frees the gathered pages after invalidate_range_end")
SRC_SEQ = Source("virt/kvm/kvm_main.c", "__kvm_faultin_pfn",
                 via="the fault path snapshots mmu_invalidate_seq before looking up the pfn "
                     "(arch fault paths: kvm_faultin_pfn, user_mem_abort, kvm_riscv_gstage_map…)")
SRC_GUP = Source("virt/kvm/kvm_main.c", "hva_to_pfn",
                 via="GUP takes a reference on the page the host PTE maps (the PTL is taken "
                     "briefly by the walk); a missing PTE is faulted in by the host")
SRC_RETRY = replace(kvm.SRC_RETRY, via="checked under mmu_lock before installing; retry if an "
                                        "invalidation covers the gfn or the sequence moved")
SRC_RELEASE = Source("virt/kvm/kvm_main.c", "kvm_release_pfn_clean",
                     via="KVM drops its GUP reference once the mapping is installed")


@dataclass(frozen=True)
class Step:
    label: str
    source: Source
    act: Act
    guard: Guard = lambda w, me: True


def ptl_free(w: World, me: str) -> bool:
    return w.ptl is None or w.ptl == me


def _range(w: World) -> tuple[int, int]:
    return w.hva, w.hva + PAGE_SIZE


def _start(w: World, me: str) -> None:
    """invalidate_range_start, and note it for any fault that already read the sequence."""
    w.kvm.invalidate_range_start(*_range(w))
    for actor, loc in w.local.items():
        if "seq" in loc and not loc.get("done"):
            loc["invalidated"] = True


def _end(w: World, me: str) -> None:
    w.kvm.invalidate_range_end(*_range(w))


# -- mm writer -------------------------------------------------------------------------------
def writer(trigger: str, wrapped: bool) -> list[Step]:
    """The trigger's mm caller: start, clear+flush under the PTL, change_pte + set, unlock,
    end, release the old page (for a CoW the old page stays mapped elsewhere)."""
    src = triggers.TRIGGERS[trigger].source
    new_pte = _new_pte(trigger)

    def lock_clear(w: World, me: str) -> None:
        w.ptl = me
        w.host.set_pte(w.hva, NONE_PTE)

    def change(w: World, me: str) -> None:
        w.kvm.change_pte(w.hva, new_pte)
        w.host.set_pte(w.hva, new_pte)
        w.get_page(new_pte.pfn)

    def unlock(w: World, me: str) -> None:
        w.ptl = None

    def release(w: World, me: str) -> None:
        w.put_page(w.local[me]["old"], 2)   # its mapping reference and the caller's hold

    steps = [
        Step("invalidate_range_start", src, _start),
        Step("take the PTL; ptep_clear_flush", SRC_PTL, lock_clear, ptl_free),
        Step("set_pte_at_notify: change_pte, then set the new PTE", triggers.SRC_NOTIFY, change),
        Step("drop the PTL", SRC_PTL, unlock),
        Step("invalidate_range_end", src, _end),
        Step("release the old page", SRC_END_PUT, release),
    ]
    if not wrapped:
        steps = [s for s in steps if not s.label.startswith("invalidate_range")]
    return steps


def _new_pte(trigger: str) -> HostPte:
    pfns = {"cow": triggers.COW_PFN, "ksm-replace-page": triggers.KSM_PFN,
            "uprobe": triggers.UPROBE_PFN}
    if trigger == "cow":
        return HostPte(pfn=pfns[trigger], write=True, dirty=True, young=True)
    return HostPte(pfn=pfns[trigger], write=False, dirty=False, young=False)


# -- mm zapper -------------------------------------------------------------------------------
def zapper() -> list[Step]:
    """MADV_DONTNEED of the page: start, clear the PTE (page kept in the gather batch), end,
    then tlb_finish_mmu frees what it gathered."""

    def clear(w: World, me: str) -> None:
        pte = w.host.pte(w.hva)
        if pte.present:
            w.local[me]["gathered"] = pte.pfn
        w.host.set_pte(w.hva, NONE_PTE)

    def finish(w: World, me: str) -> None:
        pfn = w.local[me].pop("gathered", None)
        if pfn is not None:
            w.put_page(pfn)

    return [
        Step("invalidate_range_start", SRC_ZAP_START, _start),
        Step("take the PTL; clear the PTE; drop the PTL", SRC_ZAP_PTE, clear, ptl_free),
        Step("invalidate_range_end", SRC_ZAP_START, _end),
        Step("tlb_finish_mmu: free the gathered page", SRC_TLB_FINISH, finish),
    ]


# -- vCPU fault --------------------------------------------------------------------------------
class _Frozen:
    """The host as the fault saw it when it looked the pfn up (possibly stale by now)."""

    def __init__(self, pte: HostPte) -> None:
        self._pte = pte

    def pte(self, hva: int) -> HostPte:
        return self._pte

    def mapping_pages(self, hva: int) -> int:
        return 1

    def break_cow(self, hva: int, why: str) -> HostPte:
        raise CannotExist("the write lookup would break CoW inside the fault", SRC_GUP)


def vcpu_fault(retry_check: bool = True) -> list[Step]:
    """A guest read fault on the gfn: read the sequence, look the pfn up (GUP), then under
    mmu_lock check for a racing invalidation and install through the arch's fault path."""

    def read_seq(w: World, me: str) -> None:
        w.local[me].update(seq=w.kvm.mmu_invalidate_seq, invalidated=False)

    def gup(w: World, me: str) -> None:
        pte = w.host.pte(w.hva)
        if not pte.present:            # the host faults a fresh page in (no notifier)
            pte = HostPte(pfn=w.next_pfn, write=True, dirty=True, young=True)
            w.next_pfn += 1
            w.host.set_pte(w.hva, pte)
            w.get_page(pte.pfn)
        w.get_page(pte.pfn)
        w.local[me]["pfn"] = pte.pfn
        w.local[me]["pte"] = pte.to_dict()

    def install(w: World, me: str) -> None:
        loc = w.local[me]
        loc["done"] = True
        if retry_check and w.kvm.invalidate_retry(loc["seq"], w.gfn):
            loc["outcome"] = "retry"
            return
        if loc["invalidated"]:
            w.stale.append(f"{me} installed pfn {loc['pfn']:#x}, invalidated after it read "
                           f"mmu_invalidate_seq {loc['seq']}")
        pte = _pte_from(loc["pte"])
        try:
            w.arch.fault_in(w.slot, w.gfn, _Frozen(pte), False)
            loc["outcome"] = "installed"
        except CannotExist:
            loc["outcome"] = "aborted"

    def release(w: World, me: str) -> None:
        w.put_page(w.local[me]["pfn"])

    check = "retry check, " if retry_check else "NO retry check, "
    return [
        Step("read mmu_invalidate_seq", SRC_SEQ, read_seq),
        Step("look up the host pfn (GUP takes a reference)", SRC_GUP, gup, ptl_free),
        Step(f"take mmu_lock; {check}install via the arch fault path", SRC_RETRY, install),
        Step("release the GUP reference", SRC_RELEASE, release),
    ]


def _pte_from(d: dict) -> HostPte:
    return HostPte(pfn=int(d["pfn"], 16), present=d["present"], write=d["write"],
                   dirty=d["dirty"], young=d["young"], exec=d["exec"])
