"""The generic KVM layer: memslots and the MMU-notifier handlers of virt/kvm/kvm_main.c.

Everything here is architecture-neutral; the architecture model is reached only
through its hooks (``unmap_gfn_range``, ``set_spte_gfn``, ``fault_in``).
Each modelled behaviour carries the Source it was read from.
"""

from __future__ import annotations

from kvmspte.records import record
from collections.abc import Callable

from kvmspte.sim.host import PAGE_SIZE, HostPte
from kvmspte.sim.pagetable import PAGE_SHIFT
from kvmspte.sim.release import DEFAULT, FIRST, Release, Switch, Switches
from kvmspte.sim.release import at as release_at
from kvmspte.sim.source import Source
from kvmspte.sim.trace import Trace

MAIN = "virt/kvm/kvm_main.c"
# Read in a mainline snapshot at v6.9-rc4; its change_pte code is line for line the
# code that the v6.9-rc removal diff deletes.
VIA = ("read at eefb85b3f031 (v6.9-rc4); change_pte code as deleted by "
       "<20240405115815.3226315-2-pbonzini@redhat.com>")
VIA_H = "read at d02c357e5bfa (v6.8-rc6); unchanged in later copies"


def _src(function: str) -> Source:
    return Source(MAIN, function, via=VIA)


SRC_RANGE_START = _src("kvm_mmu_notifier_invalidate_range_start")
SRC_RANGE_END = _src("kvm_mmu_notifier_invalidate_range_end")
SRC_HANDLE = _src("__kvm_handle_hva_range")
SRC_INV_BEGIN = _src("kvm_mmu_invalidate_begin")
SRC_RANGE_ADD = _src("kvm_mmu_invalidate_range_add")
SRC_UNMAP = _src("kvm_mmu_unmap_gfn_range")
SRC_INV_END = _src("kvm_mmu_invalidate_end")
SRC_CHANGE_PTE = _src("kvm_mmu_notifier_change_pte")
SRC_CHANGE_SPTE = _src("kvm_change_spte_gfn")
SRC_FLUSH = _src("kvm_flush_remote_tlbs")
SRC_RETRY = Source("include/linux/kvm_host.h", "mmu_invalidate_retry_gfn", via=VIA_H)
#: The VM-wide check, as the v6.1 rename diff (20ec3ebd707c, stored id 37319166717) shows it
#: in full: any invalidation in progress, or the sequence moved, means retry.  It is unchanged
#: from there to v6.9 (the v6.8 hva->gfn conversion touched only the ranged variant).
SRC_RETRY_VM = Source("include/linux/kvm_host.h", "mmu_invalidate_retry",
                      via="read in the v6.1 rename diff 20ec3ebd707c 'KVM: Rename mmu_notifier_* to "
                          "mmu_invalidate_*' (stored id 37319166717); unchanged up to v6.9")

#: The two retry predicates an arch fault path can call under mmu_lock before installing.
RETRY_GFN = "mmu_invalidate_retry_gfn"
RETRY_VM = "mmu_invalidate_retry"


def retry_vm(in_progress: int, seq_now: int, seq: int) -> bool:
    """mmu_invalidate_retry: retry while any invalidation is in progress, or once the
    sequence has moved since the fault read it."""
    return bool(in_progress) or seq_now != seq


def retry_gfn(in_progress: int, range_start, range_end, seq_now: int, seq: int,
              gfn: int) -> bool:
    """mmu_invalidate_retry_gfn: retry while an in-progress invalidation's accumulated gfn
    range covers gfn (or no range was ever added: a KVM bug, WARNed, treated as covering),
    or once the sequence has moved."""
    if in_progress:
        if range_start is INVALID_GPA or range_end is INVALID_GPA:
            return True
        if range_start <= gfn < range_end:
            return True
    return seq_now != seq


RETRY_PREDICATES = {RETRY_GFN: SRC_RETRY, RETRY_VM: SRC_RETRY_VM}

INVALID_GPA = None
#: mn_active_invalidate_count is an unsigned long (64-bit hosts)
ULONG = 1 << 64

