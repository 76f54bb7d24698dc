"""MIPS KVM (VZ) GPA page tables (arch/mips/kvm/mmu.c) at v6.9.

Geometry: the GPA table reuses the host's 64-bit, 4 KiB-page layout with the
default 40-bit address space: three levels, pgd -> pmd -> pte.  The pgd is an
order-1 page of 1024 entries, pmd and pte tables hold 512 entries each; the
p4d and pud levels are folded into the pgd entry.  The shared Geometry states
the pgd's 10-bit index with ``root_bits``.

Entry format: MIPS does not build a KVM-specific entry.  The fault path builds
a Linux pte with ``pfn_pte`` and ``kvm_set_spte_gfn`` stores the host's own pte
into the GPA table.  A leaf is therefore kept as the set of MIPS pte bits it
holds, by their kernel names (``Leaf.native``), plus the pfn; the normalised
Leaf fields are read from those bits: read = present and readable, write =
the soft ``_PAGE_WRITE`` permission (``pte_write``), exec = no
``_PAGE_NO_EXEC``, dirty = ``_PAGE_MODIFIED`` (``pte_dirty``), young =
``_PAGE_ACCESSED`` (``pte_young``).  The hardware bits ``_PAGE_VALID`` (silent
read) and ``_PAGE_DIRTY`` (silent write) are listed too.  A pte value of 0 is
an absent entry.  A non-zero pte without ``_PAGE_PRESENT`` (what storing a
device-private swap entry leaves) is a leaf whose bits name the swap entry
type and lack ``_PAGE_PRESENT``; the snapshot marks every leaf with
``present`` so such an entry shows up, marked not present, in a diff.
Bit positions are not modelled, only meanings.

Freeing policy: a pte (pmd) table page is freed, and its parent entry cleared,
only when an unmap's flush covers every slot of that table
(kvm_mips_flush_gpa_pte/_pmd/_pud return "safe to remove"); the end of the
range is treated as inclusive.  Nothing else frees table pages.
"""

from __future__ import annotations

