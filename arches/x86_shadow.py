"""x86 shadow MMU with rmaps (arch/x86/kvm/mmu/mmu.c) at v6.9, tdp_mmu=0.

The secondary page tables are shadow pages (kvm_mmu_page) linked by
direct_map, a radix tree; what the notifier hooks walk, though, is the per-gfn
rmap: one head per (level, gfn >> level shift) listing the leaf SPTEs that map
it.  The model keeps both: the tree via kvmspte.pagetable.RadixTable and the
rmaps as their own structure.  Only leaf SPTEs are ever in rmaps.
"""

from __future__ import annotations

from dataclasses import replace

from kvmspte.arches import x86_spte as spte
from kvmspte.host import HostMM
from kvmspte.kvm import GfnRange, Memslot
from kvmspte import faultretry
from kvmspte.model import ArchModel, FaultResult, RadixViews
from kvmspte.pagetable import FREE_NEVER, MemoryCache, RadixTable
from kvmspte.source import Source, kconfig_readonly_mem

MMU_C = spte.MMU_C
VIA = spte.VIA_MMU

SRC_DIRECT_MAP = Source(MMU_C, "direct_map", via=VIA)
SRC_RMAP_ADD = Source(MMU_C, "rmap_add", via=VIA)
SRC_PREFETCH = Source(MMU_C, "direct_pte_prefetch", via=VIA)
SRC_HANDLE_RANGE = Source(MMU_C, "kvm_handle_gfn_range", via=VIA)
SRC_ZAP_RMAP = Source(MMU_C, "kvm_zap_rmap", via=VIA)
SRC_SET_PTE_RMAP = Source(MMU_C, "kvm_set_pte_rmap", via=VIA)

#: rmaps exist for 4K, 2M and 1G leaves (PG_LEVEL_4K .. KVM_MAX_HUGEPAGE_LEVEL)
RMAP_DEPTHS = (0, 1, 2)
PTE_PREFETCH_NUM = 8


