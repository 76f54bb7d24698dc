"""x86 TDP MMU (arch/x86/kvm/mmu/tdp_mmu.c) from v5.10 to v6.9.

One 4-level root; the fault path allocates the table pages it needs from the
vCPU's memory cache; change_pte's handler acts only on a present 4 KiB leaf:
it zaps it to 0 and, for a read-only new host PTE, installs the changed-pte
SPTE.  At v6.9 unmap zaps every present leaf overlapping the range (a 2 MiB
leaf whole) and never frees a table page.

Releases (``switches``): the TDP MMU arrived in v5.10 (1d8dd6b3f12b) as an
opt-in (module parameter kvm.tdp_mmu, default off; on by default from v5.15,
71ba3f3189c7).  The model runs the TDP MMU's code whenever it is asked at
v5.10 or later; before v5.15 that is a host booted with kvm.tdp_mmu=1.
Until v5.18 the handler flushed the gfn itself (v5.10-v5.12 also between its
two writes) and returned 0/false, the unmap walker (zap_gfn_range) also zapped
non-leaf SPTEs whose whole span lay in the range (freeing the child tables),
and the second write always reported the stale pre-zap SPTE as the old value.
"""

from __future__ import annotations

from kvmspte.arches import x86_spte as spte
from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, FaultResult, RadixViews
from kvmspte.sim.pagetable import FREE_NEVER, Leaf, MemoryCache, RadixTable, TablePage
from kvmspte.sim.release import Release, Switch, Switches
from kvmspte.sim.source import Source, kconfig_readonly_mem

TDP_C = "arch/x86/kvm/mmu/tdp_mmu.c"
VIA = "read at a v6.9 copy of tdp_mmu.c (uses REMOVED_SPTE, writes 0 for a zapped SPTE)"
R = Release.parse

SRC_MAP = Source(TDP_C, "kvm_tdp_mmu_map", via=VIA)
SRC_UNMAP = Source(TDP_C, "kvm_tdp_mmu_unmap_gfn_range", via=VIA)
SRC_ZAP_LEAFS = Source(TDP_C, "tdp_mmu_zap_leafs", via=VIA)
SRC_SET_GFN = Source(TDP_C, "kvm_tdp_mmu_set_spte_gfn", via=VIA)
SRC_SET = Source(TDP_C, "set_spte_gfn", via=VIA)
SRC_HANDLE_CHANGED = Source(TDP_C, "handle_changed_spte", via=VIA)

# -- the copies read for older releases --------------------------------------------------
VIA_510 = ("read at a 5.10 copy of tdp_mmu.c (stored id 11369832; tdp_mmu_enabled module "
           "parameter default false, spinlock mmu_lock, set_tdp_spte/kvm_tdp_mmu_set_spte_hva) "
           "and the patch mail <20201023163024.2765558-17-pbonzini@redhat.com> (id 5219153776)")
VIA_513 = ("read in 3039bcc74498's diff (stored id 1318982929) and a 5.13-5.17 copy of "
           "tdp_mmu.c (stored id 18673398; range->pte, tdp_mmu_set_spte taking the iterator)")
S510 = dict(release="v5.10", via=VIA_510)
S513 = dict(release="v5.13", via=VIA_513)

SRC_MAP_510 = Source(TDP_C, "kvm_tdp_mmu_map", **S510)
SRC_ADJUST_510 = Source(spte.MMU_C, "kvm_mmu_hugepage_adjust (called by kvm_tdp_mmu_map)", **S510)
SRC_SET_HVA_510 = Source(spte.MMU_C, "kvm_set_spte_hva", **S510)
SRC_UNMAP_HVA_510 = Source(spte.MMU_C, "kvm_unmap_hva_range", **S510)
SRC_TDP_SET_HVA_510 = Source(TDP_C, "kvm_tdp_mmu_set_spte_hva", **S510)
SRC_SET_TDP_SPTE_510 = Source(TDP_C, "set_tdp_spte", **S510)
SRC_TDP_UNMAP_HVA_510 = Source(TDP_C, "kvm_tdp_mmu_zap_hva_range", **S510)
SRC_ZAP_GFN_RANGE_510 = Source(TDP_C, "zap_gfn_range", **S510)
SRC_HANDLE_CHANGED_510 = Source(TDP_C, "__handle_changed_spte", **S510)
SRC_SET_GFN_HOOK_513 = Source(spte.MMU_C, "kvm_set_spte_gfn", **S513)
SRC_UNMAP_GFN_HOOK_513 = Source(spte.MMU_C, "kvm_unmap_gfn_range", **S513)
SRC_SET_GFN_513 = Source(TDP_C, "kvm_tdp_mmu_set_spte_gfn", **S513)
SRC_SET_513 = Source(TDP_C, "set_spte_gfn", **S513)
SRC_UNMAP_513 = Source(TDP_C, "kvm_tdp_mmu_unmap_gfn_range", **S513)
SRC_ZAP_GFN_RANGE_513 = Source(TDP_C, "zap_gfn_range", **S513)

