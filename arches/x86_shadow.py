"""x86 shadow MMU with rmaps (arch/x86/kvm/mmu/mmu.c), tdp_mmu=0, from v2.6.32 to v6.9.

The secondary page tables are shadow pages (kvm_mmu_page) linked by
direct_map, a radix tree; what the notifier hooks walk, though, is the per-gfn
rmap: one head per (level, gfn >> level shift) listing the leaf SPTEs that map
it.  The model keeps both: the tree via kvmspte.pagetable.RadixTable and the
rmaps as their own structure.  Only leaf SPTEs are ever in rmaps.

Releases: one code path per behaviour; ``switches`` names the releases where the
change_pte handler, the unmap walk or the fault path changed, each with the copy
read.  The handler's core never changed: for every SPTE on the gfn's rmaps at
4K, 2M and 1G, a writable new host PTE drops the SPTE, a read-only one repoints
it at the new pfn read-only.  What changed is which bits the repointed SPTE
loses, and who flushes (the handler itself before v5.0, generic code after).
"""

from __future__ import annotations

from kvmspte.records import replace

from kvmspte.arches import x86_spte as spte
from kvmspte.sim import copies
from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, FaultResult, RadixViews
from kvmspte.sim.pagetable import FREE_NEVER, MemoryCache, RadixTable
from kvmspte.sim.release import Release, Switch, Switches, at
from kvmspte.sim.source import Source, kconfig_readonly_mem

MMU_C = spte.MMU_C
OLD = spte.OLD_MMU_C
VIA = spte.VIA_MMU
R = Release.parse

SRC_DIRECT_MAP = Source(MMU_C, "direct_map", via=VIA)
SRC_RMAP_ADD = Source(MMU_C, "rmap_add", via=VIA)
SRC_PREFETCH = Source(MMU_C, "direct_pte_prefetch", via=VIA)
SRC_HANDLE_RANGE = Source(MMU_C, "kvm_handle_gfn_range", via=VIA)
SRC_ZAP_RMAP = Source(MMU_C, "kvm_zap_rmap", via=VIA)
SRC_SET_PTE_RMAP = Source(MMU_C, "kvm_set_pte_rmap", via=VIA)

# -- the copies read for older releases (citations of each era) ----------------------
S2632 = dict(release="v2.6.32", via=spte.VIA_2632)
S30 = dict(release="v3.0", via=spte.VIA_30)
S4X = dict(release="v4.2", via=spte.VIA_4X)
S50 = dict(release="v5.0", via=spte.VIA_5X)
S513 = dict(release="v5.13", via=spte.VIA_513)

SRC_SET_PTE_RMAPP_2632 = Source(OLD, "kvm_set_pte_rmapp", **S2632)
SRC_SET_PTE_RMAPP_30 = Source(OLD, "kvm_set_pte_rmapp", **S30)
SRC_SET_PTE_RMAPP_410 = Source(
    OLD, "kvm_set_pte_rmapp", release="v4.10",
    via="f160c7b7bb32 'kvm: x86: mmu: Lockless access tracking for Intel CPUs without EPT A "
        "bits': the read-only SPTE goes through mark_spte_for_access_track (seen in the ~5.0-5.9 "
        "copy, stored id 47443727, and the SPP patch copy id 8644248036); v4.10 from a stable "
        "backport-dependency list (id 11049922130), not re-read at the tag")
SRC_SET_PTE_RMAPP_50 = Source(OLD, "kvm_set_pte_rmapp", **S50)
SRC_SET_PTE_RMAPP_510 = Source(
    MMU_C, "kvm_set_pte_rmapp", release="v5.10",
    via="read in the 5.10 patch factoring kvm_mmu_changed_pte_notifier_make_spte out of "
        "kvm_set_pte_rmapp (stored id 4947225865, from Ben Gardon's TDP MMU series)")
SRC_SET_PTE_RMAPP_513 = Source(MMU_C, "kvm_set_pte_rmapp", **S513)
SRC_SET_PTE_RMAPP_517 = Source(
    MMU_C, "kvm_set_pte_rmapp", release="v5.17",
    via="f082d86ea685 'KVM: x86/mmu: Clear MMU-writable during changed_pte notifier' "
        "<20220113233020.3986005-3-dmatlack@google.com> (stored id 38332883020; in the 5.17 "
        "merge pull, id 38598464036; the same patch is e9677a5fa3b6 in another kvm revlist)")
