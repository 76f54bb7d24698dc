"""LoongArch KVM GPA page table (arch/loongarch/kvm/mmu.c) at v6.9, 4 KiB-page layout.

Page size: LoongArch's default layout is 16 KiB pages with three levels (Kconfig
"Page Table Layout", default 16KB_3LEVEL), where a PMD-level huge entry spans 32 MiB.
The engine counts 4 KiB gfns and 2 MiB huge mappings, so this model takes the
4KB_3LEVEL layout, which the KVM code handles unchanged: ``kvm_arch_init_vm`` derives
every shift from PAGE_SHIFT (pte_shifts[i] = PAGE_SHIFT + i*(PAGE_SHIFT-3)), tables
have PTRS_PER_PTE = 512 entries and a level-1 huge entry maps 2 MiB.  Levels are named
after the kernel's ctx->level: "PTE (level 0)", "PMD (level 1)", "PGD (level 2)".

Entry format: the v6.9 ``kvm_mmu.h`` (``kvm_pte_write`` tests _PAGE_WRITE, dirty is
_PAGE_DIRTY only), not the later header that tests _PAGE_MODIFIED / __WRITEABLE.  A
leaf is ``pfn << PFN_PTE_SHIFT | flags`` and is stored as a ``Leaf``: ``read`` and
``exec`` stand for _PAGE_PRESENT (KVM never sets NO_READ/NO_EXEC), ``write`` for the
software _PAGE_WRITE, ``dirty`` for _PAGE_DIRTY (the hardware write enable) and
``young`` for _PAGE_VALID (= _PAGE_ACCESSED); _PAGE_HUGE, _CACHE_CC and
_PAGE_MODIFIED are listed by name.  ``to_value``/``to_leaf`` convert exactly, so the
bitwise rules of the kernel run on real values.

Empty entries: an empty level-0 slot is 0; an empty directory slot holds the address
of that level's invalid table (``invalid_ptes``).  Both are an absent entry here.  A
plain 0 written into a directory slot (only ``kvm_set_spte_gfn`` on a huge entry can
do that) is not the invalid value, so it is kept as a visible all-clear leaf.

Freeing policy: table pages are freed only by walks carrying _KVM_FLUSH_PGTABLE
(``kvm_flush_range``, used when a memslot or the VM goes away).
``kvm_unmap_gfn_range`` walks with flag 0, so it never unlinks or frees a table; it
resets a huge entry whole, however little of it the range covers.
"""

from __future__ import annotations

from kvmspte.records import replace