ARRIVED = Switch(
    "tdp-mmu", R("5.10"), "1d8dd6b3f12b",
    "kvm_set_spte_hva also runs the TDP MMU's handler (set_tdp_spte) when the VM uses the TDP "
    "MMU; in v5.10-v5.14 only with the module parameter kvm.tdp_mmu=1 (default off, x86_64 "
    "with EPT/NPT), on by default from v5.15 (71ba3f3189c7); the model runs the TDP MMU's "
    "code whenever asked at v5.10 or later", SRC_SET_TDP_SPTE_510)

SWITCHES = Switches([
    Switch("no-mid-flush", R("5.13"), "(not pinned)",
           "'KVM: x86/mmu: Remove spurious TLB flush from TDP MMU's change_pte() hook' "
           "<20210226010329.1766033-2-seanjc@google.com> (diff, stored id 25490365648) drops "
           "the flush between zapping and re-installing; it is in the 5.13 merge-window pull "
           "<20210428230528.189146-1-pbonzini@redhat.com> (stored id 32485718801), so v5.10-v5.12 "
           "flush twice (kvm/queue hashes seen: 63dfdd709bb3, f055ab634c83, d9d446223348)",
           SRC_SET_513),
    Switch("gfn-range", R("5.13"), "3039bcc74498",
           "kvm_tdp_mmu_set_spte_gfn/set_spte_gfn on the gfn range from generic code; the "
           "wrapper still flushes the gfn itself when the handler did something and returns "
           "false (a FIXME in the code)", SRC_SET_GFN_513),
    Switch("rmaps-gate", R("5.14"), "e2209710ccc5",
           "kvm_set_spte_gfn skips the rmap walk when no rmaps were allocated (TDP MMU, no "
           "shadow roots); before, kvm_handle_hva/kvm_handle_gfn_range walked the empty rmaps "
           "first (finding nothing) [series from the notes, revlist id 67585317218]",
           SRC_SET_GFN_HOOK_513),
    Switch("default-on", R("5.15"), "71ba3f3189c7",
           "the TDP MMU is on by default (kvm.tdp_mmu defaults to true); trace wording only - "
           "the model runs the TDP MMU at every release from v5.10 (the 5.15.y stable series "
           "later reverted the default, not modelled)", SRC_MAP_510),
    Switch("clear-mmu-writable", R("5.17"), "f082d86ea685",
           "kvm_mmu_changed_pte_notifier_make_spte also clears MMU-writable "
           "<20220113233020.3986005-3-dmatlack@google.com> (stored id 38332883020; 5.17 merge "
           "pull id 38598464036)", SRC_SET_513),
    Switch("batched-flush", R("5.18"), "93fa50f644e0",
           "'Batch TLB flushes from TDP MMU for MMU notifier change_spte': "
           "kvm_tdp_mmu_set_spte_gfn returns the handler's result for generic code to flush, "
           "no flush of its own (kvm/next push 2022-03-08, stored id 66518360356)", SRC_SET_GFN),
    Switch("old-spte-refresh", R("5.18"), "ba3a6120a4e7",
           "'Use atomic XCHG to write TDP MMU SPTEs with volatile bits' "
           "<20220423034752.1161007-4-seanjc@google.com> (stored id 46059933611; kvm for-linus "
           "pull id 37383532030): the iterator keeps the value the write returned, so after the "
           "zap only a non-volatile old SPTE is still reported stale; before, the second write "
           "always reported the pre-zap SPTE, so any pfn change hit the BUG() in "
           "__handle_changed_spte", SRC_HANDLE_CHANGED),
    Switch("zap-leafs", R("5.18"), "cf3e26427c08",
           "'Zap only TDP MMU leafs in kvm_zap_gfn_range()': zap_gfn_range becomes "
           "tdp_mmu_zap_leafs, zapping leaves only; before, a non-leaf SPTE whose whole span "
           "lay in the range was zapped too, freeing its child tables (diff ids 38301102584, "
           "45428519983; kvm/next push id 66518360356)", SRC_ZAP_LEAFS),
])


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
    arrived = ARRIVED
    switches = SWITCHES
    copies = spte.COPIES

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        """The hooks' sources of each era; v6.9 citations name the copy read for the
        release (``copies``: x86_spte.COPIES)."""
        if kernel >= cls.switches.get("batched-flush").since:
            return super().hooks_at(kernel)
        fault = (SRC_ADJUST_510, SRC_MAP_510)
        if kernel >= cls.switches.get("gfn-range").since:
            return {"fault_in": fault,
                    "unmap_gfn_range": (SRC_UNMAP_GFN_HOOK_513, SRC_UNMAP_513,
                                        SRC_ZAP_GFN_RANGE_513),
                    "set_spte_gfn": (SRC_SET_GFN_HOOK_513, SRC_SET_GFN_513, SRC_SET_513)}
        return {"fault_in": fault,
                "unmap_gfn_range": (SRC_UNMAP_HVA_510, SRC_TDP_UNMAP_HVA_510,
                                    SRC_ZAP_GFN_RANGE_510),
                "set_spte_gfn": (SRC_SET_HVA_510, SRC_TDP_SET_HVA_510, SRC_SET_TDP_SPTE_510)}

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(spte.GEOMETRY, free_policy=self.free_policy)
        self._at = self.hooks_at(self.kernel)

    # -- fault ----------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        modern = self.since("batched-flush")
        adjust = spte.SRC_HUGE_ADJUST if modern else SRC_ADJUST_510
        hva = slot.gfn_to_hva(gfn)
        depth, why = spte.mapping_depth(slot, host, hva, self.step, adjust)
        writable = spte.map_writable(slot, host, hva)
        span = self.pt.g.span(depth)
        pfn = host.pte(hva).pfn & ~(span - 1)
        leaf = spte.make_spte(pfn, depth, writable)
        # mmu_topup_memory_caches fills the cache before mmu_lock; one page per level.
        got = self.pt.install(gfn & ~(span - 1), depth, leaf, MemoryCache(self.pt.g.levels))
        self.step(f"link {got.allocated} table page(s) and install a {self.pt.g.size(depth)} "
                  f"leaf: pfn {pfn:#x} {leaf.perms}", SRC_MAP if modern else SRC_MAP_510)
        return FaultResult(span, why, self.cite(adjust))

    # -- unmap ----------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        if self.since("zap-leafs"):
            flush = self._zap_leafs(self.pt.root, rng.start, rng.end)
            self.step(f"zapped leaves in gfn [{rng.start:#x}, {rng.end:#x}); table pages are "
                      f"kept; flush={flush}", SRC_ZAP_LEAFS)
            return flush
        src = self._at["unmap_gfn_range"][2]
        flush = self._zap_gfn_range(self.pt.root, rng.start, rng.end, src)
        self.step(f"zap_gfn_range over gfn [{rng.start:#x}, {rng.end:#x}): leaves zapped, and any "
                  f"table wholly inside the range freed; flush={flush}", src)
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

    def _zap_gfn_range(self, table: TablePage, start: int, end: int, src: Source) -> bool:
        """zap_gfn_range (v5.10-v5.17): a present non-leaf SPTE whose whole span lies in
        [start, end) is zapped, which frees its child tables (and __handle_changed_spte
        flushes that span itself); otherwise the walk goes down; every leaf is zapped."""
        flush = False
        span = self.pt.g.span(table.depth)
        for idx, gfn, entry in list(self.pt.entries_in(table, start, end)):
            if isinstance(entry, TablePage) and not (gfn >= start and gfn + span <= end):
                flush |= self._zap_gfn_range(entry, start, end, src)
                continue
            self.pt.clear_entry(table, idx)
            flush = True
            if isinstance(entry, TablePage):
                freed = self.pt.free_subtree(entry)
                self.step(f"zap the non-leaf SPTE for gfn [{gfn:#x}, {gfn + span:#x}) to 0: "
                          f"{freed} table page(s) freed", SRC_HANDLE_CHANGED_510)
                self.flush(f"__handle_changed_spte flushes gfn [{gfn:#x}, {gfn + span:#x}) after "
                           f"freeing the removed table", SRC_HANDLE_CHANGED_510)
            else:
                self.step(f"zap {self.pt.g.size(table.depth)} leaf at gfn {gfn:#x} to 0", src)
        return flush

    # -- change_pte -----------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        set_hook, wrapper, handler = self._at["set_spte_gfn"][:3]
        if self.since("rmaps-gate"):
            self.step("no shadow pages allocated, so no rmaps: only the TDP MMU handler runs",
                      set_hook)
        else:
            self.step("the rmap walk runs first (no rmap gate before v5.14) and finds nothing: "
                      "no shadow pages with the TDP MMU; then the TDP MMU handler runs", set_hook)
        if not self.since("default-on"):
            self.step("the TDP MMU is in use only because the host set kvm.tdp_mmu=1 (default "
                      "off before v5.15)", ARRIVED.source)
        ret = False
        for table, idx, gfn, leaf in self._leaves(self.pt.root, rng.start, rng.end):
            ret |= self._set_spte(table, idx, leaf, rng, handler)
        if not ret:
            self.step("no present 4 KiB leaf for the gfn: nothing to do, returns false", handler)
        if self.since("batched-flush"):
            return ret
        if ret:
            self.flush(f"kvm_flush_remote_tlbs_with_address(gfn {rng.start:#x}, 1) after the "
                       f"walk", wrapper if self.since("gfn-range") else handler)
        self.step("the TDP MMU's change_pte path returns 0/false: the flush was its own",
                  wrapper)
        return False

    def _leaves(self, table: TablePage, start: int, end: int):
        for idx, gfn, entry in self.pt.entries_in(table, start, end):
            if isinstance(entry, TablePage):
                yield from self._leaves(entry, start, end)
            else:
                yield table, idx, gfn, entry

    def _set_spte(self, table: TablePage, idx: int, old: Leaf, rng: GfnRange,
                  handler: Source) -> bool:
        if table.depth != 0:
            self.step(f"leaf is {self.pt.g.size(table.depth)}, not 4 KiB: left untouched",
                      handler)
            return False
        self.pt.clear_entry(table, idx)
        self.step("zap the present 4 KiB SPTE to 0", handler)
        if not self.since("no-mid-flush"):
            self.flush(f"kvm_flush_remote_tlbs_with_address(gfn {rng.start:#x}, 1) between the "
                       f"zap and the new SPTE", handler)
        if not rng.pte.write:
            new = spte.changed_pte_make_spte(
                old, rng.pte.pfn, clear_mmu_writable=self.since("clear-mmu-writable"))
            if self.since("old-spte-refresh"):
                if not spte.volatile(old) and old.pfn != new.pfn:
                    self.step("second write with a stale old_spte: handle_changed_spte would see "
                              "a present leaf change pfn (the BUG() case)", SRC_HANDLE_CHANGED)
            elif old.pfn != new.pfn:
                self.step("second write reports the pre-zap SPTE as old (the iterator's old_spte "
                          "is never refreshed before v5.18): __handle_changed_spte sees a present "
                          "leaf change pfn (the BUG() case)", SRC_HANDLE_CHANGED_510)
            self.pt.set_entry(table, idx, new)
            self.step(f"new host PTE is read-only: install pfn {new.pfn:#x} {new.perms}",
                      spte.SRC_CHANGED if self.since("batched-flush") else handler)
        return True