# -- the generic layer across releases ------------------------------------------------------
V512 = ("the 5.12 form, as the base of c13fda237f08's diff 'KVM: Assert that notifier count "
        "is elevated in .change_pte()' (stored id 1864000324)")
V504 = "read in a full copy judged v5.4 (stored id 47602487221)"
V26 = ("Izik Eidus' 'add support for change_pte mmu notifiers' patches (stored ids 17218753334, "
       "28752436576), the pre-merge form of 3da0dd433dc3")
GENERIC = Switches([
    Switch("memslot-invalid", Release(2, 6, 34), "bc6678a33d9b",
           "a slot being deleted is first republished as a copy flagged KVM_MEMSLOT_INVALID and "
           "its mappings flushed after an SRCU grace period (before: the shadow MMU was flushed "
           "and the slot replaced under mmu_lock, so no notifier met a flagged slot)",
           Source(MAIN, "__kvm_set_memory_region", "v2.6.34",
                  via="'KVM: introduce kvm->srcu and convert kvm_set_memory_region to SRCU "
                      "update' (Marcelo Tosatti, 23 Dec 2009), the origin named by the Fixes "
                      "tag in stored id 16586515607; the delete-only form read in the base of "
                      "stored id 13259756703; the earlier form in stored id 428910408")),
    Switch("readonly-mem", Release(3, 7), "4d8b81abc47b",
           "the KVM_MEM_READONLY memslot flag exists; KVM_SET_USER_MEMORY_REGION accepts it "
           "only on an arch that defines __KVM_HAVE_READONLY_MEM (kvmspte.sim.memslot)",
           Source(MAIN, "check_memory_region_flags", "v3.7",
                  via="'KVM: introduce readonly memslot' (Xiao Guangrong, 2012): the flag and, "
                      "under __KVM_HAVE_READONLY_MEM, KVM_CAP_READONLY_MEM (the commit's "
                      "include/linux/kvm.h and arch/x86/include/asm/kvm.h hunks via gitiles "
                      "mirrors); the checker's v3.7 body not read")),
    Switch("flush-on-return", Release(5, 0), "748c0e312fce",
           "kvm_set_spte_hva returns int and generic change_pte flushes remote TLBs when it is "
           "non-zero (before: void, an arch flushed inside its own handler)",
           Source(MAIN, "kvm_mmu_notifier_change_pte", "v5.0",
                  via=f"'KVM: Make kvm_set_spte_hva() return int' and 'KVM/MMU: Move tlb flush "
                      f"in kvm_set_pte_rmapp() to kvm_mmu_notifier_change_pte()' (KVM 4.21 "
                      f"pull, stored id 32575295894); {V504}")),
    Switch("range-tracking", Release(5, 12), "4a42d848db44",
           "invalidate_range_start records the range being invalidated (the union of "
           "concurrent ones) so a fault may retry only when it falls inside",
           Source(MAIN, "kvm_mmu_notifier_invalidate_range_start", "v5.12",
                  via="'KVM: x86/mmu: Consider the hva in mmu_notifier retry' (David Stevens, "
                      "stored id 32066049549)")),
    Switch("gfn-range", Release(5, 13), "3039bcc74498",
           "the memslot walk moves from each arch's kvm_handle_hva to generic "
           "__kvm_handle_hva_range, which calls kvm_set_spte_gfn per overlapping memslot and "
           "takes mmu_lock only when one overlaps",
           Source(MAIN, "__kvm_handle_hva_range", "v5.13",
                  via="'KVM: Move x86's MMU notifier memslot walkers to generic code' "
                      "(stored id 1318982929) and the arch conversions after it")),
    Switch("no-seq-bump", Release(5, 13), "c13fda237f08",
           "change_pte stops bumping mmu_notifier_seq and warns when no invalidation is "
           "counted (mmu_notifier_count == 0)",
           Source(MAIN, "kvm_mmu_notifier_change_pte", "v5.13", via=V512)),
    Switch("active-invalidate-count", Release(5, 15), "52ac8b358b0c",
           "mn_active_invalidate_count counts invalidations outside mmu_lock; change_pte's "
           "warning tests it instead of mmu_notifier_count",
           Source(MAIN, "kvm_mmu_notifier_invalidate_range_start", "v5.15",
                  via="the 5.15 kvm/queue patch (stored id 39187053392)")),
    Switch("early-return", Release(5, 15), "071064f14d87",
           "change_pte returns before any memslot or arch hook while no invalidation is in "
           "progress (mmu_notifier_count == 0); start/end lock and count only when a memslot "
           "overlaps",
           Source(MAIN, "kvm_mmu_notifier_change_pte", "v5.15",
                  via="'KVM: Don't take mmu_lock for range invalidation unless necessary' "
                      "(stored id 38981214296)")),
    Switch("invalidate-rename", Release(6, 1), "20ec3ebd707c",
           "mmu_notifier_seq/count become mmu_invalidate_seq/in_progress (names only)",
           Source(MAIN, "kvm_mmu_invalidate_begin", "v6.1",
                  via="rename commit in the 6.1 KVM log (stored id 66017172080)")),
    Switch("gfn-range-tracking", Release(6, 8), "",
           "the tracked range becomes gfn-based, added per memslot by "
           "kvm_mmu_invalidate_range_add; invalidate_end warns when none was added",
           Source(MAIN, "kvm_mmu_invalidate_range_add", "v6.8",
                  via="the 6.8 gfn conversion diff (stored id 38670898028) and the 6.8 KVM "
                      "pull (stored id 37273450008); commit id not established")),
    Switch("skip-invalid-slot", Release(6, 4), "2230f9e1171a",
           "kvm_change_spte_gfn skips a memslot flagged KVM_MEMSLOT_INVALID (a slot being "
           "deleted or moved) before the arch hook; Cc stable v3.9+",
           Source(MAIN, "kvm_change_spte_gfn", "v6.4",
                  via="'KVM: Avoid illegal stage2 mapping on invalid memory slot' as quoted "
                      "by the stable tree's apply-failure mail (stored id 29198123374), "
                      "Linus's tree by 23 June 2023")),
    Switch("unpaired-end-guard", Release(6, 9), "d489ec956583",
           "invalidate_range_end warns and leaves mn_active_invalidate_count at 0 when no "
           "start is outstanding (before: an unconditional decrement of the unsigned count, "
           "which wraps)",
           Source(MAIN, "kvm_mmu_notifier_invalidate_range_end", "v6.9",
                  via="'KVM: Harden against unpaired kvm_mmu_notifier_invalidate_range_end() "
                      "calls' (stored id 37515556723), in the kvm-x86-generic-6.9 pull "
                      "(stored id 20415237102); the 5.15 form decrements unconditionally "
                      "(52ac8b358b0c, stored id 39187053392)")),
])


