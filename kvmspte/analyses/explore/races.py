"""Built-in races: which actors run concurrently on the same page (or its neighbour)."""

from __future__ import annotations

from kvmspte.records import record
from collections.abc import Callable

from kvmspte.analyses.explore import actors
from kvmspte.sim.release import DEFAULT, Release
from kvmspte.sim.triggers import MM_SWITCHES
from kvmspte.analyses.explore.world import NEIGHBOUR
from kvmspte.plugins.contract import CannotExist
from kvmspte.sim.source import Source

#: (actor name, factory: arch model -> Actor)
ActorSpec = tuple[str, Callable]

SRC_NO_RETRY = Source("-", "fault_retry", via="the model does not declare its fault path's "
                                               "retry check")


@record(frozen=True)
class Race:
    name: str
    description: str
    trigger: str                      # the host page the mm side acts on (its starting PTE)
    actors: tuple[ActorSpec, ...]
    #: False: an mm ordering no maintained kernel has any more (before v3.7)
    current: bool = True
    #: the release explored when --kernel is not given (None: the default, v6.9)
    era: Release | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.actors)

    def build(self, model, kernel: Release = DEFAULT) -> tuple:
        return tuple(make(model, kernel) for _, make in self.actors)

    def steps(self, model, kernel: Release = DEFAULT) -> dict[str, tuple]:
        return {name: a.steps for name, a in zip(self.names, self.build(model, kernel))}

    @property
    def unwrapped(self) -> bool:
        """Whether a writer of this race drops the start/end bracket by construction."""
        return any(getattr(make, "unwrapped", False) for _, make in self.actors)


def vcpu(model, kernel: Release = DEFAULT):
    """A vCPU fault making the retry check the arch's own fault path makes at ``kernel``
    (none where that release's path has none), cited as that release's code."""
    check = model.fault_retry_at(kernel)
    if check is None:
        raise CannotExist(f"{model.id} does not declare its fault path's retry check",
                          SRC_NO_RETRY)
    return actors.vcpu_fault(*check, kernel=kernel)


def _writer(trigger: str = "cow", wrapped: bool = True):
    """The mm caller; before v3.7 (6bdb913f0a70) no caller had the start/end bracket."""
    def make(model, kernel: Release = DEFAULT):
        return actors.writer(trigger, wrapped and MM_SWITCHES.active("bracketed", kernel),
                             kernel)
    make.unwrapped = not wrapped
    return make


def _zapper(page: int = actors.TARGET):
    return lambda model, kernel=DEFAULT: actors.zapper(page, kernel)


RACES: dict[str, Race] = {r.name: r for r in (
    Race("writer-fault",
         "a CoW writer (wp_page_copy, wrapped in start/end) and a vCPU fault on the same gfn",
         "cow", (("writer", _writer()), ("vcpu", vcpu))),
    Race("writer-zapper",
         "a CoW writer and an overlapping MADV_DONTNEED of the same page: two invalidations "
         "outstanding while change_pte runs (the 6bdb913f0a70 warning)",
         "cow", (("writer", _writer()), ("zapper", _zapper()))),
    Race("unwrapped-fault",
         "the pre-3.7 ordering (a CoW writer whose change_pte has no start/end around it) and "
         "a vCPU fault, explored by default at v3.6, the last release with that ordering, so "
         "mm and KVM are of the same era (architectures without .change_pte there are "
         "absent); with --kernel 3.7 or later it is a what-if: v3.7+ KVM with the bracket "
         "taken away",
         "cow", (("writer", _writer(wrapped=False)), ("vcpu", vcpu)), current=False,
         era=Release(3, 6)),
    Race("zapper-fault",
         "MADV_DONTNEED of the page and a vCPU fault: the invalidation-retry protocol alone",
         "cow", (("zapper", _zapper()), ("vcpu", vcpu))),
    Race("vcpus-writer-zapper",
         "two vCPUs faulting on the gfn while a CoW writer and a MADV_DONTNEED of the page run",
         "cow", (("writer", _writer()), ("zapper", _zapper()), ("vcpu0", vcpu),
                 ("vcpu1", vcpu))),
    Race("ksm-wrprotect-fault",
         "KSM write-protecting the page (write_protect_page) and a vCPU fault on the gfn: the "
         "page-count check sees KVM's GUP reference",
         "ksm-write-protect", (("writer", _writer("ksm-write-protect")), ("vcpu", vcpu))),
    Race("ksm-wrprotect-zapper",
         "KSM write-protecting the page and an overlapping MADV_DONTNEED of it",
         "ksm-write-protect", (("writer", _writer("ksm-write-protect")),
                               ("zapper", _zapper()))),
    Race("migrate-zapper",
         "device migration replacing the zero page by a device-private entry "
         "(migrate_vma_insert_page) and an overlapping MADV_DONTNEED of the page",
         "migrate-device-zero", (("writer", _writer("migrate-device-zero")),
                                 ("zapper", _zapper()))),
    Race("writer-neighbour-zapper",
         "a CoW writer on the gfn and a MADV_DONTNEED of the neighbour gfn's page (same "
         "last-level table): where tables are refcounted, whether the table survives for "
         "change_pte's install depends on the order",
         "cow", (("writer", _writer()), ("zapper", _zapper(NEIGHBOUR)))),
)}
