"""MIPS KVM (VZ) GPA page tables (arch/mips/kvm/mmu.c) at v6.9.

Geometry: the GPA table reuses the host's 64-bit, 4 KiB-page layout with the
default 40-bit address space: three levels, pgd -> pmd -> pte.  The pgd is an
order-1 page of 1024 entries, pmd and pte tables hold 512 entries each; the
p4d and pud levels are folded into the pgd entry.  The shared Geometry states
the pgd's 10-bit index with ``root_bits``.

Entry format: MIPS does not build a KVM-specific entry.  The fault path builds
a Linux pte with ``pfn_pte`` and ``kvm_set_spte_gfn`` stores the host's own pte
into the GPA table.  A leaf is therefore kept as the set of MIPS pte bits it
holds, by their kernel names (``Leaf.native``), plus the pfn; the normalised
Leaf fields are read from those bits: read = present and readable, write =
the soft ``_PAGE_WRITE`` permission (``pte_write``), exec = no
``_PAGE_NO_EXEC``, dirty = ``_PAGE_MODIFIED`` (``pte_dirty``), young =
``_PAGE_ACCESSED`` (``pte_young``).  The hardware bits ``_PAGE_VALID`` (silent
read) and ``_PAGE_DIRTY`` (silent write) are listed too.  A pte value of 0 is
an absent entry.  A non-zero pte without ``_PAGE_PRESENT`` (what storing a
device-private swap entry leaves) is a leaf whose bits name the swap entry
type and lack ``_PAGE_PRESENT``; the snapshot marks every leaf with
``present`` so such an entry shows up, marked not present, in a diff.
Bit positions are not modelled, only meanings.

Freeing policy: a pte (pmd) table page is freed, and its parent entry cleared,
only when an unmap's flush covers every slot of that table
(kvm_mips_flush_gpa_pte/_pmd/_pud return "safe to remove"); the end of the
range is treated as inclusive.  Nothing else frees table pages.
"""

from __future__ import annotations