# -- which copy each generic step cites, release by release --------------------------------
# Every step the generic layer emits cites the function that did that work at the run's
# release, read in a copy no later than that release.  ERAS maps a step to its rows:
# (since, Source), since a GENERIC switch name (so a withheld switch moves its row too) or
# a Release; the row in force at a release is the last whose since is <= it.
C2632 = ("Izik Eidus' patch 'add support for change_pte mmu notifiers' (stored id "
         "28752436576), the form 3da0dd433dc3 merged for v2.6.32; invalidate_range_start/end "
         "as in a full kvm_main.c from just before it (stored id 428910408: no change_pte, "
         "no srcu yet), code the patch does not touch")
C419 = ("a full v4.19 kvm_main.c with added comments only (stored id 5281045917: "
        "range_start takes a blockable flag, ops carry MMU_INVALIDATE_DOES_NOT_BLOCK)")
C54 = V504
C512 = ("the base and body of 4a42d848db44 'KVM: x86/mmu: Consider the hva in mmu_notifier "
        "retry' (stored id 32066049549): the range is tracked inline in range_start, in hvas "
        "(the model keeps the equivalent gfns of its one memslot)")
C513 = ("Sean Christopherson's 5.13 MMU-notifier series as posted (stored ids 1768806990, "
        "2020071704, 1864000324) and, unchanged, a full v5.14.2 tree "
        "(Kingdo777/linux-5.14.2-faascale-host @ 201a9ba6fc59, stored id 46358545474)")
