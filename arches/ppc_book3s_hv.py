"""Book3S HV pieces shared by the radix and the HPT (hash) models, at v6.9.

Both HV flavours reach the arch through the same two dispatch levels:
book3s.c forwards kvm_unmap_gfn_range / kvm_set_spte_gfn to the ``kvm_ops_hv``
table, and book3s_64_mmu_hv.c picks the per-gfn unmap by ``kvm_is_radix()``
(kvm_unmap_radix or kvm_unmap_rmapp).  Both return false: the per-gfn unmaps
issue their own tlbie.  The new host PTE handed to change_pte is never read.

This module also keeps the memslot dirty bitmap as both flavours fill it
(kvmppc_update_dirty_map), since unmapping transfers the hardware C bit there.

Releases (``SWITCHES_DISPATCH``, shared by both flavours): before v5.13 the entry is the
hva-based ``kvm_set_spte_hva`` (void until v5.0, then an int that book3s.c hard-wires
to 0); before v3.13 there is no ``kvmppc_ops`` table and book3s_64_mmu_hv.c itself
defines the notifier entry points.  The per-gfn unmap and its own tlbie are the same in
every era, so the generic layer never has anything to flush for HV.
"""

from __future__ import annotations

from kvmspte.arches.ppc_eras import COPIES as ERA_COPIES
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.plugins.contract import ArchModel
from kvmspte.sim.release import Release, Switch
from kvmspte.sim.source import Source

TYPE_CHECKING = False  # see kvmspte.plugins.contract: typing stays off the start-up path
if TYPE_CHECKING:
    from typing import ClassVar

BOOK3S_C = "arch/powerpc/kvm/book3s.c"
BOOK3S_HV_C = "arch/powerpc/kvm/book3s_hv.c"
MMU_HV_C = "arch/powerpc/kvm/book3s_64_mmu_hv.c"
RM_MMU_C = "arch/powerpc/kvm/book3s_hv_rm_mmu.c"

REMOVAL_DIFF = "<20240405115815.3226315-2-pbonzini@redhat.com>"
VIA_BOOK3S = (f"April 2024 .change_pte removal diff {REMOVAL_DIFF}, book3s.c hunk at line 899 "
              "(index 8acec144120e): the v6.9 text")
VIA_MMU_HV = ("intel/tdx copy 98ba09b4 of book3s_64_mmu_hv.c (about v6.0; its mmu_updating_seq "
              "is v6.9's mmu_invalidate_seq)")
VIA_SET_HV = f"{VIA_MMU_HV}; body identical line for line to the removal diff {REMOVAL_DIFF}"
VIA_UNMAP_HV = (f"{VIA_MMU_HV}; per-gfn loop form from the 2021 fix 'pass the iterator, gfn, to "
                "kvm_unmap_rmapp()' (Fixes 32b48bf8514c), unchanged since")

SRC_SET_SPTE_GFN = Source(BOOK3S_C, "kvm_set_spte_gfn", via=VIA_BOOK3S)
SRC_UNMAP_GFN_RANGE = Source(BOOK3S_C, "kvm_unmap_gfn_range", via=VIA_BOOK3S)
SRC_OPS_HV = Source(BOOK3S_HV_C, "kvm_ops_hv",
                    via="the ops table: .unmap_gfn_range = kvm_unmap_gfn_range_hv, "
                        ".set_spte_gfn = kvm_set_spte_gfn_hv (research note §1)")
SRC_SET_SPTE_HV = Source(MMU_HV_C, "kvm_set_spte_gfn_hv", via=VIA_SET_HV)
SRC_UNMAP_HV = Source(MMU_HV_C, "kvm_unmap_gfn_range_hv", via=VIA_UNMAP_HV)
SRC_DIRTY_MAP = Source(RM_MMU_C, "kvmppc_update_dirty_map",
                       via="not re-read for v6.9 (research note, from memory); a stored copy "
                           "agrees: ceil(psize / PAGE_SIZE) bits from gfn - base_gfn")


# -- the dispatch before v5.13 (release-aware sources) -------------------------------------
VIA_512 = ("'-' side of <20210326021957.1424875-14-seanjc@google.com> (stored copy 2132829017, "
           "25 Mar 2021): the v5.12 text")
VIA_INT = ("<20181013145406.4911-5-Tianyu.Lan@microsoft.com> (stored copy 31375062387, "
           "'KVM: Make kvm_set_spte_hva() return int', merged as 748c0e312fce for v5.0): book3s.c "
           "calls the ops hook and returns 0")
VIA_OPS = ("stored copy 24254970671 (book3s_64_mmu_hv.c, judged v4.1-v4.10: _hv names, __be64 "
           "HPTEs) and 72032881; the ops split itself (Aneesh Kumar's Oct 2013 HV/PR coexistence "
           "series) dated v3.13 from memory, UNVERIFIED")

