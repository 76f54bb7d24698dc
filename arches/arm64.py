"""arm64 stage-2 page tables (arch/arm64/kvm/mmu.c, arch/arm64/kvm/hyp/pgtable.c) at v6.9.

Geometry: 4 KiB granule, 40-bit IPA, so 3 levels starting at level 1 (the
kernel concatenates two level-1 root pages; the model keeps one, which covers
every gfn the engine uses).  Native level names: depth 0 = "L3" (4 KiB pages),
depth 1 = "L2" (2 MiB blocks), depth 2 = "L1" (1 GiB blocks, the root).

Entry format (stage-2 descriptor): valid, type (table/block at L1-L2, page at
L3), S2AP R and W, XN, AF, Normal memory type.  A Leaf carries read/write from
S2AP, exec = not XN, young = AF; dirty is None because KVM does not use DBM on
stage 2 at v6.9.  The native tuple names the type bit.

Freeing policy: table pages are reference counted (RadixTable(counted=True)):
a page starts at 1 and every non-zero entry in it holds one more.  Only the
unmap walker frees table pages, at TABLE_POST, when the child's count is
exactly 1; TABLE_POST runs for every table the walk descends into, also ones
the range covers only partly.  Replacing a table by a block frees the old
subtree (RCU-deferred in the kernel; immediately here).  Roots are never freed.

MTE (the "mte" option: the VM has KVM_CAP_ARM_MTE): the fault path marks every page it
maps PG_mte_tagged on the host (sanitise_mte_tags), and kvm_set_spte_gfn returns before
mapping when the new page is not tagged.  The model declares arm64's primary-MM tag
rules for the generic host model (``host_arch``): memcmp_pages never finds a tagged page
identical to another (so KSM cannot merge or write-protect a page the guest mapped), and
copy_highpage gives a CoW copy the old page's tags.

CPU features the scenarios do not set but the code branches on are read from
the options with these defaults: "fwb" (stage-2 forced write-back) False,
"tlbi_range" (FEAT_TLBIRANGE) False, "dic" (ARM64_HAS_CACHE_DIC) False.  None of
them changes what change_pte installs.
"""

from __future__ import annotations

from dataclasses import replace

