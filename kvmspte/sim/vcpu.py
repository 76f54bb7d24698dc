"""The generic (virt/kvm, include/linux) side of a vCPU fault, per era.

A vCPU fault snapshots the invalidation sequence, looks the host pfn up through
virt/kvm/kvm_main.c and, under mmu_lock, asks a retry predicate from include/linux/kvm_host.h
whether an invalidation raced with it.  Those functions were renamed and restructured over
the releases the models cover, so each is a small table of (first release, Source) and a run
cites the entry in force at its kernel (``at``): never a function or a release later than the
run.  The engine's fault step and the explorer's vCPU actor both read these tables.

Copies read (each dated by its content, none is a release tag):

- stored id 6332590, an x86 ``arch/x86/kvm/mmu.c`` of the 2.6.3x era (``mapping_level``,
  ``kvm_mmu_free_some_pages``): ``nonpaging_map`` reads ``vcpu->kvm->mmu_notifier_seq``, calls
  ``gfn_to_pfn``, then under mmu_lock ``mmu_notifier_retry(vcpu, mmu_seq)``, and drops the
  pfn with ``kvm_release_pfn_clean``;
- the async page fault diff (stored id 21774565755, 2.6.38 cycle): its '-' side has
  ``tdp_page_fault`` calling ``gfn_to_pfn`` and ``__gfn_to_pfn`` ending in ``hva_to_pfn``;
  its '+' side routes x86 faults through ``try_async_pf`` / ``gfn_to_pfn_async``;
- stored id 26982619099, a 3.2..3.6-era kvm_main.c fork (``kvm_vcpu_on_spin`` with
  ``yield_to``, no readonly memslots): ``__gfn_to_pfn`` (gfn_to_hva based, read/write intent
  passed on) and ``gfn_to_pfn_memslot`` both end in ``hva_to_pfn``, which tries
  ``__get_user_pages_fast`` for write only for atomic or async callers, else
  ``get_user_pages_fast`` / ``get_user_page_nowait`` with the fault's intent, then a write
  upgrade for a read fault; no ``hva_to_pfn_fast`` / ``hva_to_pfn_slow`` yet;
- stored id 3931551519, ``opennetworklinux/linux-3.8.13`` kvm_main.c: ``hva_to_pfn_fast`` and
  ``hva_to_pfn_slow`` split out of ``hva_to_pfn``; a static ``__gfn_to_pfn_memslot`` (readonly
  memslot check) that ``__gfn_to_pfn`` and every ``gfn_to_pfn*`` variant reach;
- for the predicates: the 4a42d848db44 diff (stored id 31875904778), whose context has
  ``mmu_notifier_retry(struct kvm *kvm, unsigned long mmu_seq)`` and which adds
  ``mmu_notifier_retry_hva``; the v6.1 rename diff 20ec3ebd707c (stored id 37319166717).

Where an era's first release was not itself read, the entry says which later copy of the same
era was (``via``).  What these copies do not settle is said in the entry: e.g. whether 3.7
already had ``__gfn_to_pfn_memslot`` (no 3.7 copy was found), so 3.7 cites ``hva_to_pfn``,
which every lookup path reaches at 3.6 and at 3.8 alike.
"""

from __future__ import annotations

from kvmspte.sim import kvm
from kvmspte.sim.release import Release, at
from kvmspte.sim.source import Source

MAIN = "virt/kvm/kvm_main.c"
HOST_H = "include/linux/kvm_host.h"
V2632 = "x86 fault paths of stored id 6332590 (2.6.3x arch/x86/kvm/mmu.c)"
V38 = "async page fault diff, 2.6.38 cycle (stored id 21774565755)"
V36 = "3.2..3.6-era kvm_main.c fork (stored id 26982619099)"
V3813 = "opennetworklinux/linux-3.8.13 kvm_main.c (stored id 3931551519)"
RENAME = "v6.1 rename diff 20ec3ebd707c (stored id 37319166717)"



#: The lookup every vCPU fault path's pfn goes through (the engine's fault step).
LOOKUP = (
    (Release(2, 6, 32), Source(MAIN, "gfn_to_pfn", "v2.6.32", via=(
        f"the x86 fault paths (the only ones before v3.3) call gfn_to_pfn after reading "
        f"mmu_notifier_seq ({V2632}); no read/write intent is passed down yet (the '-' side "
        f"of the {V38}: hva_to_pfn(kvm, addr, atomic))"))),
    (Release(2, 6, 38), Source(MAIN, "hva_to_pfn", "v2.6.38", via=(
        f"x86 goes through try_async_pf/gfn_to_pfn_async, other arches through gfn_to_pfn_prot "
        f"or gfn_to_pfn_memslot; all end in hva_to_pfn ('+' side of the {V38}; {V36}, where "
        f"it gets the fault's read/write intent from 612819c3c6e6 of the same cycle; that "
        f"2.6.38 itself has that commit is inferred from the series order, not re-read)"))),
    (Release(3, 8), Source(MAIN, "__gfn_to_pfn_memslot", "v3.8", via=(
        f"every gfn_to_pfn* variant reaches the static __gfn_to_pfn_memslot, which refuses a "
        f"write on a read-only memslot and calls hva_to_pfn ({V3813}); exported and called "
        f"directly by later fault paths; whether 3.7 had it is not settled (no 3.7 copy)"))),
    (Release(6, 9), Source(MAIN, "__gfn_to_pfn_memslot",
                           via="the vCPU fault reads mmu_invalidate_seq, then looks up the host "
                               "pfn")),
)

