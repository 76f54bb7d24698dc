"""Which stored copies of each PowerPC KVM file were read for the long-term releases.

The PowerPC models were read at v6.9.  A run at an older release of the gfn-callback era
(and of the 5.10 helpers) holds a v6.9 citation unchanged back to that release only where a
copy of the cited function no later than the run was read and does what the model says.
``COPIES`` lists them as ``kvmspte.sim.copies.Copy`` records, the one mechanism of every
model's era citations: each stored copy read beside the v6.9 text (repository and commit, how
it was dated), the files and the cited functions it was read for, and, as ``since``, the
latest release its content can be, so that it counts only for runs no earlier than that;
``eras.redate`` cites the latest such copy and leaves a citation with none alone (so the
result's ``read_later`` still lists it).  Behaviour is described in our own words; no kernel
text is copied.

What the copies show, in short (the same in every copy, and as the v6.9 model has it):
book3s.c forwards both notifier entries through kvm->arch.kvm_ops; kvm_set_spte_gfn_hv and
kvm_unmap_gfn_range_hv unmap per gfn (kvm_unmap_radix or kvm_unmap_rmapp) and return false;
the radix unmap clears the whole entry, tlbies it at its size and moves a dirty bit to the
bitmap; the HPT unmap marks the HPTE absent, invalidates it with a synchronous global tlbie
and harvests R/C; PR's do_kvm_unmap_gfn pflushes the gpa range on every vCPU and returns
false; e500's kvm_e500_mmu_unmap_gfn touches nothing and returns true.  Only names differ:
mmu_notifier_seq / mmu_notifier_retry before v6.1, mmu_invalidate_* from v6.1 (the TDX tree's
interim name mmu_updating_*), and the __gfn_to_pfn_memslot argument list.
"""

from __future__ import annotations

from kvmspte.sim.copies import Copy
from kvmspte.sim.release import Release

KVM = "arch/powerpc/kvm/"
KVM_BOOK3S_64_H = "arch/powerpc/include/asm/kvm_book3s_64.h"
BOOK3S, BOOK3S_HV, MMU_HV = KVM + "book3s.c", KVM + "book3s_hv.c", KVM + "book3s_64_mmu_hv.c"
RADIX, RM_MMU, PR = KVM + "book3s_64_mmu_radix.c", KVM + "book3s_hv_rm_mmu.c", KVM + "book3s_pr.c"
HPTE, MMU_HOST, E500 = (KVM + "book3s_mmu_hpte.c", KVM + "book3s_64_mmu_host.c",
                        KVM + "e500_mmu_host.c")

#: a Samsung Android tree whose Makefile (same commit) says 5.10.198 -- a v5.10.y stable
#: base, before the gfn callbacks; read for the era-independent helpers
R11S = "auraknighted/android_kernel_samsung_r11s a797ccb5 (Makefile 5.10.198)"
#: a v5.13-rc development tree (gfn callbacks; mmu_notifier_seq; Sean Christopherson's
#: non-mainline pfn/page wrapper; kvm_unmap_gfn_range_hv still has the hash-MMU loop bug that
#: Michael Ellerman's fix of 11 May 2021 removed before v5.13 final, so that function is not
#: counted from this copy)
EARLY = "sean-jc/linux 7323582f (v5.13-rc development tree)"
#: EARLY's kvm_unmap_gfn_range_hv with da3bb206c9ce applied: the one-line fix (stored copy
#: 49645093918, posted 11 May 2021) makes the hash-MMU loop unmap each gfn rather than the
#: first one again; Linus's 5.13-rc2 announcement (stored copy 36024303712) lists it, so every
#: release from v5.13 has the per-gfn loop the model follows
FIXED = "sean-jc/linux 7323582f with da3bb206c9ce applied (fix in v5.13-rc2)"
#: the gfn-callback conversion diff <20210326021957.1424875-14-seanjc@google.com>, '+' side:
#: the v5.13 form of the kvm_ops_hv / kvm_ops_pr notifier members and of the PR and e500
#: notifier entries
CONV = ("'+' side of the gfn-callback conversion diff (stored copy 2132829017, 25 Mar 2021, "
        "merged for v5.13)")
#: a TDX tree of the v5.19/v6.0 cycle (mmu_updating_seq, the interim name of the v6.1
#: mmu_invalidate_seq; memslot iteration with the v5.17 bucket argument)
TDX = "intel/tdx 98ba09b4 / d231eace (about v6.0: mmu_updating_seq)"
#: a whole tree with 'linux' renamed 'linex', Makefile (same commit) 6.4.0 -- v6.4 or the
#: 6.5 merge window, so counted from v6.5
KALI = "kali-linex/linex 555e8b16 (Makefile 6.4.0)"
#: Makefile 6.6.0 with book3s_hv_nestedv2.c and guest-state-buffer.c, which the powerpc 6.7
#: pull added: a 6.7-merge-window tree, later than v6.6 (counts for no long-term run)
LATE = "fusaty/freax d02cfbb5 (Makefile 6.6.0 plus the 6.7 powerpc nestedv2 files)"

SAME = "same behaviour as the v6.9 model, read in "


def _copy(since: Release, name: str, files: tuple[str, ...],
          functions: tuple[str, ...] | None = None) -> Copy:
    return Copy(since, files, SAME + name,
                functions=None if functions is None else frozenset(functions))


V510, V513, V60, V65, V67 = (Release(5, 10), Release(5, 13), Release(6, 0), Release(6, 5),
                             Release(6, 7))
E500_HOOKS = ("kvm_set_spte_gfn", "kvm_unmap_gfn_range", "kvm_e500_mmu_unmap_gfn")

#: every copy read, with the files and functions it was read for
COPIES: tuple[Copy, ...] = (
    _copy(V510, R11S, (RM_MMU, HPTE, MMU_HOST, KVM_BOOK3S_64_H)),
    _copy(V513, EARLY, (BOOK3S, RADIX, E500)),
    _copy(V513, EARLY, (MMU_HV,), ("kvm_set_spte_gfn_hv", "kvm_unmap_rmapp",
                                   "kvmppc_unmap_hpte", "kvmppc_book3s_hv_page_fault")),
    _copy(V513, FIXED, (MMU_HV,), ("kvm_unmap_gfn_range_hv",)),
    _copy(V513, CONV, (BOOK3S_HV,), ("kvm_ops_hv",)),
    _copy(V513, CONV, (PR,)),
    _copy(V513, CONV, (E500,), E500_HOOKS),
    _copy(V60, TDX, (MMU_HV, RM_MMU)),
    _copy(V60, TDX, (MMU_HOST,), ("kvmppc_mmu_map_page",)),
    _copy(V65, KALI, (HPTE,), ("invalidate_pte", "kvmppc_mmu_pte_pflush",
                               "kvmppc_mmu_hpte_cache_next")),
    _copy(V65, KALI, (KVM_BOOK3S_64_H,)),
    _copy(V67, LATE, (BOOK3S, MMU_HV, RADIX, RM_MMU, PR, HPTE)),
    _copy(V67, LATE, (MMU_HOST,), ("kvmppc_mmu_map_page",)),
    _copy(V67, LATE, (E500,), (*E500_HOOKS, "kvmppc_mmu_map", "kvmppc_e500_tlb0_map",
                               "kvmppc_e500_shadow_map", "kvmppc_e500_ref_setup",
                               "kvmppc_e500_setup_stlbe", "kvmppc_core_flush_tlb",
                               "clear_tlb_privs")),
)
