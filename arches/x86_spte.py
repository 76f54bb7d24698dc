"""x86 SPTE format shared by the TDP MMU and the shadow (rmap) MMU.

Read from arch/x86/kvm/mmu/spte.c and spte.h.  The model keeps the bits the
change_pte path reads or writes: present (SPTE_MMU_PRESENT_MASK), W
(PT_WRITABLE_MASK), host-writable, MMU-writable, Accessed, Dirty, exec and the
page-size bit; A/D bits are assumed enabled (EPT with A/D, the common case).
"""

from __future__ import annotations

from kvmspte.records import replace

from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import Memslot
from kvmspte.sim.copies import Copy
from kvmspte.sim.pagetable import Geometry, Leaf
from kvmspte.sim.release import Release
from kvmspte.sim.source import Source

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


def mapping_depth(slot: Memslot, host: HostMM, hva: int, trace_step,
                  source: Source = SRC_HUGE_ADJUST) -> tuple[int, str]:
    """kvm_mmu_hugepage_adjust (mapping_level in the 2.6.32 copy, which checks the slot's
    dirty bitmap first too): 4 KiB under dirty tracking, else the host mapping level.
    ``source`` is the function of the release being run."""
    if slot.dirty_logging:
        why = "dirty logging is enabled on the memslot, which keeps new faults at 4 KiB"
        trace_step(f"stay at 4 KiB: {why}", source)
        return 0, why
    if host.mapping_pages(hva) > 1:
        trace_step("host maps the hva with a huge PMD: map at 2 MiB", source)
        return 1, "host PMD mapping"
    why = "host maps the hva with 4 KiB pages"
    trace_step(f"stay at 4 KiB: {why}", source)
    return 0, why


def map_writable(slot: Memslot, host: HostMM, hva: int) -> bool:
    """__kvm_faultin_pfn/hva_to_pfn: writable when the host page is writable and the slot
    is not read-only (a read fault also tries a writable lookup first)."""
    return host.pte(hva).write and not slot.readonly


def make_spte(pfn: int, depth: int, host_writable: bool, mmu_writable_bit: bool = True) -> Leaf:
    """make_spte for a real (non-prefetch) fault with ACC_ALL: present, accessed,
    executable; writable, MMU-writable, host-writable and dirty when host-writable.
    ``mmu_writable_bit`` False: a release whose set_spte has no MMU-writable bit yet."""
    native = [PAGE_SIZE_BIT] if depth else []
    if host_writable:
        native += [HOST_W, MMU_W] if mmu_writable_bit else [HOST_W]
    return Leaf(pfn=pfn, read=True, write=host_writable, exec=True, dirty=host_writable,
                young=True, native=tuple(sorted(native)))


def changed_pte_make_spte(old: Leaf, new_pfn: int, *, clear_accessed: bool = True,
                          clear_mmu_writable: bool = True) -> Leaf:
    """kvm_mmu_changed_pte_notifier_make_spte: new pfn; W, host-writable and
    MMU-writable cleared; Accessed cleared (A/D enabled); Dirty and the rest kept.
    Older releases built the same SPTE inline in kvm_set_pte_rmapp and cleared less:
    ``clear_accessed`` False before Accessed was cleared there, ``clear_mmu_writable``
    False before v5.17 (the MMU-writable bit was then left as it was)."""
    drop = (HOST_W, MMU_W) if clear_mmu_writable else (HOST_W,)
    native = tuple(b for b in old.native if b not in drop)
    return replace(old, pfn=new_pfn, write=False,
                   young=False if clear_accessed else old.young, native=native)


def volatile(spte: Leaf) -> bool:
    """spte_has_volatile_bits with A/D enabled: not volatile only when accessed and
    either writable-and-dirty or not writable and not MMU-writable."""
    if not spte.young:
        return True
    if spte.write:
        return not spte.dirty
    return MMU_W in spte.native


# -- releases ------------------------------------------------------------------------
# Before the 2020 move into arch/x86/kvm/mmu/, the x86 MMU lived in one file.
OLD_MMU_C = "arch/x86/kvm/mmu.c"
VIA_2632 = ("read at a 2.6.32 copy of arch/x86/kvm/mmu.c (stored id 6332590; judged 2.6.32/33: "
            "memslot array in struct kvm, unalias_gfn, shadow_trap_nonpresent_pte)")
VIA_30 = ("read at a ~3.0 copy of arch/x86/kvm/mmu.c (stored id 418779061; kvm_memslots() with "
          "nmemslots, lpage_info_slot, shadow_trap_nonpresent_pte still present)")
VIA_4X = ("read at a ~4.2-4.7 copy of arch/x86/kvm/mmu.c (stored id 7939674; "
          "KVM_ADDRESS_SPACE_NUM loop, unsigned long *rmapp, kvm_handle_hva_range)")
VIA_5X = ("read at a ~5.0-5.9 copy of the x86 mmu.c (stored id 47443727; int return, "
          "mark_spte_for_access_track inline, kvm_available_flush_tlb_with_range)")
VIA_513 = ("read in the 5.13 gfn-range conversion diff, 3039bcc74498 'KVM: Move x86's MMU "
           "notifier memslot walkers to generic code' (stored id 1318982929)")



