"""Primary-MM triggers: each expands into the event sequence its mm caller issues.

A trigger is the mm side of the story: which notifier calls happen, in what
order, around which host page-table changes, and with which new host PTE.
Each event carries the Source of the mm function that issues it.
"""

from __future__ import annotations

from kvmspte.records import record, replace
from collections.abc import Callable

from kvmspte.sim.host import PAGE_SIZE, PMD_SIZE, HostMM, HostPte
from kvmspte.sim.release import DEFAULT, Release, Switch, Switches
from kvmspte.sim.source import Source

START, CHANGE, END, MM = "invalidate_range_start", "change_pte", "invalidate_range_end", "mm"

SRC_NOTIFY = Source("include/linux/mmu_notifier.h", "set_pte_at_notify")
SRC_SPLIT_PMD = Source("mm/huge_memory.c", "__split_huge_pmd")
SRC_KSM_WP = Source("mm/ksm.c", "write_protect_page")
SRC_KSM_REPLACE = Source("mm/ksm.c", "replace_page")
SRC_COW = Source("mm/memory.c", "wp_page_copy")
#: where a write lookup from a secondary-MMU fault path breaks CoW (kvmspte.sim.engine)
SRC_WP_PAGE = Source("mm/memory.c", "do_wp_page",
                     via="a write GUP from a secondary-MMU fault path breaks CoW")
SRC_UPROBE = Source("kernel/events/uprobes.c", "__replace_page")
SRC_MIGRATE_INSERT = Source("mm/migrate_device.c", "migrate_vma_insert_page")
SRC_MIGRATE_PAGES = Source("mm/migrate_device.c", "migrate_vma_pages")
#: KSM reaches write_protect_page and replace_page only for a page its comparisons matched
SRC_KSM_COMPARE = Source(
    "mm/ksm.c", "cmp_and_merge_page",
    via="stable_tree_search and unstable_tree_search_insert walk their trees by memcmp_pages "
        "and hand a page to try_to_merge_with_ksm_page / try_to_merge_two_pages only on a 0 "
        "result; try_to_merge_one_page then write-protects before pages_identical and "
        "replace_page. The one path without a prior comparison, the ksm_use_zero_pages "
        "zero-page merge, is off by default and not modelled. Read in a v6.3-v6.6 full copy "
        "of mm/ksm.c; try_to_merge_one_page's v6.9 order as the base of the v6.10-cycle "
        "write_protect_page folio conversion diff")
SRC_WRAP = Source("mm/ksm.c", "write_protect_page", release="v3.6",
                  via="before 6bdb913f0a70 (v3.7) set_pte_at_notify had no surrounding "
                      "invalidate_range_start/end")

# -- the mm side across releases ------------------------------------------------------------
MM_SWITCHES = Switches([
    Switch("uprobes", Release(3, 5), "",
           "uprobes arrive: __replace_page installs the patched copy of a text page with "
           "ptep_clear_flush then set_pte_at_notify",
           Source("kernel/events/uprobes.c", "__replace_page", "v3.5",
                  via="a stored copy judged v3.5-v3.6 (id 4709739392: three-argument "
                      "__replace_page, no range bracket)")),
    Switch("bracketed", Release(3, 7), "6bdb913f0a70",
           "every set_pte_at_notify caller is bracketed by invalidate_range_start/end over "
           "its one page (KSM twice, the CoW fault, uprobes)",
           Source("mm/ksm.c", "write_protect_page", "v3.7",
                  via="'mm: Wrap calls to set_pte_at_notify with invalidate_range_start and "
                      "invalidate_range_end', patch V2 2/2 (stored id 17065041561)")),
    Switch("notify-first", Release(3, 7), "",
           "set_pte_at_notify calls change_pte before writing the host PTE (before, it wrote "
           "the PTE first); queued in -mm for the 3.7 merge window",
           Source("include/linux/mmu_notifier.h", "set_pte_at_notify", "v3.7",
                  via="Xiao Guangrong, 'mm: mmu_notifier: fix inconsistent memory between "
                      "secondary MMU and host' <503358FF.3030009@linux.vnet.ibm.com> (stored id "
                      "17757219759); mmotm 2012-09-27 (id 17017735867); mainline id not found")),
    Switch("migrate-vma", Release(4, 14), "8315ada7f095",
           "device migration: migrate_vma_insert_page replaces a zero-page PTE with "
           "set_pte_at_notify, under one range opened by migrate_vma_pages",
           Source("mm/migrate.c", "migrate_vma_insert_page", "v4.14",
                  via="'mm/migrate: allow migrate_vma() to alloc new page on empty entry' "
                      "(HMM v25, stored id 11341008232); release judged from its date")),
    Switch("thp", Release(2, 6, 38), "71e3aac0724f",
           "transparent huge pages: anonymous memory can be mapped by a huge PMD",
           Source("mm/huge_memory.c", "do_huge_pmd_anonymous_page", "v2.6.38",
                  via="'thp: transparent hugepage core'; release from the THP merge")),
])
#: which switch point a trigger needs before it exists (None: since 2.6.32)
NEEDS = {"uprobe": "uprobes", "migrate-device-zero": "migrate-vma"}


