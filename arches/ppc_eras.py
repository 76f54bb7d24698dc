"""Which stored copies of each PowerPC KVM file were read for the long-term releases.

The PowerPC models were read at v6.9.  A run at an older release of the gfn-callback era
(v5.13 on) holds a v6.9 citation unchanged back to that release only where a copy of the
cited function no later than the run was read and does what the model says.  ``COPIES``
names, per file, the stored copies read beside the v6.9 text (repository and commit, how each
was dated, and which of the cited functions it was read for); ``redate`` re-dates a v6.9
Source to the start of the model's era when such a copy is no later than the run, naming the
copies in ``via``, and leaves it alone otherwise (so that the result's ``read_later`` still
lists it).  Behaviour is described in our own words; no kernel text is copied.

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

from kvmspte.records import record, replace
from kvmspte.sim.release import DEFAULT, Release
from kvmspte.sim.source import DEFAULT_RELEASE, Source

KVM = "arch/powerpc/kvm/"
KVM_BOOK3S_64_H = "arch/powerpc/include/asm/kvm_book3s_64.h"


@record(frozen=True, slots=True)
class Copy:
    """A stored copy of the tree and the latest release its content can be (an upper bound:
    a copy counts for a run only when this is no later than the run)."""

    name: str
    release: Release


#: auraknighted/android_kernel_samsung_r11s a797ccb5: a Samsung Android tree whose Makefile
#: (same commit) says 5.10.198 -- a v5.10.y stable base, before the gfn callbacks; read for
#: the era-independent helpers below
R11S = Copy("auraknighted/android_kernel_samsung_r11s a797ccb5 (Makefile 5.10.198)",
            Release(5, 10))
#: sean-jc/linux 7323582f: a v5.13-rc development tree (gfn callbacks; mmu_notifier_seq;
#: Sean Christopherson's non-mainline pfn/page wrapper; kvm_unmap_gfn_range_hv still has the
#: hash-MMU loop bug that Michael Ellerman's fix of 11 May 2021 removed before v5.13 final)
EARLY = Copy("sean-jc/linux 7323582f (v5.13-rc development tree)", Release(5, 13))
#: EARLY's kvm_unmap_gfn_range_hv with da3bb206c9ce applied: Michael Ellerman's one-line fix
#: (stored copy 49645093918, posted 11 May 2021) makes the hash-MMU loop unmap each gfn rather
#: than the first one again; Linus's 5.13-rc2 announcement (stored copy 36024303712) lists it,
#: so every release from v5.13 has the per-gfn loop the model follows
FIXED = Copy("sean-jc/linux 7323582f with da3bb206c9ce applied (fix in v5.13-rc2)",
             Release(5, 13))
#: the gfn-callback conversion diff <20210326021957.1424875-14-seanjc@google.com>, stored
#: copy 2132829017, '+' side: the v5.13 form of the kvm_ops_hv / kvm_ops_pr notifier members and
#: of the PR and e500 notifier entries
CONV = Copy("'+' side of the gfn-callback conversion diff (stored copy 2132829017, 25 Mar "
            "2021, merged for v5.13)", Release(5, 13))
#: intel/tdx 98ba09b4 and d231eace: a TDX tree of the v5.19/v6.0 cycle (mmu_updating_seq,
#: the interim name of the v6.1 mmu_invalidate_seq; memslot iteration with the v5.17 bucket
#: argument)
TDX = Copy("intel/tdx 98ba09b4 / d231eace (about v6.0: mmu_updating_seq)", Release(6, 0))
#: kali-linex/linex 555e8b16: a whole tree with 'linux' renamed 'linex', Makefile (same
#: commit) 6.4.0 -- v6.4 or the 6.5 merge window, so no later than v6.5
KALI = Copy("kali-linex/linex 555e8b16 (Makefile 6.4.0)", Release(6, 5))
#: fusaty/freax d02cfbb5: Makefile 6.6.0 with book3s_hv_nestedv2.c and guest-state-buffer.c,
#: which the powerpc 6.7 pull added: a 6.7-merge-window tree, later than v6.6
LATE = Copy("fusaty/freax d02cfbb5 (Makefile 6.6.0 plus the 6.7 powerpc nestedv2 files)",
            Release(6, 7))

#: file -> (copy, the cited functions it was read for, or None for all of them)
COPIES: dict[str, tuple[tuple[Copy, frozenset[str] | None], ...]] = {
    KVM + "book3s.c": ((EARLY, None), (LATE, None)),
    KVM + "book3s_hv.c": ((CONV, frozenset({"kvm_ops_hv"})),),
    KVM + "book3s_64_mmu_hv.c": (
        (EARLY, frozenset({"kvm_set_spte_gfn_hv", "kvm_unmap_rmapp", "kvmppc_unmap_hpte",
                           "kvmppc_book3s_hv_page_fault"})),
        (FIXED, frozenset({"kvm_unmap_gfn_range_hv"})), (TDX, None), (LATE, None)),
    KVM + "book3s_64_mmu_radix.c": ((EARLY, None), (LATE, None)),
    KVM + "book3s_hv_rm_mmu.c": ((R11S, None), (TDX, None), (LATE, None)),
    KVM + "book3s_pr.c": ((CONV, None), (LATE, None)),
    KVM + "book3s_mmu_hpte.c": (
        (R11S, None),
        (KALI, frozenset({"invalidate_pte", "kvmppc_mmu_pte_pflush",
                          "kvmppc_mmu_hpte_cache_next"})),
        (LATE, None)),
    KVM + "book3s_64_mmu_host.c": (
        (R11S, None), (TDX, frozenset({"kvmppc_mmu_map_page"})),
        (LATE, frozenset({"kvmppc_mmu_map_page"}))),
    KVM + "e500_mmu_host.c": (
        (EARLY, None),
        (CONV, frozenset({"kvm_set_spte_gfn", "kvm_unmap_gfn_range",
                          "kvm_e500_mmu_unmap_gfn"})),
        (LATE, frozenset({"kvm_set_spte_gfn", "kvm_unmap_gfn_range", "kvm_e500_mmu_unmap_gfn",
                          "kvmppc_mmu_map", "kvmppc_e500_tlb0_map", "kvmppc_e500_shadow_map",
                          "kvmppc_e500_ref_setup", "kvmppc_e500_setup_stlbe",
                          "kvmppc_core_flush_tlb", "clear_tlb_privs"}))),
    KVM_BOOK3S_64_H: ((R11S, None), (KALI, None)),
}


def _read_for(file: str, function: str) -> list[Copy]:
    return [c for c, fns in COPIES.get(file, ()) if fns is None or function in fns]


def covering(file: str, function: str, kernel: Release) -> tuple[Copy, ...]:
    """The copies in which function of file was read that are no later than kernel."""
    return tuple(c for c in _read_for(file, function) if c.release <= kernel)


def redate(source: Source, kernel: Release, era: Release) -> Source:
    """source as cited by a run at kernel in the era starting at era: a v6.9 citation with a
    copy read no later than kernel names the era start and the copies; anything else (already
    dated, no such copy, a run at v6.9 or before the era) is returned unchanged."""
    if kernel >= DEFAULT or source.release != DEFAULT_RELEASE or kernel < era:
        return source
    early = covering(source.file, source.function, kernel)
    if not early:
        return source
    later = [c.name for c in _read_for(source.file, source.function) if c not in early]
    via = (f"same behaviour read in {'; '.join(c.name for c in early)}"
           + (f"; also in {'; '.join(later)}" if later else "")
           + f"; and at v6.9 ({source.via or 'the v6.9 citation'}); release = start of the "
             "model's era for this kernel")
    return replace(source, release=str(era), via=via)


def redate_hooks(hooks: dict[str, tuple[Source, ...]], kernel: Release,
                 era: Release) -> dict[str, tuple[Source, ...]]:
    """Every hook source re-dated as ``redate`` does."""
    return {k: tuple(redate(s, kernel, era) for s in v) for k, v in hooks.items()}
