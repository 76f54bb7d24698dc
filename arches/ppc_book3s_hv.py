"""Book3S HV pieces shared by the radix and the HPT (hash) models, at v6.9.

Both HV flavours reach the arch through the same two dispatch levels:
book3s.c forwards kvm_unmap_gfn_range / kvm_set_spte_gfn to the ``kvm_ops_hv``
table, and book3s_64_mmu_hv.c picks the per-gfn unmap by ``kvm_is_radix()``
(kvm_unmap_radix or kvm_unmap_rmapp).  Both return false: the per-gfn unmaps
issue their own tlbie.  The new host PTE handed to change_pte is never read.

This module also keeps the memslot dirty bitmap as both flavours fill it
(kvmppc_update_dirty_map), since unmapping transfers the hardware C bit there.
"""

from __future__ import annotations

from typing import ClassVar

from kvmspte.kvm import GfnRange, Memslot
from kvmspte.model import ArchModel
from kvmspte.source import Source

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

    # -- the hooks -------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range_hv: the per-gfn unmap over [start, end); always false."""
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
        self._dispatch(SRC_SET_SPTE_GFN, "set_spte_gfn", SRC_SET_SPTE_HV)
        if rng.end - rng.start != 1:
            self.trace.warn("kvm_set_spte_gfn_hv: range is not exactly one gfn", SRC_SET_SPTE_HV)
        self.step("range->arg.pte (the new host PTE) is never read: a plain unmap of the gfn",
                  SRC_SET_SPTE_HV)
        found = self.unmap_gfn(rng.slot, rng.start)
        what = "unmapped what it found at" if found else "found nothing mapped at"
        self.step(f"{self.unmap_fn} {what} gfn {rng.start:#x}; returns false: no generic "
                  "remote TLB flush", SRC_SET_SPTE_HV)
        return False

    def mark_dirty(self, slot: Memslot, gfn: int, pages: int) -> None:
        """kvmppc_update_dirty_map, with a trace step when a bitmap exists."""
        if self.dirty.update(slot, gfn, pages):
            self.step(f"C/dirty bit set: mark {pages} page(s) from gfn {gfn:#x} in the dirty "
                      "bitmap", SRC_DIRTY_MAP)