def exists_at(name: str, kernel: Release) -> Switch | None:
    """None where trigger ``name``'s mm caller exists at ``kernel``, else the switch that
    brings it later."""
    need = NEEDS.get(name)
    if need is None or MM_SWITCHES.active(need, kernel):
        return None
    return MM_SWITCHES.get(need)


# Deterministic pfns for the pages the triggers bring in.
KSM_PFN = 0xC0000
COW_PFN = 0xD0000
UPROBE_PFN = 0xE0000
DEVICE_PFN = 0xF0000
ZERO_PFN = 0x1000


@record(frozen=True, slots=True)
class Event:
    kind: str                 # START, CHANGE, END, or MM (a primary page-table change)
    text: str
    source: Source
    start: int = 0            # hva range for START/END; hva for CHANGE/MM
    end: int = 0
    pte: HostPte | None = None
    action: str = ""          # MM: "clear", "set", "split-pmd"


@record(frozen=True, slots=True)
class Trigger:
    name: str
    summary: str
    source: Source
    #: the host PTE the page has before the trigger runs (pfn filled in by HostMM)
    initial: HostPte
    expand: Callable[[HostMM, int], list[Event]]
    #: how this caller reaches __split_huge_pmd when a THP PMD maps the page
    split_via: str = ""
    #: the caller runs only for a page the mm first found identical to another one (KSM's
    #: comparisons); None for callers that compare nothing
    after_compare: Source | None = None


def _one_page(hva: int) -> tuple[int, int]:
    start = hva & ~(PAGE_SIZE - 1)
    return start, start + PAGE_SIZE


def _wrap(src: Source, hva: int, body: list[Event]) -> list[Event]:
    start, end = _one_page(hva)
    return [Event(START, f"mmu_notifier_invalidate_range_start [{start:#x}, {end:#x})", src,
                  start, end),
            *body,
            Event(END, f"mmu_notifier_invalidate_range_end [{start:#x}, {end:#x})", src,
                  start, end)]


def _replace(src: Source, hva: int, new: HostPte, what: str) -> list[Event]:
    """ptep_clear_flush of the old PTE, then set_pte_at_notify of the new one."""
    return [Event(MM, "ptep_clear_flush: clear the host PTE and flush the host TLB", src,
                  hva, action="clear"),
            Event(CHANGE, f"set_pte_at_notify: change_pte with {what}", SRC_NOTIFY, hva, pte=new),
            Event(MM, "set_pte_at: write the new host PTE", SRC_NOTIFY, hva, pte=new,
                  action="set")]


SRC_NOTIFY_OLD = Source("include/linux/mmu_notifier.h", "set_pte_at_notify", "v3.6",
                        via="a stored copy judged v2.6.38-v3.6 (id 18637436): the PTE is "
                            "written first, then change_pte is called")


def _write_first(body: list[Event]) -> list[Event]:
    """Before 3.7 set_pte_at_notify wrote the host PTE, then called change_pte."""
    out = list(body)
    for i in range(len(out) - 1):
        if out[i].kind == CHANGE and out[i + 1].action == "set":
            change, write = out[i], out[i + 1]
            out[i] = replace(write, source=SRC_NOTIFY_OLD)
            out[i + 1] = replace(change, source=SRC_NOTIFY_OLD)
    return out


def ksm_write_protect(host: HostMM, hva: int) -> list[Event]:
    old = host.pte(hva)
    # the same page, so the same tag state
    new = replace(old.wrprotect().mkclean(), tagged=host.is_tagged(old.pfn))
    return _wrap(SRC_KSM_WP, hva,
                 _replace(SRC_KSM_WP, hva, new, "the same page, write-protected and clean"))


def ksm_replace_page(host: HostMM, hva: int) -> list[Event]:
    # mk_pte(kpage, vma->vm_page_prot): a private mapping's vm_page_prot has no write
    # permission, and nothing here marks the entry young or dirty.  The KSM page is not
    # tagged: a merge happens only where the comparison accepted both pages.
    new = HostPte(pfn=KSM_PFN, write=False, dirty=False, young=False, special="ksm")
    return _wrap(SRC_KSM_REPLACE, hva,
                 _replace(SRC_KSM_REPLACE, hva, new, "the KSM page, read-only"))


def cow(host: HostMM, hva: int) -> list[Event]:
    # mk_pte of the new page, made young (pte_sw_mkyoung) and dirty, and writable
    # because the VMA is (maybe_mkwrite).  The copy is made before the invalidation
    # (__wp_page_copy_user); it is tagged where the architecture copies tags.
    old = host.pte(hva)
    tagged = host.copy_page(old.pfn, COW_PFN)
    new = HostPte(pfn=COW_PFN, write=True, dirty=True, young=True, tagged=tagged)
    copy = [Event(MM, f"__wp_page_copy_user -> copy_user_highpage: pfn {old.pfn:#x} is "
                      f"tagged, so the copy {COW_PFN:#x} gets its tags and is marked tagged",
                  host.arch.copy_keeps_tags, hva)] if tagged else []
    return copy + _wrap(SRC_COW, hva,
                        _replace(SRC_COW, hva, new, "a new page, writable and dirty"))


