"""Memslot facts that change with the release: read-only memslots and the invalid copy of a
slot being deleted or moved.

Two flags of a memslot decide whether some scenarios' starting state can exist at all:

* ``KVM_MEM_READONLY``: the flag arrived with 4d8b81abc47b (GENERIC switch "readonly-mem");
  each architecture accepted it from its own release (``READONLY``), before which
  KVM_SET_USER_MEMORY_REGION rejects it on that architecture.  Powerpc never does.
* ``KVM_MEMSLOT_INVALID``: a slot being deleted (later also moved) is first republished as
  a copy carrying the flag, from bc6678a33d9b (GENERIC switch "memslot-invalid"); before
  it no notifier could meet a slot in that state.

Everything here is data: the rows say which function did the work at which release and
which copy was read; the engine asks ``readonly_refusal``, ``invalid_refusal`` and
``invalidation`` with the run's kernel.
"""

from __future__ import annotations

from kvmspte.sim.kvm import GENERIC, MAIN, era
from kvmspte.sim.release import DEFAULT, Release, Switch, Switches
from kvmspte.sim.source import Source, kconfig_readonly_mem

#: the full kvm_main.c from just before v2.6.32 that kvmspte.sim.kvm already reads (C2632)
C2632 = ("full kvm_main.c from just before 2.6.32 (stored id 428910408): __kvm_set_memory_region "
         "copies mem->flags into the slot unchecked and reads only KVM_MEM_LOG_DIRTY_PAGES; a "
         "deletion flushes the shadow MMU first and then replaces the slot under mmu_lock, "
         "with no invalid copy")
#: where the read-only flag came from (4d8b81abc47b), as the commit's own diff shows it
C_RO = ("4d8b81abc47b 'KVM: introduce readonly memslot' (Xiao Guangrong, signed off by Avi "
        "Kivity, 2012, for v3.7): defines KVM_MEM_READONLY and, in include/linux/kvm.h, "
        "KVM_CAP_READONLY_MEM only under __KVM_HAVE_READONLY_MEM (the commit as served by "
        "gitiles mirrors: msm-4.19 include/linux/kvm.h, android_kernel_oneplus_msm8996 "
        "arch/x86/include/asm/kvm.h)")
C_FLAGS = ("check_memory_region_flags accepts KVM_MEM_READONLY only under "
           "__KVM_HAVE_READONLY_MEM, as the base of later diffs shows it (e.g. stored id "
           "38373758404, v5.15 era); its v3.7 body was not read, the gate is the commit's")

#: the memslot update before either flag: it never reads KVM_MEM_READONLY and never flags
#: a slot KVM_MEMSLOT_INVALID
SRC_SET_2632 = Source(MAIN, "__kvm_set_memory_region", "v2.6.32", via=C2632)
#: v6.9: the Kconfig symbol replaces the header define (8886640dade4)
KCONFIG = Release(6, 9)

#: The function that refuses a KVM_MEM_READONLY the arch does not take, by era (era rows:
#: a GENERIC switch name or a Release).  Before the flag existed the refusal cites the
#: memslot update that never reads it.
FLAGS_ERAS = (
    (Release(2, 6, 32), SRC_SET_2632),
    ("readonly-mem", Source(MAIN, "check_memory_region_flags", "v3.7",
                            via=f"{C_RO}; {C_FLAGS}")),
    (KCONFIG, Source(MAIN, "check_memory_region_flags",
                           via="KVM_MEM_READONLY is a valid flag only with "
                               "CONFIG_HAVE_KVM_READONLY_MEM (8886640dade4)")),
)

_HDR = "#define __KVM_HAVE_READONLY_MEM"


def _readonly(since: Release, commit: str, what: str, header: str, via: str) -> Switches:
    """One architecture's arrival of read-only memslots, cited at the header that defines
    __KVM_HAVE_READONLY_MEM (from v6.9 the Kconfig select stands for it: _arch_source)."""
    src = Source(header, _HDR, str(since), via=via)
    return Switches([Switch("readonly-mem", since, commit, what, src)])


