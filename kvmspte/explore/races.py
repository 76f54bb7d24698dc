"""Built-in races: which actors run concurrently on the same page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kvmspte.explore import actors

ActorSpec = tuple[str, Callable[[], list]]


@dataclass(frozen=True)
class Race:
    name: str
    description: str
    trigger: str                      # the host page the mm side acts on (its starting PTE)
    actors: tuple[ActorSpec, ...]
    #: False: an mm ordering no maintained kernel has any more (before v3.7)
    current: bool = True

    def steps(self) -> dict[str, list]:
        return {name: make() for name, make in self.actors}


def _writer(wrapped: bool = True):
    return lambda: actors.writer("cow", wrapped)


RACES: dict[str, Race] = {r.name: r for r in (
    Race("writer-fault",
         "a CoW writer (wp_page_copy, wrapped in start/end) and a vCPU fault on the same gfn",
         "cow", (("writer", _writer()), ("vcpu", actors.vcpu_fault))),
    Race("writer-zapper",
         "a CoW writer and an overlapping MADV_DONTNEED of the same page: two invalidations "
         "outstanding while change_pte runs (the 6bdb913f0a70 warning)",
         "cow", (("writer", _writer()), ("zapper", actors.zapper))),
    Race("unwrapped-fault",
         "the pre-3.7 ordering: a CoW writer whose change_pte has no start/end around it, and "
         "a vCPU fault",
         "cow", (("writer", _writer(False)), ("vcpu", actors.vcpu_fault)), current=False),
    Race("zapper-fault",
         "MADV_DONTNEED of the page and a vCPU fault: the invalidation-retry protocol alone",
         "cow", (("zapper", actors.zapper), ("vcpu", actors.vcpu_fault))),
)}
