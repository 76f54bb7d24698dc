"""x86 TDP MMU (arch/x86/kvm/mmu/tdp_mmu.c) at v6.9.

One 4-level root; the fault path allocates the table pages it needs from the
vCPU's memory cache; unmap zaps every present leaf overlapping the range (a 2 MiB
leaf whole) and never frees a table page; change_pte's handler acts only on a
present 4 KiB leaf.
"""

from __future__ import annotations

from kvmspte.arches import x86_spte as spte
from kvmspte.host import HostMM
from kvmspte.kvm import GfnRange, Memslot
from kvmspte import faultretry
from kvmspte.model import ArchModel, FaultResult, RadixViews
from kvmspte.pagetable import FREE_NEVER, Leaf, MemoryCache, RadixTable, TablePage
from kvmspte.source import Source, kconfig_readonly_mem

TDP_C = "arch/x86/kvm/mmu/tdp_mmu.c"
VIA = "read at a v6.9 copy of tdp_mmu.c (uses REMOVED_SPTE, writes 0 for a zapped SPTE)"

SRC_MAP = Source(TDP_C, "kvm_tdp_mmu_map", via=VIA)
SRC_UNMAP = Source(TDP_C, "kvm_tdp_mmu_unmap_gfn_range", via=VIA)
SRC_ZAP_LEAFS = Source(TDP_C, "tdp_mmu_zap_leafs", via=VIA)
SRC_SET_GFN = Source(TDP_C, "kvm_tdp_mmu_set_spte_gfn", via=VIA)
SRC_SET = Source(TDP_C, "set_spte_gfn", via=VIA)
SRC_HANDLE_CHANGED = Source(TDP_C, "handle_changed_spte", via=VIA)


class Model(RadixViews, ArchModel):
    id = "x86-tdp"
    fault_retry = faultretry.X86
    readonly_mem = kconfig_readonly_mem("x86")
    free_policy = FREE_NEVER
    family = "x86"
    title = "x86 TDP MMU (EPT/NPT, tdp_mmu=1)"
    hooks = {
        "fault_in": (spte.SRC_FAULTIN, spte.SRC_HUGE_ADJUST, SRC_MAP, spte.SRC_MAKE_SPTE),
        "unmap_gfn_range": (spte.SRC_UNMAP, SRC_UNMAP, SRC_ZAP_LEAFS),
        "set_spte_gfn": (spte.SRC_SET_SPTE_GFN, SRC_SET_GFN, SRC_SET, spte.SRC_CHANGED),
    }
    chain = (spte.SRC_SET_SPTE_GFN, SRC_SET_GFN, SRC_SET)

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(spte.GEOMETRY, free_policy=self.free_policy)

    # -- fault ----------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        hva = slot.gfn_to_hva(gfn)
        depth, why = spte.mapping_depth(slot, host, hva, self.step)
        writable = spte.map_writable(slot, host, hva)
        span = self.pt.g.span(depth)
        pfn = host.pte(hva).pfn & ~(span - 1)
        leaf = spte.make_spte(pfn, depth, writable)
        # mmu_topup_memory_caches fills the cache before mmu_lock; one page per level.
        got = self.pt.install(gfn & ~(span - 1), depth, leaf, MemoryCache(self.pt.g.levels))
        self.step(f"link {got.allocated} table page(s) and install a {self.pt.g.size(depth)} "
                  f"leaf: pfn {pfn:#x} {leaf.perms}", SRC_MAP)
        return FaultResult(span, why, spte.SRC_HUGE_ADJUST)

    # -- unmap ----------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        flush = self._zap_leafs(self.pt.root, rng.start, rng.end)
        self.step(f"zapped leaves in gfn [{rng.start:#x}, {rng.end:#x}); table pages are kept; "
                  f"flush={flush}", SRC_ZAP_LEAFS)
        return flush

    def _zap_leafs(self, table: TablePage, start: int, end: int) -> bool:
        flush = False
        for idx, gfn, entry in list(self.pt.entries_in(table, start, end)):
            if isinstance(entry, TablePage):
                flush |= self._zap_leafs(entry, start, end)
            else:
                self.pt.clear_entry(table, idx)
                self.step(f"zap {self.pt.g.size(table.depth)} leaf at gfn {gfn:#x} to 0",
                          SRC_ZAP_LEAFS)
                flush = True
        return flush

    # -- change_pte -----------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        self.step("no shadow pages allocated, so no rmaps: only the TDP MMU handler runs",
                  spte.SRC_SET_SPTE_GFN)
        ret = False
        for table, idx, gfn, leaf in self._leaves(self.pt.root, rng.start, rng.end):
            ret |= self._set_spte(table, idx, leaf, rng)
        if not ret:
            self.step("no present 4 KiB leaf for the gfn: nothing to do, returns false", SRC_SET)
        return ret

    def _leaves(self, table: TablePage, start: int, end: int):
        for idx, gfn, entry in self.pt.entries_in(table, start, end):
            if isinstance(entry, TablePage):
                yield from self._leaves(entry, start, end)
            else:
                yield table, idx, gfn, entry

    def _set_spte(self, table: TablePage, idx: int, old: Leaf, rng: GfnRange) -> bool:
        if table.depth != 0:
            self.step(f"leaf is {self.pt.g.size(table.depth)}, not 4 KiB: left untouched",
                      SRC_SET)
            return False
        self.pt.clear_entry(table, idx)
        self.step("zap the present 4 KiB SPTE to 0", SRC_SET)
        if not rng.pte.write:
            new = spte.changed_pte_make_spte(old, rng.pte.pfn)
            if not spte.volatile(old) and old.pfn != new.pfn:
                self.step("second write with a stale old_spte: handle_changed_spte would see a "
                          "present leaf change pfn (the BUG() case)", SRC_HANDLE_CHANGED)
            self.pt.set_entry(table, idx, new)
            self.step(f"new host PTE is read-only: install pfn {new.pfn:#x} {new.perms}",
                      spte.SRC_CHANGED)
        return True

    # -- views ------------------------------------------------------------------------