#: Each architecture's arrival of KVM_MEM_READONLY, keyed by the Kconfig path its model
#: declares as ``readonly_mem`` (so no arch is named in the engine).  A table per arch, so
#: ``kvmspte history`` can withhold it like any other switch point.
READONLY: dict[str, Switches] = {
    kconfig_readonly_mem("x86").file: _readonly(
        Release(3, 7), "4d8b81abc47b",
        "x86 defines __KVM_HAVE_READONLY_MEM in the same commit that introduces the flag",
        "arch/x86/include/asm/kvm.h", C_RO),
    kconfig_readonly_mem("arm64").file: _readonly(
        Release(3, 18), "98047888bb9f",
        "arm/arm64 define __KVM_HAVE_READONLY_MEM ('arm/arm64: KVM: Support "
        "KVM_CAP_READONLY_MEM'); arm64 KVM ran without it from v3.11",
        "arch/arm64/include/uapi/asm/kvm.h",
        "98047888bb9f 'arm/arm64: KVM: Support KVM_CAP_READONLY_MEM' (Christoffer Dall, "
        "acked by Marc Zyngier; 4 files) as served by a kernel.git mirror and a msm-5.4 "
        "gitiles; its release (v3.18, the KVM/ARM 3.18 merge) is from memory, no dated "
        "copy was found"),
    kconfig_readonly_mem("mips").file: _readonly(
        Release(4, 11), "b69648587780 (patch id, mainline hash not read)",
        "MIPS claims KVM_CAP_READONLY_MEM in the same 4.11 series that adds KVM_CAP_SYNC_MMU",
        "arch/mips/include/uapi/asm/kvm.h",
        "'KVM: MIPS: Claim KVM_CAP_READONLY_MEM support' (James Hogan, 16 Jan 2017, stored "
        "id 48100336259), pulled as kvm_mips_4.11_1 (stored id 48547031307: 2 lines in "
        "arch/mips/include/uapi/asm/kvm.h)"),
    kconfig_readonly_mem("riscv").file: _readonly(
        Release(5, 16), "RISC-V KVM merge for v5.16",
        "the RISC-V KVM uapi header defines __KVM_HAVE_READONLY_MEM from the port on",
        "arch/riscv/include/uapi/asm/kvm.h",
        "the header as kvmtool copied it when adding RISC-V (stored ids 39552213304, "
        "29241299897: a new riscv/include/asm/kvm.h with the define); the kernel's own "
        "first copy was not read"),
    kconfig_readonly_mem("loongarch").file: _readonly(
        Release(6, 7), "LoongArch KVM merge for v6.7",
        "the LoongArch KVM uapi header defines __KVM_HAVE_READONLY_MEM from the port on",
        "arch/loongarch/include/uapi/asm/kvm.h",
        "the port's patch creating arch/loongarch/include/uapi/asm/kvm.h (stored id "
        "7155974847)"),
}
NONE = Switches()


def readonly_table(readonly_mem: Source | None) -> Switches:
    """The arch's read-only-memslot arrival table (empty where it never accepts the flag)."""
    return READONLY.get(readonly_mem.file, NONE) if readonly_mem is not None else NONE


def _arch_source(readonly_mem: Source, kernel: Release) -> Source:
    """Where the arch grants the flag at ``kernel``: its header's define, its Kconfig from
    v6.9 (8886640dade4)."""
    if kernel >= KCONFIG:
        return readonly_mem
    return readonly_table(readonly_mem).get("readonly-mem").source


def readonly_refusal(readonly_mem: Source | None, kernel: Release) -> tuple[str, Source] | None:
    """Why no KVM_MEM_READONLY memslot can exist at ``kernel`` on an arch whose model
    declares ``readonly_mem``, with the function that says so; None where it can."""
    checker = era(FLAGS_ERAS, kernel)
    if not GENERIC.active("readonly-mem", kernel):
        came = GENERIC.get("readonly-mem")
        return (f"no read-only memslot exists before {came.since}: KVM_MEM_READONLY arrived "
                f"with {came.commit}, and {checker.function} reads no flag but "
                f"KVM_MEM_LOG_DIRTY_PAGES", checker)
    table = readonly_table(readonly_mem)
    gate = ("the arch's Kconfig does not select HAVE_KVM_READONLY_MEM" if kernel >= KCONFIG
            else "the arch's uapi kvm.h does not define __KVM_HAVE_READONLY_MEM")
    rejects = "KVM_SET_USER_MEMORY_REGION rejects KVM_MEM_READONLY with -EINVAL"
    if not len(table):
        return f"{rejects}: {gate}", checker
    if not table.active("readonly-mem", kernel):
        sw = table.get("readonly-mem")
        return f"{rejects}: {gate} before {sw.since} ({sw.commit})", checker
    return None


