"""The architecture plugin contract.

An architecture model is a class that registers under an id and implements the
hooks the generic KVM layer calls.  One instance models one VM's secondary MMU
for one run.  Every hook names the kernel source it was read from
(``hooks``), and every step it records in the trace carries a Source too.
"""

from __future__ import annotations

from kvmspte.records import record

from kvmspte.sim import copies
from kvmspte.sim.copies import Copy
from kvmspte.sim.host import HostArch, HostMM
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim.pagetable import Leaf, RadixTable
from kvmspte.sim.release import DEFAULT, Release, Switch, Switches, at
from kvmspte.sim.source import DEFAULT_RELEASE, Source
from kvmspte.sim.trace import Trace

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up, and
if TYPE_CHECKING:  # the annotations are strings (from __future__ import annotations)
    from typing import ClassVar

#: The hook names every model provides, in call order.
HOOK_NAMES = ("fault_in", "unmap_gfn_range", "set_spte_gfn")


@record(frozen=True, slots=True)
class FaultResult:
    """What the arch fault path installed for a gfn."""

    pages: int         # size of the mapping it installed, in 4 KiB pages (0: none)
    why: str           # why that size (e.g. dirty logging forces 4 KiB)
    source: Source


@record(frozen=True, slots=True)
class Mapping:
    """What the secondary MMU maps a gfn to, as the arch's own lookup finds it."""

    pfn: int
    pages: int
    perms: str


class CannotExist(Exception):
    """Raised by a fault path when the requested starting state cannot exist on the arch."""

    def __init__(self, reason: str, source: Source) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source = source