# -- the copies read for the long-term lines (5.15, 6.1, 6.6), as data ---------------------
# A v6.9 citation run at one of these releases is re-dated to the copy of its era
# (kvmspte.sim.copies.redate); behaviour is chosen by the models' switch points.
TDP_C = "arch/x86/kvm/mmu/tdp_mmu.c"
R = Release.parse
VIA_MMU_515 = (
    "read at microsoft/WSL2-Linux-Kernel 7169354120d8 (stored id 1662226416; a 5.15.y tree "
    "with Microsoft's additions, none in the MMU paths read), judged v5.15 by "
    "content: kvm_mmu_hugepage_adjust still takes (gfn, max_level, pfnp, ...), before the 5.16 "
    "kvm_page_fault rework; __direct_map counts pf_fixed itself; pml5_root and "
    "alloc_all_memslots_rmaps present. Same behaviour as modelled: the hugepage step gets the "
    "slot through gfn_to_memslot_dirty_bitmap(no_dirty_log), which returns none (so 4 KiB) "
    "while dirty tracking is on; direct_pte_prefetch fills the aligned group of 8 at 4 KiB; "
    "mmu_set_spte calls rmap_add unless the same pfn was already mapped; the pfn lookup "
    "(__kvm_faultin_pfn at v6.9) not read here under its 5.15 name")
VIA_MMU_60 = (
    "read at stored id 30119175777 (a comment-stripped full copy of mmu.c), judged v6.0-v6.2: "
    "kvm_set_pte_rmap/kvm_zap_rmap (the 6.0 names), sp_has_gptes, role.passthrough, "
    "is_tdp_mmu_enabled(kvm) and __direct_map still in place (David Matlack's series that "
    "replaces both is in the KVM/arm64 6.3 pull, stored id 4181060916). Same behaviour as "
    "modelled for kvm_set_spte_gfn, kvm_unmap_gfn_range, kvm_handle_gfn_range, "
    "kvm_set_pte_rmap, kvm_zap_rmap, rmap_add, direct_pte_prefetch, kvm_mmu_hugepage_adjust")
VIA_MMU_66 = (
    "v6.6: kvm_handle_gfn_range as changed by 3e1efe2b67d3 (range->arg.pte; in the "
    "kvm-x86-generic-6.6 pull, stored id 493563804; diff ec169f5c7dce..d72f2b20f430 in stored "
    "id 23502159366). The other functions modelled read the same in the v6.0-v6.2 copy "
    "[30119175777] and the v6.8-v6.9 copies [23785373], [46041898482] (guest_memfd's "
    "is_private already in kvm_mmu_hugepage_adjust), so v6.6 between them is taken as the "
    "same [not read at v6.6 itself]; direct_map carries that name from v6.3")
VIA_TDP_519 = (
    "read at stored id 30120788206 (a comment-stripped full copy of tdp_mmu.c), judged "
    "v5.19-v6.0: tdp_mmu_zap_leafs, the tdp_mmu_zap_wq worker, kvm_mmu_max_gfn, range->pte, "
    "account_nx still passed to tdp_mmu_link_sp. Same behaviour as modelled: set_spte_gfn acts "
    "on a present 4 KiB leaf only, writes 0, then the changed-pte SPTE for a read-only new PTE, "
    "returning true; kvm_tdp_mmu_set_spte_gfn returns the walk's result for generic code to "
    "flush; kvm_tdp_mmu_unmap_gfn_range zaps leaves only")
VIA_TDP_66 = (
    "v6.6: set_spte_gfn as merged in the kvm-x86-generic-6.6 pull (stored id 493563804, its "
    "conflict resolution shows the 6.6 text: WARN_ON_ONCE on range->arg.pte, the zap through "
    "tdp_mmu_iter_set_spte(0), the changed-pte SPTE for a read-only PTE) and 3e1efe2b67d3's diff "
    "[23502159366]; kvm_tdp_mmu_map, tdp_mmu_zap_leafs and handle_changed_spte read the same "
    "in the v5.19-v6.0 copy [30120788206] and a v6.8-v6.9 copy [24362102] [not read at v6.6]")
VIA_SPTE_60 = (
    "kvm_mmu_changed_pte_notifier_make_spte reads the same in the v6.0 mask-rename diff "
    "(PT64_BASE_ADDR_MASK -> SPTE_BASE_ADDR_MASK, stored id 37251393305) and the v6.9-rc "
    "removal diff <20240405115815.3226315-2-pbonzini@redhat.com>: new pfn, W, host-writable "
    "and MMU-writable cleared, then mark_spte_for_access_track; make_spte not re-read for "
    "v6.0-v6.6 [bits modelled assumed unchanged]")
VIA_SPTE_515 = (
    "spte.c not read at v5.15: make_spte as declared in a v5.13-v5.15 spte.h (stored id 680274); "
    "the bits modelled assumed as at v6.9 [unverified at v5.15]")

COPIES = (
    Copy(R("5.15"), (MMU_C,), VIA_MMU_515,
         names=(("direct_map", "__direct_map"),)),
    Copy(R("6.0"), (MMU_C,), VIA_MMU_60, names=(("direct_map", "__direct_map"),),
         until=R("6.3")),
    Copy(R("6.6"), (MMU_C,), VIA_MMU_66),
    Copy(R("5.19"), (TDP_C,), VIA_TDP_519),
    Copy(R("6.6"), (TDP_C,), VIA_TDP_66),
    Copy(R("5.15"), (SPTE_C,), VIA_SPTE_515),
    Copy(R("6.0"), (SPTE_C,), VIA_SPTE_60),
)
