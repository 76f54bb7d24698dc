"""The explored world: one VM's secondary MMU (an arch model), the generic KVM
state, the primary MMU, page reference counts and the actors' program counters."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field

from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import Kvm, Memslot
from kvmspte.trace import Trace

NONE_PTE = HostPte(pfn=0, present=False, write=False, dirty=False, young=False)


class QuietTrace(Trace):
    """The explorer keeps no per-step trace of the models (its own steps cite sources)."""

    def _add(self, actor, kind, text, source) -> None:
        if kind == "warn":
            self.warnings.append(text)

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []


@dataclass
class World:
    arch: object
    kvm: Kvm
    host: HostMM
    slot: Memslot
    gfn: int
    actors: tuple[str, ...]
    pcs: dict[str, int] = field(default_factory=dict)
    local: dict[str, dict] = field(default_factory=dict)
    ptl: str | None = None               # holder of the page-table lock of the hva
    refs: dict[int, int] = field(default_factory=dict)
    freed: set[int] = field(default_factory=set)
    next_pfn: int = 0xB0000               # fresh pages the host allocates
    stale: list[str] = field(default_factory=list)   # stale installs seen (no-stale-install)

    @property
    def hva(self) -> int:
        return self.slot.gfn_to_hva(self.gfn)

    def clone(self) -> "World":
        return pickle.loads(pickle.dumps(self, pickle.HIGHEST_PROTOCOL))

    def put_page(self, pfn: int, n: int = 1) -> None:
        """Drop n references; a page whose count reaches zero is freed."""
        self.refs[pfn] = self.refs.get(pfn, 0) - n
        if self.refs[pfn] <= 0:
            self.refs.pop(pfn)
            self.freed.add(pfn)

    def get_page(self, pfn: int) -> None:
        self.refs[pfn] = self.refs.get(pfn, 0) + 1

    def fingerprint(self) -> str:
        k = self.kvm
        state = {
            "pcs": [self.pcs[a] for a in self.actors],
            "local": self.local,
            "ptl": self.ptl,
            "kvm": [k.mn_active_invalidate_count, k.mmu_invalidate_in_progress,
                    k.mmu_invalidate_seq, k.mmu_invalidate_range_start,
                    k.mmu_invalidate_range_end],
            "host": self.host.pte(self.hva).to_dict(),
            "refs": sorted(self.refs.items()),
            "freed": sorted(self.freed),
            "next_pfn": self.next_pfn,
            "stale": self.stale,
            "mmu": self.arch.snapshot(),
        }
        return json.dumps(state, sort_keys=True, default=str)
