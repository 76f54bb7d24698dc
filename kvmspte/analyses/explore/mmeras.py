"""The explorer's mm-side citations per era: the shared table of the trigger sources
(kvmspte.sim.mmeras, also the engine's), extended by the writer and zapper actors' own
sources (the function of each release, never a later one).

The actors' steps model the v6.9 protocol (PTL, pte_same, page references, the gather
batch).  The writer's PTL / pte_same, put-after-end, KSM page-count check and migration
steps are the trigger functions' own code, so they share those functions' rows (re-read at
5.15, 6.1 and 6.6, see kvmspte.sim.mmeras).  Where the code of an era was not re-read, the
entry says so.  Evidence for the zapper's rows:

- zap_page_range_single: MADV_DONTNEED uses it from 21b85b09527c 'madvise: use
  zap_page_range_single for madvise dontneed' (a 6.1-cycle mm hotfix with stable backports,
  stored ids 6306211672, 30382448948); before, madvise_dontneed calls zap_page_range;
- mm/mmu_gather.c: 'mm/memory: Move mmu_gather and TLB invalidation code into its own
  file' (Peter Zijlstra, posted by Will Deacon in Sep 2018 for the next merge window, v4.20;
  stored id 34987605557); before, tlb_finish_mmu is in mm/memory.c.
"""

from __future__ import annotations

from kvmspte.sim import mmeras, triggers
from kvmspte.sim.mmeras import NOT_REREAD
from kvmspte.sim.release import Release
from kvmspte.sim.source import Source

MEMORY_C = "mm/memory.c"
V61 = ("21b85b09527c moved MADV_DONTNEED to zap_page_range_single (6.1-cycle hotfix, stored "
       "ids 6306211672, 30382448948)")
V420 = ("tlb_finish_mmu moved to mm/mmu_gather.c for v4.20 (stored id 34987605557)")


def _zap_eras() -> tuple:
    return ((Release(2, 6, 32), Source(MEMORY_C, "zap_page_range", "v2.6.32",
                                       via=f"madvise_dontneed's call until {V61}; "
                                           f"{NOT_REREAD}")),
            (Release(6, 1), Source(MEMORY_C, "zap_page_range_single", "v6.1",
                                   via=f"{V61}; {NOT_REREAD}")))


def _since_2632(src: Source, note: str) -> tuple:
    return mmeras.since(src, Release(2, 6, 32), note)


def eras(actors) -> dict:
    """v6.9 Source -> its (first release, Source) rows before v6.9: the shared trigger rows,
    and the actors module's own sources."""
    shared = mmeras.ERAS
    return {
        **shared,
        actors.SRC_PTL: shared[triggers.SRC_COW], actors.SRC_END_PUT: shared[triggers.SRC_COW],
        actors.SRC_KSM_WP: shared[triggers.SRC_KSM_WP],
        actors.SRC_KSM_PUT: _since_2632(actors.SRC_KSM_PUT, "present since KSM's merge in "
                                        "v2.6.32"),
        actors.SRC_MIGRATE: shared[triggers.SRC_MIGRATE_INSERT],
        actors.SRC_ZAP_START: _zap_eras(),
        actors.SRC_ZAP_PTE: _since_2632(actors.SRC_ZAP_PTE, "zap_pte_range clears the PTEs "
                                        "under the PTL in every release"),
        actors.SRC_TLB_FINISH: ((Release(2, 6, 32), Source(
            MEMORY_C, "tlb_finish_mmu", "v2.6.32",
            via=f"in mm/memory.c (or an asm-generic/tlb.h inline in the oldest releases, "
                f"UNVERIFIED) until {V420}; {NOT_REREAD}")),
            (Release(4, 20), Source(actors.SRC_TLB_FINISH.file, "tlb_finish_mmu", "v4.20",
                                    via=f"{V420}; {NOT_REREAD}"))),
    }


def cite(table: dict, src: Source, kernel: Release) -> Source:
    """``src`` (a v6.9 citation) as the code of ``kernel``: its era entry, or itself from
    v6.9 on and for a source with no table."""
    return mmeras.cite(src, kernel, table)