def uprobe(host: HostMM, hva: int) -> list[Event]:
    # mk_pte(new_page, vma->vm_page_prot) of a text VMA: readable and executable.
    new = HostPte(pfn=UPROBE_PFN, write=False, dirty=False, young=False, exec=True)
    return _wrap(SRC_UPROBE, hva,
                 _replace(SRC_UPROBE, hva, new, "a new anonymous copy of the text page"))


def migrate_device_zero(host: HostMM, hva: int) -> list[Event]:
    # A device-private destination page is entered as a swap entry, not a present PTE.
    new = HostPte(pfn=DEVICE_PFN, present=False, write=True, dirty=False, young=False,
                  special="device-private")
    return _wrap(SRC_MIGRATE_PAGES, hva,
                 _replace(SRC_MIGRATE_INSERT, hva, new,
                          "a device-private swap entry replacing the zero page"))


_KSM_SPLIT = ("try_to_merge_one_page -> split_huge_page -> unmap_folio -> try_to_migrate_one "
              "-> split_huge_pmd_address; remap_page restores 4 KiB PTEs")


def _anon(write: bool = True) -> HostPte:
    return HostPte(pfn=0, write=write, dirty=write, young=True)


TRIGGERS: dict[str, Trigger] = {t.name: t for t in (
    Trigger("ksm-write-protect", "KSM write-protects a page before merging it", SRC_KSM_WP,
            _anon(), ksm_write_protect, _KSM_SPLIT, SRC_KSM_COMPARE),
    Trigger("ksm-replace-page", "KSM replaces a page by the shared KSM page", SRC_KSM_REPLACE,
            _anon(), ksm_replace_page, _KSM_SPLIT, SRC_KSM_COMPARE),
    Trigger("cow", "a write fault copies a shared page (wp_page_copy)", SRC_COW,
            HostPte(pfn=0, write=False, dirty=False, young=True), cow,
            "do_huge_pmd_wp_page splits the shared PMD and falls back to the PTE fault"),
    Trigger("uprobe", "a uprobe replaces a text page by a patched copy (guest RAM must be a "
            "private executable file mapping)", SRC_UPROBE,
            HostPte(pfn=0, write=False, dirty=False, young=True, exec=True, vma_write=False),
            uprobe,
            "uprobe_write_opcode asks GUP for FOLL_SPLIT_PMD (follow_pmd_mask splits)"),
    Trigger("migrate-device-zero", "device migration replaces the zero page", SRC_MIGRATE_INSERT,
            HostPte(pfn=ZERO_PFN, write=False, dirty=False, young=True, special="zero"),
            migrate_device_zero, "migrate_vma_collect_pmd splits a huge PMD before collecting"),
)}


def split_prelude(name: str, host: HostMM, hva: int) -> list[Event]:
    """Where a huge PMD maps hva, the mm splits it first, under its own 2 MiB
    MMU_NOTIFY_CLEAR invalidation (each caller reaches __split_huge_pmd its own way)."""
    if host.mapping_pages(hva) == 1:
        return []
    start = hva & ~(PMD_SIZE - 1)
    end = start + PMD_SIZE
    src = replace(SRC_SPLIT_PMD, via=TRIGGERS[name].split_via)
    return [Event(START, f"split the huge PMD: invalidate_range_start [{start:#x}, {end:#x})",
                  src, start, end),
            Event(MM, "replace the huge PMD by a table of 4 KiB PTEs", src, hva,
                  action="split-pmd"),
            Event(END, f"split the huge PMD: invalidate_range_end [{start:#x}, {end:#x})",
                  src, start, end)]


def expand(name: str, host: HostMM, hva: int, *, wrapped: bool = True,
           kernel: Release = DEFAULT) -> list[Event]:
    """The full event list for a trigger at ``kernel``; ``wrapped=False`` drops the
    invalidate_range_start/end bracket (the pre-3.7 callers, or a what-if after 3.7)."""
    prelude = split_prelude(name, host, hva)
    body = TRIGGERS[name].expand(host, hva)
    if not MM_SWITCHES.active("notify-first", kernel):
        body = _write_first(body)
    if not wrapped:
        src = SRC_WRAP if not MM_SWITCHES.active("bracketed", kernel) else replace(
            SRC_WRAP, release=str(kernel), via="what-if: the scenario drops the bracket that "
            "6bdb913f0a70 (v3.7) put around every set_pte_at_notify")
        note = Event(MM, "no invalidate_range_start/end around set_pte_at_notify", src, hva)
        body = [note] + [e for e in body if e.kind not in (START, END)]
    return prelude + body


def initial_pte(name: str, pfn: int) -> HostPte:
    return replace(TRIGGERS[name].initial, pfn=TRIGGERS[name].initial.pfn or pfn)