C513_RANGE = C513 + "; the tracked range is still in hvas"
C515 = ("52ac8b358b0c 'KVM: Block memslot updates across range_start() and range_end()' "
        "(stored id 39187053392) and 071064f14d87 'KVM: Don't take mmu_lock for range "
        "invalidation unless necessary' (stored id 38981214296), both for v5.15")
C61 = ("the v6.1 rename diff 20ec3ebd707c (stored id 37319166717): its removed lines are the "
       "v6.0 form, its added lines the v6.1 one")
C61_RANGE = C61 + "; the tracked range is still in hvas"
C68 = ("the v6.8 gfn conversion 'KVM: Use gfn instead of hva for mmu_notifier_retry' "
       "(stored id 38670898028)")


def _at(function: str, release: str, via: str, file: str = MAIN) -> Source:
    return Source(file, function, release, via=via)


_CP, _START, _END = ("kvm_mmu_notifier_change_pte", "kvm_mmu_notifier_invalidate_range_start",
                     "kvm_mmu_notifier_invalidate_range_end")
_CHANGE_PTE = ((FIRST, _at(_CP, "v2.6.32", C2632)), (Release(4, 19), _at(_CP, "v4.19", C419)),
               ("flush-on-return", GENERIC.get("flush-on-return").source),
               ("no-seq-bump", _at(_CP, "v5.13", C513)), ("early-return", _at(_CP, "v5.15", C515)),
               ("invalidate-rename", _at(_CP, "v6.1", C61)),
               ("skip-invalid-slot", _at(_CP, "v6.4", GENERIC.get("skip-invalid-slot").source.via)),
               ("gfn-range-tracking", _at(_CP, "v6.8", C68)), (DEFAULT, SRC_CHANGE_PTE))
_RANGE_START = ((FIRST, _at(_START, "v2.6.32", C2632)),
                (Release(4, 19), _at(_START, "v4.19", C419)),
                (Release(5, 4), _at(_START, "v5.4", C54)),
                ("range-tracking", _at(_START, "v5.12", C512)))
_RANGE_END = ((FIRST, _at(_END, "v2.6.32", C2632)), (Release(4, 19), _at(_END, "v4.19", C419)),
              (Release(5, 4), _at(_END, "v5.4", C54)))
_LATER_END = (("gfn-range", _at(_END, "v5.13", C513)),
              ("active-invalidate-count", _at(_END, "v5.15", C515)),
              ("invalidate-rename", _at(_END, "v6.1", C61)))
_HANDLE = (("gfn-range", _at("__kvm_handle_hva_range", "v5.13", C513)),
           ("early-return", _at("__kvm_handle_hva_range", "v5.15", C515)),
           ("gfn-range-tracking", _at("__kvm_handle_hva_range", "v6.8", C68)),
           (DEFAULT, SRC_HANDLE))