from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import GfnRange, Memslot
from kvmspte import faultretry
from kvmspte.model import ArchModel, FaultResult, RadixViews
from kvmspte.pagetable import (
    FREE_WHOLE_SPAN, PAGE_SHIFT, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.source import Source, kconfig_readonly_mem

MMU_C = "arch/mips/kvm/mmu.c"
PGTABLE_H = "arch/mips/include/asm/pgtable.h"
BITS_H = "arch/mips/include/asm/pgtable-bits.h"
PGTABLE64_H = "arch/mips/include/asm/pgtable-64.h"
LINUX_PGTABLE_H = "include/linux/pgtable.h"
KVM_MAIN = "virt/kvm/kvm_main.c"

VIA_MMU = ("content of blob 467ee6b95ae1 (the base of the v6.9-rc change_pte removal patch), "
           "read in a letter-obfuscated mirror; kvm_set_spte_gfn also as deleted by "
           "<20240405115815.3226315-2-pbonzini@redhat.com>")
VIA_PGTABLE = ("mainline side of a merge-conflict copy from the v6.6-v6.9 era "
               "(has pte_mkwrite_novma); same helpers in a v5.x copy")
VIA_BITS = "bit meanings and __READABLE/__WRITEABLE from an older copy; positions not modelled"
VIA_GEOM = "read at 05909cd9 (~v5.10-v5.18); 4K pages, 40-bit VA, 3 levels; unchanged layout"
VIA_PGD_INDEX = ("generic since Mike Rapoport's 'mm: consolidate pgd_index() and pgd_offset{_k}() "
                 "definitions' <20200512184422.12418-13-rppt@kernel.org> (2020), whose diff "
                 "deletes the MIPS copies from asm/pgtable-32.h and asm/pgtable-64.h; the "
                 "generic macro indexes by (address >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1)")
VIA_PROT = "as the MIPS research note describes its use by kvm_mips_map_page"


def _mmu(function: str) -> Source:
    return Source(MMU_C, function, via=VIA_MMU)


def _pgtable(function: str) -> Source:
    return Source(PGTABLE_H, function, via=VIA_PGTABLE)


SRC_ROOT_FAULT = _mmu("kvm_mips_handle_vz_root_tlb_fault")
SRC_MAP = _mmu("kvm_mips_map_page")
SRC_MAP_FAST = _mmu("_kvm_mips_map_page_fast")
SRC_WALK = _mmu("kvm_mips_walk_pgd")
SRC_PTE_FOR_GPA = _mmu("kvm_mips_pte_for_gpa")
SRC_UNMAP = _mmu("kvm_unmap_gfn_range")
SRC_FLUSH_PT = _mmu("kvm_mips_flush_gpa_pt")
SRC_FLUSH_PGD = _mmu("kvm_mips_flush_gpa_pgd")
SRC_FLUSH_PUD = _mmu("kvm_mips_flush_gpa_pud")
SRC_FLUSH_PMD = _mmu("kvm_mips_flush_gpa_pmd")
SRC_FLUSH_PTE = _mmu("kvm_mips_flush_gpa_pte")
SRC_SET_SPTE = _mmu("kvm_set_spte_gfn")
SRC_MKCLEAN = _pgtable("pte_mkclean")
SRC_WRPROTECT = _pgtable("pte_wrprotect")
SRC_MKYOUNG = _pgtable("pte_mkyoung")
SRC_MKDIRTY = _pgtable("pte_mkdirty")
SRC_SET_PTE = _pgtable("set_pte")
SRC_BITS = Source(BITS_H, "__READABLE/__WRITEABLE", via=VIA_BITS)
SRC_GEOM = Source(PGTABLE64_H, "PTRS_PER_PGD", via=VIA_GEOM)
SRC_PGD_INDEX = Source(LINUX_PGTABLE_H, "pgd_index", via=VIA_PGD_INDEX)
SRC_PFN_PROT = Source(KVM_MAIN, "gfn_to_pfn_prot", via=VIA_PROT)

# -- MIPS pte bits, by kernel name ---------------------------------------------------
PRESENT = "_PAGE_PRESENT"     # soft: valid for Linux (pte_present)
WRITE = "_PAGE_WRITE"         # soft: write permission (pte_write)
ACCESSED = "_PAGE_ACCESSED"   # soft: young (pte_young)
MODIFIED = "_PAGE_MODIFIED"   # soft: dirty (pte_dirty)
READ = "_PAGE_READ"           # readable
NO_EXEC = "_PAGE_NO_EXEC"     # RIXI: not executable
VALID = "_PAGE_VALID"         # hw: _PAGE_SILENT_READ, reads do not trap
HW_DIRTY = "_PAGE_DIRTY"      # hw: _PAGE_SILENT_WRITE, writes do not trap
SPECIAL = "_PAGE_SPECIAL"
CACHE = "_page_cachable_default"
READABLE = frozenset({VALID, READ, ACCESSED})        # __READABLE
WRITEABLE = frozenset({HW_DIRTY, WRITE, MODIFIED})   # __WRITEABLE

#: pud folded into the pgd entry on 3-level 4K (PTRS_PER_PUD == 1)
PTRS_PER_PUD = 1
PTRS_PER_PGD = 1024
ALL_ONES = (1 << 64) - 1    # ~0ul: "to the end of this table"
#: one page per allocatable level (pmd and pte; the pgd is never allocated here)
KVM_MMU_CACHE_MIN_PAGES = 2


#: pgd -> pmd -> pte; the pgd has PTRS_PER_PGD (1024) entries, the lower tables 512.
GEOMETRY = Geometry(levels=3, names=("pte", "pmd", "pgd"),
                    root_bits=PTRS_PER_PGD.bit_length() - 1)


def gpa_index(gpa: int, depth: int) -> int:
    """pte_index/pmd_index/pgd_index of a guest physical address."""
    return GEOMETRY.index(gpa >> PAGE_SHIFT, depth)


# -- entries -------------------------------------------------------------------------
def make_pte(pfn: int, bits) -> Leaf:
    """A MIPS pte (pfn plus bits) as a shared Leaf; the normalised fields read the bits."""
    bits = frozenset(bits)
    present = PRESENT in bits
    return Leaf(pfn=pfn, read=present and READ in bits, write=WRITE in bits,
                exec=present and NO_EXEC not in bits, dirty=MODIFIED in bits,
                young=ACCESSED in bits, native=tuple(sorted(bits)))


def bits_of(pte: Leaf | None) -> frozenset:
    return frozenset(pte.native) if pte is not None else frozenset()


def pte_present(pte: Leaf | None) -> bool:
    return PRESENT in bits_of(pte)


def pte_young(pte: Leaf | None) -> bool:
    return ACCESSED in bits_of(pte)


def pte_dirty(pte: Leaf | None) -> bool:
    return MODIFIED in bits_of(pte)


def pte_write(pte: Leaf | None) -> bool:
    return WRITE in bits_of(pte)


def pte_mkclean(pte: Leaf) -> Leaf:
    """Drop soft-dirty (MODIFIED) and the hardware write enable; WRITE stays."""
    return make_pte(pte.pfn, bits_of(pte) - {MODIFIED, HW_DIRTY})


def pte_wrprotect(pte: Leaf) -> Leaf:
    """Drop WRITE and the hardware write enable; MODIFIED stays."""
    return make_pte(pte.pfn, bits_of(pte) - {WRITE, HW_DIRTY})


def pte_mkyoung(pte: Leaf) -> Leaf:
    """Set ACCESSED and the hardware valid bit (no _PAGE_NO_READ is modelled)."""
    return make_pte(pte.pfn, bits_of(pte) | {ACCESSED, VALID})


def pte_mkdirty(pte: Leaf) -> Leaf:
    """Set MODIFIED; the hardware write enable only where WRITE is set."""
    extra = {MODIFIED, HW_DIRTY} if pte_write(pte) else {MODIFIED}
    return make_pte(pte.pfn, bits_of(pte) | extra)


def pte_from_host(host: HostPte) -> Leaf:
    """The host pte as MIPS encodes it, which is exactly what kvm_set_spte_gfn stores.

    Present: readable and cachable; young means ACCESSED and hw VALID; write is
    WRITE; dirty is MODIFIED; hw DIRTY only when both (pte_mkdirty/pte_mkwrite);
    not executable means _PAGE_NO_EXEC; the zero page is mapped special.
    Not present: a swap-format value with no pte bits; its pfn is what pte_pfn
    would read, and its bits name the swap entry type.
    """
    if not host.present:
        return make_pte(host.pfn, {_swap_type(host)})
    bits = {PRESENT, READ, CACHE}
    if host.young:
        bits |= {ACCESSED, VALID}
    if host.write:
        bits.add(WRITE)
    if host.dirty:
        bits.add(MODIFIED)
    if host.write and host.dirty:
        bits.add(HW_DIRTY)
    if not host.exec:
        bits.add(NO_EXEC)
    if host.special == "zero":
        bits.add(SPECIAL)
    return make_pte(host.pfn, bits)


def _swap_type(host: HostPte) -> str:
    if host.special == "device-private":
        return "swp:SWP_DEVICE_WRITE" if host.write else "swp:SWP_DEVICE_READ"
    return "swp:swap-entry"


def describe_pte(pte: Leaf | None) -> str:
    if pte is None:
        return "0"
    state = "present" if pte_present(pte) else "NOT present"
    return f"pfn {pte.pfn:#x} {state} [{' '.join(pte.native)}]"


class Model(RadixViews, ArchModel):
    id = "mips"
    fault_retry = faultretry.MIPS
    readonly_mem = kconfig_readonly_mem("mips")
    free_policy = FREE_WHOLE_SPAN
    family = "mips"
    title = "MIPS VZ GPA page tables (64-bit, 4 KiB pages, pgd -> pmd -> pte)"
    hooks = {
        "fault_in": (SRC_ROOT_FAULT, SRC_MAP, SRC_MAP_FAST, SRC_WALK, SRC_PFN_PROT, SRC_BITS,
                     SRC_MKYOUNG, SRC_MKDIRTY, SRC_GEOM, SRC_PGD_INDEX),
        "unmap_gfn_range": (SRC_UNMAP, SRC_FLUSH_PT, SRC_FLUSH_PGD, SRC_FLUSH_PUD,
                            SRC_FLUSH_PMD, SRC_FLUSH_PTE),
        "set_spte_gfn": (SRC_SET_SPTE, SRC_PTE_FOR_GPA, SRC_WALK, SRC_MKCLEAN, SRC_WRPROTECT,
                         SRC_SET_PTE),
    }
    chain = (SRC_SET_SPTE, SRC_PTE_FOR_GPA, SRC_WALK, SRC_SET_PTE)
    findings = (
        "After the one-page invalidate_range_start, kvm_unmap_gfn_range -> "
        "kvm_mips_flush_gpa_pt has zeroed the pte but frees a pte table only when the "
        "flushed span covers all 512 of its slots (arch/mips/kvm/mmu.c:"
        "kvm_mips_flush_gpa_pte/kvm_mips_flush_gpa_pmd @ v6.9), so the table survives, the "
        "cache-less kvm_mips_pte_for_gpa walk finds the slot, and kvm_set_spte_gfn "
        "(arch/mips/kvm/mmu.c:kvm_set_spte_gfn @ v6.9) set_pte()s the new host pte into the "
        "GPA table, mapping the gfn again without a guest fault, so .change_pte() is not a "
        "no-op on MIPS.",
        "kvm_set_spte_gfn writes the host pte whenever the walk finds a pte table, even into "
        "a slot the guest never faulted on and even when the host pte is not present (a "
        "device-private swap entry) (arch/mips/kvm/mmu.c:kvm_set_spte_gfn, "
        "kvm_mips_walk_pgd @ v6.9).",
    )

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(GEOMETRY, free_policy=self.free_policy)
        #: vcpu->arch.mmu_page_cache, kept across faults
        self.cache = MemoryCache(0)

    # -- kvm_mips_walk_pgd ----------------------------------------------------------
    def walk(self, gfn: int, cache: MemoryCache | None) -> tuple[TablePage, int] | None:
        """kvm_mips_walk_pgd: the pte slot for gfn, allocating missing pmd/pte tables from
        cache; with no cache, None where a table is missing (the slot need not be set)."""
        table = self.pt.root
        for depth in (2, 1):   # pud_none (-> invalid_pmd_table), then pmd_none
            idx = self.pt.g.index(gfn, depth)
            child = table.entries.get(idx)
            if child is None:
                if cache is None:
                    return None
                child = self._alloc(table, idx, cache)
            table = child
        return table, self.pt.g.index(gfn, 0)

    def _alloc(self, parent: TablePage, idx: int, cache: MemoryCache) -> TablePage:
        child = self.pt.alloc_child(parent, idx, cache)
        if child is None:
            raise RuntimeError("kvm_mmu_memory_cache_alloc on an empty cache")
        what = "pmd_init + pud_populate" if child.depth == 1 else "clear_page + pmd_populate_kernel"
        self.step(f"allocate a {self.pt.g.names[child.depth]} table for gfn "
                  f"{child.base_gfn:#x} from the memory cache ({what})", SRC_WALK)
        return child

    # -- fault ------------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvm_mips_handle_vz_root_tlb_fault: kvm_mips_map_page, then invalidate the
        root TLB entry for the address."""
        if not (self._map_page_fast(gfn, write) or self._map_page_slow(slot, gfn, host, write)):
            return FaultResult(0, "kvm_mips_map_page returned -EFAULT (handled as MMIO)",
                               SRC_MAP)
        self.flush(f"kvm_vz_host_tlb_inv for gpa {gfn << PAGE_SHIFT:#x}", SRC_ROOT_FAULT)
        if host.mapping_pages(slot.gfn_to_hva(gfn)) > 1:
            return FaultResult(1, "kvm_mips_map_page always writes a single PAGE_SIZE pte and "
                                  "kvm_mips_walk_pgd always descends to the pte level: the "
                                  "MIPS GPA table never maps 2 MiB, even over a THP", SRC_MAP)
        return FaultResult(1, "kvm_mips_map_page maps one 4 KiB pte", SRC_MAP)

    def _map_page_fast(self, gfn: int, write: bool) -> bool:
        """_kvm_mips_map_page_fast: only a present pte is handled (mkyoung, and mkdirty
        for a write to a writable clean pte); anything else goes to the slow path."""
        where = self.walk(gfn, None)
        pte = where[0].entries.get(where[1]) if where else None
        if not pte_present(pte):
            self.step("fast path: no present pte for the gpa: -EFAULT, take the slow path",
                      SRC_MAP_FAST)
            return False
        table, idx = where
        if not pte_young(pte):
            pte = pte_mkyoung(pte)
            self.pt.set_entry(table, idx, pte)
            self.step("fast path: pte was old: set_pte(pte_mkyoung)", SRC_MAP_FAST)
        if write and not pte_dirty(pte):
            if not pte_write(pte):
                self.step("fast path: write to a pte without _PAGE_WRITE: -EFAULT", SRC_MAP_FAST)
                return False
            self.pt.set_entry(table, idx, pte_mkdirty(pte))
            self.step("fast path: set_pte(pte_mkdirty) and mark_page_dirty", SRC_MAP_FAST)
        return True

    def _map_page_slow(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> bool:
        """kvm_mips_map_page slow path: top up the cache, look up the pfn, walk allocating
        tables, and write a fresh pfn_pte (present, readable, young; soft-writable when
        the host allows it; dirty and hardware-writable only on a write fault)."""
        if self.cache.pages < KVM_MMU_CACHE_MIN_PAGES:
            self.cache.pages = KVM_MMU_CACHE_MIN_PAGES
        hpte = host.pte(slot.gfn_to_hva(gfn))
        writeable = hpte.write and not slot.readonly
        if write and not writeable:
            self.step("gfn_to_pfn_prot: write to a non-writable mapping: error pfn, -EFAULT",
                      SRC_PFN_PROT)
            return False
        table, idx = self.walk(gfn, self.cache)
        bits = {PRESENT, CACHE} | READABLE
        if writeable:
            bits.add(WRITE)
            if write:
                bits |= WRITEABLE
        pte = make_pte(hpte.pfn, bits)
        self.pt.set_entry(table, idx, pte)
        self.step(f"set_pte(pfn_pte) for gfn {gfn:#x}: {describe_pte(pte)}"
                  f"{' and mark_page_dirty' if writeable and write else ''}", SRC_MAP)
        return True

    # -- unmap --------------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range: flush [start, end] (end passed as is, used inclusively)
        and always ask generic code for a TLB flush."""
        self.step(f"kvm_mips_flush_gpa_pt(start {rng.start:#x}, end {rng.end:#x}): the "
                  f"helpers treat end as the last page, so gfn {rng.end:#x} is flushed too",
                  SRC_FLUSH_PT)
        whole = self._flush_pgd(rng.start << PAGE_SHIFT, rng.end << PAGE_SHIFT)
        self.step(f"returns true whatever the flush found (safe_to_remove={whole} ignored)",
                  SRC_UNMAP)
        return True

    def _span(self, start_gpa: int, end_gpa: int, depth: int) -> tuple[int, int, bool]:
        """i_min, i_max, and whether [i_min, i_max] is the whole table at this level."""
        g = self.pt.g
        i_min, i_max = gpa_index(start_gpa, depth), gpa_index(end_gpa, depth)
        return i_min, i_max, i_min == 0 and i_max == g.ptrs(depth) - 1

    def _flush_pgd(self, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pgd: pgd_present is always true (folded); a fully flushed
        pud asks for pgd_clear and pud_free, which are no-ops when folded."""
        i_min, i_max, safe = self._span(start_gpa, end_gpa, 2)
        end = ALL_ONES
        for i in range(i_min, i_max + 1):
            if i == i_max:
                end = end_gpa
            if not self._flush_pud(i, start_gpa, end):
                safe = False
            start_gpa = 0
        return safe

    def _flush_pud(self, pgd_idx: int, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pud over the single folded pud (the pgd entry): skip it when
        it points at invalid_pmd_table; free the pmd table when fully flushed."""
        root = self.pt.root
        safe = PTRS_PER_PUD == 1     # pud_index is 0 for both ends
        pmd = root.entries.get(pgd_idx)
        if pmd is None:
            return safe
        if self.pt.may_free(pmd, self._flush_pmd(pmd, start_gpa, end_gpa)):
            self._free(root, pgd_idx, pmd, "pud_clear + pmd_free", SRC_FLUSH_PUD)
            return safe
        return False

    def _flush_pmd(self, pmd: TablePage, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pmd: flush each present pte table in [i_min, i_max]; free
        one (pmd_clear + pte_free_kernel) only when its whole span was flushed."""
        i_min, i_max, safe = self._span(start_gpa, end_gpa, 1)
        end = ALL_ONES
        for i in range(i_min, i_max + 1):
            pte_table = pmd.entries.get(i)
            if pte_table is not None:
                if i == i_max:
                    end = end_gpa
                covered = self._flush_pte(pte_table, start_gpa, end)
                if self.pt.may_free(pte_table, covered):
                    self._free(pmd, i, pte_table, "pmd_clear + pte_free_kernel", SRC_FLUSH_PMD)
                else:
                    safe = False
            start_gpa = 0
        return safe

    def _flush_pte(self, table: TablePage, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pte: zero every present pte in [i_min, i_max] inclusive;
        non-present values stay; "safe" only for the span 0..511."""
        i_min, i_max, safe = self._span(start_gpa, end_gpa, 0)
        for i in range(i_min, i_max + 1):
            if pte_present(table.entries.get(i)):
                self.pt.clear_entry(table, i)
                self.step(f"set_pte(0) at gfn {self.pt.child_gfn(table, i):#x}", SRC_FLUSH_PTE)
        if not safe:
            self.step(f"pte table @gfn {table.base_gfn:#x} kept: slots {i_min}..{i_max} are not "
                      f"the whole table", SRC_FLUSH_PTE)
        return safe

    def _free(self, parent: TablePage, idx: int, child: TablePage, how: str, src: Source) -> None:
        self.pt.clear_entry(parent, idx)
        self.pt.free_page(child)
        self.step(f"{how}: free the {self.pt.g.names[child.depth]} table @gfn "
                  f"{child.base_gfn:#x}", src)

    # -- change_pte ---------------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        """kvm_set_spte_gfn: find the slot with no cache, adjust the host pte for the
        memslot flags, store it, and report whether the old entry needs a flush."""
        where = self.walk(rng.start, None)
        if where is None:
            self.step("kvm_mips_pte_for_gpa(NULL cache): no pmd/pte table for the gfn, "
                      "returns NULL: return false", SRC_PTE_FOR_GPA)
            return False
        table, idx = where
        old = table.entries.get(idx)
        self.step(f"kvm_mips_pte_for_gpa(NULL cache) found the pte table; old pte = "
                  f"{describe_pte(old)}", SRC_PTE_FOR_GPA)
        new = self._adjust(rng.slot, old, pte_from_host(rng.pte))
        self.pt.set_entry(table, idx, new)
        self.step(f"set_pte: store the host pte in the GPA slot for gfn {rng.start:#x}: "
                  f"{describe_pte(new)}", SRC_SET_SPTE)
        return self._needs_flush(old, new)

    def _adjust(self, slot: Memslot, old: Leaf | None, new: Leaf) -> Leaf:
        """Dirty logging with a clean old pte -> mkclean; else a read-only slot ->
        wrprotect (else-if: never both)."""
        if slot.dirty_logging and not pte_dirty(old):
            self.step("dirty logging and the old pte is not dirty: pte_mkclean", SRC_MKCLEAN)
            return pte_mkclean(new)
        if slot.readonly:
            self.step("read-only memslot: pte_wrprotect", SRC_WRPROTECT)
            return pte_wrprotect(new)
        return new

    def _needs_flush(self, old: Leaf | None, new: Leaf) -> bool:
        """No flush when the old pte was absent or old; otherwise a flush when the new pte
        is not present, not young, another pfn, or it cleans a dirty old pte."""
        if not pte_present(old) or not pte_young(old):
            self.step("old pte not present or not young: no flush needed, return false",
                      SRC_SET_SPTE)
            return False
        why = [w for w, hit in (("new not present", not pte_present(new)),
                                ("new not young", not pte_young(new)),
                                ("pfn changed", old.pfn != new.pfn),
                                ("dirty old replaced by clean", pte_dirty(old) and
                                 not pte_dirty(new))) if hit]
        self.step(f"old pte present and young: return {bool(why)}"
                  f"{' (' + ', '.join(why) + ')' if why else ''}", SRC_SET_SPTE)
        return bool(why)

    # -- views --------------------------------------------------------------------------
    def leaf_present(self, leaf) -> bool:
        """A non-present host pte stored by kvm_set_spte_gfn is not a mapping."""
        return pte_present(leaf)
    def snapshot(self) -> dict[str, dict]:
        out = self.pt.snapshot()
        return {k: ({**v, "present": PRESENT in v.get("bits", ())} if k.startswith("leaf")
                    else v) for k, v in out.items()}

    def view(self, gfn: int) -> list[dict]:
        rows = self.pt.path_view(gfn)
        for row in rows:
            if "leaf" in row:
                row["leaf"]["present"] = PRESENT in row["leaf"].get("bits", ())
        return rows