class Model(RadixViews, ArchModel):
    id = "x86-shadow"
    fault_retry = faultretry.X86
    readonly_mem = kconfig_readonly_mem("x86")
    free_policy = FREE_NEVER
    family = "x86"
    title = "x86 shadow MMU with rmaps (tdp_mmu=0 or nested shadow paging)"
    hooks = {
        "fault_in": (spte.SRC_FAULTIN, spte.SRC_HUGE_ADJUST, SRC_DIRECT_MAP, spte.SRC_MAKE_SPTE,
                     SRC_RMAP_ADD, SRC_PREFETCH),
        "unmap_gfn_range": (spte.SRC_UNMAP, SRC_HANDLE_RANGE, SRC_ZAP_RMAP),
        "set_spte_gfn": (spte.SRC_SET_SPTE_GFN, SRC_HANDLE_RANGE, SRC_SET_PTE_RMAP,
                         spte.SRC_CHANGED),
    }
    chain = (spte.SRC_SET_SPTE_GFN, SRC_HANDLE_RANGE, SRC_SET_PTE_RMAP)

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(spte.GEOMETRY, free_policy=self.free_policy)
        #: (depth, gfn >> (9 * depth)) -> base gfns of the leaf SPTEs on that rmap
        self.rmaps: dict[tuple[int, int], list[int]] = {}

    # -- rmaps -------------------------------------------------------------------------
    def _head(self, depth: int, gfn: int) -> tuple[int, int]:
        return depth, gfn >> (self.pt.g.bits * depth)

    def _rmap_add(self, depth: int, gfn: int) -> None:
        self.rmaps.setdefault(self._head(depth, gfn), []).append(gfn)

    def _slot_of(self, depth: int, gfn: int):
        """The table page and index holding the leaf SPTE for (depth, gfn)."""
        for table, idx, entry in self.pt.walk(gfn):
            if table.depth == depth:
                return table, idx, entry
        raise LookupError(f"no shadow page at depth {depth} for gfn {gfn:#x}")

    # -- fault ------------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        hva = slot.gfn_to_hva(gfn)
        depth, why = spte.mapping_depth(slot, host, hva, self.step)
        span = self.pt.g.span(depth)
        base = gfn & ~(span - 1)
        self._map_one(base, depth, host.pte(slot.gfn_to_hva(base)).pfn,
                      spte.map_writable(slot, host, hva), prefetch=False)
        if depth == 0:
            self._prefetch(slot, host, gfn)
        return FaultResult(span, why, spte.SRC_HUGE_ADJUST)

    def _map_one(self, gfn: int, depth: int, pfn: int, writable: bool, prefetch: bool) -> None:
        leaf = spte.make_spte(pfn, depth, writable)
        if prefetch:
            leaf = replace(leaf, young=False)
        existing = self.pt.lookup(gfn)
        got = self.pt.install(gfn, depth, leaf, MemoryCache(self.pt.g.levels))
        if existing is not None and existing[0].pfn == pfn:
            # mmu_set_spte: same pfn already mapped (e.g. prefetched): was_rmapped, no rmap_add
            self.step(f"update the SPTE at gfn {gfn:#x} in place (already on its rmap)",
                      SRC_RMAP_ADD)
            return
        self._rmap_add(depth, gfn)
        self.step(f"{'prefetch' if prefetch else 'map'} {self.pt.g.size(depth)} SPTE at gfn "
                  f"{gfn:#x} -> pfn {pfn:#x} {leaf.perms} ({got.allocated} shadow page(s) "
                  f"linked), rmap_add at {self.pt.g.names[depth]}",
                  SRC_PREFETCH if prefetch else SRC_RMAP_ADD)

    def _prefetch(self, slot: Memslot, host: HostMM, gfn: int) -> None:
        """direct_pte_prefetch: fill the non-present 4 KiB SPTEs of the aligned group of
        PTE_PREFETCH_NUM around the fault, with Accessed clear."""
        first = gfn & ~(PTE_PREFETCH_NUM - 1)
        for other in range(first, first + PTE_PREFETCH_NUM):
            if other == gfn or self.pt.lookup(other) is not None:
                continue
            hva = slot.gfn_to_hva(other)
            self._map_one(other, 0, host.pte(hva).pfn, spte.map_writable(slot, host, hva),
                          prefetch=True)

    # -- unmap ------------------------------------------------------------------------
    def _heads(self, start: int, end: int):
        """kvm_handle_gfn_range: every (depth, head) from start to end-1 inclusive, per level."""
        for depth in RMAP_DEPTHS:
            first = self._head(depth, start)[1]
            last = self._head(depth, end - 1)[1]
            for idx in range(first, last + 1):
                yield depth, (depth, idx)

    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        flush = False
        for depth, head in self._heads(rng.start, rng.end):
            flush |= self._zap_rmap(depth, head)
        self.step(f"zapped rmaps for gfn [{rng.start:#x}, {rng.end:#x}); shadow pages are kept; "
                  f"flush={flush}", SRC_ZAP_RMAP)
        return flush

    def _zap_rmap(self, depth: int, head: tuple[int, int]) -> bool:
        sptes = self.rmaps.pop(head, [])
        for gfn in sptes:
            table, idx, _ = self._slot_of(depth, gfn)
            self.pt.clear_entry(table, idx)
            self.step(f"zap {self.pt.g.size(depth)} SPTE at gfn {gfn:#x}", SRC_ZAP_RMAP)
        return bool(sptes)

    # -- change_pte -----------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        self.step("rmaps exist and tdp_mmu is off: run kvm_set_pte_rmap on each level",
                  spte.SRC_SET_SPTE_GFN)
        flush = False
        for depth, head in self._heads(rng.start, rng.end):
            flush |= self._set_pte_rmap(depth, head, rng)
        self.step(f"rmaps walked at 4K, 2M and 1G: {'some' if flush else 'no'} SPTE found for "
                  f"the gfn, returns {str(flush).lower()}", SRC_SET_PTE_RMAP)
        return flush

    def _set_pte_rmap(self, depth: int, head: tuple[int, int], rng: GfnRange) -> bool:
        sptes = list(self.rmaps.get(head, []))
        if not sptes:
            self.step(f"rmap at {self.pt.g.names[depth]} is empty: need_flush stays false",
                      SRC_SET_PTE_RMAP)
            return False
        for gfn in sptes:
            table, idx, old = self._slot_of(depth, gfn)
            if rng.pte.write:
                self.pt.clear_entry(table, idx)
                self.rmaps[head].remove(gfn)
                self.step(f"new host PTE writable: drop the {self.pt.g.size(depth)} SPTE",
                          SRC_SET_PTE_RMAP)
            else:
                new = spte.changed_pte_make_spte(old, rng.pte.pfn)
                self.pt.set_entry(table, idx, new)
                self.step(f"new host PTE read-only: repoint the {self.pt.g.size(depth)} SPTE to "
                          f"pfn {new.pfn:#x}", spte.SRC_CHANGED)
        if not self.rmaps.get(head):
            self.rmaps.pop(head, None)
        # kvm_available_flush_remote_tlbs_range() is false on bare metal: return need_flush.
        return True

    # -- views ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        out = self.pt.snapshot()
        for (depth, idx), gfns in sorted(self.rmaps.items()):
            if gfns:
                base = idx << (self.pt.g.bits * depth)
                out[f"rmap {self.pt.g.names[depth]} @gfn {base:#x}"] = {
                    "sptes": [hex(g) for g in sorted(gfns)]}
        return dict(sorted(out.items()))

    def view(self, gfn: int) -> list[dict]:
        rows = self.pt.path_view(gfn)
        for depth in RMAP_DEPTHS:
            head = self._head(depth, gfn)
            rows.append({"rmap": self.pt.g.names[depth],
                         "sptes": [hex(g) for g in self.rmaps.get(head, [])]})
        return rows