from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, FaultResult, RadixViews
from kvmspte.sim.pagetable import (
    FREE_WHOLE_SPAN, PAGE_SHIFT, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.sim import copies
from kvmspte.sim.copies import Copy
from kvmspte.sim.release import DEFAULT, Release, Switch, Switches
from kvmspte.sim.source import Source, kconfig_readonly_mem

MMU_C = "arch/mips/kvm/mmu.c"
PGTABLE_H = "arch/mips/include/asm/pgtable.h"
BITS_H = "arch/mips/include/asm/pgtable-bits.h"
PGTABLE64_H = "arch/mips/include/asm/pgtable-64.h"
LINUX_PGTABLE_H = "include/linux/pgtable.h"
KVM_MAIN = "virt/kvm/kvm_main.c"

VIA_MMU = ("content of blob 467ee6b95ae1 (the base of the v6.9-rc change_pte removal patch), "
           "read in a letter-obfuscated mirror; kvm_set_spte_gfn also as deleted by "
           "<20240405115815.3226315-2-pbonzini@redhat.com>")
VIA_PGTABLE = ("mainline side of a merge-conflict copy from the v6.6-v6.9 era "
               "(has pte_mkwrite_novma); same helpers in a v5.x copy")
VIA_BITS = "bit meanings and __READABLE/__WRITEABLE from an older copy; positions not modelled"
VIA_GEOM = "read at 05909cd9 (~v5.10-v5.18); 4K pages, 40-bit VA, 3 levels; unchanged layout"
VIA_PGD_INDEX = ("generic since Mike Rapoport's 'mm: consolidate pgd_index() and pgd_offset{_k}() "
                 "definitions' <20200512184422.12418-13-rppt@kernel.org> (2020), whose diff "
                 "deletes the MIPS copies from asm/pgtable-32.h and asm/pgtable-64.h; the "
                 "generic macro indexes by (address >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1)")
VIA_PROT = "as the MIPS research note describes its use by kvm_mips_map_page"


def _mmu(function: str) -> Source:
    return Source(MMU_C, function, via=VIA_MMU)


def _pgtable(function: str) -> Source:
    return Source(PGTABLE_H, function, via=VIA_PGTABLE)


SRC_ROOT_FAULT = _mmu("kvm_mips_handle_vz_root_tlb_fault")
SRC_MAP = _mmu("kvm_mips_map_page")
SRC_MAP_FAST = _mmu("_kvm_mips_map_page_fast")
SRC_WALK = _mmu("kvm_mips_walk_pgd")
SRC_PTE_FOR_GPA = _mmu("kvm_mips_pte_for_gpa")
SRC_UNMAP = _mmu("kvm_unmap_gfn_range")
SRC_FLUSH_PT = _mmu("kvm_mips_flush_gpa_pt")
SRC_FLUSH_PGD = _mmu("kvm_mips_flush_gpa_pgd")
SRC_FLUSH_PUD = _mmu("kvm_mips_flush_gpa_pud")
SRC_FLUSH_PMD = _mmu("kvm_mips_flush_gpa_pmd")
SRC_FLUSH_PTE = _mmu("kvm_mips_flush_gpa_pte")
SRC_SET_SPTE = _mmu("kvm_set_spte_gfn")
SRC_MKCLEAN = _pgtable("pte_mkclean")
SRC_WRPROTECT = _pgtable("pte_wrprotect")
SRC_MKYOUNG = _pgtable("pte_mkyoung")
SRC_MKDIRTY = _pgtable("pte_mkdirty")
SRC_SET_PTE = _pgtable("set_pte")
SRC_BITS = Source(BITS_H, "__READABLE/__WRITEABLE", via=VIA_BITS)
SRC_GEOM = Source(PGTABLE64_H, "PTRS_PER_PGD", via=VIA_GEOM)
SRC_PGD_INDEX = Source(LINUX_PGTABLE_H, "pgd_index", via=VIA_PGD_INDEX)
SRC_PFN_PROT = Source(KVM_MAIN, "gfn_to_pfn_prot", via=VIA_PROT)

# -- older releases -------------------------------------------------------------------
VIA_411 = ("411740f5422a as posted: '[PATCH v2 12/13] KVM: MIPS/MMU: Implement "
           "KVM_CAP_SYNC_MMU' <20170202124533.32312-1-james.hogan@imgtec.com> (stored id "
           "48239875303); v4.11 per the kvm_mips_4.11_1 pull")
VIA_411_PT = ("'[PATCH 2/10] KVM: MIPS/MMU: Convert guest physical map to page table' "
              "<2c1b56d0a48fd8ffa2e8cd1729a6f1f546cf1b2d.1483993967.git-series.james.hogan"
              "@imgtec.com> (stored id 48095374275), the v4.11 GPA page-table series")
VIA_50 = ("748c0e312fce as posted: '[PATCH V4 4/15] KVM: Make kvm_set_spte_hva() return int' "
          "<20181013145406.4911-5-Tianyu.Lan@microsoft.com> (stored id 31375062387)")
VIA_512_FLUSH = ("the v5.12 text on the '-' side of '[PATCH 2/4] KVM: MIPS: rework flush_shadow_* "
                 "callbacks into one that prepares the flush' <20210402155807.49976-3-pbonzini"
                 "@redhat.com> (stored id 1681812942); body at the era's first release not "
                 "read [unverified]")
VIA_513 = ("merged v5.13..v6.5 text of arch/mips/kvm/mmu.c (range->pte, p4d level), read in a "
           "letter-obfuscated mirror copy (stored id 15739782074)")
VIA_66 = ("v6.6 text, blob 7b2ac1319d70: the post-image of 3e1efe2b67d3 (range->arg.pte in "
          "kvm_set_spte_gfn; diff e8c08988ed37..7b2ac1319d70 in stored id 23502159366, merged by "
          "the kvm-x86-generic-6.6 pull, stored id 493563804). The v6.9 blob 467ee6b95ae1 read "
          "for the model differs from it only by dropping an unused local of kvm_mips_map_page "
          "(diff 7b2ac1319d70..467ee6b95ae1, Huacai Chen's and Paolo Bonzini's patches, stored "
          "ids 18000868261, 928930031), so every function modelled reads as at v6.9")
VIA_HELPERS_66 = ("read in the mainline side of a merge-conflict copy of the v6.6-v6.9 era (it has "
                  "pte_mkwrite_novma, the 6.6 rename); the same helpers in a v5.x copy, so v6.6 "
                  "reads the same; bit positions not modelled")
#: the copies a v6.9 citation stands for at a v6.6-v6.8 run (kvmspte.sim.copies.redate)
COPIES_66 = (
    Copy(Release(6, 6), (MMU_C,), VIA_66),
    Copy(Release(6, 6), (PGTABLE_H, BITS_H, PGTABLE64_H), VIA_HELPERS_66),
)


def via_helper(src: Source) -> str:
    """The via of a helper outside mmu.c, cited at an older release than it was read at."""
    return (f"read at v6.9 ({src.via}); the code of this release uses it by the same name, "
            f"meaning assumed unchanged [unverified at this release]")


TRAP_EMUL_C = "arch/mips/kvm/trap_emul.c"
VZ_C = "arch/mips/kvm/vz.c"

#: the v6.9 function a step cites -> the function holding that code before the 5.13
#: gfn-range conversion (handle_hva_to_gpa calls a handler per memslot)
HVA_NAMES = {"kvm_set_spte_gfn": "kvm_set_spte_handler",
             "kvm_unmap_gfn_range": "kvm_unmap_hva_handler"}

SRC_SET_SPTE_HVA = Source(MMU_C, "kvm_set_spte_hva", "v4.11", VIA_411)
SRC_SET_SPTE_HVA_50 = Source(MMU_C, "kvm_set_spte_hva", "v5.0", VIA_50)
SRC_UNMAP_HVA = Source(MMU_C, "kvm_unmap_hva_range", "v4.11", VIA_411)
SRC_HANDLE_HVA = Source(MMU_C, "handle_hva_to_gpa", "v4.11", VIA_411)
SRC_TE_FLUSH_ALL = Source(TRAP_EMUL_C, "kvm_trap_emul_flush_shadow_all", "v4.11", VIA_512_FLUSH)
SRC_VZ_FLUSH_ALL = Source(VZ_C, "kvm_vz_flush_shadow_all", "v4.12", VIA_512_FLUSH)
#: pgd_index moved to include/linux/pgtable.h with the 2020 consolidation
PGD_INDEX_GENERIC = Release(5, 8)
SRC_TE_KSEG0_FAULT = Source(MMU_C, "kvm_mips_handle_kseg0_tlb_fault", "v4.11", VIA_411_PT)

ARRIVED = Switch(
    "arrived", Release(4, 11), "411740f5422a",
    "KVM_CAP_SYNC_MMU: MIPS defines KVM_ARCH_WANT_MMU_NOTIFIER and implements kvm_set_spte_hva "
    "over the GPA page table (added by the same v4.11 series); before it MIPS KVM (since v3.10) "
    "pinned guest pages and registered no MMU notifier",
    SRC_SET_SPTE_HVA)

SWITCHES = Switches([
    Switch("vz", Release(4, 12), "VZ series, kvm_mips_4.12_1 pull (id not found in the store)",
           "the model follows the VZ flavour from here: GPA faults come from "
           "kvm_mips_handle_vz_root_tlb_fault and flush_shadow_all is kvm_vz_flush_shadow_all; "
           "v4.11 had trap-and-emulate only (kseg0/mapped-segment faults, T&E flush_shadow_all). "
           "Release inferred from the 4.11 pull saying its changes 'pave the way for VZ'",
           SRC_VZ_FLUSH_ALL),
    Switch("int-return", Release(5, 0), "748c0e312fce",
           "kvm_set_spte_hva returns int: MIPS returns 0 after its own conditional "
           "flush_shadow_all, so the generic flush-on-non-zero never fires for MIPS",
           SRC_SET_SPTE_HVA_50),
    Switch("generic-flush", Release(5, 13), "fe9a5b055116, d923ff258423",
           "'defer flush to generic MMU notifier code' then the gfn-range conversion: "
           "kvm_unmap_gfn_range returns true and kvm_set_spte_gfn returns its flush flag; MIPS "
           "no longer flushes inside the hooks (kvm_flush_remote_tlbs, with "
           "prepare_flush_shadow, comes from generic code). Caveat, not modelled: 45c7e8af4a5e "
           "(also v5.13) removed trap-and-emulate, after which creating a vCPU dereferences a "
           "NULL cop0 pointer, so no MIPS guest runs until Huacai Chen's 'MIPS: KVM: Fix NULL "
           "pointer dereference' (Cc stable; v6.5 inferred from its mips-next date)",
           Source(MMU_C, "kvm_set_spte_gfn", "v5.13", VIA_513)),
    Switch("arg-pte", Release(6, 6), "3e1efe2b67d3",
           "'KVM: Wrap kvm_{gfn,hva}_range.pte in a per-action union': range->arg.pte; same "
           "logic. v6.6 read in Sean Christopherson's kvm-x86-generic-6.6 pull (stored id "
           "493563804), whose only KVM-wide change it is; steps cite the v6.6 text from here",
           Source(MMU_C, "kvm_set_spte_gfn", "v6.6", VIA_66)),
])


def cite(src: Source, kernel: Release) -> Source:
    """The Source of the code a v6.9 citation stands for at ``kernel``: the v6.6 text from
    v6.6 on (``COPIES_66``), the merged v5.13 text before that, the v4.11 series (hva handlers) before 5.13.
    Helpers outside mmu.c were read at v6.9 only; their older citations say so."""
    if kernel >= DEFAULT or src.release != "v6.9":
        return src
    if kernel >= SWITCHES.get("arg-pte").since:
        return copies.redate(src, kernel, COPIES_66)
    if src is SRC_PGD_INDEX and kernel < PGD_INDEX_GENERIC:
        return Source(PGTABLE64_H, "pgd_index", "v4.11",
                      "the MIPS macro that Mike Rapoport's 'mm: consolidate pgd_index() and "
                      "pgd_offset{_k}() definitions' <20200512184422.12418-13-rppt@kernel.org> "
                      "deletes (v5.8 inferred from its 2020 date); same index bits [its older "
                      "text not read]")
    if kernel >= SWITCHES.get("generic-flush").since:
        return Source(src.file, src.function, "v5.13",
                      VIA_513 if src.file == MMU_C else via_helper(src))
    if src.file != MMU_C:
        return Source(src.file, src.function, "v4.11", via_helper(src))
    if src is SRC_ROOT_FAULT:
        if kernel < SWITCHES.get("vz").since:
            return SRC_TE_KSEG0_FAULT
        return Source(MMU_C, src.function, "v4.12",
                      VIA_513 + "; assumed the same since the VZ merge [unverified]")
    table_code = src.function.startswith("kvm_mips_flush_gpa") or src in (SRC_WALK,
                                                                           SRC_PTE_FOR_GPA)
    return Source(MMU_C, HVA_NAMES.get(src.function, src.function), "v4.11",
                  VIA_411_PT if table_code else VIA_411)


# -- MIPS pte bits, by kernel name ---------------------------------------------------
PRESENT = "_PAGE_PRESENT"     # soft: valid for Linux (pte_present)
WRITE = "_PAGE_WRITE"         # soft: write permission (pte_write)
ACCESSED = "_PAGE_ACCESSED"   # soft: young (pte_young)
MODIFIED = "_PAGE_MODIFIED"   # soft: dirty (pte_dirty)
READ = "_PAGE_READ"           # readable
NO_EXEC = "_PAGE_NO_EXEC"     # RIXI: not executable
VALID = "_PAGE_VALID"         # hw: _PAGE_SILENT_READ, reads do not trap
HW_DIRTY = "_PAGE_DIRTY"      # hw: _PAGE_SILENT_WRITE, writes do not trap
SPECIAL = "_PAGE_SPECIAL"
CACHE = "_page_cachable_default"
READABLE = frozenset({VALID, READ, ACCESSED})        # __READABLE
WRITEABLE = frozenset({HW_DIRTY, WRITE, MODIFIED})   # __WRITEABLE

#: pud folded into the pgd entry on 3-level 4K (PTRS_PER_PUD == 1)
PTRS_PER_PUD = 1
PTRS_PER_PGD = 1024
ALL_ONES = (1 << 64) - 1    # ~0ul: "to the end of this table"
#: one page per allocatable level (pmd and pte; the pgd is never allocated here)
KVM_MMU_CACHE_MIN_PAGES = 2


#: pgd -> pmd -> pte; the pgd has PTRS_PER_PGD (1024) entries, the lower tables 512.
GEOMETRY = Geometry(levels=3, names=("pte", "pmd", "pgd"),
                    root_bits=PTRS_PER_PGD.bit_length() - 1)


def gpa_index(gpa: int, depth: int) -> int:
    """pte_index/pmd_index/pgd_index of a guest physical address."""
    return GEOMETRY.index(gpa >> PAGE_SHIFT, depth)


# -- entries -------------------------------------------------------------------------
def make_pte(pfn: int, bits) -> Leaf:
    """A MIPS pte (pfn plus bits) as a shared Leaf; the normalised fields read the bits."""
    bits = frozenset(bits)
    present = PRESENT in bits
    return Leaf(pfn=pfn, read=present and READ in bits, write=WRITE in bits,
                exec=present and NO_EXEC not in bits, dirty=MODIFIED in bits,
                young=ACCESSED in bits, native=tuple(sorted(bits)))


def bits_of(pte: Leaf | None) -> frozenset:
    return frozenset(pte.native) if pte is not None else frozenset()


def pte_present(pte: Leaf | None) -> bool:
    return PRESENT in bits_of(pte)


def pte_young(pte: Leaf | None) -> bool:
    return ACCESSED in bits_of(pte)


def pte_dirty(pte: Leaf | None) -> bool:
    return MODIFIED in bits_of(pte)


def pte_write(pte: Leaf | None) -> bool:
    return WRITE in bits_of(pte)


def pte_mkclean(pte: Leaf) -> Leaf:
    """Drop soft-dirty (MODIFIED) and the hardware write enable; WRITE stays."""
    return make_pte(pte.pfn, bits_of(pte) - {MODIFIED, HW_DIRTY})


def pte_wrprotect(pte: Leaf) -> Leaf:
    """Drop WRITE and the hardware write enable; MODIFIED stays."""
    return make_pte(pte.pfn, bits_of(pte) - {WRITE, HW_DIRTY})


def pte_mkyoung(pte: Leaf) -> Leaf:
    """Set ACCESSED and the hardware valid bit (no _PAGE_NO_READ is modelled)."""
    return make_pte(pte.pfn, bits_of(pte) | {ACCESSED, VALID})


def pte_mkdirty(pte: Leaf) -> Leaf:
    """Set MODIFIED; the hardware write enable only where WRITE is set."""
    extra = {MODIFIED, HW_DIRTY} if pte_write(pte) else {MODIFIED}
    return make_pte(pte.pfn, bits_of(pte) | extra)


def pte_from_host(host: HostPte) -> Leaf:
    """The host pte as MIPS encodes it, which is exactly what kvm_set_spte_gfn stores.

    Present: readable and cachable; young means ACCESSED and hw VALID; write is
    WRITE; dirty is MODIFIED; hw DIRTY only when both (pte_mkdirty/pte_mkwrite);
    not executable means _PAGE_NO_EXEC; the zero page is mapped special.
    Not present: a swap-format value with no pte bits; its pfn is what pte_pfn
    would read, and its bits name the swap entry type.
    """
    if not host.present:
        return make_pte(host.pfn, {_swap_type(host)})
    bits = {PRESENT, READ, CACHE}
    if host.young:
        bits |= {ACCESSED, VALID}
    if host.write:
        bits.add(WRITE)
    if host.dirty:
        bits.add(MODIFIED)
    if host.write and host.dirty:
        bits.add(HW_DIRTY)
    if not host.exec:
        bits.add(NO_EXEC)
    if host.special == "zero":
        bits.add(SPECIAL)
    return make_pte(host.pfn, bits)


def _swap_type(host: HostPte) -> str:
    if host.special == "device-private":
        return "swp:SWP_DEVICE_WRITE" if host.write else "swp:SWP_DEVICE_READ"
    return "swp:swap-entry"


def describe_pte(pte: Leaf | None) -> str:
    if pte is None:
        return "0"
    state = "present" if pte_present(pte) else "NOT present"
    return f"pfn {pte.pfn:#x} {state} [{' '.join(pte.native)}]"


class Model(RadixViews, ArchModel):
    id = "mips"
    fault_retry = faultretry.MIPS
    readonly_mem = kconfig_readonly_mem("mips")
    free_policy = FREE_WHOLE_SPAN
    family = "mips"
    title = "MIPS VZ GPA page tables (64-bit, 4 KiB pages, pgd -> pmd -> pte)"
    hooks = {
        "fault_in": (SRC_ROOT_FAULT, SRC_MAP, SRC_MAP_FAST, SRC_WALK, SRC_PFN_PROT, SRC_BITS,
                     SRC_MKYOUNG, SRC_MKDIRTY, SRC_GEOM, SRC_PGD_INDEX),
        "unmap_gfn_range": (SRC_UNMAP, SRC_FLUSH_PT, SRC_FLUSH_PGD, SRC_FLUSH_PUD,
                            SRC_FLUSH_PMD, SRC_FLUSH_PTE),
        "set_spte_gfn": (SRC_SET_SPTE, SRC_PTE_FOR_GPA, SRC_WALK, SRC_MKCLEAN, SRC_WRPROTECT,
                         SRC_SET_PTE),
    }
    chain = (SRC_SET_SPTE, SRC_PTE_FOR_GPA, SRC_WALK, SRC_SET_PTE)
    arrived = ARRIVED
    switches = SWITCHES
    copies = COPIES_66
    findings = (
        "After the one-page invalidate_range_start, kvm_unmap_gfn_range -> "
        "kvm_mips_flush_gpa_pt has zeroed the pte but frees a pte table only when the "
        "flushed span covers all 512 of its slots (arch/mips/kvm/mmu.c:"
        "kvm_mips_flush_gpa_pte/kvm_mips_flush_gpa_pmd @ v6.9), so the table survives, the "
        "cache-less kvm_mips_pte_for_gpa walk finds the slot, and kvm_set_spte_gfn "
        "(arch/mips/kvm/mmu.c:kvm_set_spte_gfn @ v6.9) set_pte()s the new host pte into the "
        "GPA table, mapping the gfn again without a guest fault, so .change_pte() is not a "
        "no-op on MIPS.",
        "kvm_set_spte_gfn writes the host pte whenever the walk finds a pte table, even into "
        "a slot the guest never faulted on and even when the host pte is not present (a "
        "device-private swap entry) (arch/mips/kvm/mmu.c:kvm_set_spte_gfn, "
        "kvm_mips_walk_pgd @ v6.9).",
        "In a memslot that is both KVM_MEM_READONLY and dirty-logged, kvm_set_spte_gfn cleans "
        "a writable host pte instead of write-protecting it (the read-only case is an else-if "
        "behind the dirty-logging one, taken whenever the old GPA pte is not dirty, as after "
        "the unmap), so the stored pte keeps the soft _PAGE_WRITE; the guest's next write "
        "fault takes _kvm_mips_map_page_fast, which checks only pte_write, sets the pte dirty "
        "and lets the guest write read-only memory with no MMIO exit "
        "(arch/mips/kvm/mmu.c:kvm_set_spte_gfn, _kvm_mips_map_page_fast @ v6.9; the same code "
        "since kvm_set_spte_handler in 411740f5422a, v4.11).",
    )

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        """Each hook's sources at ``kernel``; before 5.13 the hooks are the hva-based
        kvm_set_spte_hva / kvm_unmap_hva_range, which walk the memslots with
        handle_hva_to_gpa and end in the flavour's flush_shadow_all."""
        hooks = {k: tuple(cite(s, kernel) for s in v) for k, v in cls.hooks.items()}
        if kernel >= SWITCHES.get("generic-flush").since:
            return hooks
        flush_all = SRC_VZ_FLUSH_ALL if kernel >= SWITCHES.get("vz").since else SRC_TE_FLUSH_ALL
        set_hva = SRC_SET_SPTE_HVA_50 if kernel >= SWITCHES.get("int-return").since \
            else SRC_SET_SPTE_HVA
        hooks["set_spte_gfn"] = (set_hva, SRC_HANDLE_HVA, *hooks["set_spte_gfn"], flush_all)
        hooks["unmap_gfn_range"] = (SRC_UNMAP_HVA, SRC_HANDLE_HVA, *hooks["unmap_gfn_range"],
                                    flush_all)
        return hooks

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(GEOMETRY, free_policy=self.free_policy)
        #: vcpu->arch.mmu_page_cache, kept across faults
        self.cache = MemoryCache(0)

    def cite(self, source: Source) -> Source:
        """Every step cites the copy read for the release being run."""
        return cite(source, self.kernel)

    def flush_shadow_all(self, why: str) -> None:
        """Before 5.13 the hooks flush themselves through kvm_mips_callbacks->flush_shadow_all
        (never flush_shadow_memslot); generic code gets 0 or nothing back."""
        if self.since("vz"):
            self.flush_remote_tlbs(f"{why}: kvm_mips_callbacks->flush_shadow_all = kvm_vz_flush_shadow_all: "
                       f"kvm_flush_remote_tlbs (without GuestIDs every CPU is first marked in "
                       f"asid_flush_mask)", SRC_VZ_FLUSH_ALL)
        else:
            self.flush_remote_tlbs(f"{why}: kvm_mips_callbacks->flush_shadow_all = "
                       f"kvm_trap_emul_flush_shadow_all: kvm_flush_remote_tlbs (every vCPU's GVA "
                       f"page tables and GVA ASIDs)", SRC_TE_FLUSH_ALL)

    # -- kvm_mips_walk_pgd ----------------------------------------------------------
    def walk(self, gfn: int, cache: MemoryCache | None) -> tuple[TablePage, int] | None:
        """kvm_mips_walk_pgd: the pte slot for gfn, allocating missing pmd/pte tables from
        cache; with no cache, None where a table is missing (the slot need not be set)."""
        table = self.pt.root
        for depth in (2, 1):   # pud_none (-> invalid_pmd_table), then pmd_none
            idx = self.pt.g.index(gfn, depth)
            child = table.entries.get(idx)
            if child is None:
                if cache is None:
                    return None
                child = self._alloc(table, idx, cache)
            table = child
        return table, self.pt.g.index(gfn, 0)

    def _alloc(self, parent: TablePage, idx: int, cache: MemoryCache) -> TablePage:
        child = self.pt.alloc_child(parent, idx, cache)
        if child is None:
            raise RuntimeError("kvm_mmu_memory_cache_alloc on an empty cache")
        what = "pmd_init + pud_populate" if child.depth == 1 else "clear_page + pmd_populate_kernel"
        self.step(f"allocate a {self.pt.g.names[child.depth]} table for gfn "
                  f"{child.base_gfn:#x} from the memory cache ({what})", SRC_WALK)
        return child

    # -- fault ------------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvm_mips_handle_vz_root_tlb_fault: kvm_mips_map_page, then invalidate the
        root TLB entry for the address."""
        if not (self._map_page_fast(gfn, write) or self._map_page_slow(slot, gfn, host, write)):
            return FaultResult(0, "kvm_mips_map_page returned -EFAULT (handled as MMIO)",
                               self.cite(SRC_MAP))
        if self.since("vz"):
            self.flush(f"kvm_vz_host_tlb_inv for gpa {gfn << PAGE_SHIFT:#x}", SRC_ROOT_FAULT)
        else:
            self.step("trap-and-emulate: the caller derives the guest's GVA page-table entries "
                      "from the GPA pte pair kvm_mips_map_page returns (not modelled)",
                      SRC_ROOT_FAULT)
        if host.mapping_pages(slot.gfn_to_hva(gfn)) > 1:
            return FaultResult(1, "kvm_mips_map_page always writes a single PAGE_SIZE pte and "
                                  "kvm_mips_walk_pgd always descends to the pte level: the "
                                  "MIPS GPA table never maps 2 MiB, even over a THP",
                               self.cite(SRC_MAP))
        return FaultResult(1, "kvm_mips_map_page maps one 4 KiB pte", self.cite(SRC_MAP))

    def _map_page_fast(self, gfn: int, write: bool) -> bool:
        """_kvm_mips_map_page_fast: only a present pte is handled (mkyoung, and mkdirty
        for a write to a writable clean pte); anything else goes to the slow path."""
        where = self.walk(gfn, None)
        pte = where[0].entries.get(where[1]) if where else None
        if not pte_present(pte):
            self.step("fast path: no present pte for the gpa: -EFAULT, take the slow path",
                      SRC_MAP_FAST)
            return False
        table, idx = where
        if not pte_young(pte):
            pte = pte_mkyoung(pte)
            self.pt.set_entry(table, idx, pte)
            self.step("fast path: pte was old: set_pte(pte_mkyoung)", SRC_MAP_FAST)
        if write and not pte_dirty(pte):
            if not pte_write(pte):
                self.step("fast path: write to a pte without _PAGE_WRITE: -EFAULT", SRC_MAP_FAST)
                return False
            self.pt.set_entry(table, idx, pte_mkdirty(pte))
            self.step("fast path: set_pte(pte_mkdirty) and mark_page_dirty", SRC_MAP_FAST)
        return True

    def _map_page_slow(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> bool:
        """kvm_mips_map_page slow path: top up the cache, look up the pfn, walk allocating
        tables, and write a fresh pfn_pte (present, readable, young; soft-writable when
        the host allows it; dirty and hardware-writable only on a write fault)."""
        if self.cache.pages < KVM_MMU_CACHE_MIN_PAGES:
            self.cache.pages = KVM_MMU_CACHE_MIN_PAGES
        hpte = host.pte(slot.gfn_to_hva(gfn))
        writeable = hpte.write and not slot.readonly
        if write and not writeable:
            self.step("gfn_to_pfn_prot: write to a non-writable mapping: error pfn, -EFAULT",
                      SRC_PFN_PROT)
            return False
        table, idx = self.walk(gfn, self.cache)
        bits = {PRESENT, CACHE} | READABLE
        if writeable:
            bits.add(WRITE)
            if write:
                bits |= WRITEABLE
        pte = make_pte(hpte.pfn, bits)
        self.pt.set_entry(table, idx, pte)
        self.step(f"set_pte(pfn_pte) for gfn {gfn:#x}: {describe_pte(pte)}"
                  f"{' and mark_page_dirty' if writeable and write else ''}", SRC_MAP)
        return True

    # -- unmap --------------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range: flush [start, end] (end passed as is, used inclusively)
        and always ask generic code for a TLB flush.  Before 5.13 kvm_unmap_hva_range's
        handler passes the same exclusive end, and the hook flushes by itself."""
        if not self.since("generic-flush"):
            self.step(f"kvm_unmap_hva_range: handle_hva_to_gpa clips the range to memslot "
                      f"{rng.slot.id} and hands kvm_unmap_hva_handler gfn_end = hva_to_gfn("
                      f"hva_end + PAGE_SIZE - 1) = {rng.end:#x}, one past the last page",
                      SRC_HANDLE_HVA)
        self.step(f"kvm_mips_flush_gpa_pt(start {rng.start:#x}, end {rng.end:#x}): the "
                  f"helpers treat end as the last page, so gfn {rng.end:#x} is flushed too",
                  SRC_FLUSH_PT)
        whole = self._flush_pgd(rng.start << PAGE_SHIFT, rng.end << PAGE_SHIFT)
        if self.since("generic-flush"):
            self.step(f"returns true whatever the flush found (safe_to_remove={whole} ignored)",
                      SRC_UNMAP)
            return True
        self.step(f"the handler returns 1 whatever the flush found (safe_to_remove={whole} "
                  f"ignored); kvm_unmap_hva_range ignores it", SRC_UNMAP)
        self.flush_shadow_all("kvm_unmap_hva_range, unconditionally")
        self.step("kvm_unmap_hva_range returns 0: generic code adds no flush", SRC_UNMAP_HVA)
        return False

    def _span(self, start_gpa: int, end_gpa: int, depth: int) -> tuple[int, int, bool]:
        """i_min, i_max, and whether [i_min, i_max] is the whole table at this level."""
        g = self.pt.g
        i_min, i_max = gpa_index(start_gpa, depth), gpa_index(end_gpa, depth)
        return i_min, i_max, i_min == 0 and i_max == g.ptrs(depth) - 1

    def _flush_pgd(self, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pgd: pgd_present is always true (folded); a fully flushed
        pud asks for pgd_clear and pud_free, which are no-ops when folded."""
        i_min, i_max, safe = self._span(start_gpa, end_gpa, 2)
        end = ALL_ONES
        for i in range(i_min, i_max + 1):
            if i == i_max:
                end = end_gpa
            if not self._flush_pud(i, start_gpa, end):
                safe = False
            start_gpa = 0
        return safe

    def _flush_pud(self, pgd_idx: int, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pud over the single folded pud (the pgd entry): skip it when
        it points at invalid_pmd_table; free the pmd table when fully flushed."""
        root = self.pt.root
        safe = PTRS_PER_PUD == 1     # pud_index is 0 for both ends
        pmd = root.entries.get(pgd_idx)
        if pmd is None:
            return safe
        if self.pt.may_free(pmd, self._flush_pmd(pmd, start_gpa, end_gpa)):
            self._free(root, pgd_idx, pmd, "pud_clear + pmd_free", SRC_FLUSH_PUD)
            return safe
        return False

    def _flush_pmd(self, pmd: TablePage, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pmd: flush each present pte table in [i_min, i_max]; free
        one (pmd_clear + pte_free_kernel) only when its whole span was flushed."""
        i_min, i_max, safe = self._span(start_gpa, end_gpa, 1)
        end = ALL_ONES
        for i in range(i_min, i_max + 1):
            pte_table = pmd.entries.get(i)
            if pte_table is not None:
                if i == i_max:
                    end = end_gpa
                covered = self._flush_pte(pte_table, start_gpa, end)
                if self.pt.may_free(pte_table, covered):
                    self._free(pmd, i, pte_table, "pmd_clear + pte_free_kernel", SRC_FLUSH_PMD)
                else:
                    safe = False
            start_gpa = 0
        return safe

    def _flush_pte(self, table: TablePage, start_gpa: int, end_gpa: int) -> bool:
        """kvm_mips_flush_gpa_pte: zero every present pte in [i_min, i_max] inclusive;
        non-present values stay; "safe" only for the span 0..511."""
        i_min, i_max, safe = self._span(start_gpa, end_gpa, 0)
        for i in range(i_min, i_max + 1):
            if pte_present(table.entries.get(i)):
                self.pt.clear_entry(table, i)
                self.step(f"set_pte(0) at gfn {self.pt.child_gfn(table, i):#x}", SRC_FLUSH_PTE)
        if not safe:
            self.step(f"pte table @gfn {table.base_gfn:#x} kept: slots {i_min}..{i_max} are not "
                      f"the whole table", SRC_FLUSH_PTE)
        return safe

    def _free(self, parent: TablePage, idx: int, child: TablePage, how: str, src: Source) -> None:
        self.pt.clear_entry(parent, idx)
        self.pt.free_page(child)
        self.step(f"{how}: free the {self.pt.g.names[child.depth]} table @gfn "
                  f"{child.base_gfn:#x}", src)

    # -- change_pte ---------------------------------------------------------------------
    def set_spte_gfn(self, rng: GfnRange) -> bool:
        """kvm_set_spte_gfn: find the slot with no cache, adjust the host pte for the
        memslot flags, store it, and report whether the old entry needs a flush.  Before
        5.13 the same body is kvm_set_spte_handler, and kvm_set_spte_hva flushes itself
        when it returns 1 (returning nothing, then 0 from 5.0, to generic code)."""
        if self.since("generic-flush"):
            return self._set_spte(rng)
        self.step(f"kvm_set_spte_hva: handle_hva_to_gpa finds memslot {rng.slot.id} for the hva "
                  f"and calls kvm_set_spte_handler for gfn {rng.start:#x}", SRC_HANDLE_HVA)
        if self._set_spte(rng):
            self.flush_shadow_all("kvm_set_spte_hva, as the handler returned 1")
        if self.since("int-return"):
            self.step("kvm_set_spte_hva returns 0: generic code does not flush",
                      SRC_SET_SPTE_HVA_50)
        else:
            self.step("kvm_set_spte_hva returns void: generic code cannot flush on it",
                      SRC_SET_SPTE_HVA)
        return False

    def _set_spte(self, rng: GfnRange) -> bool:
        where = self.walk(rng.start, None)
        if where is None:
            self.step("kvm_mips_pte_for_gpa(NULL cache): no pmd/pte table for the gfn, "
                      "returns NULL: return false", SRC_PTE_FOR_GPA)
            return False
        table, idx = where
        old = table.entries.get(idx)
        self.step(f"kvm_mips_pte_for_gpa(NULL cache) found the pte table; old pte = "
                  f"{describe_pte(old)}", SRC_PTE_FOR_GPA)
        new = self._adjust(rng.slot, old, pte_from_host(rng.pte))
        self.pt.set_entry(table, idx, new)
        self.step(f"set_pte: store the host pte in the GPA slot for gfn {rng.start:#x}: "
                  f"{describe_pte(new)}", SRC_SET_SPTE)
        return self._needs_flush(old, new)

    def _adjust(self, slot: Memslot, old: Leaf | None, new: Leaf) -> Leaf:
        """Dirty logging with a clean old pte -> mkclean; else a read-only slot ->
        wrprotect (else-if: never both)."""
        if slot.dirty_logging and not pte_dirty(old):
            self.step("dirty logging and the old pte is not dirty: pte_mkclean", SRC_MKCLEAN)
            return pte_mkclean(new)
        if slot.readonly:
            self.step("read-only memslot: pte_wrprotect", SRC_WRPROTECT)
            return pte_wrprotect(new)
        return new

    def _needs_flush(self, old: Leaf | None, new: Leaf) -> bool:
        """No flush when the old pte was absent or old; otherwise a flush when the new pte
        is not present, not young, another pfn, or it cleans a dirty old pte."""
        if not pte_present(old) or not pte_young(old):
            self.step("old pte not present or not young: no flush needed, return false",
                      SRC_SET_SPTE)
            return False
        why = [w for w, hit in (("new not present", not pte_present(new)),
                                ("new not young", not pte_young(new)),
                                ("pfn changed", old.pfn != new.pfn),
                                ("dirty old replaced by clean", pte_dirty(old) and
                                 not pte_dirty(new))) if hit]
        self.step(f"old pte present and young: return {bool(why)}"
                  f"{' (' + ', '.join(why) + ')' if why else ''}", SRC_SET_SPTE)
        return bool(why)

    # -- views --------------------------------------------------------------------------
    def leaf_present(self, leaf) -> bool:
        """A non-present host pte stored by kvm_set_spte_gfn is not a mapping."""
        return pte_present(leaf)
    def snapshot(self) -> dict[str, dict]:
        out = self.pt.snapshot()
        return {k: ({**v, "present": PRESENT in v.get("bits", ())} if k.startswith("leaf")
                    else v) for k, v in out.items()}

    def view(self, gfn: int) -> list[dict]:
        rows = self.pt.path_view(gfn)
        for row in rows:
            if "leaf" in row:
                row["leaf"]["present"] = PRESENT in row["leaf"].get("bits", ())
        return rows