_INC, _DEC = "kvm_inc_notifier_count", "kvm_dec_notifier_count"
_BEGIN, _ENDF = "kvm_mmu_invalidate_begin", "kvm_mmu_invalidate_end"
ERAS: dict[str, tuple] = {
    "change_pte": _CHANGE_PTE,
    # the callbacks themselves, where a step happens in them rather than in a helper
    "invalidate_range_start": _RANGE_START + (
        ("gfn-range", _at(_START, "v5.13", C513)),
        ("active-invalidate-count", GENERIC.get("active-invalidate-count").source),
        ("invalidate-rename", _at(_START, "v6.1", C61)),
        ("gfn-range-tracking", _at(_START, "v6.8", C68)), (DEFAULT, SRC_RANGE_START)),
    "invalidate_range_end": _RANGE_END + _LATER_END + ((DEFAULT, SRC_RANGE_END),),
    # mmu_lock taken before the memslot walk (before 071064f14d87): the callback itself up to
    # v5.12, then __kvm_handle_hva_range
    "lock.invalidate_range_start": _RANGE_START + _HANDLE[:1],
    "lock.invalidate_range_end": _RANGE_END + _HANDLE[:1],
    # the memslot walk: the arch's, under the callback, before 3039bcc74498 (v5.13)
    "walk.change_pte": _CHANGE_PTE[:3] + _HANDLE,
    "walk.invalidate_range_start": _RANGE_START + _HANDLE,
    "walk.invalidate_range_end": _RANGE_END + _HANDLE,
    # the count: inline in range_start/end, then the on_lock helpers, renamed in v6.1
    "begin": _RANGE_START + (
        ("gfn-range", _at(_INC, "v5.13", C513)), ("invalidate-rename", _at(_BEGIN, "v6.1", C61)),
        ("gfn-range-tracking", _at(_BEGIN, "v6.8", C68)), (DEFAULT, SRC_INV_BEGIN)),
    "range_add": (
        ("range-tracking", _at(_START, "v5.12", C512)),
        ("gfn-range", _at(_INC, "v5.13", C513_RANGE)),
        ("invalidate-rename", _at(_BEGIN, "v6.1", C61_RANGE)),
        ("gfn-range-tracking", GENERIC.get("gfn-range-tracking").source), (DEFAULT, SRC_RANGE_ADD)),
    "end": _RANGE_END + (
        ("gfn-range", _at(_DEC, "v5.13", C513)), ("invalidate-rename", _at(_ENDF, "v6.1", C61)),
        ("gfn-range-tracking", _at(_ENDF, "v6.8", C68)), (DEFAULT, SRC_INV_END)),
    # the count < 0 check: a BUG_ON in range_end through v6.1, in kvm_mmu_invalidate_end by
    # the base of the v6.8 conversion
    "end_negative": _RANGE_END + _LATER_END + (
        ("gfn-range-tracking", _at(_ENDF, "v6.8", C68)), (DEFAULT, SRC_INV_END)),
    "change_spte_gfn": (("skip-invalid-slot", GENERIC.get("skip-invalid-slot").source),
                        (DEFAULT, SRC_CHANGE_SPTE)),
    # called by range_start (and change_pte from v5.0) before v5.13, by
    # __kvm_handle_hva_range after
    "flush": (
        (FIRST, _at("kvm_flush_remote_tlbs", "v2.6.32", C2632)),
        (Release(4, 19), _at("kvm_flush_remote_tlbs", "v4.19", C419)),
        (Release(5, 4), _at("kvm_flush_remote_tlbs", "v5.4", C54)),
        ("gfn-range", _at("kvm_flush_remote_tlbs", "v5.13", C513)),
        ("early-return", _at("kvm_flush_remote_tlbs", "v5.15", C515)), (DEFAULT, SRC_FLUSH)),
}

#: The arch hooks the generic layer calls, by the name they had: per hva range (per page
#: before 3.6) until 3039bcc74498 moved the memslot walk into generic code (v5.13).
HOOK_NAMES: dict[str, tuple] = {
    "set_spte_gfn": ((FIRST, "kvm_set_spte_hva"), ("gfn-range", "kvm_set_spte_gfn")),
    "unmap_gfn_range": ((FIRST, "kvm_unmap_hva"), (Release(3, 6), "kvm_unmap_hva_range"),
                        ("gfn-range", "kvm_unmap_gfn_range")),
}

#: the hook each notifier's memslot walk ends in (range_end's walk calls none)
CALLER_HOOK = {"change_pte": "set_spte_gfn", "invalidate_range_start": "unmap_gfn_range",
               "invalidate_range_end": "unmap_gfn_range"}


def era(rows, kernel: Release, switches: Switches = GENERIC):
    """The value of the row in force at ``kernel`` (None before the first); a row may start
    at a GENERIC switch point, named."""
    return release_at([(switches.get(s).since if isinstance(s, str) else s, v)
                       for s, v in rows], kernel, before=None)


@record(frozen=True, slots=True)
class Memslot:
    """struct kvm_memory_slot, with the flags the models look at."""

    id: int
    base_gfn: int
    npages: int
    userspace_addr: int
    dirty_logging: bool = False   # KVM_MEM_LOG_DIRTY_PAGES
    readonly: bool = False        # KVM_MEM_READONLY
    invalid: bool = False         # KVM_MEMSLOT_INVALID: being deleted or moved

    def hva_to_gfn(self, hva: int) -> int:
        """hva_to_gfn_memslot: the gfn whose page holds hva (rounding down)."""
        return self.base_gfn + ((hva - self.userspace_addr) >> PAGE_SHIFT)

    def gfn_to_hva(self, gfn: int) -> int:
        return self.userspace_addr + ((gfn - self.base_gfn) << PAGE_SHIFT)

    @property
    def hva_end(self) -> int:
        return self.userspace_addr + (self.npages << PAGE_SHIFT)



