"""RISC-V KVM G-stage page table (arch/riscv/kvm/mmu.c) at v6.9.

Geometry: 64-bit hosts start with Sv39x4, three levels (``gstage_pgd_levels`` = 3);
``kvm_riscv_gstage_mode_detect`` raises that to 4 (Sv48x4) or 5 (Sv57x4) when the hart
supports those modes.  The model takes the Sv39x4 default (``Model.PGD_LEVELS``); every
outcome modelled here is decided at levels 0 and 1, so it is the same for four or five
levels (the tests check that).  Levels are named the way ``gstage_set_pte`` counts
them: "level 0" holds 4 KiB leaves, "level 1" may hold 2 MiB blocks, the highest
level is the root.  The root's x4 widening (2048 entries) is not modelled: the gpas
the engine uses index only its first 512 entries.

Entry format: a leaf always carries V (``_PAGE_PRESENT``), R, X, U, A and D
(``gstage_map_page`` presets A and D and uses write protection for dirty tracking);
W only when the mapping is writable.  A table entry is a ``TablePage`` (V only).

Freeing policy: none on the notifier paths.  ``gstage_unmap_range`` hands only the
leaves that ``gstage_get_leaf_entry`` returns to ``gstage_op_pte``, so the branch of
``gstage_op_pte`` that frees child tables never runs; a level-0 table whose last leaf
is cleared stays linked, full of zeros.

Block mappings come only from hugetlbfs: ``kvm_riscv_gstage_map`` takes the mapping
size from a hugetlb VMA's page size and uses PAGE_SIZE for anything else, THP
included.  The engine's host is anonymous memory (4 KiB pages or THP), never
hugetlbfs, so ``hugetlb_shift`` stays None there; tests set it to build a block.
"""

from __future__ import annotations

