"""The mm side (the "mm" actor) per era: what each v6.9 citation of a trigger's mm caller
(kvmspte.sim.triggers) stands for at an earlier release, so that a run never cites a file, a
function or a release later than its kernel.  The engine dates every mm event and step
through ``cite``; the explorer's table (kvmspte.analyses.explore.mmeras) extends this one.

Copies read for the long-term releases (whole trees, each dated by its top-level Makefile;
stable point releases of the series, cited as the series' release):

- 4.19: 0x88888888/Linux-4.19, its first commit 74e90c5be72298af806d019452335484d048929a
  (Makefile 4.19.0; the later commits of that repository add comments, not read);
- 5.15: yuqi-lee/fastswap-linux-5.15.16, commit e6cdae5a0808451f1763fb8c7e3c5d1d1e80bcc0
  (Makefile 5.15.16; the fork's own commits leave these files as imported, except two added
  #includes at the top of mm/memory.c);
- 6.1: c1336658570/linux-6.1.20, commit fad5889c0b10f47566f112b3c48405ce49369f80 (Makefile
  6.1.20, the tree imported in one commit);
- 6.6: OpenNuvoton/MA35D1_linux-6.6.y, commit a4595a4caf6f28051f111c6fa4d96499a9bb756f
  (Makefile 6.6.63; a vendor port imported in one commit, not compared with the upstream
  tag).

What they showed, in the model's terms (every caller: a range opened, the PTE cleared and
flushed, set_pte_at_notify - change_pte, then the PTE written - , the range closed): the same
order as at v6.9 in every function below (at 4.19 the range calls take (mm, start, end)
rather than a range record).  One difference, on which no verdict depends: at
5.15 and 6.1 wp_page_copy, uprobes' __replace_page and migrate_vma_insert_page clear with
ptep_clear_flush_notify, which also calls the .invalidate_range hook, and KVM registers one
there (kvm_mmu_notifier_invalidate_range -> kvm_arch_mmu_notifier_invalidate_range: on x86 a
reload request for the APIC-access page when the range covers that page's hva, a weak no-op
elsewhere); the modelled gfn is guest RAM, never that page.  4.19 clears the same way, but
its KVM registers no such hook.  6.6 clears with ptep_clear_flush and closes with
invalidate_range_end.

Older eras were not re-read (their entries say so, NOT_REREAD): wp_page_copy is extracted from
do_wp_page for v4.1 (2f38ab2c3c7f; stored ids 16138924930, 70239977841), mm/migrate_device.c
split out of mm/migrate.c for v5.18 (stored ids 37836974480, 24564814087), __split_huge_pmd
replaces __split_huge_page_pmd for v4.5 (eef1b3ba053a, the THP refcounting rework).
"""

from __future__ import annotations

from kvmspte.records import replace
from kvmspte.sim import triggers
from kvmspte.sim.release import DEFAULT, Release, at
from kvmspte.sim.source import Source

NOT_REREAD = "not re-read at this release: the v6.9 protocol is modelled"
C419 = ("read in 0x88888888/Linux-4.19 commit 74e90c5be72298af806d019452335484d048929a "
        "(Makefile 4.19.0)")
C515 = ("read in yuqi-lee/fastswap-linux-5.15.16 commit e6cdae5a0808451f1763fb8c7e3c5d1d1e80bcc0 "
        "(Makefile 5.15.16)")
C61 = ("read in c1336658570/linux-6.1.20 commit fad5889c0b10f47566f112b3c48405ce49369f80 "
       "(Makefile 6.1.20)")
C66 = ("read in OpenNuvoton/MA35D1_linux-6.6.y commit a4595a4caf6f28051f111c6fa4d96499a9bb756f "
       "(Makefile 6.6.63, a vendor port)")
COPIES = ((Release(4, 19), "v4.19", C419), (Release(5, 15), "v5.15", C515), (Release(6, 1), "v6.1", C61),
          (Release(6, 6), "v6.6", C66))
V41 = ("2f38ab2c3c7f extracted the copy flow of do_wp_page into wp_page_copy (4.1 -mm series, "
       "stored ids 16138924930, 70239977841)")
V518 = ("mm/migrate_device.c split out of mm/migrate.c (stored ids 37836974480, 24564814087; "
        "v5.18 judged from the pull)")
V45 = ("eef1b3ba053a (v4.5, THP refcounting rework) replaced __split_huge_page_pmd by "
       "__split_huge_pmd")