SRC_HANDLE_HVA_2632 = Source(OLD, "kvm_handle_hva", **S2632)
SRC_HANDLE_HVA_30 = Source(OLD, "kvm_handle_hva", **S30)
SRC_HANDLE_HVA_RANGE_4X = Source(OLD, "kvm_handle_hva_range", **S4X)
SRC_HANDLE_HVA_RANGE_50 = Source(OLD, "kvm_handle_hva_range", **S50)
SRC_HANDLE_GFN_RANGE_513 = Source(MMU_C, "kvm_handle_gfn_range", **S513)
SRC_UNMAP_RMAPP_2632 = Source(OLD, "kvm_unmap_rmapp", **S2632)
SRC_UNMAP_RMAPP_30 = Source(OLD, "kvm_unmap_rmapp", **S30)
SRC_UNMAP_RMAPP_4X = Source(OLD, "kvm_unmap_rmapp", **S4X)
SRC_ZAP_RMAPP_513 = Source(MMU_C, "kvm_zap_rmapp", **S513)
SRC_SET_SPTE_HVA_2632 = Source(OLD, "kvm_set_spte_hva", **S2632)
SRC_SET_SPTE_HVA_50 = Source(OLD, "kvm_set_spte_hva", **S50)
SRC_UNMAP_HVA_2632 = Source(OLD, "kvm_unmap_hva", **S2632)
SRC_UNMAP_HVA_RANGE_4X = Source(OLD, "kvm_unmap_hva_range", **S4X)
SRC_SET_SPTE_GFN_513 = Source(MMU_C, "kvm_set_spte_gfn", **S513)
SRC_UNMAP_GFN_513 = Source(MMU_C, "kvm_unmap_gfn_range", **S513)
SRC_FLUSH_2632 = Source(OLD, "kvm_set_pte_rmapp: kvm_flush_remote_tlbs", **S2632)
SRC_FLUSH_30 = Source(OLD, "kvm_set_pte_rmapp: kvm_flush_remote_tlbs", **S30)
SRC_FLUSH_4X = Source(OLD, "kvm_set_pte_rmapp: kvm_flush_remote_tlbs", **S4X)
# fault path: the names read in the 2.6.32 copy (tdp_page_fault -> mapping_level,
# __direct_map -> mmu_set_spte -> set_spte, rmap_add); __direct_map and set_spte are also
# in the ~4.x copy (id 7939674), which calls direct_pte_prefetch from __direct_map.
SRC_MAPPING_LEVEL_2632 = Source(OLD, "mapping_level", **S2632)
SRC_DIRECT_MAP_2632 = Source(OLD, "__direct_map", **S2632)
SRC_SET_SPTE_2632 = Source(OLD, "set_spte", **S2632)
SRC_RMAP_ADD_2632 = Source(OLD, "rmap_add", **S2632)
SRC_PREFETCH_4X = Source(OLD, "direct_pte_prefetch", **S4X)

#: rmaps exist for 4K, 2M and 1G leaves (PG_LEVEL_4K .. KVM_MAX_HUGEPAGE_LEVEL); the 2.6.32
#: walker already visits the 4K rmap and each lpage_info rmap_pde (KVM_NR_PAGE_SIZES = 3)
RMAP_DEPTHS = (0, 1, 2)
PTE_PREFETCH_NUM = 8

ARRIVED = Switch(
    "change-pte", R("2.6.32"), "3da0dd433dc3",
    "kvm_set_spte_hva and kvm_set_pte_rmapp: .change_pte() reaches the x86 rmaps (KSM support)",
    Source(OLD, "kvm_set_spte_hva", **S2632))