from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, FaultResult, RadixViews
from kvmspte.sim.pagetable import (
    FREE_NEVER, PAGE_SHIFT, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.sim.release import Release, Switch, Switches
from kvmspte.sim.source import Source, kconfig_readonly_mem

MMU_C = "arch/loongarch/kvm/mmu.c"
MMU_H = "arch/loongarch/include/asm/kvm_mmu.h"
VIA_C = ("copy matched to blob 98883aa23ab8 = v6.9-rc mmu.c (a556cff35740) minus "
         "kvm_set_spte_gfn")
VIA_DELETED = ("hunk deleted from blob a556cff35740 (v6.9-rc mmu.c) by "
               "<20240405115815.3226315-2-pbonzini@redhat.com>")
VIA_H = ("the copy with kvm_pte_write on _PAGE_WRITE and dirty on _PAGE_DIRTY (base of the "
         "June 2024 patches, 099bafc6f797); not the newer default copy")
VIA_VM = "early vm.c; these lines are unchanged through 2024"
VIA_BITS = "a newer copy; the bit values used have not changed since LoongArch was merged"
VIA_KCONFIG = "'Page Table Layout' choice as merged; 4KB_3LEVEL selects 4 KiB pages, 3 levels"

SRC_SET_SPTE_GFN = Source(MMU_C, "kvm_set_spte_gfn", via=VIA_DELETED)
SRC_POPULATE = Source(MMU_C, "kvm_populate_gpa", via=VIA_C)
SRC_UNMAP = Source(MMU_C, "kvm_unmap_gfn_range", via=VIA_C)
SRC_PTW_TOP = Source(MMU_C, "kvm_ptw_top", via=VIA_C)
SRC_PTW_DIR = Source(MMU_C, "kvm_ptw_dir", via=VIA_C)
SRC_PTW_LEAF = Source(MMU_C, "kvm_ptw_leaf", via=VIA_C)
SRC_FLUSH_PTE = Source(MMU_C, "kvm_flush_pte", via=VIA_C)
SRC_HANDLE_FAULT = Source(MMU_C, "kvm_handle_mm_fault", via=VIA_C)
SRC_MAP_PAGE = Source(MMU_C, "kvm_map_page", via=VIA_C)
SRC_MAP_FAST = Source(MMU_C, "kvm_map_page_fast", via=VIA_C)
SRC_SUPPORTS_HUGE = Source(MMU_C, "fault_supports_huge_mapping", via=VIA_C)
SRC_HOST_LEVEL = Source(MMU_C, "host_pfn_mapping_level", via=VIA_C)
SRC_SPLIT = Source(MMU_C, "kvm_split_huge", via=VIA_C)
SRC_PREPARE = Source(MMU_C, "kvm_arch_prepare_memory_region", via=VIA_C)
SRC_PRESENT = Source(MMU_H, "kvm_pte_present", via=VIA_H)
SRC_INIT_VM = Source("arch/loongarch/kvm/vm.c", "kvm_arch_init_vm", via=VIA_VM)
SRC_BITS = Source("arch/loongarch/include/asm/pgtable-bits.h", "_PAGE_* bit values",
                  via=VIA_BITS)
SRC_LAYOUT = Source("arch/loongarch/Kconfig", "4KB_3LEVEL", via=VIA_KCONFIG)

# -- older releases -------------------------------------------------------------------
VIA_67 = ("not read at v6.7: the v6.9-rc text (" + VIA_C + ") less the hunks of 7ab6fb505b2a, the "
          "only mmu.c commit of the 6.8 LoongArch KVM pull "
          "<20231223120642.1067728-1-chenhuacai@loongson.cn> (stored id 37792540329); the 6.9 "
          "pull <20240307144930.3919566-1-chenhuacai@loongson.cn> (stored id 20983237577) "
          "touches no mmu.c [inferred]")
VIA_67_HUGE = ("the '-' side (v6.7 text) of 7ab6fb505b2a as posted, 'LoongArch: KVM: Optimization "
               "for memslot hugepage checking' <20231127014410.4122997-1-maobibo@loongson.cn> "
               "(stored id 1600288028)")
SRC_SUPPORTS_HUGE_67 = Source(MMU_C, "fault_supports_huge_mapping", "v6.7", VIA_67_HUGE)

ARRIVED = Switch(
    "arrived", Release(6, 7), "752e2cd7b4fb",
    "'LoongArch: KVM: Implement kvm mmu operations' (Tianrui Zhao's series, v6.7): LoongArch "
    "KVM with kvm_set_spte_gfn; its 6.7 body is inferred equal to the v6.9-rc text, since no "
    "later commit before the removal touches it",
    Source(MMU_C, "kvm_set_spte_gfn", "v6.7", VIA_67))

SWITCHES = Switches([
    Switch("hugepage-flags", Release(6, 8), "7ab6fb505b2a",
           "kvm_arch_prepare_memory_region records KVM_MEM_HUGEPAGE_CAPABLE/INCAPABLE for the "
           "slot and fault_supports_huge_mapping reads them; in 6.7 it checked the slot's "
           "alignment (gpa vs hva within a PMD) and that the hva's whole PMD lies in the slot at "
           "every fault. Same answer for every slot and hva; only the fault path's code and "
           "citations change. kvm_set_spte_gfn and unmap are untouched",
           Source(MMU_C, "fault_supports_huge_mapping", "v6.8", VIA_C)),
])


def cite(src: Source, kernel: Release) -> Source:
    """The Source of the code a v6.9 citation stands for at ``kernel``: in 6.7, the 6.7
    fault_supports_huge_mapping as read, everything else inferred from the v6.9 text."""
    if kernel >= SWITCHES.get("hugepage-flags").since or src.release != "v6.9":
        return src
    if src == SRC_SUPPORTS_HUGE:
        return SRC_SUPPORTS_HUGE_67
    return Source(src.file, src.function, "v6.7", VIA_67 if src.file == MMU_C else
                  src.via + "; read in a later copy, assumed the same at v6.7 [unverified]")


# pgtable-bits.h
_PAGE_VALID = 1 << 0          # also _PAGE_ACCESSED: "young" is hardware-valid
_PAGE_DIRTY = 1 << 1          # hardware write enable
_CACHE_SHIFT = 4
_CACHE_MASK = 3 << _CACHE_SHIFT
_CACHE_SUC, _CACHE_CC, _CACHE_WUC = 0 << 4, 1 << 4, 2 << 4
_PAGE_HUGE = 1 << 6
_PAGE_PRESENT = 1 << 7
_PAGE_WRITE = 1 << 8
_PAGE_MODIFIED = 1 << 9
# __READABLE and __WRITEABLE (renamed: a leading "__" would be mangled inside the class)
READABLE = _PAGE_VALID
WRITEABLE = _PAGE_DIRTY | _PAGE_WRITE
PFN_PTE_SHIFT = PAGE_SHIFT    # PAGE_SHIFT - 12 + _PFN_SHIFT(12): 12 with 4 KiB pages
NAMED = ((_PAGE_HUGE, "_PAGE_HUGE"), (_PAGE_PRESENT, "_PAGE_PRESENT"),
         (_PAGE_MODIFIED, "_PAGE_MODIFIED"))
CACHE_NAMES = {_CACHE_CC: "_CACHE_CC", _CACHE_WUC: "_CACHE_WUC"}   # SUC is the 0 value
NAME_BITS = {name: bit for bit, name in NAMED} | {n: v for v, n in CACHE_NAMES.items()}


def to_leaf(value: int) -> Leaf:
    """A raw entry value as a Leaf (see the module docstring for the field mapping)."""
    present = bool(value & _PAGE_PRESENT)
    names = [name for bit, name in NAMED if value & bit]
    if value & _CACHE_MASK in CACHE_NAMES:
        names.append(CACHE_NAMES[value & _CACHE_MASK])
    return Leaf(pfn=value >> PFN_PTE_SHIFT, read=present, write=bool(value & _PAGE_WRITE),
                exec=present, dirty=bool(value & _PAGE_DIRTY), young=bool(value & _PAGE_VALID),
                native=tuple(sorted(names)))


def to_value(leaf: Leaf) -> int:
    """The raw entry value a Leaf stands for (the inverse of to_leaf)."""
    value = leaf.pfn << PFN_PTE_SHIFT
    value |= _PAGE_WRITE if leaf.write else 0
    value |= _PAGE_DIRTY if leaf.dirty else 0
    value |= _PAGE_VALID if leaf.young else 0
    for name in leaf.native:
        value |= NAME_BITS[name]
    return value


def host_pte_value(pte: HostPte) -> int:
    """The flag bits of the host PTE that kvm_set_spte_gfn reads with pte_val().

    A present user PTE of ordinary memory is cacheable (_CACHE_CC); _PAGE_WRITE
    follows pte_write; _PAGE_DIRTY is set on a writable dirty PTE.  A non-present
    (swap/device-private) entry is given no flag bits.  Assumption: the host
    pgtable.h encoding is not in the research note; it matters only on the install
    branch, which no run reaches after invalidate_range_start's unmap.
    """
    value = pte.pfn << PFN_PTE_SHIFT
    if pte.present:
        value |= _PAGE_PRESENT | _CACHE_CC
        value |= _PAGE_WRITE if pte.write else 0
        value |= _PAGE_DIRTY if pte.write and pte.dirty else 0
        value |= _PAGE_VALID if pte.young else 0
    return value


def bit_names(value: int) -> str:
    """Readable flags of a raw value, for trace text."""
    names = [n for b, n in ((_PAGE_PRESENT, "PRESENT"), (_PAGE_VALID, "VALID"),
                            (_PAGE_WRITE, "WRITE"), (_PAGE_DIRTY, "DIRTY"),
                            (_PAGE_HUGE, "HUGE")) if value & b]
    if value & _CACHE_MASK == _CACHE_CC:
        names.append("CACHE_CC")
    return "|".join(names) or "0"


def level_names(levels: int) -> tuple[str, ...]:
    kinds = {0: "PTE", 1: "PMD", levels - 1: "PGD"}
    if levels == 4:
        kinds[2] = "PUD"
    return tuple(f"{kinds[i]} (level {i})" for i in range(levels))


class Model(RadixViews, ArchModel):
    id = "loongarch"
    fault_retry = faultretry.LOONGARCH
    readonly_mem = kconfig_readonly_mem("loongarch")
    free_policy = FREE_NEVER
    family = "loongarch"
    title = "LoongArch KVM GPA page table (4KB_3LEVEL, arch/loongarch/kvm/mmu.c)"
    #: CONFIG_PGTABLE_LEVELS of the 4KB_3LEVEL layout
    PGTABLE_LEVELS = 3
    hooks = {
        "fault_in": (SRC_HANDLE_FAULT, SRC_MAP_PAGE, SRC_MAP_FAST, SRC_SUPPORTS_HUGE,
                     SRC_PREPARE, SRC_HOST_LEVEL, SRC_POPULATE, SRC_SPLIT, SRC_INIT_VM,
                     SRC_LAYOUT, SRC_BITS),
        "unmap_gfn_range": (SRC_UNMAP, SRC_PTW_TOP, SRC_PTW_DIR, SRC_PTW_LEAF, SRC_FLUSH_PTE,
                            SRC_PRESENT),
        "set_spte_gfn": (SRC_SET_SPTE_GFN, SRC_POPULATE, SRC_PRESENT, SRC_BITS),
    }
    chain = (SRC_SET_SPTE_GFN, SRC_POPULATE)
    arrived = ARRIVED
    switches = SWITCHES

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        """In 6.7 kvm_arch_prepare_memory_region is an empty stub, so it drops out."""
        hooks = {k: tuple(cite(s, kernel) for s in v if not (
            s is SRC_PREPARE and kernel < SWITCHES.get("hugepage-flags").since))
            for k, v in cls.hooks.items()}
        return hooks

    def cite(self, source: Source) -> Source:
        """Every step cites the copy read for the release being run."""
        return cite(source, self.kernel)

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        levels = self.PGTABLE_LEVELS
        self.pt = RadixTable(Geometry(levels, level_names(levels)),
                             free_policy=self.free_policy)

    # -- entry access -------------------------------------------------------------------
    def bits_at(self, table: TablePage, idx: int) -> int:
        """The value a slot holds as flag tests see it.  An empty slot reads as 0: at level 0
        it is 0, and a directory's invalid-table address is page aligned, so its flag bits
        are clear too."""
        entry = table.entries.get(idx)
        return to_value(entry) if isinstance(entry, Leaf) else 0

    def store(self, table: TablePage, idx: int, value: int) -> None:
        """kvm_set_pte: write a raw value.  0 at level 0 is the empty value; anywhere else
        every value, 0 included, is kept as written."""
        if value == 0 and table.depth == 0:
            self.pt.clear_entry(table, idx)
        else:
            if value == 0:
                self.warn(f"0 written into a {self.pt.g.names[table.depth]} slot: not "
                                f"the level's invalid-table value", SRC_POPULATE)
            self.pt.set_entry(table, idx, to_leaf(value))

    def populate(self, cache: MemoryCache | None, gfn: int,
                 level: int) -> tuple[TablePage, int] | None:
        """kvm_populate_gpa: walk to ``level``; at an empty directory entry allocate a table
        from ``cache`` or, with no cache, give up (None); at a huge entry stop and return
        that entry itself."""
        table = self.pt.root
        while table.depth > level:
            idx = self.pt.g.index(gfn, table.depth)
            entry = table.entries.get(idx)
            if entry is None:
                if cache is None:
                    self.step(f"{self.pt.g.names[table.depth]} entry for gfn {gfn:#x} holds "
                              f"the invalid-table value and there is no cache: NULL",
                              SRC_POPULATE)
                    return None
                entry = self.pt.alloc_child(table, idx, cache)
                if entry is None:
                    raise RuntimeError("memory cache exhausted after kvm_mmu_topup_memory_cache")
            elif isinstance(entry, Leaf):
                if to_value(entry) & _PAGE_HUGE:
                    self.step(f"met a huge entry at {self.pt.g.names[table.depth]}: return a "
                              f"pointer to it", SRC_POPULATE)
                    return table, idx
                self.warn("kvm_populate_gpa would follow a non-huge, non-table value as a "
                                "table address (not modelled)", SRC_POPULATE)
                return None
            table = entry
        return table, self.pt.g.index(gfn, table.depth)

    # -- fault ----------------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvm_handle_mm_fault: kvm_map_page (fast path first), then a local TLB flush."""
        got = self.map_page_fast(slot, gfn, write)
        if got is None:
            got = self.map_page(slot, gfn, host, write)
        if got.pages:
            self.flush(f"kvm_flush_tlb_gpa: local invtlb of gpa {gfn << PAGE_SHIFT:#x}",
                       SRC_HANDLE_FAULT)
        return replace(got, source=cite(got.source, self.kernel))

    def map_page_fast(self, slot: Memslot, gfn: int, write: bool) -> FaultResult | None:
        """kvm_map_page_fast: only for a present entry; make it young, and dirty on a write
        to a writable entry (not a huge one under dirty logging).  None means -EFAULT."""
        hit = self.populate(None, gfn, 0)
        old = self.bits_at(*hit) if hit else 0
        if not old & _PAGE_PRESENT:
            self.step(f"no present entry for gfn {gfn:#x}: take the slow path", SRC_MAP_FAST)
            return None
        new = old | _PAGE_VALID
        if write and not new & _PAGE_DIRTY:
            if not new & _PAGE_WRITE or (new & _PAGE_HUGE and slot.dirty_logging):
                self.step("write to an entry the fast path may not make dirty: slow path",
                          SRC_MAP_FAST)
                return None
            new |= _PAGE_DIRTY
        if new != old:
            self.store(*hit, new)
        self.step(f"fast path: entry now {bit_names(new)}", SRC_MAP_FAST)
        return FaultResult(self.pt.g.span(hit[0].depth), "already mapped (fast path)",
                           SRC_MAP_FAST)

    def map_page(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvm_map_page's slow path: pfn and writability from the host, protection bits,
        level, tables from the memory cache, then the entry."""
        hva = slot.gfn_to_hva(gfn)
        if write and slot.readonly:
            self.step("write to a read-only memslot: -EFAULT (handled as MMIO)", SRC_MAP_PAGE)
            return FaultResult(0, "write to a read-only memslot is MMIO", SRC_MAP_PAGE)
        cache = MemoryCache(self.pt.g.levels - 1)       # KVM_MMU_CACHE_MIN_PAGES
        pfn = host.pte(hva).pfn
        writeable = host.pte(hva).write and not slot.readonly
        prot = self.fault_prot(writeable, write)
        level, why = self.fault_level(slot, host, hva, write)
        if level == 1:
            gfn &= ~(self.pt.g.span(1) - 1)
            pfn &= ~(self.pt.g.span(1) - 1)
        table, idx = self.populate(cache, gfn, level)
        new = (pfn << PFN_PTE_SHIFT) | prot
        if level == 1:
            new |= _PAGE_HUGE
            self.flush("KVM_REQ_TLB_FLUSH for this vCPU (stale small-page entries)",
                       SRC_MAP_PAGE)
        elif self.bits_at(table, idx) & _PAGE_HUGE and write:
            table, idx = self.split_huge(table, idx, gfn, cache)
        self.store(table, idx, new)
        self.step(f"set {self.pt.g.names[table.depth]} entry for gfn {gfn:#x}: pfn {pfn:#x} "
                  f"{bit_names(new)}", SRC_MAP_PAGE)
        return FaultResult(self.pt.g.span(level), why, SRC_SUPPORTS_HUGE)

    def fault_prot(self, writeable: bool, write: bool) -> int:
        """PRESENT|VALID and the cache mode (CC: guest RAM pfns are pfn_valid); WRITE when
        the page is writeable; DIRTY|WRITE as well on a write fault."""
        prot = _PAGE_PRESENT | READABLE | _CACHE_CC
        if writeable:
            prot |= _PAGE_WRITE
            if write:
                prot |= WRITEABLE
        return prot

    def fault_level(self, slot: Memslot, host: HostMM, hva: int, write: bool) -> tuple[int, str]:
        """fault_supports_huge_mapping, then host_pfn_mapping_level."""
        ok, why = self.supports_huge(slot, hva, write)
        if not ok:
            self.step(f"level 0: {why}", SRC_SUPPORTS_HUGE)
            return 0, why
        if host.mapping_pages(hva) > 1:
            self.step("host PMD has _PAGE_HUGE: level 1 (2 MiB)", SRC_HOST_LEVEL)
            return 1, "the host maps the hva with a huge PMD"
        why = "the host maps the hva with 4 KiB pages (host_pfn_mapping_level is 0)"
        self.step(f"level 0: {why}", SRC_HOST_LEVEL)
        return 0, why

    def supports_huge(self, slot: Memslot, hva: int, write: bool) -> tuple[bool, str]:
        """fault_supports_huge_mapping with the slot flags kvm_arch_prepare_memory_region
        computes from the slot's size and alignment."""
        if slot.dirty_logging and write:
            return False, ("fault_supports_huge_mapping refuses huge mappings for a write fault "
                           "while dirty logging is on for the memslot")
        if not self.since("hugepage-flags"):
            return self.supports_huge_67(slot, hva)
        pmd = self.pt.g.span(1) << PAGE_SHIFT
        size = slot.npages << PAGE_SHIFT
        gpa = slot.base_gfn << PAGE_SHIFT
        if size % pmd == 0 and gpa % pmd == 0 and slot.userspace_addr % pmd == 0:
            return True, "KVM_MEM_HUGEPAGE_CAPABLE"
        if gpa % pmd != slot.userspace_addr % pmd:
            return False, "KVM_MEM_HUGEPAGE_INCAPABLE: gpa and hva differ within a PMD"
        offset = gpa % pmd or pmd
        if size + offset < 2 * pmd:
            return False, "KVM_MEM_HUGEPAGE_INCAPABLE: the slot holds no whole PMD"
        start = -(-slot.userspace_addr // pmd) * pmd
        end = (slot.hva_end // pmd) * pmd
        inside = start <= hva < end
        return inside, "hva inside the PMD-aligned interior" if inside else \
            "hva in the slot's unaligned head or tail"

    def supports_huge_67(self, slot: Memslot, hva: int) -> tuple[bool, str]:
        """fault_supports_huge_mapping in 6.7: no slot flags; gpa and hva must share their
        offset within a PMD, and the PMD holding hva must lie wholly inside the slot."""
        pmd = self.pt.g.span(1) << PAGE_SHIFT
        gpa = slot.base_gfn << PAGE_SHIFT
        if gpa % pmd != slot.userspace_addr % pmd:
            return False, "gpa and hva of the memslot differ within a PMD"
        block = hva - hva % pmd
        inside = block >= slot.userspace_addr and block + pmd <= slot.hva_end
        return inside, ("the PMD around hva lies inside the memslot" if inside else
                        "the PMD around hva is not wholly inside the memslot")

    def split_huge(self, table: TablePage, idx: int, gfn: int,
                   cache: MemoryCache) -> tuple[TablePage, int]:
        """kvm_split_huge: a pte table from the cache filled from the huge value minus
        _PAGE_HUGE, one page further on per entry; the PMD then points at it."""
        huge = self.bits_at(table, idx)
        self.pt.clear_entry(table, idx)
        child = self.pt.alloc_child(table, idx, cache)
        if child is None:
            raise RuntimeError("memory cache exhausted after kvm_mmu_topup_memory_cache")
        small = huge & ~_PAGE_HUGE
        for i in range(1 << self.pt.g.bits):
            self.store(child, i, small + (i << PFN_PTE_SHIFT))
        self.step(f"split the huge entry into {1 << self.pt.g.bits} small entries", SRC_SPLIT)
        return child, self.pt.g.index(gfn, 0)

    # -- unmap ----------------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range: kvm_ptw_top with kvm_flush_pte and flag 0 (no table freeing);
        true when any present entry was reset."""
        ret = self.ptw_top(rng.start, rng.end)
        self.step(f"walk of gfn [{rng.start:#x}, {rng.end:#x}) done with flag 0: no table "
                  f"freed; return {str(ret).lower()}", SRC_UNMAP)
        return ret

    def ptw_top(self, start: int, end: int) -> bool:
        """kvm_ptw_top: descend into every non-invalid root entry in range."""
        ret = False
        for _, _, entry in list(self.pt.entries_in(self.pt.root, start, end)):
            if isinstance(entry, TablePage):
                ret |= self.ptw_dir(entry, start, end)
        return ret

    def ptw_dir(self, table: TablePage, start: int, end: int) -> bool:
        """kvm_ptw_dir: a huge entry gets the op whole; a table entry is walked further."""
        ret = False
        for idx, gfn, entry in list(self.pt.entries_in(table, start, end)):
            if isinstance(entry, TablePage):
                walk = self.ptw_leaf if entry.depth == 0 else self.ptw_dir
                ret |= walk(entry, start, end)
            elif to_value(entry) & _PAGE_HUGE:
                ret |= self.flush_pte(table, idx, gfn)
            else:
                self.warn("kvm_ptw_dir would follow a non-huge, non-table value as a "
                                "table address (not modelled)", SRC_PTW_DIR)
        return ret

    def ptw_leaf(self, table: TablePage, start: int, end: int) -> bool:
        """kvm_ptw_leaf: the op on every level-0 entry in range with _PAGE_PRESENT."""
        ret = False
        for idx, gfn, entry in list(self.pt.entries_in(table, start, end)):
            if to_value(entry) & _PAGE_PRESENT:
                ret |= self.flush_pte(table, idx, gfn)
        return ret

    def flush_pte(self, table: TablePage, idx: int, gfn: int) -> bool:
        """kvm_flush_pte: reset the entry to this level's invalid value."""
        self.pt.clear_entry(table, idx)
        empty = "0" if table.depth == 0 else "the invalid-table value"
        self.step(f"reset the {self.pt.g.size(table.depth)} entry at gfn {gfn:#x} to {empty}",
                  SRC_FLUSH_PTE)
        return True

    # -- change_pte -------------------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        """kvm_set_spte_gfn: find the slot without allocating; an absent or old entry is set
        to 0 (false); a present young one gets the new pfn, PRESENT|VALID, the new PTE's
        cache bits and DIRTY/WRITE only where old and new both have them (true)."""
        pfn = rng.pte.pfn
        hit = self.populate(None, rng.start, 0)
        if hit is None:
            self.step("kvm_populate_gpa returned NULL: return false", SRC_SET_SPTE_GFN)
            return False
        table, idx = hit
        old = self.bits_at(table, idx)
        where = f"{self.pt.g.names[table.depth]} entry for gfn {rng.start:#x}"
        if not old & _PAGE_PRESENT or not old & _PAGE_VALID:
            self.store(table, idx, 0)
            self.step(f"{where} is absent or old ({bit_names(old)}): write 0, return false",
                      SRC_SET_SPTE_GFN)
            return False
        new_pte = host_pte_value(rng.pte)
        prot = _PAGE_PRESENT | READABLE | (_CACHE_MASK & new_pte) | (WRITEABLE & old & new_pte)
        self.store(table, idx, (pfn << PFN_PTE_SHIFT) | prot)
        self.step(f"{where} is present and young: write pfn {pfn:#x} {bit_names(prot)}, "
                  f"return true", SRC_SET_SPTE_GFN)
        if table.depth:
            self.warn("kvm_set_spte_gfn overwrote a huge entry with a value lacking "
                            "_PAGE_HUGE", SRC_SET_SPTE_GFN)
        return True

    # -- views ------------------------------------------------------------------------------
    def leaf_present(self, leaf) -> bool:
        """A stored 0 or an invalid value is not a mapping."""
        return bool(to_value(leaf) & _PAGE_PRESENT)