"""The generic KVM layer: memslots and the MMU-notifier handlers of virt/kvm/kvm_main.c.

Everything here is architecture-neutral; the architecture model is reached only
through its hooks (``unmap_gfn_range``, ``set_spte_gfn``, ``fault_in``).
Each modelled behaviour carries the Source it was read from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kvmspte.host import PAGE_SIZE, HostPte
from kvmspte.pagetable import PAGE_SHIFT
from kvmspte.source import Source
from kvmspte.trace import Trace

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


@dataclass(frozen=True, slots=True)
class Memslot:
    """struct kvm_memory_slot, with the flags the models look at."""

    id: int
    base_gfn: int
    npages: int
    userspace_addr: int
    dirty_logging: bool = False   # KVM_MEM_LOG_DIRTY_PAGES
    readonly: bool = False        # KVM_MEM_READONLY
    invalid: bool = False         # KVM_MEMSLOT_INVALID: being deleted or moved
    as_id: int = 0

    def hva_to_gfn(self, hva: int) -> int:
        """hva_to_gfn_memslot: the gfn whose page holds hva (rounding down)."""
        return self.base_gfn + ((hva - self.userspace_addr) >> PAGE_SHIFT)

    def gfn_to_hva(self, gfn: int) -> int:
        return self.userspace_addr + ((gfn - self.base_gfn) << PAGE_SHIFT)

    @property
    def hva_end(self) -> int:
        return self.userspace_addr + (self.npages << PAGE_SHIFT)



@dataclass(frozen=True, slots=True)
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

    def __init__(self, arch, memslots: list[Memslot], trace: Trace) -> None:
        self.arch = arch
        self.memslots = memslots
        self.trace = trace
        self.mn_active_invalidate_count = 0
        self.mmu_invalidate_in_progress = 0
        self.mmu_invalidate_seq = 0
        self.mmu_invalidate_range_start: int | None = INVALID_GPA
        self.mmu_invalidate_range_end: int | None = INVALID_GPA
        self.remote_flushes = 0

    # -- helpers -------------------------------------------------------------
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
        for slot in self._overlapping(start, end):
            hva_start = max(start, slot.userspace_addr)
            hva_end = min(end, slot.hva_end)
            rng = GfnRange(slot, slot.hva_to_gfn(hva_start),
                           slot.hva_to_gfn(hva_end + PAGE_SIZE - 1), pte, may_block)
            if not found:
                found = True
                self._step(f"memslot {slot.id} overlaps: take mmu_lock", SRC_HANDLE)
                if on_lock:
                    on_lock()
                if handler is None:
                    break
            self._step(f"call handler on gfn [{rng.start:#x}, {rng.end:#x}) of memslot {slot.id}",
                       SRC_HANDLE)
            ret |= handler(rng)
        if not found:
            self._step(f"no memslot overlaps hva [{start:#x}, {end:#x}): nothing to do", SRC_HANDLE)
        if flush_on_ret and ret:
            self.flush_remote_tlbs("a handler asked for it")
        return ret

    # -- invalidate_range_start ----------------------------------------------
    def invalidate_range_start(self, start: int, end: int) -> None:
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
        self._step(f"mmu_invalidate_in_progress -> {self.mmu_invalidate_in_progress}",
                   SRC_INV_BEGIN)

    def _range_add(self, start: int, end: int) -> None:
        if self.mmu_invalidate_in_progress == 0:
            self.trace.warn("mmu_invalidate_range_add with no invalidation in progress",
                            SRC_RANGE_ADD)
        if self.mmu_invalidate_range_start is INVALID_GPA:
            self.mmu_invalidate_range_start, self.mmu_invalidate_range_end = start, end
        else:
            self.mmu_invalidate_range_start = min(self.mmu_invalidate_range_start, start)
            self.mmu_invalidate_range_end = max(self.mmu_invalidate_range_end, end)
        self._step(f"invalidation range -> gfn [{self.mmu_invalidate_range_start:#x}, "
                   f"{self.mmu_invalidate_range_end:#x})", SRC_RANGE_ADD)

    def _unmap_gfn_range(self, rng: GfnRange) -> bool:
        self._range_add(rng.start, rng.end)
        self.trace.hook(f"kvm_unmap_gfn_range(gfn [{rng.start:#x}, {rng.end:#x}))",
                        self.arch.hooks["unmap_gfn_range"][0])
        return bool(self.arch.unmap_gfn_range(rng))

    # -- change_pte ------------------------------------------------------------
    def change_pte(self, hva: int, pte: HostPte) -> None:
        if not self.mn_active_invalidate_count:
            self.trace.warn("change_pte with no invalidation active "
                            "(WARN_ON_ONCE(!mn_active_invalidate_count))", SRC_CHANGE_PTE)
        if not self.mmu_invalidate_in_progress:
            self._step("mmu_invalidate_in_progress is 0: return before any memslot or arch hook",
                       SRC_CHANGE_PTE)
            return
        self.handle_hva_range(hva, hva + 1, self._change_spte_gfn, flush_on_ret=True, pte=pte)

    def _change_spte_gfn(self, rng: GfnRange) -> bool:
        if not self.mn_active_invalidate_count:
            self.trace.warn("kvm_change_spte_gfn with no invalidation active", SRC_CHANGE_SPTE)
        if rng.slot.invalid:
            self._step("memslot has KVM_MEMSLOT_INVALID: skip it", SRC_CHANGE_SPTE)
            return False
        self.trace.hook(f"kvm_set_spte_gfn(gfn {rng.start:#x}, new pfn {rng.pte.pfn:#x})",
                        self.arch.hooks["set_spte_gfn"][0])
        return bool(self.arch.set_spte_gfn(rng))

    # -- invalidate_range_end ----------------------------------------------------
    def invalidate_range_end(self, start: int, end: int) -> None:
        self.handle_hva_range(start, end, None, on_lock=self._invalidate_end, flush_on_ret=False)
        if not self.mn_active_invalidate_count:
            self.trace.warn("invalidate_range_end with mn_active_invalidate_count already 0",
                            SRC_RANGE_END)
        else:
            self.mn_active_invalidate_count -= 1
        self._step(f"mn_active_invalidate_count -> {self.mn_active_invalidate_count}",
                   SRC_RANGE_END)

    def _invalidate_end(self) -> None:
        self.mmu_invalidate_seq += 1
        self.mmu_invalidate_in_progress -= 1
        if self.mmu_invalidate_in_progress < 0:
            self.trace.warn("KVM_BUG_ON: mmu_invalidate_in_progress went negative", SRC_INV_END)
        if self.mmu_invalidate_range_start is INVALID_GPA:
            self.trace.warn("invalidation ended with no range ever added", SRC_INV_END)
        self._step(f"mmu_invalidate_seq -> {self.mmu_invalidate_seq}, "
                   f"mmu_invalidate_in_progress -> {self.mmu_invalidate_in_progress}", SRC_INV_END)

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