from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, FaultResult, RadixViews
from kvmspte.sim.pagetable import (
    FREE_NEVER, PAGE_SHIFT, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.sim.release import Release, Switch, Switches
from kvmspte.sim.source import DEFAULT_RELEASE, Source, kconfig_readonly_mem

MMU_C = "arch/riscv/kvm/mmu.c"
VIA_DELETED = ("hunk deleted from blob a9e2fd7245e1 (v6.9-rc mmu.c) by "
               "<20240405115815.3226315-2-pbonzini@redhat.com>")
VIA_ACCESSORS = ("as left by upstream edf955647269, which produces blob a9e2fd7245e1 "
                 "(v6.9-rc); read in its 6.6-stable backport")
VIA_MAP_PAGE = ("body as quoted (blob 068c74593871) by an unmerged Nov 2023 RFC; "
                "edf955647269 does not touch it")
VIA_UNMAP = ("read in a v6.2-v6.5 full copy and checked against a v6.9 copy; only the "
             "pte accessors differ")
VIA_FAULT = ("v6.9 copy (vma_lookup, PUD_SIZE); tail confirmed by the diff of "
             "'KVM: RISC-V: Mark struct page pfns dirty iff a stage-2 PTE is installed' "
             "(v12 56/84) against blob b63650f9b966")
VIA_MODE = "v6.9 copy (__ro_after_init gstage_mode/gstage_pgd_levels)"

SRC_SET_SPTE_GFN = Source(MMU_C, "kvm_set_spte_gfn", via=VIA_DELETED)
SRC_MAP_PAGE = Source(MMU_C, "gstage_map_page", via=VIA_MAP_PAGE)
SRC_SIZE_TO_LEVEL = Source(MMU_C, "gstage_page_size_to_level", via=VIA_MAP_PAGE)
SRC_SET_PTE = Source(MMU_C, "gstage_set_pte", via=VIA_ACCESSORS)
SRC_TLB_FLUSH = Source(MMU_C, "gstage_remote_tlb_flush", via=VIA_ACCESSORS)
SRC_UNMAP = Source(MMU_C, "kvm_unmap_gfn_range", via=VIA_UNMAP)
SRC_UNMAP_RANGE = Source(MMU_C, "gstage_unmap_range", via=VIA_UNMAP)
SRC_GET_LEAF = Source(MMU_C, "gstage_get_leaf_entry", via=VIA_ACCESSORS)
SRC_OP_PTE = Source(MMU_C, "gstage_op_pte", via=VIA_ACCESSORS)
SRC_GSTAGE_MAP = Source(MMU_C, "kvm_riscv_gstage_map", via=VIA_FAULT)
SRC_MODE = Source(MMU_C, "kvm_riscv_gstage_mode_detect", via=VIA_MODE)

# -- older releases -------------------------------------------------------------------
VIA_516 = ("full mmu.c copy judged v5.16, the first RISC-V KVM release (stage2_* names, private "
           "struct kvm_mmu_page_cache, sbi_remote_hfence_gvma_vmid over the online harts, old "
           "kvm_arch_prepare_memory_region signature; stored id 242339156)")
VIA_517 = ("the v5.16 copy (stored id 242339156) with cc4f602bc436's generic memory cache; its "
           "NULL-cache guard in stage2_set_pte is at blob f80a34fbf102 (the v5.18 base) by the "
           "hunk line numbers of <20220420112450.155624-2-apatel@ventanamicro.com> (stored id "
           "37014474530) and Yosry Ahmed's diff on the same blob (stored id 48772822770); that "
           "5.17 already has it is inferred from the 5.17 kvm-riscv pull's diffstat (stored id "
           "38394388222), the posted v1 <20211104164107.1291793-3-seanjc@google.com> had no guard")
VIA_519 = ("'RISC-V: KVM: Use G-stage name for hypervisor page table' (26708234eb12; v2 "
           "<20220420112450.155624-2-apatel@ventanamicro.com>, stored id 37014474530), a pure "
           "rename of the v5.18 text, and 'Add remote HFENCE functions based on VCPU requests' "
           "(13acfec2dbcc; diff stored id 45405406007), which points gstage_remote_tlb_flush at "
           "kvm_riscv_hfence_gvma_vmid_gpa: both are listed in the 'KVM/riscv changes for 5.19' "
           "pull (stored id 37416743051); the resulting text as in the gstage copy judged "
           "v6.1..v6.5 (stored id 335559122)")
VIA_66 = ("the v6.9 text as read for the v6.9 citations; 3e1efe2b67d3's range->arg.pte is the "
          "only change from the v6.1..v6.5 copy (stored id 335559122) on these paths; before "
          "edf955647269 the page-table entries are read and written directly instead of through "
          "its accessors (same values); not re-read at v6.6")

#: v6.9 (gstage_*) name -> the stage2_* name used before the 5.19 rename
STAGE2_NAMES = {"gstage_map_page": "stage2_map_page",
                "gstage_page_size_to_level": "stage2_page_size_to_level",
                "gstage_set_pte": "stage2_set_pte",
                "gstage_remote_tlb_flush": "stage2_remote_tlb_flush",
                "gstage_unmap_range": "stage2_unmap_range",
                "gstage_get_leaf_entry": "stage2_get_leaf_entry",
                "gstage_op_pte": "stage2_op_pte",
                "kvm_riscv_gstage_map": "kvm_riscv_stage2_map",
                "kvm_riscv_gstage_mode_detect": "kvm_riscv_stage2_mode_detect"}

SRC_CACHE_ALLOC_516 = Source(MMU_C, "stage2_cache_alloc", "v5.16", VIA_516)

ARRIVED = Switch(
    "arrived", Release(5, 16), "RISC-V KVM merge for v5.16 (Anup Patel's series; the mmu.c "
    "commit id is not in the store)",
    "first RISC-V KVM release: kvm_set_spte_gfn maps the new pfn read+exec through "
    "stage2_map_page with no memory cache; a leaf above level 0 gives -EEXIST, a missing table "
    "-ENOMEM (stage2_cache_alloc returns NULL for a NULL cache), and any error returns true",
    Source(MMU_C, "kvm_set_spte_gfn", "v5.16", VIA_516))

SWITCHES = Switches([
    Switch("common-cache", Release(5, 17), "cc4f602bc436",
           "'Use common KVM implementation of MMU memory caches': -ENOMEM for the cache-less "
           "walk now comes from an explicit NULL-cache check in stage2_set_pte (the private "
           "stage2_cache_alloc is gone); same outcome. The commit says 'no functional change'; "
           "that holds for the merged code, not for the posted v1, which had no check",
           Source(MMU_C, "stage2_set_pte", "v5.17", VIA_517)),
    Switch("gstage-names", Release(5, 19), "26708234eb12",
           "stage2_* -> gstage_* names, same code", Source(MMU_C, "gstage_set_pte", "v5.19",
                                                          VIA_519)),
    Switch("hfence-requests", Release(5, 19), "13acfec2dbcc",
           "gstage_remote_tlb_flush asks kvm_riscv_hfence_gvma_vmid_gpa to fence the gpa on the "
           "VM's vCPUs through vCPU requests, instead of an SBI remote HFENCE.GVMA on every "
           "online hart (in the KVM/riscv 5.19 pull, stored id 37416743051, not the 5.20 one "
           "as this model said before)", Source(MMU_C, "gstage_remote_tlb_flush", "v5.19",
                                                VIA_519)),
    Switch("arg-pte", Release(6, 6), "3e1efe2b67d3",
           "'KVM: Wrap kvm_{gfn,hva}_range.pte in a per-action union': range->arg.pte, same "
           "logic (v6.6 inferred from its July 2023 posting); steps cite v6.6 for the v6.9 text "
           "read from here, v6.9 itself from v6.9", Source(MMU_C, "kvm_set_spte_gfn", "v6.6",
                                                         VIA_66)),
])

#: The copy each era's citations stand for: (the switch that starts the era, via).  Before
#: the first, the v5.16 copy; from v6.9 on, the v6.9 citations themselves.
ERAS = (("common-cache", VIA_517), ("gstage-names", VIA_519), ("arg-pte", VIA_66))
TEXT = Release.parse(DEFAULT_RELEASE)


def cite(src: Source, kernel: Release) -> Source:
    """The Source of the code a v6.9 citation stands for at ``kernel`` (stage2_* names
    before 5.19; each era's copy as read, never a release after ``kernel``)."""
    if kernel >= TEXT or src.release != DEFAULT_RELEASE:
        return src
    release, via = "v5.16", VIA_516
    for name, era_via in ERAS:
        since = SWITCHES.get(name).since
        if kernel >= since:
            release, via = str(since), era_via
    function = src.function if kernel >= SWITCHES.get("gstage-names").since else \
        STAGE2_NAMES.get(src.function, src.function)
    return Source(src.file, function, release, via)


EINVAL, ENOMEM, EEXIST = 22, 12, 17
#: Bits every G-stage leaf carries besides R/W/X/A/D (riscv pgtable.h _PAGE_BASE).
LEAF_BASE = ("_PAGE_PRESENT", "_PAGE_USER")


def level_names(levels: int) -> tuple[str, ...]:
    return tuple(f"level {i}" for i in range(levels))


def make_leaf(pfn: int, rdonly: bool, exec_: bool) -> Leaf:
    """gstage_map_page's entry: PAGE_READ[_EXEC] or PAGE_WRITE[_EXEC], then pte_mkdirty.

    _PAGE_BASE gives V, A and U; R is in every choice; W only when not read-only;
    X when exec; D from pte_mkdirty.
    """
    return Leaf(pfn=pfn, read=True, write=not rdonly, exec=exec_, dirty=True, young=True,
                native=LEAF_BASE)


def errname(err: int) -> str:
    return {0: "0", -EINVAL: "-EINVAL", -ENOMEM: "-ENOMEM", -EEXIST: "-EEXIST"}[err]


class Model(RadixViews, ArchModel):
    id = "riscv"
    fault_retry = faultretry.RISCV
    readonly_mem = kconfig_readonly_mem("riscv")
    free_policy = FREE_NEVER
    family = "riscv"
    title = "RISC-V G-stage (Sv39x4, arch/riscv/kvm/mmu.c)"
    #: gstage_pgd_levels before kvm_riscv_gstage_mode_detect (Sv39x4)
    PGD_LEVELS = 3
    hooks = {
        "fault_in": (SRC_GSTAGE_MAP, SRC_MAP_PAGE, SRC_SIZE_TO_LEVEL, SRC_SET_PTE,
                     SRC_TLB_FLUSH, SRC_MODE),
        "unmap_gfn_range": (SRC_UNMAP, SRC_UNMAP_RANGE, SRC_GET_LEAF, SRC_OP_PTE,
                            SRC_TLB_FLUSH),
        "set_spte_gfn": (SRC_SET_SPTE_GFN, SRC_MAP_PAGE, SRC_SET_PTE, SRC_TLB_FLUSH),
    }
    chain = (SRC_SET_SPTE_GFN, SRC_MAP_PAGE, SRC_SET_PTE, SRC_TLB_FLUSH)
    arrived = ARRIVED
    switches = SWITCHES
    findings = (
        "On RISC-V, kvm_set_spte_gfn maps the new pfn read-only through gstage_map_page "
        "wherever the gfn's last-level G-stage table is still linked, and gstage_unmap_range "
        "never unlinks it, so after invalidate_range_start has cleared the 4 KiB leaf "
        "change_pte installs a new mapping instead of doing nothing "
        "(arch/riscv/kvm/mmu.c:kvm_set_spte_gfn, gstage_set_pte @ v6.9).",
        "On RISC-V, when an intermediate G-stage table is missing gstage_set_pte fails with "
        "-ENOMEM (no memory cache is passed) and kvm_set_spte_gfn returns true, so change_pte "
        "makes generic code flush remote TLBs although nothing changed "
        "(arch/riscv/kvm/mmu.c:kvm_set_spte_gfn @ v6.9).",
    )

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(Geometry(self.PGD_LEVELS, level_names(self.PGD_LEVELS)),
                             free_policy=self.free_policy)
        #: kvm->arch.pgd: the root table above exists for the VM's whole life in this model
        self.pgd_allocated = True
        #: hugetlb page shift of the VMA backing guest RAM; None: not a hugetlbfs VMA
        self.hugetlb_shift: int | None = None

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        hooks = {k: tuple(cite(s, kernel) for s in v) for k, v in cls.hooks.items()}
        if kernel < SWITCHES.get("common-cache").since:
            hooks["set_spte_gfn"] += (SRC_CACHE_ALLOC_516,)
        return hooks

    def cite(self, source: Source) -> Source:
        """Every step cites the copy read for the release being run."""
        return cite(source, self.kernel)

    # -- G-stage primitives ---------------------------------------------------------
    def page_size_to_level(self, pages: int) -> int | None:
        """gstage_page_size_to_level: the level whose entries map ``pages`` 4 KiB pages."""
        for level in range(self.pt.g.levels):
            if self.pt.g.span(level) == pages:
                return level
        return None

    def gstage_map_page(self, cache: MemoryCache | None, gfn: int, pfn: int, pages: int,
                        rdonly: bool, exec_: bool) -> int:
        """gstage_map_page: build the leaf for the size's level and hand it to set_pte."""
        level = self.page_size_to_level(pages)
        if level is None:
            self.step(f"no G-stage level maps {pages} pages: -EINVAL", SRC_SIZE_TO_LEVEL)
            return -EINVAL
        leaf = make_leaf(pfn, rdonly, exec_)
        self.step(f"build {self.pt.g.size(level)} leaf pfn {pfn:#x} {leaf.perms} "
                  f"(A and D preset) for gfn {gfn:#x}", SRC_MAP_PAGE)
        return self.gstage_set_pte(level, cache, gfn, leaf)

    def gstage_set_pte(self, level: int, cache: MemoryCache | None, gfn: int,
                       leaf: Leaf) -> int:
        """gstage_set_pte: walk down to ``level``; a leaf above it gives -EEXIST, a missing
        table with no cache page gives -ENOMEM; otherwise overwrite the slot and, as the
        slot now holds a leaf, issue the remote hfence for it."""
        if level > self.pt.g.root_depth:
            return -EINVAL
        got = self.pt.install(gfn, level, leaf, cache)
        name = self.pt.g.names[got.depth]
        if got.status == "blocked":
            self.step(f"{self.pt.g.size(got.depth)} leaf (pfn {got.blocker.pfn:#x}) at {name} "
                      f"sits above the target level: -EEXIST, nothing written", SRC_SET_PTE)
            return -EEXIST
        if got.status == "nomem":
            why = "no memory cache was passed" if cache is None else "the memory cache is empty"
            where = SRC_SET_PTE
            if cache is None and not self.since("common-cache"):
                why, where = ("no memory cache was passed, so stage2_cache_alloc returns "
                              "NULL"), SRC_CACHE_ALLOC_516
            self.step(f"{name} entry for gfn {gfn:#x} is empty and {why}: -ENOMEM, "
                      f"nothing written", where)
            return -ENOMEM
        self.step(f"linked {got.allocated} table page(s); wrote the {name} slot for gfn "
                  f"{gfn:#x} with no check of its old value", SRC_SET_PTE)
        self.remote_tlb_flush(level, gfn)
        return 0

    def remote_tlb_flush(self, level: int, gfn: int) -> None:
        """gstage_remote_tlb_flush: a remote HFENCE.GVMA for the VMID, for the level's size."""
        base = gfn & ~(self.pt.g.span(level) - 1)
        if not self.since("hfence-requests"):
            self.flush(f"sbi_remote_hfence_gvma_vmid: SBI remote HFENCE.GVMA of gpa "
                       f"{base << PAGE_SHIFT:#x} ({self.pt.g.size(level)}) for the VMID on "
                       f"every online hart", SRC_TLB_FLUSH)
            return
        self.flush(f"kvm_riscv_hfence_gvma_vmid_gpa: remote HFENCE.GVMA of gpa "
                   f"{base << PAGE_SHIFT:#x} ({self.pt.g.size(level)}) on all vCPUs",
                   SRC_TLB_FLUSH)

    def get_leaf_entry(self, gfn: int) -> tuple[TablePage, int, Leaf | None, int]:
        """gstage_get_leaf_entry: the leaf mapping gfn and its level, or None and the level
        at which the walk met an empty entry."""
        table, idx, entry = self.pt.walk(gfn)[-1]
        return table, idx, entry if isinstance(entry, Leaf) else None, table.depth

    # -- fault ------------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvm_riscv_gstage_map: top up the cache, size the mapping from the VMA, map."""
        logging = slot.dirty_logging and not slot.readonly
        cache = MemoryCache(self.pt.g.levels)
        self.step(f"top up the vCPU memory cache with gstage_pgd_levels = "
                  f"{self.pt.g.levels} pages", SRC_GSTAGE_MAP)
        hva = slot.gfn_to_hva(gfn)
        pages, why = self._vma_pagesize(logging, host.mapping_pages(hva))
        if pages > 1:
            gfn &= ~(pages - 1)
        pfn = host.pte(slot.gfn_to_hva(gfn)).pfn
        writable = host.pte(hva).write and not slot.readonly
        if logging and not write:
            writable = False
            self.step("dirty logging and a read fault: map read-only", SRC_GSTAGE_MAP)
        err = self.gstage_map_page(cache, gfn, pfn, pages, rdonly=not writable, exec_=True)
        if err:
            self.step(f"gstage_map_page failed ({errname(err)}): nothing mapped", SRC_GSTAGE_MAP)
            return FaultResult(0, f"gstage_map_page failed with {errname(err)}",
                               self.cite(SRC_GSTAGE_MAP))
        return FaultResult(pages, why, self.cite(SRC_GSTAGE_MAP))

    def _vma_pagesize(self, logging: bool, host_pages: int) -> tuple[int, str]:
        """The vma_pagesize rule: a hugetlb VMA's page size, else PAGE_SIZE; PAGE_SIZE under
        dirty logging whatever the VMA."""
        reasons = []
        pages = 1
        if self.hugetlb_shift is None:
            thp = " (a THP PMD maps it, which this rule ignores)" if host_pages > 1 else ""
            reasons.append("kvm_riscv_gstage_map sizes G-stage mappings from a hugetlbfs VMA's "
                           f"page size only, and this VMA is not hugetlbfs{thp}")
        else:
            pages = 1 << (self.hugetlb_shift - PAGE_SHIFT)
        if logging:
            pages = 1
            reasons.append("dirty logging is on for the memslot, which forces PAGE_SIZE")
        why = "; ".join(reasons) or f"hugetlbfs VMA with {pages} pages per huge page"
        self.step(f"vma_pagesize = {pages} page(s): {why}", SRC_GSTAGE_MAP)
        return pages, why

    # -- unmap ------------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range: gstage_unmap_range over the range, then always false."""
        if not self.pgd_allocated:
            return False
        cleared = self.unmap_range(rng.start, rng.end)
        self.step(f"cleared {cleared} leaf/leaves in gfn [{rng.start:#x}, {rng.end:#x}); "
                  f"no table page freed; return false (gstage_op_pte fences each cleared leaf "
                  f"itself)", SRC_UNMAP)
        return False

    def unmap_range(self, start: int, end: int) -> int:
        """gstage_unmap_range: step leaf by leaf; clear a leaf only when the range starts on
        its boundary and covers it whole, otherwise leave it mapped.  Where the walk meets
        an empty entry, skip the size that entry would have mapped.  Returns how many
        leaves were cleared."""
        addr, cleared = start, 0
        while addr < end:
            table, idx, leaf, level = self.get_leaf_entry(addr)
            pages = self.pt.g.span(level)
            if leaf is not None:
                if addr % pages == 0 and end - addr >= pages:
                    self.clear_leaf(table, idx, addr, level)
                    cleared += 1
                else:
                    self.step(f"{self.pt.g.size(level)} leaf at {self.pt.g.names[level]} is only "
                              f"partly covered by gfn [{addr:#x}, {end:#x}): skipped, stays "
                              f"mapped", SRC_UNMAP_RANGE)
            addr += pages
        return cleared

    def clear_leaf(self, table: TablePage, idx: int, gfn: int, level: int) -> None:
        """gstage_op_pte with GSTAGE_OP_CLEAR on a leaf: zero it, then fence it."""
        self.pt.clear_entry(table, idx)
        self.step(f"clear the {self.pt.g.size(level)} leaf at gfn {gfn:#x}; its table stays "
                  f"linked", SRC_OP_PTE)
        self.remote_tlb_flush(level, gfn)

    # -- change_pte -------------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        """kvm_set_spte_gfn: map the new pfn read-only + exec at 4 KiB with no memory cache;
        true (generic flush) only when that fails."""
        pfn = rng.pte.pfn
        kind = "" if rng.pte.present else " (the entry is not present; pte_pfn reads it anyway)"
        self.step(f"pfn {pfn:#x} from the new host PTE{kind}", SRC_SET_SPTE_GFN)
        if not self.pgd_allocated:
            return False
        if rng.end - rng.start != 1:
            self.warn("kvm_set_spte_gfn: range is not exactly one gfn", SRC_SET_SPTE_GFN)
        err = self.gstage_map_page(None, rng.start, pfn, 1, rdonly=True, exec_=True)
        if err:
            self.step(f"gstage_map_page returned {errname(err)}: return true", SRC_SET_SPTE_GFN)
            return True
        self.step("mapped: return false (gstage_set_pte already fenced)", SRC_SET_SPTE_GFN)
        return False