#: The invalidation sequence a fault path snapshots before its lookup.
SEQ = (
    (Release(2, 6, 32), Source(HOST_H, "struct kvm: mmu_notifier_seq", "v2.6.32", via=(
        f"bumped by every invalidation; a fault path snapshots it, then smp_rmb, before its "
        f"lookup ({V2632}: nonpaging_map)"))),
    (Release(6, 1), Source(HOST_H, "struct kvm: mmu_invalidate_seq", "v6.1", via=(
        f"mmu_notifier_seq renamed, same use ({RENAME})"))),
)

#: How hva_to_pfn takes the page: (without the page-table lock, with it).
GUP = (
    (Release(2, 6, 32), (
        Source(MAIN, "gfn_to_pfn", "v2.6.32", via=(
            f"GUP with no read/write intent passed down ('-' side of the {V38}); the "
            f"explorer's read lookup (GUP-fast on a writable PTE, else a read-only slow path) "
            f"is the later behaviour, not this one")),
        Source(MAIN, "gfn_to_pfn", "v2.6.32", via="see the fast-path entry"))),
    (Release(2, 6, 38), (
        Source(MAIN, "hva_to_pfn", "v2.6.38", via=(
            f"__get_user_pages_fast for write is tried first for atomic or async callers "
            f"(x86's try_async_pf) ({V36})")),
        Source(MAIN, "hva_to_pfn", "v2.6.38", via=(
            f"then get_user_pages_fast / get_user_page_nowait with the fault's intent and, "
            f"for a read fault, a write upgrade attempt ({V36})")))),
    (Release(3, 8), (
        Source(MAIN, "hva_to_pfn_fast", "v3.8", via=(
            f"split out of hva_to_pfn: __get_user_pages_fast for write, only for atomic or "
            f"async callers and only when a writable mapping is asked for or allowed "
            f"({V3813})")),
        Source(MAIN, "hva_to_pfn_slow", "v3.8", via=(
            f"get_user_pages_fast / get_user_page_nowait with the fault's intent, then a "
            f"write upgrade attempt for a read fault ({V3813}); the PTL the explorer's slow "
            f"path waits for is the later get_user_pages_unlocked behaviour")))),
)

#: Dropping the lookup's page reference.
RELEASE = (
    (Release(2, 6, 32), Source(MAIN, "kvm_release_pfn_clean", "v2.6.32", via=(
        f"the fault paths drop their GUP reference with it ({V2632}); defined in kvm_main.c "
        f"in every later copy read ({V3813})"))),
)

#: The retry predicates by era, for each behaviour (kvmspte.sim.kvm.RETRY_VM / RETRY_GFN):
#: (first release, (the predicate the code calls there, the behaviour it has, its Source)).
#: Before 4a42d848db44 (v5.12) no ranged predicate exists: a fault path that later calls
#: the ranged one calls the VM-wide mmu_notifier_retry (and no range is tracked to test).
_VM_2632 = ("mmu_notifier_retry", kvm.RETRY_VM, Source(HOST_H, "mmu_notifier_retry", "v2.6.32",
            via=(f"retry while an invalidation is counted or the sequence moved; called as "
                 f"mmu_notifier_retry(vcpu, mmu_seq) in the {V2632}, with the kvm instead of "
                 f"the vCPU by the 4a42d848db44 context (stored id 31875904778), same test")))
_VM_61 = ("mmu_invalidate_retry", kvm.RETRY_VM, Source(HOST_H, "mmu_invalidate_retry", "v6.1",
          via=f"mmu_notifier_retry renamed, same test ({RENAME})"))
_VM_69 = ("mmu_invalidate_retry", kvm.RETRY_VM, kvm.SRC_RETRY_VM)
RETRY = {
    kvm.RETRY_VM: ((Release(2, 6, 32), _VM_2632), (Release(6, 1), _VM_61),
                   (Release(6, 9), _VM_69)),
    kvm.RETRY_GFN: (
        (Release(2, 6, 32), _VM_2632),
        (Release(5, 12), ("mmu_notifier_retry_hva", kvm.RETRY_GFN, Source(
            HOST_H, "mmu_notifier_retry_hva", "v5.12",
            via="added by 4a42d848db44 (stored id 31875904778): retry only while an "
                "invalidation's recorded hva range covers the fault's, or the sequence "
                "moved"))),
        (Release(6, 1), ("mmu_invalidate_retry_hva", kvm.RETRY_GFN, Source(
            HOST_H, "mmu_invalidate_retry_hva", "v6.1",
            via=f"mmu_notifier_retry_hva renamed, same test ({RENAME})"))),
        (Release(6, 8), ("mmu_invalidate_retry_gfn", kvm.RETRY_GFN, Source(
            HOST_H, "mmu_invalidate_retry_gfn", "v6.8", via=kvm.VIA_H))),
        (Release(6, 9), ("mmu_invalidate_retry_gfn", kvm.RETRY_GFN, kvm.SRC_RETRY)),
    ),
}


def retry_at(predicate: str, kernel: Release) -> tuple[str, str, Source]:
    """(the name the code calls, the behaviour kvmspte.sim.kvm.RETRY_* it has, its Source)
    of the predicate a fault path that calls ``predicate`` at v6.9 calls at ``kernel``."""
    return at(RETRY[predicate], kernel)