SWITCHES = Switches([
    Switch("prefetch", R("2.6.37"), "957ed9effd80",
           "__direct_map prefetches the non-present 4 KiB SPTEs around a fault "
           "(direct_pte_prefetch); the 2.6.32 __direct_map maps only the faulting gfn "
           "[release from memory: not read at the tag]", SRC_PREFETCH_4X),
    Switch("clear-accessed", R("3.0"), "(not pinned)",
           "kvm_set_pte_rmapp also clears Accessed (shadow_accessed_mask) in the read-only "
           "SPTE and writes it with A/D tracking; absent in the 2.6.32 copy, present in the "
           "~3.0 copy: the model takes v3.0, the earliest copy read that has it",
           SRC_SET_PTE_RMAPP_30),
    Switch("mmu-writable-bit", R("3.5"), "49fde3406f32",
           "set_spte marks writable SPTEs MMU-writable (SPTE_MMU_WRITEABLE, fast page fault "
           "series); the 2.6.32 set_spte has no such bit [release from memory]",
           SRC_SET_SPTE_2632),
    Switch("unmap-hva-range", R("3.6"), "b3ae2096974b",
           "invalidate_range_start unmaps with kvm_unmap_hva_range (one rmap walk per "
           "range) instead of kvm_unmap_hva per page; same SPTEs zapped (citation only) "
           "[release from memory]", SRC_HANDLE_HVA_RANGE_4X),
    Switch("access-track", R("4.10"), "f160c7b7bb32",
           "the read-only SPTE goes through mark_spte_for_access_track: with A/D bits "
           "(modelled) that clears Accessed as before; EPT without A/D would get an "
           "access-tracked SPTE (not modelled) - citation only here", SRC_SET_PTE_RMAPP_410),
    Switch("flush-returned", R("5.0"), "748c0e312fce",
           "kvm_set_spte_hva returns int: kvm_set_pte_rmapp returns need_flush for the generic "
           "notifier to flush, instead of calling kvm_flush_remote_tlbs itself (it still flushes "
           "just the gfn itself and returns 0 when a ranged Hyper-V flush is available: not "
           "modelled, bare metal)", SRC_SET_PTE_RMAPP_50),
    Switch("make-spte-helper", R("5.10"), "1d8dd6b3f12b",
           "the read-only SPTE is built by kvm_mmu_changed_pte_notifier_make_spte, shared with "
           "the TDP MMU; same bits (citation only)", SRC_SET_PTE_RMAPP_510),
    Switch("gfn-range", R("5.13"), "3039bcc74498",
           "kvm_set_spte_gfn/kvm_unmap_gfn_range on a gfn range from generic code "
           "(kvm_handle_gfn_range, 4K..1G rmaps) replace the hva walkers; same SPTEs "
           "(citation only)", SRC_HANDLE_GFN_RANGE_513),
    Switch("rmaps-gate", R("5.14"), "e2209710ccc5",
           "kvm_set_spte_gfn walks rmaps only if kvm_memslots_have_rmaps(); always true with "
           "tdp_mmu=0 (this model), so only the citation changes "
           "[series from the notes: lazy rmap allocation, revlist id 67585317218]",
           SRC_SET_SPTE_GFN_513),
    Switch("clear-mmu-writable", R("5.17"), "f082d86ea685",
           "the read-only SPTE also loses MMU-writable (before, it kept the bit)",
           SRC_SET_PTE_RMAPP_517),
    Switch("rmap-rename", R("6.0"), "aed02fe3cae4",
           "kvm_set_pte_rmapp -> kvm_set_pte_rmap, kvm_zap_rmapp -> kvm_zap_rmap (also "
           "f8480721a74b); pushed to kvm/queue 2022-07-28 for the 6.0 merge window "
           "(post-receive mail, stored id 66744274936); citation only", SRC_SET_PTE_RMAP),
])


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
    arrived = ARRIVED
    switches = SWITCHES
    copies = spte.COPIES

    # -- the Source of each era (citations; behaviour is chosen by since()) -------------
    @classmethod
    def _handler_src(cls, kernel: Release) -> Source:
        return at((
            (R("2.6.32"), SRC_SET_PTE_RMAPP_2632), (R("3.0"), SRC_SET_PTE_RMAPP_30),
            (R("4.10"), SRC_SET_PTE_RMAPP_410), (R("5.0"), SRC_SET_PTE_RMAPP_50),
            (R("5.10"), SRC_SET_PTE_RMAPP_510), (R("5.13"), SRC_SET_PTE_RMAPP_513),
            (R("5.17"), SRC_SET_PTE_RMAPP_517), (R("6.0"), SRC_SET_PTE_RMAP)), kernel)

    @classmethod
    def _walker_src(cls, kernel: Release) -> Source:
        return at((
            (R("2.6.32"), SRC_HANDLE_HVA_2632), (R("3.0"), SRC_HANDLE_HVA_30),
            (R("3.6"), SRC_HANDLE_HVA_RANGE_4X), (R("5.0"), SRC_HANDLE_HVA_RANGE_50),
            (R("5.13"), SRC_HANDLE_GFN_RANGE_513), (R("6.0"), SRC_HANDLE_RANGE)), kernel)

    @classmethod
    def _zap_src(cls, kernel: Release) -> Source:
        return at((
            (R("2.6.32"), SRC_UNMAP_RMAPP_2632), (R("3.0"), SRC_UNMAP_RMAPP_30),
            (R("3.6"), SRC_UNMAP_RMAPP_4X), (R("5.13"), SRC_ZAP_RMAPP_513),
            (R("6.0"), SRC_ZAP_RMAP)), kernel)

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        """The hooks' sources of each era; v6.9 citations name the copy read for the
        release (``copies``: x86_spte.COPIES)."""
        return copies.redate_hooks(cls._hooks_of(kernel), kernel, cls.copies)

    @classmethod
    def _hooks_of(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        if kernel >= cls.switches.get("rmap-rename").since:
            return cls.hooks
        walker, handler, zap = cls._walker_src(kernel), cls._handler_src(kernel), \
            cls._zap_src(kernel)
        if kernel >= cls.switches.get("gfn-range").since:
            set_hook, unmap_hook = SRC_SET_SPTE_GFN_513, SRC_UNMAP_GFN_513
        else:
            set_hook = at(((R("2.6.32"), SRC_SET_SPTE_HVA_2632),
                           (R("5.0"), SRC_SET_SPTE_HVA_50)), kernel)
            unmap_hook = at(((R("2.6.32"), SRC_UNMAP_HVA_2632),
                             (R("3.6"), SRC_UNMAP_HVA_RANGE_4X)), kernel)
        fault = (SRC_MAPPING_LEVEL_2632, SRC_DIRECT_MAP_2632, SRC_SET_SPTE_2632,
                 SRC_RMAP_ADD_2632)
        if kernel >= cls.switches.get("prefetch").since:
            fault += (SRC_PREFETCH_4X,)
        if kernel >= cls.switches.get("make-spte-helper").since:
            fault = cls.hooks["fault_in"]
        return {"fault_in": fault, "unmap_gfn_range": (unmap_hook, walker, zap),
                "set_spte_gfn": (set_hook, walker, handler)}

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(spte.GEOMETRY, free_policy=self.free_policy)
        #: (depth, gfn >> (9 * depth)) -> base gfns of the leaf SPTEs on that rmap
        self.rmaps: dict[tuple[int, int], list[int]] = {}
        self._at = self.hooks_at(self.kernel)

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
    def _fault_src(self, name: str) -> Source:
        """fault_in's steps cite the era's functions (v2.6.32 names before v5.10)."""
        if self.kernel >= self.switches.get("make-spte-helper").since:
            return {"adjust": spte.SRC_HUGE_ADJUST, "rmap": SRC_RMAP_ADD,
                    "prefetch": SRC_PREFETCH}[name]
        return {"adjust": SRC_MAPPING_LEVEL_2632, "rmap": SRC_RMAP_ADD_2632,
                "prefetch": SRC_PREFETCH_4X}[name]

    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        hva = slot.gfn_to_hva(gfn)
        adjust = self._fault_src("adjust")
        depth, why = spte.mapping_depth(slot, host, hva, self.step, adjust)
        span = self.pt.g.span(depth)
        base = gfn & ~(span - 1)
        self._map_one(base, depth, host.pte(slot.gfn_to_hva(base)).pfn,
                      spte.map_writable(slot, host, hva), prefetch=False)
        if depth == 0 and self.since("prefetch"):
            self._prefetch(slot, host, gfn)
        return FaultResult(span, why, self.cite(adjust))

    def _map_one(self, gfn: int, depth: int, pfn: int, writable: bool, prefetch: bool) -> None:
        leaf = spte.make_spte(pfn, depth, writable, self.since("mmu-writable-bit"))
        if prefetch:
            leaf = replace(leaf, young=False)
        existing = self.pt.lookup(gfn)
        got = self.pt.install(gfn, depth, leaf, MemoryCache(self.pt.g.levels))
        rmap_src = self._fault_src("rmap")
        if existing is not None and existing[0].pfn == pfn:
            # mmu_set_spte: same pfn already mapped (e.g. prefetched): was_rmapped, no rmap_add
            self.step(f"update the SPTE at gfn {gfn:#x} in place (already on its rmap)",
                      rmap_src)
            return
        self._rmap_add(depth, gfn)
        self.step(f"{'prefetch' if prefetch else 'map'} {self.pt.g.size(depth)} SPTE at gfn "
                  f"{gfn:#x} -> pfn {pfn:#x} {leaf.perms} ({got.allocated} shadow page(s) "
                  f"linked), rmap_add at {self.pt.g.names[depth]}",
                  self._fault_src("prefetch") if prefetch else rmap_src)

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
        """kvm_handle_gfn_range: every (depth, head) from start to end-1 inclusive, per level
        (kvm_handle_hva/kvm_handle_hva_range walked the same heads before v5.13)."""
        for depth in RMAP_DEPTHS:
            first = self._head(depth, start)[1]
            last = self._head(depth, end - 1)[1]
            for idx in range(first, last + 1):
                yield depth, (depth, idx)

    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        zap_src = self._at["unmap_gfn_range"][2]
        flush = False
        for depth, head in self._heads(rng.start, rng.end):
            flush |= self._zap_rmap(depth, head, zap_src)
        self.step(f"zapped rmaps for gfn [{rng.start:#x}, {rng.end:#x}); shadow pages are kept; "
                  f"flush={flush}", zap_src)
        return flush

    def _zap_rmap(self, depth: int, head: tuple[int, int], zap_src: Source) -> bool:
        sptes = self.rmaps.pop(head, [])
        for gfn in sptes:
            table, idx, _ = self._slot_of(depth, gfn)
            self.pt.clear_entry(table, idx)
            self.step(f"zap {self.pt.g.size(depth)} SPTE at gfn {gfn:#x}", zap_src)
        return bool(sptes)

    # -- change_pte -----------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        set_hook, walker, handler = self._at["set_spte_gfn"][:3]
        if self.since("rmaps-gate"):
            self.step("rmaps exist and tdp_mmu is off: run kvm_set_pte_rmap on each level"
                      if self.since("rmap-rename") else
                      "rmaps exist and tdp_mmu is off: run kvm_set_pte_rmapp on each level",
                      set_hook)
        else:
            self.step("run kvm_set_pte_rmapp on the gfn's rmap at each level (no rmap gate "
                      "before v5.14)", set_hook)
        need_flush = False
        for depth, head in self._heads(rng.start, rng.end):
            need_flush |= self._set_pte_rmap(depth, head, rng, handler)
        if not self.since("flush-returned"):
            # 2.6.32 .. 4.20: kvm_set_pte_rmapp flushes remote TLBs itself and returns 0;
            # kvm_set_spte_hva returns nothing to generic code.
            if need_flush:
                self.flush_remote_tlbs("kvm_set_pte_rmapp found SPTEs: kvm_flush_remote_tlbs itself",
                           self._self_flush_src())
            self.step(f"rmaps walked at 4K, 2M and 1G: {'some' if need_flush else 'no'} SPTE "
                      f"found for the gfn; the handler returns 0 (flushing is its own job)",
                      handler)
            return False
        self.step(f"rmaps walked at 4K, 2M and 1G: {'some' if need_flush else 'no'} SPTE found for "
                  f"the gfn, returns {str(need_flush).lower()}", handler)
        return need_flush

    def _self_flush_src(self) -> Source:
        return at(((R("2.6.32"), SRC_FLUSH_2632), (R("3.0"), SRC_FLUSH_30),
                   (R("3.6"), SRC_FLUSH_4X)), self.kernel)

    def _set_pte_rmap(self, depth: int, head: tuple[int, int], rng: GfnRange,
                      handler: Source) -> bool:
        sptes = list(self.rmaps.get(head, []))
        if not sptes:
            self.step(f"rmap at {self.pt.g.names[depth]} is empty: need_flush stays false",
                      handler)
            return False
        for gfn in sptes:
            table, idx, old = self._slot_of(depth, gfn)
            if rng.pte.write:
                self.pt.clear_entry(table, idx)
                self.rmaps[head].remove(gfn)
                self.step(f"new host PTE writable: drop the {self.pt.g.size(depth)} SPTE",
                          handler)
            else:
                new = spte.changed_pte_make_spte(
                    old, rng.pte.pfn, clear_accessed=self.since("clear-accessed"),
                    clear_mmu_writable=self.since("clear-mmu-writable"))
                self.pt.set_entry(table, idx, new)
                self.step(f"new host PTE read-only: repoint the {self.pt.g.size(depth)} SPTE to "
                          f"pfn {new.pfn:#x}",
                          spte.SRC_CHANGED if self.since("rmap-rename") else handler)
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