from kvmspte.host import HostArch, HostMM
from kvmspte.kvm import GfnRange, Memslot
from kvmspte import faultretry
from kvmspte.model import ArchModel, FaultResult, RadixViews
from kvmspte.pagetable import (
    FREE_UNREFERENCED, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.source import Source, kconfig_readonly_mem

MMU_C = "arch/arm64/kvm/mmu.c"
PGTABLE_C = "arch/arm64/kvm/hyp/pgtable.c"
S2_H = "arch/arm64/include/asm/stage2_pgtable.h"
PGT_H = "arch/arm64/include/asm/kvm_pgtable.h"

VIA_SET = ("v6.9-rc text as deleted by <20240405115815.3226315-2-pbonzini@redhat.com> "
           "(index dc04bc767865..ff17849be9f4), quoted in Will Deacon's reply "
           "<20240412104408.GA27645@willie-the-truck>")
VIA_MMU = ("read in a full v6.8 copy of mmu.c; the v6.9 delta (NORMAL_NC for VFIO "
           "device memory) does not touch the normal-RAM paths modelled")
VIA_PGT = ("read at lougovsk/linux 080e4bd65bd2 (v6.8-v6.10 generation, a copy from before "
           "the v6.9-rc3 table-TLBI fixes); walker core cross-checked with a v6.8 copy")
#: stage2_unmap_put_pte as v6.9 has it: the stored full copy predates two fixes merged for
#: v6.9-rc3, so the function is read from the fixes' diffs.
VIA_PUT_PTE = ("v6.9-rc3 text: f62d4c3eb687 'KVM: arm64: Don't defer TLB invalidation when "
               "zapping table entries' and 36e008323926 'KVM: arm64: Don't pass a TLBI level "
               "hint when zapping table entries' (both in Linus's 'Linux 6.9-rc3' "
               "announcement shortlog, stored id 38526340426), read in "
               "their linux-6.6.y backports, which pass 0 where mainline passes "
               "TLBI_TTL_UNKNOWN as the level")
VIA_HDR = "constants read at lougovsk/linux 05e08b39; unchanged for the values used"


def _mmu(fn: str) -> Source:
    return Source(MMU_C, fn, via=VIA_MMU)


def _pgt(fn: str) -> Source:
    return Source(PGTABLE_C, fn, via=VIA_PGT)


SRC_SET_SPTE = Source(MMU_C, "kvm_set_spte_gfn", via=VIA_SET)
SRC_UNMAP = _mmu("kvm_unmap_gfn_range")
SRC_UNMAP_RANGE = _mmu("__unmap_stage2_range")
SRC_APPLY = _mmu("stage2_apply_range")
SRC_ABORT = _mmu("kvm_handle_guest_abort")
SRC_UMA = _mmu("user_mem_abort")
SRC_THP = _mmu("transparent_hugepage_adjust")
SRC_HUGE_OK = _mmu("fault_supports_stage2_huge_mapping")
SRC_MTE = _mmu("sanitise_mte_tags")
#: arm64's KSM page comparison and CoW copy, as they treat PG_mte_tagged at v6.9
SRC_MEMCMP = Source(
    "arch/arm64/kernel/mte.c", "memcmp_pages",
    via="identical contents with either page tagged (and system_supports_mte) give a non-zero "
        "result unless both are the same page; read in full as quoted in a 2025 linux-mm "
        "thread (comment already naming __set_ptes, the v6.9 contpte rename) and checked "
        "against the v6.9-cycle rename diff and an older full copy of mte.c")
SRC_COPY_HIGHPAGE = Source(
    "arch/arm64/mm/copypage.c", "copy_highpage",
    via="copypage.c blob a7bb20055ce0 (2023 kasan fix onward, the base of the 2024 hugetlb-MTE "
        "diff): a tagged source has its tags copied and the copy marked PG_mte_tagged; "
        "copy_user_highpage calls it; arm64 defines no copy_mc_to_kernel at v6.9, so "
        "mm/memory.c:__wp_page_copy_user's copy_mc_user_highpage falls back to "
        "copy_user_highpage (include/linux/highmem.h)")
SRC_PGT_UNMAP = _pgt("kvm_pgtable_stage2_unmap")
SRC_VISIT = _pgt("__kvm_pgtable_visit")
SRC_UNMAP_WALKER = _pgt("stage2_unmap_walker")
SRC_PUT_PTE = Source(PGTABLE_C, "stage2_unmap_put_pte", via=VIA_PUT_PTE)
SRC_DEFER = _pgt("stage2_unmap_defer_tlb_flush")
SRC_MAP = _pgt("kvm_pgtable_stage2_map")
SRC_PROT = _pgt("stage2_set_prot_attr")
SRC_TABLE_PRE = _pgt("stage2_map_walk_table_pre")
SRC_MAP_LEAF = _pgt("stage2_map_walk_leaf")
SRC_TRY_LEAF = _pgt("stage2_map_walker_try_leaf")
SRC_LEAF_OK = _pgt("stage2_leaf_mapping_allowed")
SRC_NEEDS_UPDATE = _pgt("stage2_pte_needs_update")
SRC_BREAK = _pgt("stage2_try_break_pte")
SRC_MAKE = _pgt("stage2_make_pte")
SRC_RELAX = _pgt("kvm_pgtable_stage2_relax_perms")
SRC_MIN_PAGES = Source(S2_H, "kvm_mmu_cache_min_pages", via=VIA_HDR)
SRC_LEVELS = Source(S2_H, "stage2_pgtable_levels", via=VIA_HDR)

#: 40-bit IPA, 4 KiB granule: stage2_pgtable_levels gives 3, start level 1.
GEOMETRY = Geometry(levels=3, names=("L3", "L2", "L1"))
#: KVM_PGTABLE_MIN_BLOCK_LEVEL = 1 (a 1 GiB block), i.e. the root depth here.
MIN_BLOCK_DEPTH = 2
PAGE, BLOCK = "KVM_PTE_TYPE_PAGE", "KVM_PTE_TYPE_BLOCK"

# Return codes of the page-table walkers (negative errno).
OK, E2BIG, EAGAIN, EINVAL, ENOMEM = 0, -7, -11, -22, -12
ERRNO = {OK: "0", E2BIG: "-E2BIG", EAGAIN: "-EAGAIN", EINVAL: "-EINVAL", ENOMEM: "-ENOMEM"}


def huge_mapping_fits(slot: Memslot, hva: int, pages: int) -> bool:
    """fault_supports_stage2_huge_mapping: the gpa and hva must share their offset in
    a block, and the whole block must lie inside the memslot's userspace range."""
    size = pages << 12
    gpa_start = slot.base_gfn << 12
    if gpa_start % size != slot.userspace_addr % size:
        return False
    first = -(-slot.userspace_addr // size) * size
    last = (slot.hva_end // size) * size
    block = hva - hva % size
    return first <= block and block + size <= last


def make_leaf(pfn: int, depth: int, read: bool, write: bool, exec_: bool) -> Leaf:
    """stage2_set_prot_attr + the leaf constructor: S2AP from R/W, XN unless X, AF always
    set, Normal memory; the type bit says page at L3 and block above."""
    return Leaf(pfn=pfn, read=read, write=write, exec=exec_, young=True,
                native=(PAGE if depth == 0 else BLOCK,))


def needs_update(old: Leaf | TablePage | None, new: Leaf) -> bool:
    """stage2_pte_needs_update: an invalid old entry (or a table) always needs it; two valid
    leaves only when they differ in something other than S2AP R/W and XN."""
    if not isinstance(old, Leaf):
        return True
    strip = dict(read=False, write=False, exec=False)
    return replace(old, **strip) != replace(new, **strip)


class Model(RadixViews, ArchModel):
    id = "arm64"
    fault_retry = faultretry.ARM64
    readonly_mem = kconfig_readonly_mem("arm64")
    free_policy = FREE_UNREFERENCED
    family = "arm64"
    title = "arm64 stage-2 (kvm_pgtable, 4 KiB granule, 3 levels from level 1)"
    hooks = {
        "fault_in": (SRC_ABORT, SRC_UMA, SRC_MIN_PAGES, SRC_THP, SRC_HUGE_OK, SRC_MTE,
                     SRC_MAP, SRC_PROT, SRC_TABLE_PRE, SRC_MAP_LEAF, SRC_TRY_LEAF,
                     SRC_BREAK, SRC_MAKE, SRC_RELAX, SRC_LEVELS),
        "unmap_gfn_range": (SRC_UNMAP, SRC_UNMAP_RANGE, SRC_APPLY, SRC_PGT_UNMAP, SRC_VISIT,
                            SRC_UNMAP_WALKER, SRC_PUT_PTE, SRC_DEFER),
        "set_spte_gfn": (SRC_SET_SPTE, SRC_MAP, SRC_PROT, SRC_MAP_LEAF, SRC_TRY_LEAF,
                         SRC_LEAF_OK, SRC_NEEDS_UPDATE, SRC_BREAK, SRC_MAKE),
    }
    chain = (SRC_SET_SPTE, SRC_MAP, SRC_MAP_LEAF, SRC_TRY_LEAF)
    host_arch = HostArch(compare_refuses_tagged=SRC_MEMCMP, copy_keeps_tags=SRC_COPY_HIGHPAGE)
    findings = (
        "On arm64, kvm_set_spte_gfn calls kvm_pgtable_stage2_map with read-only permission "
        "and no memory cache, so where the unmap left the last-level table in place it "
        "installs a new 4 KiB stage-2 page for the new pfn without any guest fault "
        "(arch/arm64/kvm/mmu.c:kvm_set_spte_gfn, "
        "arch/arm64/kvm/hyp/pgtable.c:stage2_map_walker_try_leaf @ v6.9).",
    )

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(GEOMETRY, counted=True, free_policy=self.free_policy)
        self.pgt_present = True          # kvm->arch.mmu.pgt, set up at VM creation
        self.memcache = MemoryCache(0)   # vcpu->arch.mmu_page_cache, kept across faults
        self.fwb = self.options.get("fwb", False)
        self.tlbi_range = self.options.get("tlbi_range", False)
        self.dic = self.options.get("dic", False)

    def _label(self, gfn: int, depth: int) -> str:
        return f"{self.pt.g.names[depth]} entry for gfn {gfn:#x}"

    # -- fault path ---------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvm_handle_guest_abort: MMIO for a write to a read-only slot, no fault where the
        existing leaf allows the access, a permission fault for a write to a read-only
        leaf, else a translation fault; the last two go to user_mem_abort."""
        if write and slot.readonly:
            why = "a write to a read-only memslot is emulated as MMIO (io_mem_abort)"
            self.step(why, SRC_ABORT)
            return FaultResult(0, why, SRC_ABORT)
        hit = self.pt.lookup(gfn)
        if hit and (not write or hit[0].write):
            why = "the existing stage-2 leaf already allows this access: no fault is taken"
            self.step(why, SRC_ABORT)
            return FaultResult(self.pt.g.span(hit[1]), why, SRC_ABORT)
        perm_granule = self.pt.g.span(hit[1]) if hit else 0
        return self._user_mem_abort(slot, gfn, host, write, perm_granule)

    def _topup(self, is_perm: bool, write: bool, logging: bool) -> None:
        """user_mem_abort fills the vCPU memory cache to one page per non-root level,
        except on a permission fault (unless it is a write under dirty logging)."""
        if is_perm and not (write and logging):
            return
        need = self.pt.g.levels - 1
        self.memcache.pages = max(self.memcache.pages, need)
        self.step(f"top up the vCPU memory cache to {self.memcache.pages} page(s)",
                  SRC_MIN_PAGES)

    def _mapping_pages(self, slot: Memslot, hva: int, host: HostMM, logging: bool,
                       perm_granule: int) -> tuple[int, str, Source]:
        """The mapping size user_mem_abort settles on for an anonymous VMA."""
        if logging:
            why = "dirty logging is active on the memslot (logging_active): force_pte, PAGE_SIZE"
            self.step(why, SRC_UMA)
            return 1, why, SRC_UMA
        if perm_granule > 1:
            why = "permission fault on a block: keep the faulting granule"
            self.step(why, SRC_UMA)
            return perm_granule, why, SRC_UMA
        return self._thp_adjust(slot, hva, host)

    def _thp_adjust(self, slot: Memslot, hva: int, host: HostMM) -> tuple[int, str, Source]:
        """transparent_hugepage_adjust: a 2 MiB block when the slot allows one at this hva
        and the host maps the hva with a PMD (a THP); otherwise a 4 KiB page."""
        huge = self.pt.g.span(1)
        if not huge_mapping_fits(slot, hva, huge):
            why = "the memslot's gpa/hva alignment does not allow a 2 MiB block here"
            self.step(why, SRC_HUGE_OK)
            return 1, why, SRC_HUGE_OK
        if host.mapping_pages(hva) < huge:
            why = "the host maps the hva with a 4 KiB page, not a THP"
            self.step(why, SRC_THP)
            return 1, why, SRC_THP
        why = "the host maps the hva with a THP PMD: map a 2 MiB block"
        self.step(why, SRC_THP)
        return huge, why, SRC_THP

    def _writable(self, slot: Memslot, host: HostMM, hva: int, write: bool,
                  logging: bool) -> bool:
        """__gfn_to_pfn_memslot's writable result, then user_mem_abort's dirty-logging rule:
        a read fault under dirty logging maps read-only so the first write traps."""
        writable = host.pte(hva).write and not slot.readonly
        if logging and not write:
            self.step("dirty logging and a read fault: map without write permission", SRC_UMA)
            return False
        return writable

    def _sanitise_mte(self, host: HostMM, pfn: int, pages: int) -> None:
        """sanitise_mte_tags: clear tags and mark PG_mte_tagged on each untagged page."""
        host.tag(pfn, pages)
        self.step(f"VM has MTE: sanitise tags of pfn [{pfn:#x}, {pfn + pages:#x})", SRC_MTE)

    def _user_mem_abort(self, slot: Memslot, gfn: int, host: HostMM, write: bool,
                        perm_granule: int) -> FaultResult:
        """user_mem_abort for a data (non-exec) fault on ordinary anonymous memory."""
        is_perm = perm_granule > 0
        hva = slot.gfn_to_hva(gfn)
        logging = slot.dirty_logging and not slot.readonly
        self._topup(is_perm, write, logging)
        pages, why, src = self._mapping_pages(slot, hva, host, logging, perm_granule)
        writable = self._writable(slot, host, hva, write, logging)
        base_gfn, pfn = gfn - gfn % pages, host.pte(hva).pfn
        pfn -= pfn % pages
        if self.options.get("mte") and not is_perm:
            self._sanitise_mte(host, pfn, pages)
        if is_perm and pages == perm_granule:
            self._relax_perms(base_gfn, writable)
            return FaultResult(pages, why, src)
        ret = self.stage2_map(base_gfn, pages, pfn, (True, writable, self.dic), self.memcache,
                              handle_fault=True)
        self.step(f"kvm_pgtable_stage2_map returned {ERRNO[ret]}", SRC_UMA)
        return FaultResult(pages if ret in (OK, EAGAIN) else 0, why, src)

    def _relax_perms(self, gfn: int, writable: bool) -> None:
        """kvm_pgtable_stage2_relax_perms: OR the permissions into the existing leaf in
        place, then invalidate the TLB entry for the IPA."""
        table, idx, old = self.pt.walk(gfn)[-1]
        new = replace(old, write=old.write or writable)
        self.pt.set_entry(table, idx, new)
        self.step(f"relax permissions of {self._label(gfn, table.depth)} to {new.perms}",
                  SRC_RELAX)
        self.flush(f"TLBI by IPA for gfn {gfn:#x} after relaxing permissions", SRC_RELAX)

    # -- kvm_pgtable_stage2_map -----------------------------------------------------
    def stage2_map(self, gfn: int, pages: int, pfn: int, prot: tuple[bool, bool, bool],
                   mc: MemoryCache | None, *, handle_fault: bool) -> int:
        """kvm_pgtable_stage2_map for one aligned mapping: walk from the root with
        TABLE_PRE and LEAF visits (stage2_map_walker), allocating tables from ``mc``."""
        r, w, x = prot
        self.step(f"map gfn {gfn:#x} (+{pages} page(s)) -> pfn {pfn:#x}: prot "
                  f"{'R' if r else ''}{'W' if w else ''}{'X' if x else ''}, "
                  f"{'XN, ' if not x else ''}AF, Normal; memcache "
                  f"{'none' if mc is None else f'{mc.pages} page(s)'}", SRC_PROT)
        table = self.pt.root
        while True:
            idx = self.pt.g.index(gfn, table.depth)
            entry = table.entries.get(idx)
            allowed = self._leaf_allowed(table.depth, gfn, pages, pfn)
            if isinstance(entry, TablePage):
                if not allowed:
                    table = entry
                    continue
                return self._table_to_block(table, idx, gfn, pfn, prot)
            ret = self._try_leaf(table, idx, gfn, pfn, prot, allowed)
            if ret != E2BIG:
                return self._walk_result(ret, handle_fault)
            child = self._link_table(table, idx, gfn, mc)
            if isinstance(child, int):
                return child
            table = child

    def _walk_result(self, ret: int, handle_fault: bool) -> int:
        """kvm_pgtable_walk_continue: -EAGAIN ends the walk as success unless the walk is
        a fault handler's (HANDLE_FAULT)."""
        if ret == EAGAIN and not handle_fault:
            self.step("-EAGAIN without KVM_PGTABLE_WALK_HANDLE_FAULT: the walk treats it as "
                      "success", SRC_MAP)
            return OK
        return ret

    def _leaf_allowed(self, depth: int, gfn: int, pages: int, pfn: int) -> bool:
        """stage2_leaf_mapping_allowed (force_pte_cb is NULL for a normal VM): a block level
        or L3, an entry span no bigger than the rest of the range, pfn and gfn aligned."""
        span = self.pt.g.span(depth)
        return (depth <= MIN_BLOCK_DEPTH and span <= pages
                and gfn % span == 0 and pfn % span == 0)

    def _try_leaf(self, table: TablePage, idx: int, gfn: int, pfn: int,
                  prot: tuple[bool, bool, bool], allowed: bool) -> int:
        """stage2_map_walker_try_leaf: -E2BIG where a leaf cannot go; -EAGAIN where the
        existing valid leaf differs only in permissions; otherwise break and install."""
        depth = table.depth
        if not allowed:
            self.step(f"{self._label(gfn, depth)}: a {self.pt.g.size(depth)} leaf is not "
                      f"allowed for this range: -E2BIG", SRC_LEAF_OK)
            return E2BIG
        new = make_leaf(pfn, depth, *prot)
        old = table.entries.get(idx)
        if not needs_update(old, new):
            self.step(f"{self._label(gfn, depth)} already maps pfn {old.pfn:#x} and differs "
                      f"at most in S2AP/XN: no update, -EAGAIN (kept as {old.perms})",
                      SRC_NEEDS_UPDATE)
            return EAGAIN
        self._break(table, idx, gfn, old)
        self._cmos(new)
        self.pt.set_entry(table, idx, new)
        self.step(f"install {self.pt.g.size(depth)} leaf in {self._label(gfn, depth)}: pfn "
                  f"{pfn:#x} {new.perms} AF; table refcount -> {table.refcount}", SRC_MAKE)
        return OK

    def _break(self, table: TablePage, idx: int, gfn: int, old) -> None:
        """stage2_try_break_pte: zero the entry, TLBI if it was valid (the range for a table,
        the IPA at its level for a leaf), put_page if it was counted."""
        if old is None:
            return
        self.pt.clear_entry(table, idx)
        what = "table" if isinstance(old, TablePage) else f"{self.pt.g.size(table.depth)} leaf"
        self.step(f"break-before-make: zero the valid {what} in {self._label(gfn, table.depth)}"
                  f"; table refcount -> {table.refcount}", SRC_BREAK)
        self.flush(f"TLBI for gfn {gfn:#x} at level {self.pt.g.names[table.depth]} "
                   f"(old {what} was valid)", SRC_BREAK)

    def _cmos(self, new: Leaf) -> None:
        """stage2_map_walker_try_leaf's cache maintenance before the new leaf is visible."""
        if not self.fwb:
            self.step(f"clean+invalidate the D-cache to PoC for pfn {new.pfn:#x}", SRC_TRY_LEAF)
        if new.exec:
            self.step(f"invalidate the I-cache for pfn {new.pfn:#x}", SRC_TRY_LEAF)

    def _link_table(self, table: TablePage, idx: int, gfn: int,
                    mc: MemoryCache | None) -> TablePage | int:
        """stage2_map_walk_leaf after -E2BIG: -ENOMEM with no (or an empty) memory cache;
        otherwise replace the entry (an empty slot or a block) by a new empty table."""
        depth = table.depth
        if depth == 0:
            self.trace.warn("stage2_map_walk_leaf: no leaf allowed at L3", SRC_MAP_LEAF)
            return EINVAL
        if mc is None or mc.pages <= 0:
            self.step(f"{self._label(gfn, depth)} needs a new table but there is no memory "
                      f"cache page: -ENOMEM, nothing changed", SRC_MAP_LEAF)
            return ENOMEM
        old = table.entries.get(idx)
        self._break(table, idx, gfn, old)
        child = self.pt.alloc_child(table, idx, mc)
        self.step(f"link a new {self.pt.g.names[depth - 1]} table from the memory cache at "
                  f"{self._label(gfn, depth)}; table refcount -> {table.refcount}", SRC_MAP_LEAF)
        return child

    def _table_to_block(self, table: TablePage, idx: int, gfn: int, pfn: int,
                        prot: tuple[bool, bool, bool]) -> int:
        """stage2_map_walk_table_pre: where a block may replace an existing table, install
        the block in its place and free the unlinked subtree."""
        child = table.entries[idx]
        self._try_leaf(table, idx, gfn, pfn, prot, True)
        freed = self.pt.free_subtree(child)
        self.step(f"free the unlinked subtree ({freed} table page(s))", SRC_TABLE_PRE)
        return OK

    # -- unmap -----------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range: unmap the range through the page-table code (which issues
        its own TLBIs) and never ask generic code for a flush."""
        if not self.pgt_present:
            return False
        self.step(f"__unmap_stage2_range(gfn [{rng.start:#x}, {rng.end:#x}))", SRC_UNMAP)
        self._apply_range(rng.start, rng.end)
        self.step("return false: the stage-2 code did its own TLB maintenance", SRC_UNMAP)
        return False

    def _apply_range(self, start: int, end: int) -> None:
        """stage2_apply_range: call kvm_pgtable_stage2_unmap per 1 GiB-aligned chunk."""
        chunk = self.pt.g.span(MIN_BLOCK_DEPTH)
        while start < end:
            stop = min(end, start - start % chunk + chunk)
            self._pgtable_unmap(start, stop)
            start = stop

    def _defer_tlbi(self) -> bool:
        """stage2_unmap_defer_tlb_flush: one range TLBI afterwards with TLBIRANGE and FWB."""
        return self.tlbi_range and self.fwb

    def _pgtable_unmap(self, start: int, end: int) -> None:
        """kvm_pgtable_stage2_unmap: a LEAF | TABLE_POST walk with stage2_unmap_walker."""
        self._unmap_walk(self.pt.root, start, end)
        if self._defer_tlbi():
            self.flush(f"deferred range TLBI over gfn [{start:#x}, {end:#x})", SRC_PGT_UNMAP)

    def _unmap_walk(self, table: TablePage, start: int, end: int) -> None:
        """__kvm_pgtable_visit for each non-zero entry overlapping the range: LEAF for a
        leaf; descend into a table, then TABLE_POST whether or not it is fully covered."""
        for idx, gfn, entry in list(self.pt.entries_in(table, start, end)):
            if isinstance(entry, TablePage):
                self._unmap_walk(entry, start, end)
                self._unmap_table_post(table, idx, gfn, entry, start, end)
            else:
                self._unmap_leaf(table, idx, gfn, entry, max(gfn, start))

    def _unmap_leaf(self, table: TablePage, idx: int, gfn: int, leaf: Leaf, addr: int) -> None:
        """stage2_unmap_walker on a valid leaf: remove the whole entry, even a block only
        partly inside the range; clean the D-cache for it when there is no FWB."""
        size = self.pt.g.size(table.depth)
        self._put_pte(table, idx, gfn, addr, f"{size} leaf (pfn {leaf.pfn:#x})", table_entry=False)
        if not self.fwb:
            self.step(f"clean+invalidate the D-cache to PoC for the whole {size} of pfn "
                      f"{leaf.pfn:#x}", SRC_UNMAP_WALKER)

    def _unmap_table_post(self, table: TablePage, idx: int, gfn: int, child: TablePage,
                          start: int, end: int) -> None:
        """stage2_unmap_walker at TABLE_POST: free the child table only when its count is
        exactly 1 (no entries left), whatever part of it the range covered."""
        span = self.pt.g.span(table.depth)
        cover = "fully" if start <= gfn and gfn + span <= end else "partly"
        name = f"{self.pt.g.names[child.depth]} table @gfn {child.base_gfn:#x}"
        if not self.pt.may_free(child, cover == "fully"):
            self.step(f"TABLE_POST on {cover} covered {name}: refcount {child.refcount} != 1, "
                      f"keep it", SRC_UNMAP_WALKER)
            return
        self._put_pte(table, idx, gfn, max(gfn, start), f"table entry for the empty {name}",
                      table_entry=True)
        self.pt.free_page(child)
        self.step(f"TABLE_POST on {cover} covered {name}: refcount was 1, table page freed",
                  SRC_UNMAP_WALKER)

    def _put_pte(self, table: TablePage, idx: int, gfn: int, addr: int, what: str, *,
                 table_entry: bool) -> None:
        """stage2_unmap_put_pte at v6.9: zero the entry; a cleared table entry is
        invalidated at once with no level hint, even when the walk defers its TLBIs; a
        cleared leaf gets a TLBI with its level as hint unless deferred.  The TLBI is at
        the walk address, which need not be aligned to the entry; put_page on the table
        page holding the entry follows."""
        self.pt.clear_entry(table, idx)
        self.step(f"zero the {what} in {self._label(gfn, table.depth)}; table refcount -> "
                  f"{table.refcount}", SRC_PUT_PTE)
        if table_entry:
            deferred = " (not deferred: table entries never are)" if self._defer_tlbi() else ""
            self.flush(f"TLBI by IPA for gfn {addr:#x}, no level hint (TLBI_TTL_UNKNOWN): a "
                       f"table entry was cleared{deferred}", SRC_PUT_PTE)
        elif not self._defer_tlbi():
            self.flush(f"TLBI by IPA for gfn {addr:#x} with level hint "
                       f"{self.pt.g.names[table.depth]}", SRC_PUT_PTE)

    # -- change_pte --------------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        """kvm_set_spte_gfn: map the new pfn read-only at 4 KiB with no memory cache,
        ignore the result, and return false."""
        pfn = rng.pte.pfn
        self.step(f"pfn = pte_pfn(new host PTE) = {pfn:#x}"
                  f"{'' if rng.pte.present else ' (the PTE is not present; not checked)'}",
                  SRC_SET_SPTE)
        if not self.pgt_present:
            return False
        if rng.end - rng.start != 1:
            self.trace.warn("kvm_set_spte_gfn on more than one gfn", SRC_SET_SPTE)
        if self.options.get("mte") and not rng.pte.tagged:
            self.step("VM has MTE and the new page is not PG_mte_tagged: return false "
                      "before mapping", SRC_SET_SPTE)
            return False
        ret = self.stage2_map(rng.start, 1, pfn, (True, False, False), None, handle_fault=False)
        self.step(f"kvm_pgtable_stage2_map returned {ERRNO[ret]} (ignored); return false",
                  SRC_SET_SPTE)
        return False

    # -- views -------------------------------------------------------------------------