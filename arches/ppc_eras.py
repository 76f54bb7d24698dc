"""Which stored copies of each PowerPC KVM file were read for the long-term releases.

The PowerPC models were read at v6.9.  A run at an older release of the gfn-callback era
(v5.13 on) holds a v6.9 citation unchanged back to that release only where a copy of that
file from no later than the run was read and shows the same behaviour.  ``COPIES`` names, per
file, the stored copies read (repository and commit, with how each was dated) beside the
v6.9 text; ``redate`` re-dates a v6.9 Source to the start of the model's era when the
earliest such copy is no later than the run, and leaves it alone otherwise (so that the
result's ``read_later`` still lists it).  Behaviour is described in our own words; no kernel
text is copied.
"""

from __future__ import annotations

from kvmspte.records import record, replace
from kvmspte.sim.release import DEFAULT, Release
from kvmspte.sim.source import DEFAULT_RELEASE, Source

KVM = "arch/powerpc/kvm/"


@record(frozen=True, slots=True)
class Copy:
    """A stored copy of the tree and the release it stands for (the last release its content
    is known to include)."""

    name: str
    release: Release


#: sean-jc/linux 7323582f: a v5.13-rc development tree (Sean Christopherson's non-mainline
#: pfn/page wrapper; kvm_unmap_gfn_range_hv still has the hash-MMU loop bug that Michael
#: Ellerman's 11 May 2021 fix removed before v5.13 final) -- gfn callbacks, mmu_notifier_seq,
#: memslot iteration without the v5.17 bucket argument
EARLY = Copy("sean-jc/linux 7323582f (v5.13-rc development tree)", Release(5, 13))
#: intel/tdx 98ba09b4: about v6.0 (mmu_updating_seq, the TDX tree's pre-merge name for the
#: v6.1 mmu_invalidate_seq; __gfn_to_pfn_memslot without the v6.1 interruptible flag)
TDX = Copy("intel/tdx 98ba09b4 (about v6.0)", Release(6, 0))
#: e500_mmu_host.c as the '-' side of the 6.1-stable backport of c9be85dabb37 shows it
STABLE61 = Copy("'-' side of the 6.1-stable backport of c9be85dabb37 (linux-6.1.y text)",
                Release(6, 1))
#: the April 2021 gfn-callback conversion diff (stored copy 2132829017), '+' side: the
#: v5.13 form of the book3s.c / book3s_pr.c notifier entries
CONV = Copy("'+' side of the gfn-callback conversion diff, stored copy 2132829017 (v5.13; "
            "read for the earlier-release sources of the models, not re-read in this pass)",
            Release(5, 13))
#: fusaty/freax d02cfbb5: Makefile 6.6.0 with book3s_hv_nestedv2.c and guest-state-buffer.c,
#: which the powerpc 6.7 pull added: a 6.7-merge-window tree just after v6.6
LATE = Copy("fusaty/freax d02cfbb5 (Makefile 6.6.0 plus the 6.7 powerpc nestedv2 files: just "
            "after v6.6)", Release(6, 6))

#: file -> the copies (besides the v6.9 text) in which the cited functions were read and do
#: what the model says
COPIES: dict[str, tuple[Copy, ...]] = {
    KVM + "book3s.c": (CONV, LATE),
    KVM + "book3s_64_mmu_hv.c": (EARLY, TDX, LATE),
    KVM + "book3s_64_mmu_radix.c": (EARLY, TDX, LATE),
    KVM + "book3s_hv_rm_mmu.c": (LATE,),
    KVM + "book3s_pr.c": (CONV, LATE),
    KVM + "book3s_mmu_hpte.c": (LATE,),
    KVM + "book3s_64_mmu_host.c": (TDX, LATE),
    KVM + "e500_mmu_host.c": (EARLY, STABLE61, LATE),
}

#: functions of a file that the copies above do not show (not in the part read, or
#: behaving differently): these keep their v6.9 citation at an older run
NOT_READ: dict[str, frozenset[str]] = {
    KVM + "book3s_hv_rm_mmu.c": frozenset({"kvmppc_invalidate_hpte"}),
    KVM + "book3s_64_mmu_host.c": frozenset({"kvmppc_mmu_invalidate_pte"}),
}


def covering(file: str, function: str, kernel: Release) -> tuple[Copy, ...]:
    """The copies read for file that are no later than kernel, or () when none (or when the
    function is not among those read)."""
    if function in NOT_READ.get(file, ()):
        return ()
    return tuple(c for c in COPIES.get(file, ()) if c.release <= kernel)


def redate(source: Source, kernel: Release, era: Release) -> Source:
    """source as cited by a run at kernel in the era starting at era: a v6.9 citation whose
    file has a copy read no later than kernel names the era start and the copies; anything
    else (already dated, no such copy, a run at v6.9) is returned unchanged."""
    if kernel >= DEFAULT or source.release != DEFAULT_RELEASE or kernel < era:
        return source
    early = covering(source.file, source.function, kernel)
    if not early:
        return source
    later = [c.name for c in COPIES[source.file] if c not in early]
    via = (f"same behaviour read in {'; '.join(c.name for c in early)}"
           + (f"; also in {'; '.join(later)}" if later else "")
           + f" and at v6.9 ({source.via or 'the v6.9 citation'}); release = start of the "
             "model's era for this kernel")
    return replace(source, release=str(era), via=via)


def redate_hooks(hooks: dict[str, tuple[Source, ...]], kernel: Release,
                 era: Release) -> dict[str, tuple[Source, ...]]:
    """Every hook source re-dated as ``redate`` does."""
    return {k: tuple(redate(s, kernel, era) for s in v) for k, v in hooks.items()}