SRC_SET_HVA_512 = Source(BOOK3S_C, "kvm_set_spte_hva", "v5.12", VIA_512)
SRC_SET_HVA_50 = Source(BOOK3S_C, "kvm_set_spte_hva", "v5.0", VIA_INT)
SRC_SET_HVA_313 = Source(BOOK3S_C, "kvm_set_spte_hva", "v3.13", VIA_OPS)
SRC_UNMAP_HVA_313 = Source(BOOK3S_C, "kvm_unmap_hva_range", "v3.13", VIA_OPS)
SRC_UNMAP_HVA_512 = Source(BOOK3S_C, "kvm_unmap_hva_range", "v5.12", VIA_512)
SRC_SET_HVA_HV = Source(MMU_HV_C, "kvm_set_spte_hva_hv", "v3.13", VIA_OPS)
SRC_UNMAP_HVA_HV = Source(MMU_HV_C, "kvm_unmap_hva_range_hv", "v3.13", VIA_OPS)
SRC_OPS_HV_313 = Source(BOOK3S_HV_C, "kvm_ops_hv", "v3.13",
                        ".set_spte_hva = kvm_set_spte_hva_hv, .unmap_hva_range = "
                        f"kvm_unmap_hva_range_hv until v5.12 ('-' side of copy 2132829017); "
                        f"{VIA_OPS}")

#: switch points of the HV notifier dispatch, shared by the HPT and radix models
SW_OPS = Switch("kvmppc-ops", Release(3, 13), "unverified (Aneesh Kumar's Oct 2013 series)",
                "book3s.c forwards the notifier entries through kvm->arch.kvm_ops to the "
                "_hv functions (before: book3s_64_mmu_hv.c defines them itself)",
                SRC_SET_HVA_313)
SW_INT = Switch("int-return", Release(5, 0), "748c0e312fce",
                "kvm_set_spte_hva returns int; book3s.c hard-wires 0, so generic code never "
                "flushes for HV", SRC_SET_HVA_50)
SW_GFN = Switch("gfn-hooks", Release(5, 13), "b1c5356e873c",
                "gfn-range callbacks kvm_set_spte_gfn_hv / kvm_unmap_gfn_range_hv, bool false",
                SRC_SET_SPTE_HV)
SWITCHES_DISPATCH = (SW_OPS, SW_INT, SW_GFN)


class DirtyBitmap:
    """memslot->dirty_bitmap as the HV code fills it; only slots that log dirty pages have one."""

    def __init__(self) -> None:
        self.bits: dict[int, set[int]] = {}

    def update(self, slot: Memslot, gfn: int, pages: int) -> bool:
        """kvmppc_update_dirty_map: set one bit per base page from gfn; False when no bitmap."""
        if not slot.dirty_logging or pages <= 0:
            return False
        self.bits.setdefault(slot.id, set()).update(range(gfn, gfn + pages))
        return True

    def snapshot(self) -> dict[str, dict]:
        return {f"dirty bitmap memslot {sid}": {"gfns": [hex(g) for g in sorted(bits)]}
                for sid, bits in sorted(self.bits.items()) if bits}

    def has(self, slot: Memslot, gfn: int) -> bool:
        return gfn in self.bits.get(slot.id, set())


