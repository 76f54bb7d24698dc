"""The primary MMU: host page-table entries at host virtual addresses."""

from __future__ import annotations

from kvmspte.records import record, replace

from kvmspte.sim.pagetable import PAGE_SHIFT
from kvmspte.sim.source import Source

PAGE_SIZE = 1 << PAGE_SHIFT
PMD_PAGES = 512
PMD_SIZE = PAGE_SIZE * PMD_PAGES
#: first pfn of the private copies a write GUP makes when it breaks CoW
COW_BREAK_PFN = 0xA0000


@record(frozen=True, slots=True)
class HostPte:
    """A host PTE as KVM's hooks see it (``range->arg.pte``): pfn and the bits models read."""

    pfn: int
    present: bool = True
    write: bool = False
    dirty: bool = False
    young: bool = True
    exec: bool = False
    #: "" for an ordinary page, "zero" for the shared zero page, "ksm" for a KSM page,
    #: "device-private" for a device-private swap entry.
    special: str = ""
    #: VM_WRITE of the VMA that maps it (a read-only PTE in a writable VMA is CoW)
    vma_write: bool = True
    #: the mapped page's memory-tag flag (arm64 PG_mte_tagged) when the PTE is handed on,
    #: e.g. as range->arg.pte; only architectures with tagged memory ever set it
    tagged: bool = False

    def to_dict(self) -> dict:
        out = {"pfn": hex(self.pfn), "present": self.present, "write": self.write,
               "dirty": self.dirty, "young": self.young, "exec": self.exec}
        if self.special:
            out["special"] = self.special
        if self.tagged:
            out["tagged"] = True
        return out

    def wrprotect(self) -> "HostPte":
        return replace(self, write=False)

    def mkclean(self) -> "HostPte":
        return replace(self, dirty=False)


@record(frozen=True, slots=True)
class HostArch:
    """What an architecture's primary-MM code does with per-page memory tags, for the
    generic host model and the triggers to consult (each property is the Source it was
    read from, or None where the architecture does nothing of the kind)."""

    #: the page comparison KSM uses (memcmp_pages) reports two pages as different whenever
    #: either is tagged, so KSM never finds a tagged page identical to another
    compare_refuses_tagged: Source | None = None
    #: copying a page for a CoW fault (copy_user_highpage) copies a tagged page's tags
    #: and marks the copy tagged
    copy_keeps_tags: Source | None = None


class HostMM:
    """hva -> host PTE for a guest-RAM mapping, 4 KiB or PMD-mapped (THP), plus the
    per-page tag flag of the pages (pfns) the host holds."""

    def __init__(self, base_hva: int, npages: int, base_pfn: int, *, thp: bool,
                 pte: HostPte | None = None, arch: HostArch | None = None) -> None:
        self.arch = arch or HostArch()
        #: pfns whose page carries the architecture's tag flag (arm64: PG_mte_tagged)
        self.tagged: set[int] = set()
        self.base_hva = base_hva
        self.npages = npages
        self.base_pfn = base_pfn
        self.template = pte or HostPte(pfn=0, write=True, dirty=True, young=True)
        self.ptes: dict[int, HostPte] = {}
        #: host pages replaced by a secondary-MMU fault path: (hva, old, new, why)
        self.replaced: list[tuple[int, HostPte, HostPte, str]] = []
        #: 2 MiB-aligned hvas still mapped by a huge PMD.
        self.pmd_mapped: set[int] = set()
        if thp:
            self.pmd_mapped = {base_hva + i * PAGE_SIZE for i in range(0, npages, PMD_PAGES)}

    def _default(self, hva: int) -> HostPte:
        page = (hva - self.base_hva) >> PAGE_SHIFT
        pte = replace(self.template, pfn=self.template.pfn or self.base_pfn + page)
        self.ptes[hva] = pte
        return pte

    def pte(self, hva: int) -> HostPte:
        hva &= ~(PAGE_SIZE - 1)
        pte = self.ptes.get(hva)
        return pte if pte is not None else self._default(hva)

    def mapping_pages(self, hva: int) -> int:
        """Host mapping size in pages: 512 where a huge PMD maps hva, else 1."""
        return PMD_PAGES if (hva & ~(PMD_SIZE - 1)) in self.pmd_mapped else 1

    def set_pte(self, hva: int, pte: HostPte) -> None:
        self.ptes[hva & ~(PAGE_SIZE - 1)] = pte

    def break_cow(self, hva: int, why: str) -> HostPte:
        """A write GUP on a CoW or zero-page PTE in a writable VMA: the mm's write fault
        (do_wp_page -> wp_page_copy) gives the hva a private, writable, dirty copy."""
        old = self.pte(hva)
        page = (hva - self.base_hva) >> PAGE_SHIFT
        new = HostPte(pfn=COW_BREAK_PFN + page, write=True, dirty=True, young=True,
                      exec=old.exec)
        self.set_pte(hva, new)
        self.replaced.append((hva, old, new, why))
        return new

    def tag(self, pfn: int, pages: int = 1) -> None:
        """Mark pages tagged (their tags initialised), as an arch fault path does."""
        self.tagged.update(range(pfn, pfn + pages))

    def is_tagged(self, pfn: int) -> bool:
        return pfn in self.tagged

    def copy_page(self, src: int, dst: int) -> bool:
        """Copy page src into the fresh page dst for a CoW fault; the copy is tagged when
        the architecture copies tags and src is tagged.  Returns whether dst is tagged."""
        if self.arch.copy_keeps_tags is not None and self.is_tagged(src):
            self.tag(dst)
        return self.is_tagged(dst)

    def compare_refuses(self, pfn: int) -> Source | None:
        """Where the architecture's page comparison refuses this page (it is tagged and
        the comparison reports tagged pages as different), the Source saying so."""
        if self.is_tagged(pfn):
            return self.arch.compare_refuses_tagged
        return None

    def split_pmd(self, hva: int) -> None:
        self.pmd_mapped.discard(hva & ~(PMD_SIZE - 1))
