"""The explorer's mm-side citations per era: what each v6.9 Source of the writer and zapper
actors stands for at an earlier release (the function of that release, never a later one).

The actors' steps model the v6.9 protocol (PTL, pte_same, page references, the gather
batch); where the code of an era was not re-read, the entry says so.  Evidence:

- wp_page_copy: extracted from do_wp_page by 2f38ab2c3c7f 'mm: refactor do_wp_page, extract
  the page copy flow' (Shachar Raindel), listed in the -mm series merged for v4.1 (stored
  ids 16138924930, 15153104636; a kernel-CVE table dates it 4.1, stored id 70239977841);
- zap_page_range_single: MADV_DONTNEED uses it from 21b85b09527c 'madvise: use
  zap_page_range_single for madvise dontneed' (a 6.1-cycle mm hotfix with stable backports,
  stored ids 6306211672, 30382448948); before, madvise_dontneed calls zap_page_range;
- mm/mmu_gather.c: 'mm/memory: Move mmu_gather and TLB invalidation code into its own
  file' (Peter Zijlstra, posted by Will Deacon in Sep 2018 for the next merge window, v4.20;
  stored id 34987605557); before, tlb_finish_mmu is in mm/memory.c;
- mm/migrate_device.c: split out of mm/migrate.c by Christoph Hellwig (Feb 2022, stored id
  37836974480), created in the folio pull of that cycle (v5.18; diffstat stored id
  24564814087); migrate_vma_insert_page itself arrives in mm/migrate.c at v4.14
  (kvmspte.sim.triggers' migrate-vma switch).
"""

from __future__ import annotations

from kvmspte.sim import triggers, vcpu
from kvmspte.sim.release import DEFAULT, Release
from kvmspte.sim.source import Source

MEMORY_C = "mm/memory.c"
V41 = ("2f38ab2c3c7f extracted the copy flow of do_wp_page into wp_page_copy (4.1 -mm series, "
       "stored ids 16138924930, 70239977841)")
V61 = ("21b85b09527c moved MADV_DONTNEED to zap_page_range_single (6.1-cycle hotfix, stored "
       "ids 6306211672, 30382448948)")
V420 = ("tlb_finish_mmu moved to mm/mmu_gather.c for v4.20 (stored id 34987605557)")
V518 = ("mm/migrate_device.c split out of mm/migrate.c (stored ids 37836974480, 24564814087; "
        "v5.18 judged from the pull)")
NOT_REREAD = "not re-read at this release: the v6.9 protocol is modelled"


def _cow(function: str, release: str, via: str) -> Source:
    return Source(MEMORY_C, function, release, via=f"{via}; {NOT_REREAD}")


def _cow_eras() -> tuple:
    return ((Release(2, 6, 32), _cow("do_wp_page", "v2.6.32", f"the copy is made in do_wp_page "
                                     f"until {V41}")),
            (Release(4, 1), _cow("wp_page_copy", "v4.1", V41)))


def _migrate_eras() -> tuple:
    return ((Release(4, 14), triggers.MM_SWITCHES.get("migrate-vma").source),
            (Release(5, 18), Source("mm/migrate_device.c", "migrate_vma_insert_page", "v5.18",
                                    via=f"{V518}; {NOT_REREAD}")))


def _zap_eras() -> tuple:
    return ((Release(2, 6, 32), Source(MEMORY_C, "zap_page_range", "v2.6.32",
                                       via=f"madvise_dontneed's call until {V61}; "
                                           f"{NOT_REREAD}")),
            (Release(6, 1), Source(MEMORY_C, "zap_page_range_single", "v6.1",
                                   via=f"{V61}; {NOT_REREAD}")))


def _since_2632(src: Source, note: str) -> tuple:
    return ((Release(2, 6, 32), Source(src.file, src.function, "v2.6.32",
                                       via=f"{note}; {NOT_REREAD}")),)


def eras(actors) -> dict:
    """v6.9 Source -> its (first release, Source) table before v6.9, for the actors module's
    sources and the trigger sources its writer cites."""
    cow, zap = _cow_eras(), _zap_eras()
    ksm = "present since KSM's merge in v2.6.32"
    return {
        triggers.SRC_COW: cow, actors.SRC_PTL: cow, actors.SRC_END_PUT: cow,
        triggers.SRC_KSM_WP: _since_2632(triggers.SRC_KSM_WP, ksm),
        actors.SRC_KSM_WP: _since_2632(actors.SRC_KSM_WP, ksm),
        actors.SRC_KSM_PUT: _since_2632(actors.SRC_KSM_PUT, ksm),
        triggers.SRC_NOTIFY: (*_since_2632(triggers.SRC_NOTIFY, "added with .change_pte for "
                                           "v2.6.32 (see kvm_mmu_notifier_change_pte @ "
                                           "v2.6.32)"),
                              (Release(3, 7), triggers.MM_SWITCHES.get("notify-first").source)),
        triggers.TRIGGERS["migrate-device-zero"].source: _migrate_eras(),
        actors.SRC_MIGRATE: _migrate_eras(),
        actors.SRC_ZAP_START: zap,
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
    return vcpu.at((*table.get(src, ()), (DEFAULT, src)), kernel)