def readonly_source(readonly_mem: Source | None, kernel: Release) -> Source | None:
    """Where the arch grants read-only memslots at ``kernel`` (None where it does not)."""
    if readonly_refusal(readonly_mem, kernel) is not None:
        return None
    return _arch_source(readonly_mem, kernel)


# -- the invalid copy of a slot being deleted or moved ---------------------------------------
C2634 = ("bc6678a33d9b 'KVM: introduce kvm->srcu and convert kvm_set_memory_region to SRCU "
         "update' (Marcelo Tosatti, 23 Dec 2009, after the v2.6.33 merge window): named as the "
         "origin of the invalid-slot install by the Fixes tag of 'KVM: Reinstall old memslots "
         "if arch preparation fails' (stored id 16586515607); the delete-only form read in the "
         "base of 'KVM: Introduce gfn_to_hva_cache' (stored id 13259756703)")
C_MOVE = ("the KVM_MR_DELETE/KVM_MR_MOVE form of a full v4.19 kvm_main.c (stored id "
          "5281045917); a move was flagged too from an earlier fix that widened the delete "
          "test to a base_gfn change (CrossVul pair 5768_0, stored id 70118692886), whose "
          "commit and release were not read, so runs before v4.19 say only 'deleted'")
C57 = ("'KVM: Move setting of memslot into helper routine' (Sean Christopherson, v3 of 24 Oct "
       "2019, stored id 19961860862); the series' v5 was still under review on 5 Feb 2020 "
       "(stored id 32295443321), after the v5.6 merge window, so v5.7")
C517 = ("'KVM: Keep memslots in tree-based structures instead of array-based ones' (Maciej S. "
        "Szmigiero, v5.5 26/30 of 4 Nov 2021, stored id 1291887927), merged for v5.17")

#: (since, what is happening to the slot, the function that publishes the invalid copy)
INVALIDATE_ERAS = (
    ("memslot-invalid", ("deleted", Source(MAIN, "__kvm_set_memory_region", "v2.6.34",
                                           via=C2634))),
    (Release(4, 19), ("deleted or moved", Source(MAIN, "__kvm_set_memory_region", "v4.19",
                                                 via=C_MOVE))),
    (Release(5, 7), ("deleted or moved", Source(MAIN, "kvm_set_memslot", "v5.7", via=C57))),
    (Release(5, 17), ("deleted or moved", Source(MAIN, "kvm_invalidate_memslot", "v5.17",
                                                 via=C517))),
    (DEFAULT, ("deleted or moved", Source(MAIN, "kvm_invalidate_memslot",
                                                via="the invalid copy of a slot being deleted "
                                                    "or moved is what notifiers see until the "
                                                    "update completes"))),
)


def invalidation(kernel: Release) -> tuple[str, Source] | None:
    """What a slot flagged KVM_MEMSLOT_INVALID is going through at ``kernel`` and which
    function published the flagged copy; None before any did."""
    return era(INVALIDATE_ERAS, kernel)


def invalid_refusal(kernel: Release) -> tuple[str, Source] | None:
    """Why no notifier can meet a slot flagged KVM_MEMSLOT_INVALID at ``kernel``; None where
    one can."""
    if GENERIC.active("memslot-invalid", kernel):
        return None
    came = GENERIC.get("memslot-invalid")
    return (f"no memslot is ever flagged KVM_MEMSLOT_INVALID before {came.since} "
            f"({came.commit}): a deletion flushes the shadow MMU and then replaces the slot "
            f"under mmu_lock, so a notifier sees the old slot or none",
            SRC_SET_2632)


def edges(readonly_mem: Source | None) -> list[Release]:
    """The releases where the arch's own read-only-memslot answer changes (for spans)."""
    return list(readonly_table(readonly_mem).releases())