KVM_HOOK = ("; the notifying clear also calls the .invalidate_range hook, which KVM registers "
            "at this release for x86's APIC-access page only (no verdict depends on it)")


def read(src: Source, notes: tuple, file: str = "") -> tuple:
    """(release, Source) rows for the long-term copies (4.19, 5.15, 6.1, 6.6): ``notes`` gives,
    per copy, what it showed (None: the function was not checked in that copy)."""
    return tuple((since, Source(file or src.file, src.function, tag, via=f"{copy}: {note}"))
                 for (since, tag, copy), note in zip(COPIES, notes) if note is not None)


def since(src: Source, first: Release, note: str, function: str = "", file: str = "") -> tuple:
    """One not re-read row from ``first`` on (the function named as in that era)."""
    return ((first, Source(file or src.file, function or src.function, str(first),
                           via=f"{note}; {NOT_REREAD}")),)


KSM = "present since KSM's merge in v2.6.32"
WP = ("one-page range; page_vma_mapped_walk (PTL); ptep_clear_flush; the old "
      "entry put back and the merge abandoned if mapcount + 1 + swapped != page_count; else "
      "set_pte_at_notify with the entry made clean and read-only; range end")
WP_SHARE = f"{WP}; also abandoned where an exclusive anon page cannot be made shared"
REPL = ("one-page range; PTL and pte_same against the write-protected entry; KSM page "
        "referenced, entry mk_pte(kpage, vm_page_prot); ptep_clear_flush; set_pte_at_notify; old "
        "page unmapped and put; PTL dropped; range end")
CMP = ("stable_tree_search / unstable_tree_search_insert lead to try_to_merge_with_ksm_page / "
       "try_to_merge_two_pages; try_to_merge_one_page write-protects, then replace_page only if "
       "pages_identical; ksm_do_scan drops the scan's page reference after it returns")
COW = ("the copy is made before the one-page range opens; under the PTL and pte_same: mk_pte of "
       "the new page, pte_sw_mkyoung, maybe_mkwrite(pte_mkdirty); clear, then set_pte_at_notify; "
       "PTL dropped, range closed, then the old page's references dropped")
COW_419 = f"{COW}; clear by ptep_clear_flush_notify, close by invalidate_range_only_end"
COW_OLD = f"{COW_419}{KVM_HOOK}"
SPLIT = ("a 2 MiB range around the PMD; __split_huge_pmd_locked under the PMD "
         "lock; range closed")
SPLIT_OLD = (f"THP's PMD split until {V45}; it goes through split_huge_page, whose 2 MiB range "
             f"brackets only the flush that marks the PMD splitting (pmdp_splitting_flush_notify "
             f"in a v2.6.38-v3.5 mmu_notifier.h, stored id 18637436; __split_huge_page_splitting "
             f"in stored id 18509024673; later callers open the range themselves, stored ids "
             f"17107328433, 15362948409): the 4 KiB table is installed after the range closes, "
             f"which leaves the same secondary state for the trigger that follows")
UPR = ("one-page range; page_vma_mapped_walk; new page referenced and added to the rmap; clear, "
       "then set_pte_at_notify with mk_pte(new_page, vm_page_prot); old page unmapped; range end")
INS = ("device-private destination entered as a device-private swap entry; under the PTL a "
       "present PTE must map the zero pfn and is cleared, then set_pte_at_notify; a none PTE "
       "gets a plain set_pte_at; anything else aborts")
PAGES = ("opens one range over the rest of the migration before the first "
         "migrate_vma_insert_page and closes it after the loop")
NOTIFY = "a macro: mmu_notifier_change_pte, then set_pte_at"


def _cow() -> tuple:
    return (*since(triggers.SRC_COW, Release(2, 6, 32), f"the copy is made in do_wp_page until "
                   f"{V41}", "do_wp_page"),
            *since(triggers.SRC_COW, Release(4, 1), V41),
            *read(triggers.SRC_COW, (f"{COW_419}; copy by cow_user_page",
                                     f"{COW_OLD}; copy by cow_user_page",
                                     f"{COW_OLD}; copy by __wp_page_copy_user",
                                     f"{COW}; folio based; clear by ptep_clear_flush")))


def _migrate(src: Source, first: Source, notes: tuple) -> tuple:
    old, new = "mm/migrate.c", "mm/migrate_device.c"
    rows = read(src, notes)
    return ((Release(4, 14), first), *((r, replace(era, file=old)) for r, era in rows[:2]),
            *since(src, Release(5, 18), V518, file=new), *rows[2:])


