"""The explored world as one compact hashable value, and the memoised machine behind it.

A state is a plain tuple (indices below): the actors' program counters and local states,
the holder of the page-table lock, the generic KVM notifier counters, the host PTEs of the
two tracked pages (the gfn under test and its neighbour in the same last-level table), page
reference counts, freed pages, the first stale install seen, and the id of the secondary
MMU's state.  Secondary-MMU states are interned: each distinct arch state (its snapshot) is
stored once, and every KVM/arch operation is memoised on (arch id, KVM counters, operation),
so the arch models run only the first time an operation meets a state.
"""

from __future__ import annotations

import pickle

from kvmspte.sim import engine
from kvmspte.sim import triggers
from kvmspte.sim.host import HostPte
from kvmspte.sim.kvm import Kvm
from kvmspte.plugins.contract import CannotExist, Mapping
from kvmspte.sim.source import Source
from kvmspte.sim.trace import Trace

NONE_PTE = HostPte(pfn=0, present=False, write=False, dirty=False, young=False)

# state layout
PCS, LOCS, PTL, KVM, HOST, REFS, FREED, STALE, ARCH = range(9)
#: KVM counter layout (kvmspte.kvm.Kvm.state)
ACTIVE, IN_PROGRESS, SEQ, RSTART, REND = range(5)
TARGET, NEIGHBOUR = 0, 1          # indices of the tracked pages in HOST
NO_PTL = -1
#: pages that are never freed: the shared zero page (vm_normal_page gives no page for it)
NEVER_FREED = frozenset({triggers.ZERO_PFN})


class QuietTrace(Trace):
    """The explorer keeps no per-step trace of the models (its own steps cite sources)."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def _add(self, actor, kind, text, source) -> None:
        if kind == "warn":
            self.warnings.append(text)


#: kvm_flush_remote_tlbs makes KVM_REQ_TLB_FLUSH of every vCPU, kicks those in guest mode and
#: waits for them (KVM_REQUEST_WAIT); each serves the request before it re-enters the guest.
#: So once a notifier handler's flush returns, no guest access uses what the flush drops.
SRC_FLUSH_SERVED = Source("virt/kvm/kvm_main.c", "kvm_flush_remote_tlbs",
                          via="kvm_make_all_cpus_request(KVM_REQ_TLB_FLUSH), a KVM_REQUEST_WAIT "
                              "request (include/linux/kvm_host.h); not re-read for v6.9")


class Machine:
    """The arch model and the generic KVM layer of one (race, arch), memoised.  A notifier
    handler that flushed remote TLBs is followed by the arch's serve_tlb_flush
    (SRC_FLUSH_SERVED)."""

    def __init__(self, run: engine.Run) -> None:
        self.slots = list(run.kvm.memslots)
        self.kernel = run.kvm.kernel
        self.gfns = (run.gfn, run.neighbour_gfn)
        self.hvas = tuple(self.slots[0].gfn_to_hva(g) for g in self.gfns)
        self._blobs: list[bytes] = []
        self._ids: dict[str, int] = {}
        self._memo: dict = {}
        self._lookups: dict = {}
        self.misses = 0
        self.arch0 = self.intern(run.arch)
        self.kvm0 = run.kvm.state()

    def intern(self, arch) -> int:
        key = frozen(arch.snapshot())
        aid = self._ids.get(key)
        if aid is None:
            aid = self._ids[key] = len(self._blobs)
            self._blobs.append(pickle.dumps(arch, pickle.HIGHEST_PROTOCOL))
        return aid

    def thaw(self, aid: int, ks: tuple) -> Kvm:
        arch = pickle.loads(self._blobs[aid])
        k = Kvm(arch, list(self.slots), QuietTrace(), self.kernel)
        k.set_state(ks)
        return k

    def notify(self, aid: int, ks: tuple, ev: triggers.Event) -> tuple[int, tuple]:
        """A notifier event through kvm_main.c and the arch hooks."""
        key = (aid, ks, ev.kind, ev.start, ev.end, ev.pte)
        hit = self._memo.get(key)
        if hit is None:
            self.misses += 1
            k = self.thaw(aid, ks)
            engine.apply_notifier(k, ev)
            if k.remote_flushes or getattr(k.arch, "remote_flush_requested", False):
                # the flush request (generic, or the arch's own before 5.0) is served before
                # any vCPU runs the guest again
                k.arch.remote_flush_requested = False
                k.arch.serve_tlb_flush()
            hit = self._memo[key] = (self.intern(k.arch), k.state())
        return hit

    def fault(self, aid: int, gfn: int, pte: HostPte) -> tuple[int, str]:
        """The arch's fault path installing what the vCPU looked up (a read fault)."""
        key = (aid, "fault", gfn, pte)
        hit = self._memo.get(key)
        if hit is None:
            self.misses += 1
            k = self.thaw(aid, self.kvm0)
            try:
                k.arch.fault_in(self.slots[0], gfn, Frozen(pte), False)
                outcome = "installed"
            except CannotExist:
                outcome = "aborted"
            hit = self._memo[key] = (self.intern(k.arch), outcome)
        return hit

    def lookup(self, aid: int, gfn: int) -> Mapping | None:
        key = (aid, gfn)
        if key not in self._lookups:
            self._lookups[key] = pickle.loads(self._blobs[aid]).lookup(gfn)
        return self._lookups[key]

    def arch(self, aid: int):
        return pickle.loads(self._blobs[aid])


class Frozen:
    """The host as the fault saw it when it looked the pfn up (possibly stale by now)."""

    def __init__(self, pte: HostPte) -> None:
        self._pte = pte

    def pte(self, hva: int) -> HostPte:
        return self._pte

    def mapping_pages(self, hva: int) -> int:
        return 1

    def break_cow(self, hva: int, why: str) -> HostPte:
        raise CannotExist("the write lookup would break CoW inside the fault",
                          engine.SRC_WP_PAGE)


def describe_pte(p: HostPte) -> str:
    if not p.present:
        return "nothing" if not p.special else f"a non-present {p.special} entry"
    return f"pfn {p.pfn:#x} ({'rw' if p.write else 'ro'})"


def frozen(value):
    """A compact hashable key for a snapshot: dicts become tuples of sorted items, lists
    tuples; a bool is tagged so that it never equals the int of the same value."""
    if isinstance(value, dict):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    if isinstance(value, bool):
        return (bool, value)
    return value
