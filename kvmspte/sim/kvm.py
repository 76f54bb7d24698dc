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
from kvmspte.sim.release import DEFAULT, Release, Switch, Switches
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

# -- the generic layer across releases ------------------------------------------------------
V512 = ("the 5.12 form, as the base of c13fda237f08's diff 'KVM: Assert that notifier count "
        "is elevated in .change_pte()' (stored id 1864000324)")
V504 = "read in a full copy judged v5.4 (stored id 47602487221)"
V26 = ("Izik Eidus' 'add support for change_pte mmu notifiers' patches (stored ids 17218753334, "
       "28752436576), the pre-merge form of 3da0dd433dc3")
GENERIC = Switches([
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
])


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

    def _src(self, now: Source, switch: str) -> Source:
        """``now`` (the v6.9 source) from the switch point on; before it, the same function
        as read at the release before that switch."""
        if self.since(switch):
            return now
        sw = GENERIC.get(switch)
        return Source(now.file, now.function, str(sw.since.previous()),
                      via=f"the form before {sw.commit or sw.since}, which brought: {sw.what}")

    def _names(self) -> tuple[str, str]:
        """The invalidation counters' names at this release (renamed in 6.1)."""
        if self.since("invalidate-rename"):
            return "mmu_invalidate_in_progress", "mmu_invalidate_seq"
        return "mmu_notifier_count", "mmu_notifier_seq"

    def _step(self, text: str, source: Source) -> None:
        self.trace.step("kvm", text, source)

    def flush_remote_tlbs(self, why: str) -> None:
        self.remote_flushes += 1
        self.trace.flush("kvm", f"kvm_flush_remote_tlbs ({why})", SRC_FLUSH)

    def _overlapping(self, start: int, end: int):
        for slot in self.memslots:
            if slot.userspace_addr < end and slot.hva_end > start:
                yield slot

    def handle_hva_range(self, start: int, end: int, handler: Handler | None, *,
                         on_lock: Callable[[], None] | None = None, flush_on_ret: bool,
                         pte: HostPte | None = None, may_block: bool = False) -> bool:
        """__kvm_handle_hva_range: per overlapping memslot, convert to gfns and call handler.

        on_lock runs once, under mmu_lock, before the first handler call and only
        if some memslot overlaps; a true return from any handler makes the
        caller flush remote TLBs when flush_on_ret is set.
        """
        found, ret = False, False
        if on_lock and not self.since("early-return"):
            # before 071064f14d87 (5.15) start/end took mmu_lock and counted unconditionally
            self._step("take mmu_lock", self._src(SRC_HANDLE, "early-return"))
            on_lock()
            on_lock = None
        for slot in self._overlapping(start, end):
            hva_start = max(start, slot.userspace_addr)
            hva_end = min(end, slot.hva_end)
            rng = GfnRange(slot, slot.hva_to_gfn(hva_start),
                           slot.hva_to_gfn(hva_end + PAGE_SIZE - 1), pte, may_block)
            if not found:
                found = True
                self._step(f"memslot {slot.id} overlaps: take mmu_lock",
                           self._src(SRC_HANDLE, "gfn-range"))
                if on_lock:
                    on_lock()
                if handler is None:
                    break
            self._step(f"call handler on gfn [{rng.start:#x}, {rng.end:#x}) of memslot {slot.id}",
                       self._src(SRC_HANDLE, "gfn-range"))
            ret |= handler(rng)
        if not found:
            self._step(f"no memslot overlaps hva [{start:#x}, {end:#x}): nothing to do",
                       self._src(SRC_HANDLE, "gfn-range"))
        if flush_on_ret and ret:
            self.flush_remote_tlbs("a handler asked for it")
        return ret

    # -- invalidate_range_start ----------------------------------------------
    def invalidate_range_start(self, start: int, end: int) -> None:
        if self.since("active-invalidate-count"):
            self.mn_active_invalidate_count += 1
            self._step(f"mn_active_invalidate_count -> {self.mn_active_invalidate_count}",
                       SRC_RANGE_START)
        self.handle_hva_range(start, end, self._unmap_gfn_range, on_lock=self._invalidate_begin,
                              flush_on_ret=True, may_block=True)

    def _invalidate_begin(self) -> None:
        self.mmu_invalidate_in_progress += 1
        if self.mmu_invalidate_in_progress == 1:
            self.mmu_invalidate_range_start = INVALID_GPA
            self.mmu_invalidate_range_end = INVALID_GPA
        self._step(f"{self._names()[0]} -> {self.mmu_invalidate_in_progress}",
                   self._src(SRC_INV_BEGIN, "invalidate-rename"))

    def _range_add(self, start: int, end: int) -> None:
        if not self.since("range-tracking"):
            return
        if self.mmu_invalidate_in_progress == 0:
            self.trace.warn("mmu_invalidate_range_add with no invalidation in progress",
                            SRC_RANGE_ADD)
        if self.mmu_invalidate_range_start is INVALID_GPA:
            self.mmu_invalidate_range_start, self.mmu_invalidate_range_end = start, end
        else:
            self.mmu_invalidate_range_start = min(self.mmu_invalidate_range_start, start)
            self.mmu_invalidate_range_end = max(self.mmu_invalidate_range_end, end)
        self._step(f"invalidation range -> gfn [{self.mmu_invalidate_range_start:#x}, "
                   f"{self.mmu_invalidate_range_end:#x})",
                   self._src(SRC_RANGE_ADD, "gfn-range-tracking"))

    def _unmap_gfn_range(self, rng: GfnRange) -> bool:
        self._range_add(rng.start, rng.end)
        self.trace.hook(f"kvm_unmap_gfn_range(gfn [{rng.start:#x}, {rng.end:#x}))",
                        self.arch.hooks_at(self.kernel)["unmap_gfn_range"][0])
        return bool(self.arch.unmap_gfn_range(rng))

    # -- change_pte ------------------------------------------------------------
    def change_pte(self, hva: int, pte: HostPte) -> None:
        count, seq = self._names()
        src = self._src(SRC_CHANGE_PTE, "early-return")
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
        if not self.since("no-seq-bump"):
            self.mmu_invalidate_seq += 1
            self._step(f"{seq} -> {self.mmu_invalidate_seq} (so a racing fault retries)", src)
        self.handle_hva_range(hva, hva + 1, self._change_spte_gfn,
                              flush_on_ret=self.since("flush-on-return"), pte=pte)

    def _change_spte_gfn(self, rng: GfnRange) -> bool:
        if self.since("skip-invalid-slot"):
            if not self.mn_active_invalidate_count:
                self.trace.warn("kvm_change_spte_gfn with no invalidation active",
                                SRC_CHANGE_SPTE)
            if rng.slot.invalid:
                self._step("memslot has KVM_MEMSLOT_INVALID: skip it", SRC_CHANGE_SPTE)
                return False
        self.trace.hook(f"kvm_set_spte_gfn(gfn {rng.start:#x}, new pfn {rng.pte.pfn:#x})",
                        self.arch.hooks_at(self.kernel)["set_spte_gfn"][0])
        return bool(self.arch.set_spte_gfn(rng))

    # -- invalidate_range_end ----------------------------------------------------
    def invalidate_range_end(self, start: int, end: int) -> None:
        self.handle_hva_range(start, end, None, on_lock=self._invalidate_end, flush_on_ret=False)
        if not self.since("active-invalidate-count"):
            return
        if not self.mn_active_invalidate_count:
            self.trace.warn("invalidate_range_end with mn_active_invalidate_count already 0",
                            SRC_RANGE_END)
        else:
            self.mn_active_invalidate_count -= 1
        self._step(f"mn_active_invalidate_count -> {self.mn_active_invalidate_count}",
                   SRC_RANGE_END)

    def _invalidate_end(self) -> None:
        count, seq = self._names()
        self.mmu_invalidate_seq += 1
        self.mmu_invalidate_in_progress -= 1
        src = self._src(SRC_INV_END, "invalidate-rename")
        if self.mmu_invalidate_in_progress < 0:
            self.trace.warn(f"{count} went negative", src)
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