def table() -> dict:
    """v6.9 Source -> its (first release, Source) rows before v6.9."""
    t = triggers
    ins_old = f"{INS}; clear by ptep_clear_flush_notify{KVM_HOOK}"
    upr = f"{UPR}; clear by ptep_clear_flush_notify"
    return {
        t.SRC_KSM_WP: (*since(t.SRC_KSM_WP, Release(2, 6, 32), KSM),
                       *read(t.SRC_KSM_WP, (WP, WP, WP_SHARE,
                                            f"{WP_SHARE}; PTE read by ptep_get"))),
        t.SRC_KSM_REPLACE: (*since(t.SRC_KSM_REPLACE, Release(2, 6, 32), KSM),
                            *read(t.SRC_KSM_REPLACE, (REPL, REPL, f"{REPL}; a huge or absent PMD is "
                                                      f"refused first", f"{REPL}; a huge or "
                                                      f"absent PMD is refused first"))),
        t.SRC_KSM_COMPARE: (*since(t.SRC_KSM_COMPARE, Release(2, 6, 32), KSM),
                            *read(t.SRC_KSM_COMPARE, (None, CMP, CMP, CMP))),
        t.SRC_COW: _cow(),
        t.SRC_WP_PAGE: (*since(t.SRC_WP_PAGE, Release(2, 6, 32), "the write-protect fault"),
                        *read(t.SRC_WP_PAGE, ("ends in wp_page_copy where the page is not "
                                              "reused",) * 4)),
        t.SRC_NOTIFY: (*since(t.SRC_NOTIFY, Release(2, 6, 32), "added with .change_pte for "
                              "v2.6.32 (see kvm_mmu_notifier_change_pte @ v2.6.32)"),
                       (Release(3, 7), t.MM_SWITCHES.get("notify-first").source),
                       *read(t.SRC_NOTIFY, (NOTIFY,) * 4)),
        t.SRC_SPLIT_PMD: (*since(t.SRC_SPLIT_PMD, Release(2, 6, 38), SPLIT_OLD,
                                 "__split_huge_page_pmd"),
                          *since(t.SRC_SPLIT_PMD, Release(4, 5), V45),
                          *read(t.SRC_SPLIT_PMD, (f"{SPLIT} by invalidate_range_only_end",) * 3
                                + (f"{SPLIT} by invalidate_range_end",))),
        t.SRC_UPROBE: ((Release(3, 5), t.MM_SWITCHES.get("uprobes").source),
                       *since(t.SRC_UPROBE, Release(3, 7), "bracketed by 6bdb913f0a70"),
                       *read(t.SRC_UPROBE, (f"{upr}", f"{upr}{KVM_HOOK}", f"{upr}{KVM_HOOK}",
                                            f"{UPR}; clear by ptep_clear_flush"))),
        t.SRC_MIGRATE_INSERT: _migrate(t.SRC_MIGRATE_INSERT, t.MM_SWITCHES.get("migrate-vma")
                                       .source, (f"{INS}; clear by ptep_clear_flush_notify",
                                                 ins_old, ins_old,
                                                 f"{INS}; clear by ptep_clear_flush")),
        t.SRC_MIGRATE_PAGES: _migrate(
            t.SRC_MIGRATE_PAGES, Source("mm/migrate.c", "migrate_vma_pages", "v4.14", via=(
                f"opens the range around migrate_vma_insert_page, 8315ada7f095 (HMM v25, stored "
                f"id 11341008232); {NOT_REREAD}")),
            (f"{PAGES} (invalidate_range_only_end)", f"{PAGES} (invalidate_range_only_end)",
             f"{PAGES}, in __migrate_device_pages, "
             f"which migrate_vma_pages calls (invalidate_range_only_end)",
             f"{PAGES}, in __migrate_device_pages, which migrate_vma_pages calls")),
    }


ERAS = table()


def cite(src: Source | None, kernel: Release, eras: dict | None = None) -> Source | None:
    """``src`` (a v6.9 mm citation) as the code of ``kernel``: its era row, or itself from v6.9
    on and for a source with no rows.  A citation that only adds a caller's note to a keyed one
    (``via``) keeps that note before the era's own."""
    eras = ERAS if eras is None else eras
    if src is None or kernel >= DEFAULT:
        return src
    rows = eras.get(src)
    if rows is None and src.via and replace(src, via="") in eras:
        era = at(eras[replace(src, via="")], kernel)
        return replace(era, via=f"{src.via} (the v6.9 path); {era.via}")
    return at((*rows, (DEFAULT, src)), kernel) if rows else src