class ArchModel:
    """Base class of every architecture model (built-in or plugin)."""

    id: ClassVar[str]
    family: ClassVar[str]
    title: ClassVar[str]
    release: ClassVar[str] = DEFAULT_RELEASE
    #: hook name -> the sources it was read from
    hooks: ClassVar[dict[str, tuple[Source, ...]]]
    #: the change_pte call chain from the generic dispatch down, for docs/explain
    chain: ClassVar[tuple[Source, ...]] = ()
    #: plain statements where this model's source contradicts a published claim
    findings: ClassVar[tuple[str, ...]] = ()
    #: for radix models: when unmap frees a table page (kvmspte.pagetable.FREE_POLICIES);
    #: None for hash/rmap structures
    free_policy: ClassVar[str | None] = None
    #: where the arch selects HAVE_KVM_READONLY_MEM (its KVM Kconfig); None: it does not,
    #: so KVM_MEM_READONLY memslots cannot be created
    readonly_mem: ClassVar[Source | None] = None
    #: the architecture's primary-MM behaviour around memory tags (page comparison,
    #: CoW copies) that the generic host model and triggers consult; none by default
    host_arch: ClassVar[HostArch] = HostArch()
    #: the retry check the arch's vCPU fault path makes under mmu_lock before it installs
    #: (kvmspte.kvm.RETRY_VM: any invalidation in progress; kvmspte.kvm.RETRY_GFN: only one
    #: covering the gfn), with the source where the call was read; None: not declared
    fault_retry: ClassVar[tuple[str, Source] | None] = None
    #: where the fault path of early releases makes no retry check: (the name of the model's
    #: switch point that brings the check, the check-less fault path's Source per era as
    #: (first release, Source) pairs); None: ``fault_retry`` holds in every release
    fault_retry_before: ClassVar[tuple[str, tuple[tuple[Release, Source], ...]] | None] = None

    #: the first release at which .change_pte() reaches this model's code, with where that
    #: was read; None: the model claims only its pinned ``release`` and runs unchanged
    arrived: ClassVar[Switch | None] = None
    #: the switch points inside this model's code paths (``kvmspte.release``)
    switches: ClassVar[Switches] = Switches()
    #: the stored copies read for releases before the pinned one (``kvmspte.sim.copies``):
    #: a v6.9 citation of a run at an older release names the copy of its era; none: every
    #: citation stands as read
    copies: ClassVar[tuple[Copy, ...]] = ()
    #: set by flush_remote_tlbs until the explorer serves the request
    remote_flush_requested: bool = False

    def __init__(self, trace: Trace, options: dict[str, bool] | None = None,
                 kernel: Release | None = None) -> None:
        self.trace = trace
        #: the kernel release being modelled; code paths ask ``self.since(name)``
        self.kernel = kernel or DEFAULT
        #: the scenario's [options] table (e.g. "mte"); models read what applies to them
        self.options = dict(options or {})

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        """The sources of each hook at ``kernel``, each citing the copy of its era
        (``copies``); a model whose hooks were other functions in older releases
        (kvm_set_spte_hva before the 5.13 gfn-range API) overrides this."""
        return copies.redate_hooks(cls.hooks, kernel, cls.copies)

    @classmethod
    def fault_retry_at(cls, kernel: Release) -> tuple[str | None, Source] | None:
        """The fault path's retry check at ``kernel`` as ``fault_retry`` gives it, or (None,
        the fault path's Source) where that release's path makes none; None: undeclared."""
        early = cls.fault_retry_before
        if early is not None and not cls.switches.active(early[0], kernel):
            return None, at(early[1], kernel)
        return cls.fault_retry

    def since(self, name: str) -> bool:
        """Whether this model's switch point ``name`` is in the code at ``self.kernel``."""
        return self.switches.active(name, self.kernel)

    def cite(self, source: Source) -> Source:
        """``source`` as the code of ``self.kernel`` was read: the copy of its era where
        ``copies`` lists one, else ``source`` itself."""
        return copies.redate(source, self.kernel, self.copies)

    # recording helpers for subclasses: every step cites the code of the release being run
    def step(self, text: str, source: Source) -> None:
        self.trace.step("arch", text, self.cite(source))

    def flush(self, text: str, source: Source) -> None:
        self.trace.flush("arch", text, self.cite(source))

    def warn(self, text: str, source: Source) -> None:
        self.trace.warn(text, self.cite(source))

    def flush_remote_tlbs(self, text: str, source: Source) -> None:
        """The arch's own handler calls kvm_flush_remote_tlbs (before 5.0 the generic code
        flushed nothing on the hook's return): a flush step, and a pending KVM_REQ_TLB_FLUSH
        that serve_tlb_flush() serves before any vCPU enters the guest again."""
        self.remote_flush_requested = True
        self.flush(text, source)

    # -- the hooks --------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """The arch's own vCPU fault path for gfn (it tops up its own memory cache)."""
        raise NotImplementedError

    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range: returns True when generic code must flush remote TLBs."""
        raise NotImplementedError

    def set_spte_gfn(self, rng: GfnRange) -> bool:
        """kvm_set_spte_gfn: returns True when generic code must flush remote TLBs."""
        raise NotImplementedError

    def serve_tlb_flush(self) -> None:
        """What serving a pending KVM_REQ_TLB_FLUSH does to the secondary structures before
        a vCPU next enters the guest.  Most models keep their translations in the tables the
        hooks already changed, so nothing; a model whose hooks only ask for a flush (a
        shadow TLB) drops its entries here."""

    # -- views --------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        """Every secondary-MMU structure, keyed stably, as plain data."""
        raise NotImplementedError

    def lookup(self, gfn: int) -> Mapping | None:
        raise NotImplementedError

    def view(self, gfn: int) -> list[dict]:
        """The structures that matter for gfn (a root-to-leaf walk, an rmap chain)."""
        raise NotImplementedError

    @classmethod
    def describe(cls, kernel: Release | None = None) -> dict:
        """What the model is and what it was read from; at ``kernel``, the hooks' sources
        of that release, and which of its switch points are in the code there."""
        at = kernel or DEFAULT
        out = {
            "id": cls.id,
            "family": cls.family,
            "title": cls.title,
            "release": cls.release if kernel is None else str(kernel),
            "hooks": {k: [s.to_dict() for s in v] for k, v in cls.hooks_at(at).items()},
            "chain": [s.to_dict() for s in cls.chain],
            "findings": list(cls.findings),
            "readonly_mem": cls.readonly_mem.to_dict() if cls.readonly_mem else None,
            "free_policy": cls.free_policy,
            "host_mm": {name: src.to_dict() for name, src in (
                ("compare_refuses_tagged", cls.host_arch.compare_refuses_tagged),
                ("copy_keeps_tags", cls.host_arch.copy_keeps_tags)) if src is not None},
            "arrived": cls.arrived.to_dict() if cls.arrived else None,
            "switches": [dict(s.to_dict(), active=s.since <= at) for s in cls.switches],
            "fault_retry": ({"predicate": cls.fault_retry[0],
                             "source": cls.fault_retry[1].to_dict()}
                            if cls.fault_retry else None),
        }
        return out


class RadixViews:
    """snapshot, lookup and view for a model whose secondary MMU is one RadixTable in
    ``self.pt``; a model whose table can hold non-present values overrides leaf_present."""

    pt: RadixTable

    def leaf_present(self, leaf: Leaf) -> bool:
        return True

    def snapshot(self) -> dict[str, dict]:
        return self.pt.snapshot()

    def lookup(self, gfn: int) -> Mapping | None:
        hit = self.pt.lookup(gfn)
        if hit is None or not self.leaf_present(hit[0]):
            return None
        leaf, depth = hit
        return Mapping(leaf.pfn, self.pt.g.span(depth), leaf.perms)

    def view(self, gfn: int) -> list[dict]:
        return self.pt.path_view(gfn)
