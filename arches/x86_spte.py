"""x86 SPTE format shared by the TDP MMU and the shadow (rmap) MMU.

Read from arch/x86/kvm/mmu/spte.c and spte.h.  The model keeps the bits the
change_pte path reads or writes: present (SPTE_MMU_PRESENT_MASK), W
(PT_WRITABLE_MASK), host-writable, MMU-writable, Accessed, Dirty, exec and the
page-size bit; A/D bits are assumed enabled (EPT with A/D, the common case).
"""

from __future__ import annotations

from dataclasses import replace

from kvmspte.host import HostMM
from kvmspte.kvm import Memslot
from kvmspte.pagetable import Geometry, Leaf
from kvmspte.source import Source

MMU_C = "arch/x86/kvm/mmu/mmu.c"
SPTE_C = "arch/x86/kvm/mmu/spte.c"
VIA_MMU = "read at 56ea38e436ea (v6.9 era); identical to the v6.9-rc removal diff"
VIA_SPTE = ("v6.9-rc removal diff <20240405115815.3226315-2-pbonzini@redhat.com>; "
            "make_spte from an earlier spte.c, unchanged in the bits modelled")

SRC_MAKE_SPTE = Source(SPTE_C, "make_spte", via=VIA_SPTE)
SRC_CHANGED = Source(SPTE_C, "kvm_mmu_changed_pte_notifier_make_spte", via=VIA_SPTE)
SRC_HUGE_ADJUST = Source(MMU_C, "kvm_mmu_hugepage_adjust", via=VIA_MMU)
SRC_FAULTIN = Source(MMU_C, "__kvm_faultin_pfn", via=VIA_MMU)
SRC_SET_SPTE_GFN = Source(MMU_C, "kvm_set_spte_gfn", via=VIA_MMU)
SRC_UNMAP = Source(MMU_C, "kvm_unmap_gfn_range", via=VIA_MMU)

HOST_W, MMU_W, PAGE_SIZE_BIT = "host-writable", "mmu-writable", "PT_PAGE_SIZE"

#: 4-level EPT/NPT: level 1 holds 4 KiB leaves, level 2 may hold 2 MiB leaves.
GEOMETRY = Geometry(levels=4, names=("PG_LEVEL_4K", "PG_LEVEL_2M", "PG_LEVEL_1G", "PG_LEVEL_512G"))


def mapping_depth(slot: Memslot, host: HostMM, hva: int, trace_step) -> tuple[int, str]:
    """kvm_mmu_hugepage_adjust: 4 KiB under dirty tracking, else the host mapping level."""
    if slot.dirty_logging:
        why = "dirty logging is enabled on the memslot, which keeps new faults at 4 KiB"
        trace_step(f"stay at 4 KiB: {why}", SRC_HUGE_ADJUST)
        return 0, why
    if host.mapping_pages(hva) > 1:
        trace_step("host maps the hva with a huge PMD: map at 2 MiB", SRC_HUGE_ADJUST)
        return 1, "host PMD mapping"
    why = "host maps the hva with 4 KiB pages"
    trace_step(f"stay at 4 KiB: {why}", SRC_HUGE_ADJUST)
    return 0, why


def map_writable(slot: Memslot, host: HostMM, hva: int) -> bool:
    """__kvm_faultin_pfn/hva_to_pfn: writable when the host page is writable and the slot
    is not read-only (a read fault also tries a writable lookup first)."""
    return host.pte(hva).write and not slot.readonly


def make_spte(pfn: int, depth: int, host_writable: bool) -> Leaf:
    """make_spte for a real (non-prefetch) fault with ACC_ALL: present, accessed,
    executable; writable, MMU-writable, host-writable and dirty when host-writable."""
    native = [PAGE_SIZE_BIT] if depth else []
    if host_writable:
        native += [HOST_W, MMU_W]
    return Leaf(pfn=pfn, read=True, write=host_writable, exec=True, dirty=host_writable,
                young=True, native=tuple(sorted(native)))


def changed_pte_make_spte(old: Leaf, new_pfn: int) -> Leaf:
    """kvm_mmu_changed_pte_notifier_make_spte: new pfn; W, host-writable and
    MMU-writable cleared; Accessed cleared (A/D enabled); Dirty and the rest kept."""
    native = tuple(b for b in old.native if b not in (HOST_W, MMU_W))
    return replace(old, pfn=new_pfn, write=False, young=False, native=native)


def volatile(spte: Leaf) -> bool:
    """spte_has_volatile_bits with A/D enabled: not volatile only when accessed and
    either writable-and-dirty or not writable and not MMU-writable."""
    if not spte.young:
        return True
    if spte.write:
        return not spte.dirty
    return MMU_W in spte.native