@record(frozen=True, slots=True)
class GfnRange:
    """struct kvm_gfn_range: one memslot's share of an hva range, in gfns [start, end)."""

    slot: Memslot
    start: int
    end: int
    pte: HostPte | None = None    # range->arg.pte for change_pte
    may_block: bool = False


Handler = Callable[[GfnRange], bool]


class Kvm:
    """struct kvm's notifier-related state and the handlers that change it."""

    def __init__(self, arch, memslots: list[Memslot], trace: Trace,
                 kernel: Release = DEFAULT) -> None:
        self.arch = arch
        self.kernel = kernel
        self.memslots = memslots
        self.trace = trace
        self.mn_active_invalidate_count = 0
        self.mmu_invalidate_in_progress = 0
        self.mmu_invalidate_seq = 0
        self.mmu_invalidate_range_start: int | None = INVALID_GPA
        self.mmu_invalidate_range_end: int | None = INVALID_GPA
        self.remote_flushes = 0

    # -- helpers -------------------------------------------------------------
    def since(self, name: str) -> bool:
        return GENERIC.active(name, self.kernel)

    def cite(self, step: str) -> Source:
        """The Source of ``step`` at this release: its row in ERAS."""
        return era(ERAS[step], self.kernel)

    def hook_name(self, hook: str) -> str:
        """The generic layer's name for an arch hook at this release (HOOK_NAMES)."""
        return era(HOOK_NAMES[hook], self.kernel)

    def _names(self) -> tuple[str, str]:
        """The invalidation counters' names at this release (renamed in 6.1)."""
        if self.since("invalidate-rename"):
            return "mmu_invalidate_in_progress", "mmu_invalidate_seq"
        return "mmu_notifier_count", "mmu_notifier_seq"

    def _step(self, text: str, source: Source) -> None:
        self.trace.step("kvm", text, source)

    def flush_remote_tlbs(self, why: str) -> None:
        self.remote_flushes += 1
        self.trace.flush("kvm", f"kvm_flush_remote_tlbs ({why})", self.cite("flush"))

    def _overlapping(self, start: int, end: int):
        for slot in self.memslots:
            if slot.userspace_addr < end and slot.hva_end > start:
                yield slot

    def handle_hva_range(self, start: int, end: int, handler: Handler | None, *,
                         on_lock: Callable[[], None] | None = None, flush_on_ret: bool,
                         pte: HostPte | None = None, may_block: bool = False,
                         caller: str = "change_pte") -> bool:
        """The memslot walk of notifier ``caller``: per overlapping memslot, convert to gfns
        and call handler (__kvm_handle_hva_range from v5.13; before, the arch hook walked
        the memslots under mmu_lock its caller had taken).

        on_lock runs once, under mmu_lock, before the first handler call and only
        if some memslot overlaps (before v5.15: always, first); a true return from any
        handler makes the caller flush remote TLBs when flush_on_ret is set.
        """
        found, ret, locked = False, False, not self.since("gfn-range")
        if on_lock and not self.since("early-return"):
            # before 071064f14d87 (5.15) start/end took mmu_lock and counted unconditionally
            self._step("take mmu_lock", self.cite(f"lock.{caller}"))
            on_lock()
            on_lock, locked = None, True
            if handler is None:
                return False   # range_end: no walk (5.13-5.14: straight to the unlock)
        walk = self.cite(f"walk.{caller}")
        whose = "" if self.since("gfn-range") else \
            f" (the walk is the arch's, in {self.hook_name(CALLER_HOOK[caller])})"
        for slot in self._overlapping(start, end):
            hva_start = max(start, slot.userspace_addr)
            hva_end = min(end, slot.hva_end)
            rng = GfnRange(slot, slot.hva_to_gfn(hva_start),
                           slot.hva_to_gfn(hva_end + PAGE_SIZE - 1), pte, may_block)
            if not found:
                found = True
                self._step(f"memslot {slot.id} overlaps" + ("" if locked else ": take mmu_lock")
                           + whose, walk)
                if on_lock:
                    on_lock()
                if handler is None:
                    break
            self._step(f"call handler on gfn [{rng.start:#x}, {rng.end:#x}) of memslot {slot.id}",
                       walk)
            ret |= handler(rng)
        if not found:
            self._step(f"no memslot overlaps hva [{start:#x}, {end:#x}): nothing to do{whose}",
                       walk)
        if flush_on_ret and ret:
            self.flush_remote_tlbs("a handler asked for it")
        return ret

    # -- invalidate_range_start ----------------------------------------------
    def invalidate_range_start(self, start: int, end: int) -> None:
        if self.since("active-invalidate-count"):
            self.mn_active_invalidate_count += 1
            self._step(f"mn_active_invalidate_count -> {self.mn_active_invalidate_count}",
                       self.cite("invalidate_range_start"))
        self.handle_hva_range(start, end, self._unmap_gfn_range, on_lock=self._invalidate_begin,
                              flush_on_ret=True, may_block=True, caller="invalidate_range_start")

    def _invalidate_begin(self) -> None:
        self.mmu_invalidate_in_progress += 1
        if self.mmu_invalidate_in_progress == 1:
            self.mmu_invalidate_range_start = INVALID_GPA
            self.mmu_invalidate_range_end = INVALID_GPA
        self._step(f"{self._names()[0]} -> {self.mmu_invalidate_in_progress}", self.cite("begin"))

    def _range_add(self, start: int, end: int) -> None:
        if not self.since("range-tracking"):
            return
        src = self.cite("range_add")
        if self.since("gfn-range-tracking") and self.mmu_invalidate_in_progress == 0:
            # the WARN came with kvm_mmu_invalidate_range_add (v6.8); before, the range was
            # set in the same on_lock step that counted
            self.trace.warn("mmu_invalidate_range_add with no invalidation in progress", src)
        if self.mmu_invalidate_range_start is INVALID_GPA:
            self.mmu_invalidate_range_start, self.mmu_invalidate_range_end = start, end
        else:
            self.mmu_invalidate_range_start = min(self.mmu_invalidate_range_start, start)
            self.mmu_invalidate_range_end = max(self.mmu_invalidate_range_end, end)
        self._step(f"invalidation range -> gfn [{self.mmu_invalidate_range_start:#x}, "
                   f"{self.mmu_invalidate_range_end:#x})", src)

    def _unmap_gfn_range(self, rng: GfnRange) -> bool:
        self._range_add(rng.start, rng.end)
        self.trace.hook(f"{self.hook_name('unmap_gfn_range')}({self._where(rng)})",
                        self.arch.hooks_at(self.kernel)["unmap_gfn_range"][0])
        return bool(self.arch.unmap_gfn_range(rng))

    def _where(self, rng: GfnRange) -> str:
        """A hook's range as the generic layer passed it: gfns from v5.13, hvas before."""
        if self.since("gfn-range"):
            return f"gfn [{rng.start:#x}, {rng.end:#x})"
        slot = rng.slot
        return f"hva [{slot.gfn_to_hva(rng.start):#x}, {slot.gfn_to_hva(rng.end):#x})"

    # -- change_pte ------------------------------------------------------------
    def change_pte(self, hva: int, pte: HostPte) -> None:
        count, seq = self._names()
        src = self.cite("change_pte")
        if self.since("active-invalidate-count"):
            if not self.mn_active_invalidate_count:
                self.trace.warn("change_pte with no invalidation active "
                                "(WARN_ON_ONCE(!mn_active_invalidate_count))", src)
        elif self.since("no-seq-bump") and not self.mmu_invalidate_in_progress:
            self.trace.warn(f"change_pte with no invalidation counted "
                            f"(WARN_ON_ONCE(!{count}))", src)
        if self.since("early-return") and not self.mmu_invalidate_in_progress:
            self._step(f"{count} is 0: return before any memslot or arch hook", src)
            return
        if not self.since("gfn-range"):
            self._step("take mmu_lock", src)
        if not self.since("no-seq-bump"):
            self.mmu_invalidate_seq += 1
            self._step(f"{seq} -> {self.mmu_invalidate_seq} (so a racing fault retries)", src)
        self.handle_hva_range(hva, hva + 1, self._change_spte_gfn,
                              flush_on_ret=self.since("flush-on-return"), pte=pte)

    def _change_spte_gfn(self, rng: GfnRange) -> bool:
        if self.since("skip-invalid-slot"):
            src = self.cite("change_spte_gfn")
            if not self.mn_active_invalidate_count:
                self.trace.warn("kvm_change_spte_gfn with no invalidation active", src)
            if rng.slot.invalid:
                self._step("memslot has KVM_MEMSLOT_INVALID: skip it", src)
                return False
        where = (f"gfn {rng.start:#x}" if self.since("gfn-range")
                 else f"hva {rng.slot.gfn_to_hva(rng.start):#x}")
        self.trace.hook(f"{self.hook_name('set_spte_gfn')}({where}, new pfn {rng.pte.pfn:#x})",
                        self.arch.hooks_at(self.kernel)["set_spte_gfn"][0])
        return bool(self.arch.set_spte_gfn(rng))

    # -- invalidate_range_end ----------------------------------------------------
    def invalidate_range_end(self, start: int, end: int) -> None:
        self.handle_hva_range(start, end, None, on_lock=self._invalidate_end, flush_on_ret=False,
                              caller="invalidate_range_end")
        if not self.since("active-invalidate-count"):
            return
        src = self.cite("invalidate_range_end")
        if not self.mn_active_invalidate_count and self.since("unpaired-end-guard"):
            self.trace.warn("invalidate_range_end with mn_active_invalidate_count already 0",
                            src)
        else:
            # before d489ec956583 (v6.9) the unsigned count is decremented whatever it is
            self.mn_active_invalidate_count = (self.mn_active_invalidate_count - 1) % ULONG
        self._step(f"mn_active_invalidate_count -> {self.mn_active_invalidate_count}", src)

    def _invalidate_end(self) -> None:
        count, seq = self._names()
        self.mmu_invalidate_seq += 1
        self.mmu_invalidate_in_progress -= 1
        src = self.cite("end")
        if self.mmu_invalidate_in_progress < 0:
            self.trace.warn(f"{count} went negative", self.cite("end_negative"))
        if self.since("gfn-range-tracking") and self.mmu_invalidate_range_start is INVALID_GPA:
            self.trace.warn("invalidation ended with no range ever added", src)
        self._step(f"{seq} -> {self.mmu_invalidate_seq}, {count} -> "
                   f"{self.mmu_invalidate_in_progress}", src)

    # -- vCPU faults -------------------------------------------------------------
    def invalidate_retry(self, seq: int, gfn: int) -> bool:
        """mmu_invalidate_retry_gfn: retry when an invalidation covers gfn or seq moved."""
        return retry_gfn(self.mmu_invalidate_in_progress, self.mmu_invalidate_range_start,
                         self.mmu_invalidate_range_end, self.mmu_invalidate_seq, seq, gfn)

    def invalidate_retry_vm(self, seq: int) -> bool:
        """mmu_invalidate_retry: retry when any invalidation is in progress or seq moved."""
        return retry_vm(self.mmu_invalidate_in_progress, self.mmu_invalidate_seq, seq)

    def fault_must_retry(self, predicate: str, seq: int, gfn: int) -> bool:
        """The check a fault path makes under mmu_lock, by the predicate it calls."""
        if predicate == RETRY_VM:
            return self.invalidate_retry_vm(seq)
        if predicate == RETRY_GFN:
            return self.invalidate_retry(seq, gfn)
        raise ValueError(f"unknown retry predicate {predicate!r}")

    def state(self) -> tuple:
        """The notifier counters as one hashable value (for the explorer)."""
        return (self.mn_active_invalidate_count, self.mmu_invalidate_in_progress,
                self.mmu_invalidate_seq, self.mmu_invalidate_range_start,
                self.mmu_invalidate_range_end)

    def set_state(self, st: tuple) -> None:
        (self.mn_active_invalidate_count, self.mmu_invalidate_in_progress,
         self.mmu_invalidate_seq, self.mmu_invalidate_range_start,
         self.mmu_invalidate_range_end) = st