class HvModel(ArchModel):
    """The Book3S HV notifier hooks; subclasses supply the per-gfn unmap of their MMU mode."""

    family = "powerpc"
    copies = ERA_COPIES
    #: what kvm_is_radix(kvm) returns for this VM
    radix: ClassVar[bool]
    #: the per-gfn unmap function kvm_unmap_gfn_range_hv / kvm_set_spte_gfn_hv call
    unmap_fn: ClassVar[str]

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.dirty = DirtyBitmap()

    def unmap_gfn(self, slot: Memslot, gfn: int) -> bool:
        """The per-gfn unmap (kvm_unmap_radix / kvm_unmap_rmapp); True when it found a mapping."""
        raise NotImplementedError

    def _dispatch(self, entry: Source, target: str, target_src: Source) -> None:
        self.step(f"kvm->arch.kvm_ops->{target}: {target_src.function}", entry)
        self.step(f"kvm_is_radix() is {str(self.radix).lower()}: {self.unmap_fn} per gfn",
                  target_src)

    # -- the release-dependent entry points ---------------------------------------------
    @classmethod
    def hva_fn(cls, kernel: Release, kind: str) -> Source:
        """The HV function that receives the hva-based call ("set" or "unmap") before v5.13.
        From v3.13 it is the _hv op; a flavour that existed before (HPT) overrides this."""
        return SRC_SET_HVA_HV if kind == "set" else SRC_UNMAP_HVA_HV

    @classmethod
    def hva_entry(cls, kernel: Release, kind: str) -> Source | None:
        """book3s.c's entry (v3.13..v5.12), or None before the kvmppc_ops split."""
        if kernel < SW_OPS.since:
            return None
        if kind == "set":
            return SRC_SET_HVA_512 if kernel >= SW_INT.since else SRC_SET_HVA_313
        return SRC_UNMAP_HVA_512 if kernel >= SW_INT.since else SRC_UNMAP_HVA_313


    def cite_all(self, *names: str) -> None:
        """Re-date the per-release sources held in these attributes (they also reach
        FaultResult.source, which does not go through ``cite``)."""
        for name in names:
            setattr(self, name, self.cite(getattr(self, name)))

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        if kernel >= SW_GFN.since:
            return super().hooks_at(kernel)
        out = {"fault_in": cls.hooks["fault_in"]}
        for hook, kind in (("unmap_gfn_range", "unmap"), ("set_spte_gfn", "set")):
            entry = cls.hva_entry(kernel, kind)
            head = ((entry, SRC_OPS_HV_313) if entry else ()) + (cls.hva_fn(kernel, kind),)
            out[hook] = head + cls.hooks[hook][3:]
        return out

    def handler_text(self) -> str:
        """How kvm_handle_hva picks the per-gfn handler (kvm_is_radix exists from v4.11)."""
        return f"handler {self.unmap_fn}"

    def gate(self, fn: Source) -> None:
        """A flavour's early-return check before the handler runs (HPT: PPC970)."""

    def _hva_dispatch(self, kind: str) -> Source:
        fn = self.hva_fn(self.kernel, kind)
        entry = self.hva_entry(self.kernel, kind)
        op = "set_spte_hva" if kind == "set" else "unmap_hva_range"
        if entry is not None:
            self.step(f"{entry.function} -> kvm->arch.kvm_ops->{op}: {fn.function}", entry)
        self.gate(fn)
        self.step(f"kvm_handle_hva_range: memslots overlapping the hva range; "
                  f"{self.handler_text()} per gfn", fn)
        return fn

    def _hva_result(self, fn: Source) -> str:
        if self.since("int-return"):
            return "book3s.c returns 0"
        return "returns nothing (void)"

    # -- the hooks -------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range_hv: the per-gfn unmap over [start, end); always false."""
        if not self.since("gfn-hooks"):
            return self._unmap_hva_range(rng)
        self._dispatch(SRC_UNMAP_GFN_RANGE, "unmap_gfn_range", SRC_UNMAP_HV)
        found = sum(self.unmap_gfn(rng.slot, gfn) for gfn in range(rng.start, rng.end))
        empty = (rng.end - rng.start) - found
        if empty:
            self.step(f"{empty} gfn(s) of [{rng.start:#x}, {rng.end:#x}) had nothing mapped",
                      SRC_UNMAP_HV)
        self.step("returns false: the unmaps did their own TLB invalidation", SRC_UNMAP_HV)
        return False

    def set_spte_gfn(self, rng: GfnRange) -> bool:
        """kvm_set_spte_gfn_hv: the same unmap on the one gfn; the new PTE is ignored; false."""
        if not self.since("gfn-hooks"):
            return self._set_spte_hva(rng)
        self._dispatch(SRC_SET_SPTE_GFN, "set_spte_gfn", SRC_SET_SPTE_HV)
        if rng.end - rng.start != 1:
            self.warn("kvm_set_spte_gfn_hv: range is not exactly one gfn", SRC_SET_SPTE_HV)
        self.step("range->arg.pte (the new host PTE) is never read: a plain unmap of the gfn",
                  SRC_SET_SPTE_HV)
        found = self.unmap_gfn(rng.slot, rng.start)
        what = "unmapped what it found at" if found else "found nothing mapped at"
        self.step(f"{self.unmap_fn} {what} gfn {rng.start:#x}; returns false: no generic "
                  "remote TLB flush", SRC_SET_SPTE_HV)
        return False

    # -- before v5.13: the hva-based entry points --------------------------------------
    def _unmap_hva_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_hva_range(_hv) -> kvm_handle_hva_range(handler): the same per-gfn
        unmap; the result is 0 and the unmaps did their own tlbie."""
        fn = self._hva_dispatch("unmap")
        found = sum(self.unmap_gfn(rng.slot, gfn) for gfn in range(rng.start, rng.end))
        empty = (rng.end - rng.start) - found
        if empty:
            self.step(f"{empty} gfn(s) of [{rng.start:#x}, {rng.end:#x}) had nothing mapped", fn)
        self.step("returns 0: the unmaps did their own TLB invalidation", fn)
        return False

    def _set_spte_hva(self, rng: GfnRange) -> bool:
        """kvm_set_spte_hva(_hv) -> kvm_handle_hva(hva, handler): unmap the one gfn; the new
        PTE is ignored; nothing is returned for generic code to act on."""
        fn = self._hva_dispatch("set")
        self.step("the new host PTE is never read: a plain unmap of the gfn", fn)
        found = self.unmap_gfn(rng.slot, rng.start)
        what = "unmapped what it found at" if found else "found nothing mapped at"
        self.step(f"{self.unmap_fn} {what} gfn {rng.start:#x}; {self._hva_result(fn)}: no "
                  "generic remote TLB flush", fn)
        return False

    def mark_dirty(self, slot: Memslot, gfn: int, pages: int) -> None:
        """kvmppc_update_dirty_map, with a trace step when a bitmap exists."""
        if self.dirty.update(slot, gfn, pages):
            self.step(f"C/dirty bit set: mark {pages} page(s) from gfn {gfn:#x} in the dirty "
                      "bitmap", getattr(self, "src_dirty", SRC_DIRTY_MAP))
