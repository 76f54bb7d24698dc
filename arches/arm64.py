"""arm64 stage-2 page tables (arch/arm64/kvm/mmu.c, arch/arm64/kvm/hyp/pgtable.c) at v6.9,
and back to v3.11, arm64 KVM's first release (``ARRIVED``).

Releases: ``SWITCHES`` lists each point where the modelled code changed, with the copy
read.  Before v5.10 the code is the mmu.c arm64 shared with 32-bit arm (arch/arm/kvm/, later
virt/kvm/arm/): kvm_set_spte_hva builds pfn + PAGE_S2 (read-only; executable until v4.16)
and stage2_set_pte writes it with no cache, returning silently where a table is missing;
unmap_range/unmap_ptes free table pages by the same page-count rule as the v6.9 walker.
From v5.10 the kvm_pgtable walker below is used, with the v5.12, v5.13, v5.14, v6.2, v6.3,
v6.6 and v6.9 changes selected by ``self.since``.  A step run at an older release cites
that release's era (``src``).  32-bit arm (v3.9-v5.6) is not modelled here.

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

from kvmspte.records import replace

from kvmspte.sim import copies
from kvmspte.sim.copies import Copy
from kvmspte.sim.host import HostArch, HostMM
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, CannotExist, FaultResult, RadixViews
from kvmspte.sim.pagetable import (
    FREE_UNREFERENCED, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.sim.release import DEFAULT, Release, Switch, Switches
from kvmspte.sim.source import DEFAULT_RELEASE, Source, kconfig_readonly_mem

MMU_C = "arch/arm64/kvm/mmu.c"
PGTABLE_C = "arch/arm64/kvm/hyp/pgtable.c"
S2_H = "arch/arm64/include/asm/stage2_pgtable.h"

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

# --------------------------------------------------------------------------------------
# Releases before v6.9.  Each stored copy below was read with read_file; the release of a
# full-file copy is judged from its content (named in its via), so it is the start of the
# era the copy shows, not a tag.  Semantics are paraphrased; no kernel text is copied.
# --------------------------------------------------------------------------------------

#: the stage-2 code arm64 shared with 32-bit arm until 5.7, and where it lived
ARM_MMU_C = "arch/arm/kvm/mmu.c"
VIRT_MMU_C = "virt/kvm/arm/mmu.c"
VIA_311 = ("stored copy [16264858] of arch/arm/kvm/mmu.c, judged v3.10/v3.11: arm64-ready "
           "helpers (kvm_set_s2pte_writable, kvm_clean_pgd), boot_hyp_pgd, IPA-based TLBI, "
           "no block mappings; arm64's Makefile builds this file ($(ARM)/mmu.o, "
           "columbia/linux-kvm-arm arch/arm64/kvm/Makefile [410199871])")
VIA_313 = ("stored copy [81490837] of arch/arm/kvm/mmu.c, judged v3.15-v3.18 (hugetlbfs and THP "
           "block mappings, stage2_flush_vm, unmap_puds/pmds/ptes, no dirty logging); the "
           "block-mapping commit ad361f093c1e is named by the Fixes: tag of a 2019 patch "
           "[4452457097]; its release (v3.13) is inferred from the patch dates, not read")
VIA_47 = ("stored copy [33472881] of arch/arm/kvm/mmu.c, judged v4.0-v4.6 by content "
          "(kvm_pgd_index, KVM_PREALLOC_LEVEL, dirty logging): it already zeroes and "
          "invalidates a present pte before writing; the commit (d4b9e0790aa7 'arm64: KVM: "
          "Enforce Break-Before-Make on Stage-2 page tables') and its release v4.7 are "
          "recollection, not read: the copy may be a tree with that fix backported")
VIA_419_PULL = ("Paolo Bonzini's '[GIT PULL] Second batch of KVM changes for 4.19-rc1' "
                "(shortlog in [33109698463]) lists Punit Agrawal's 'KVM: arm/arm64: Skip "
                "updating PTE entry if no change', Marc Zyngier's 'arm64: KVM: Add support for "
                "Stage-2 control of memory types and cacheability' (FWB) and 'arm64: KVM: Avoid "
                "marking pages as XN in Stage-2 if CTR_EL0.DIC is set'; upstream ids not read "
                "(stable logs [5672019795] carry the skip as 107c387)")
VIA_419_SKIP = (VIA_419_PULL + "; the skip read in code in the stored copy [138114889] of "
           "virt/kvm/arm/mmu.c, judged v5.1-v5.7")
VIA_419 = ("694556d54f35 'KVM: arm/arm64: Clean dcache to PoC when changing PTE due to CoW' "
           "(diff in mails [32990765959], [32763704363]: virt/kvm/arm/mmu.c, Cc stable v4.16+); "
           "the resulting kvm_set_spte_hva read at [138114889]")
VIA_50 = ("stored copy [138114889] of virt/kvm/arm/mmu.c (int kvm_set_spte_hva, 748c0e312fce; "
          "always returns 0)")
VIA_416 = ("d0e22b4ac3ba 'KVM: arm/arm64: Limit icache invalidation to prefetch aborts': PAGE_S2 "
           "gains XN, X only on an exec fault; named and explained in Catalin Marinas's mail "
           "<20190214101936.GD9296@c02tf0j2hf1t.cambridge.arm.com> [25172151471]; v4.16 from "
           "the stable-apply lists [30701999709] (the diff itself not read)")
VIA_510 = ("e9edb17ae0a2 'KVM: arm64: Convert kvm_set_spte_hva() to generic page-table API' "
           "(diffs <20200730153406.25136-8-will@kernel.org> [30286990747] and v3 quoted in "
           "[31182344801]; applied for v5.10 [30333702200]); the walker read in a ~v5.12 "
           "pgtable.c copy [171353416], with 5c646b7e1d8b (v5.10 final) taking a table "
           "reference only when an invalid entry becomes valid")
VIA_512 = ("694d071f8d85 'Filter out the case of only changing permissions from stage-2 map "
           "path' (diff [45899992330], v5.12 pull [46009458247]); read in code in the ~v5.12 "
           "pgtable.c copy [171353416]")
VIA_513 = ("v5.13 gfn-range API (Sean Christopherson's series; generic patch read at "
           "[1318982929], the arm64 patch not read) and MTE for guests (Steven Price, diff "
           "[16253278736]): sanitise_mte_tags on the new page, then the v5.10 clean and map")
VIA_514 = ("25aa28691bb9 'KVM: arm64: Move guest CMOs to the fault handlers' (applied list "
           "[46031276589]); the map walker then cleans only a leaf it installs; mmu.c after it "
           "read at [2597665] (a v5.14-v6.0 copy)")
VIA_62 = ("2dbf12ae132c 'KVM: arm64: Simplify the sanitise_mte_tags() logic' (v4 diff "
          "<20220921035140.57513-4-pcc@google.com> [37063875832]); applied to kvmarm next on "
          "2022-11-29 (<166971432264.1905185.15808052624158484529.b4-ty@kernel.org> [99326108]), "
          "after v6.1-rc7, so first in v6.2 (sources.md's 'about 6.1' is wrong)")
VIA_66 = ("the KVM/arm64 v6.6 pull ('Add support for TLB range invalidation of Stage-2 page "
          "tables', tizen linux-rpi commitdiff e0fb12c673e5); the range-TLBI unmap commit "
          "itself not read")
#: how a v6.9 step is cited when it runs at an older release in the kvm_pgtable era
VIA_PGT_ERA = ("same behaviour read in the ~v5.12 pgtable.c copy [171353416] and the v6.8 "
               "copies cited at v6.9; release = start of the model's era for this kernel")
VIA_LEGACY_ERA = ("same behaviour read in the pre-kvm_pgtable copies [16264858] (~v3.11), "
                  "[81490837] (~v3.15), [33472881] (~v4.0-v4.6), [138114889] (~v5.1-v5.7); "
                  "release = start of the model's era for this kernel")


def _legacy(fn: str, release: str, via: str, file: str = ARM_MMU_C) -> Source:
    return Source(file, fn, release=release, via=via)


L_SET_SPTE_311 = _legacy("kvm_set_spte_hva", "v3.11", VIA_311)
L_SET_PTE_311 = _legacy("stage2_set_pte", "v3.11", VIA_311)
L_UNMAP_311 = _legacy("unmap_range", "v3.11", VIA_311)
L_UMA_311 = _legacy("user_mem_abort", "v3.11", VIA_311)
L_THP_313 = _legacy("transparent_hugepage_adjust", "v3.13", VIA_313)
L_PMD_HUGE_313 = _legacy("stage2_set_pmd_huge", "v3.13", VIA_313)
L_SET_PTE_47 = _legacy("stage2_set_pte", "v4.7", VIA_47)
L_SET_PTE_419 = _legacy("stage2_set_pte", "v4.19", VIA_419_SKIP, VIRT_MMU_C)
L_SET_SPTE_419 = _legacy("kvm_set_spte_hva", "v4.19", VIA_419, VIRT_MMU_C)
L_SET_SPTE_50 = _legacy("kvm_set_spte_hva", "v5.0", VIA_50, VIRT_MMU_C)
L_XN_416 = Source("arch/arm64/include/asm/pgtable-prot.h", "PAGE_S2", release="v4.16",
                  via=VIA_416)
SRC_SET_SPTE_510 = Source(MMU_C, "kvm_set_spte_hva", release="v5.10", via=VIA_510)
SRC_TRY_LEAF_510 = Source(PGTABLE_C, "stage2_map_walker_try_leaf", release="v5.10",
                          via=VIA_510)
SRC_TRY_LEAF_512 = Source(PGTABLE_C, "stage2_map_walker_try_leaf", release="v5.12",
                          via=VIA_512)
SRC_SET_SPTE_513 = Source(MMU_C, "kvm_set_spte_gfn", release="v5.13", via=VIA_513)
SRC_TRY_LEAF_514 = Source(PGTABLE_C, "stage2_map_walker_try_leaf", release="v5.14",
                          via=VIA_514)
SRC_UNMAP_WALKER_510 = Source(PGTABLE_C, "stage2_unmap_walker", release="v5.10",
                              via="read in code in the ~v5.12 pgtable.c copy [171353416]: "
                                  "every cleared entry, table or leaf, gets a TLBI by IPA "
                                  "with its own level as hint")
SRC_DEFER_66 = Source(PGTABLE_C, "stage2_unmap_defer_tlb_flush", release="v6.6", via=VIA_66)
#: table -> block before the parallel-fault walker: the anchor scheme
SRC_TABLE_PRE_510 = Source(
    PGTABLE_C, "stage2_map_walk_table_pre", release="v5.10",
    via="read in stored ids 52532632576 (a pgtable.c of the v5.13 generation: no CMOs in "
        "stage2_map_walker_try_leaf yet) and 138899356 (v5.15-v6.1): TABLE_PRE zeroes the "
        "table entry, invalidates the whole VMID (__kvm_tlb_flush_vmid) and anchors there; "
        "the LEAF visits below drop their references and stage2_map_walk_table_post frees "
        "each table page and installs the block at the anchor; the v5.10 text assumed the "
        "same (the anchor is the original kvm_pgtable design)")
SRC_TABLE_PRE_62 = Source(
    PGTABLE_C, "stage2_map_walk_table_pre", release="v6.2",
    via="the parallel-aware TABLE_PRE (stage2_map_walker_try_leaf on the table entry, which "
        "stage2_try_break_pte invalidates, then the unlinked table freed) read in the v6.8 copy "
        "cited at v6.9 and in Android's 6.6 tree [55894699443]; v6.2 from Oliver Upton's "
        "parallel stage-2 fault series in the KVM/arm64 6.2 merge (its patches, e.g. stored "
        "ids 30757561495, 12977026261, still on the (addr, end, level) walkers of 6.1), not "
        "read at the tag")

# -- the copies read for the long-term lines 5.15, 6.1 and 6.6 (kvmspte.sim.copies) -------
# A v6.9 citation run at one of these releases names the copy of its era instead of the
# generic era note (VIA_PGT_ERA); the behaviour is chosen by SWITCHES as before.
MTE_C = "arch/arm64/kernel/mte.c"
COPYPAGE_C = "arch/arm64/mm/copypage.c"
VIA_MMU_514 = ("read at stored id 2597665 (full copy of mmu.c, v5.14-v6.1 generation: "
               "kvm_set_spte_gfn sanitises the new page's MTE tags with PAGE_SIZE, then maps it R "
               "with no memory cache and returns false; kvm_unmap_gfn_range calls "
               "__unmap_stage2_range with may_block and returns false); 6.1 still predates "
               "2dbf12ae132c (applied after v6.1-rc7, see the mte_untagged_return switch)")
VIA_MMU_66 = ("read at GrapheneOS/kernel_common-6.6 bfb7423bece2 (stored id 69485482386), "
              "Android's 6.6 common tree: kvm_set_spte_gfn on range->arg.pte (6.6's "
              "3e1efe2b67d3; mainline's 6.6 hunk also in stored id 23502159366, index "
              "6db9ef288ec3), MTE untagged -> false, else map R with no cache; "
              "kvm_unmap_gfn_range, user_mem_abort and kvm_handle_guest_abort as modelled. "
              "Its pKVM additions (is_protected_kvm_enabled() early returns, pkvm_mem_abort) "
              "are not mainline and not modelled")
VIA_PGT_515 = ("read at stored id 138899356 (full copy of hyp/pgtable.c, judged v5.15-v6.1: "
               "force_pte_cb in kvm_pgtable_hyp_init, the walkers still take (addr, end, level, "
               "ptep), no KVM_PGTABLE_WALK_SHARED). Break-before-make is stage2_put_pte called "
               "from stage2_map_walker_try_leaf (zero, TLBI by IPA at the level if valid, "
               "put_page), the store and get_page follow inline; the unmap walker uses "
               "stage2_put_pte too; same behaviour as modelled")
VIA_PGT_66 = ("v6.6: stage2_unmap_put_pte and stage2_unmap_defer_tlb_flush as added by the 6.6 "
              "range-TLBI series (patch text stored id 7470364385) and as the linux-6.6.y "
              "backport of f62d4c3eb687 shows them before its fix (stored id 28536614720, "
              "index 15aa9bad1c28); the parallel-fault map walker (stage2_try_break_pte, "
              "stage2_make_pte, stage2_map_walker_try_leaf) reads the same in the v6.8 copy "
              "cited at v6.9 and in Android's 6.6 tree (GrapheneOS/kernel_common-6.6 "
              "70ee51e2b32e, stored id 55894699443; its pKVM pte_ops hooks not modelled)")
VIA_S2H = ("stage2_pgtable.h not re-read for 5.15-6.6: the values used (3 levels from level 1 "
           "for 40 bits, one cache page per level below the root) as read at lougovsk/linux "
           "05e08b39, and kvm_mmu_cache_min_pages is what user_mem_abort tops up with in the "
           "v5.14-v6.1 [2597665] and 6.6 [69485482386] mmu.c copies [assumed unchanged]")
VIA_MTE_513 = ("read at stored id 23701786 (arch/arm64/kernel/mte.c, judged v5.13-v6.1: "
               "mte_sync_tags(ptep, pte) with check_swap, PG_mte_tagged tested with test_bit "
               "before 6.2's page_mte_tagged): identical pages with either one tagged compare "
               "unequal unless they are the same page, as modelled")
VIA_MTE_66 = ("v6.6 between two readings that agree: the v5.13-v6.1 copy [23701786] and the "
              "v6.9-era text cited at v6.9; 6.2 only replaced the flag test by "
              "page_mte_tagged() (the 2dbf12ae132c series) [6.6 itself not read]")
VIA_COPY_512 = ("read at stored id 433285219 (arch/arm64/mm/copypage.c, blob 0dea80bf6de4 by "
                "the later diffs against it, e.g. stored id 8942683101; judged v5.12-v6.1: "
                "set_bit(PG_mte_tagged) and smp_wmb before the tag copy): a tagged source has "
                "its tags copied and the copy marked tagged, as modelled")
VIA_COPY_66 = ("blob a7bb20055ce0 (the 2023 kasan fix 2efbafb91e12 onward, so v6.4 and later; "
               "the base of the 2024 hugetlb-MTE diff) read for v6.9 stands for v6.6: a tagged "
               "source has its tags copied and the copy marked tagged")
COPIES = (
    Copy(Release.parse("5.14"), (MMU_C,), VIA_MMU_514, until=Release.parse("6.2")),
    Copy(Release.parse("6.6"), (MMU_C,), VIA_MMU_66),
    Copy(Release.parse("5.15"), (PGTABLE_C,), VIA_PGT_515, until=Release.parse("6.2"),
         names=(("stage2_try_break_pte", "stage2_put_pte"),
                ("stage2_make_pte", "stage2_map_walker_try_leaf"),
                ("stage2_unmap_put_pte", "stage2_put_pte")),
         absent=("stage2_unmap_defer_tlb_flush",)),
    Copy(Release.parse("6.6"), (PGTABLE_C,), VIA_PGT_66),
    Copy(Release.parse("5.15"), (S2_H,), VIA_S2H),
    Copy(Release.parse("5.13"), (MTE_C,), VIA_MTE_513, until=Release.parse("6.2")),
    Copy(Release.parse("6.6"), (MTE_C,), VIA_MTE_66),
    Copy(Release.parse("5.12"), (COPYPAGE_C,), VIA_COPY_512, until=Release.parse("6.2")),
    Copy(Release.parse("6.6"), (COPYPAGE_C,), VIA_COPY_66),
)

R = Release.parse
#: when .change_pte() first reaches arm64's stage-2 code
ARRIVED = Switch(
    "arm64-kvm", R("3.11"), "arm64 KVM merge (build integration; commit id not read)",
    "arm64 KVM builds the shared arch/arm/kvm/mmu.c, whose kvm_set_spte_hva maps the new pfn",
    Source("arch/arm64/kvm/Makefile", "kvm-$(CONFIG_KVM_ARM_HOST) += $(ARM)/mmu.o",
           release="v3.11",
           via="columbia/linux-kvm-arm arch/arm64/kvm/Makefile 045bd714 [410199871] (a ~v4.0 "
               "copy) builds $(ARM)/mmu.o; the ~v3.11 mmu.c [16264858] carries the arm64 "
               "helpers; v3.11 as arm64 KVM's first release is recollection, not read"))

SWITCHES = Switches([
    Switch("block_mappings", R("3.13"), "ad361f093c1e",
           "user_mem_abort maps a 2 MiB block (stage2_set_pmd_huge) for hugetlbfs and THP; "
           "before, every fault maps 4 KiB", L_THP_313),
    Switch("bbm_set_pte", R("4.7"), "d4b9e0790aa7 (recollection)",
           "stage2_set_pte zeroes a present pte and invalidates it by IPA before writing the "
           "new one; before, it wrote first and invalidated after", L_SET_PTE_47),
    Switch("s2_xn_default", R("4.16"), "d0e22b4ac3ba",
           "PAGE_S2 is execute-never: change_pte's pte and ordinary faults map XN", L_XN_416),
    Switch("skip_identical_pte", R("4.19"), "id not read (stable 107c387)",
           "stage2_set_pte leaves a present pte alone when the new value is identical",
           L_SET_PTE_419),
    Switch("fwb_dic", R("4.19"), "ids not read (4.19-rc1 KVM pull)",
           "the fwb and dic options exist: FWB skips the stage-2 D-cache CMOs, DIC lets "
           "ordinary faults map executable", Source(
               "arch/arm64/kvm/mmu.c", "user_mem_abort", release="v4.19", via=VIA_419_PULL)),
    Switch("clean_dcache_set_spte", R("4.19"), "694556d54f35",
           "kvm_set_spte_hva cleans the new page to PoC before mapping, whatever the walk "
           "then finds", L_SET_SPTE_419),
    Switch("int_return", R("5.0"), "748c0e312fce",
           "kvm_set_spte_hva returns int (always 0 on arm)", L_SET_SPTE_50),
    Switch("kvm_pgtable", R("5.10"), "e9edb17ae0a2",
           "kvm_set_spte_hva maps through kvm_pgtable_stage2_map (R, no cache: a missing "
           "table is -ENOMEM, a block is left alone); faults and unmap use the kvm_pgtable "
           "walkers", SRC_SET_SPTE_510),
    Switch("perm_only_eagain", R("5.12"), "694d071f8d85",
           "a valid leaf for the same output that differs only in S2AP/XN is kept (-EAGAIN); "
           "before, any difference was broken and replaced", SRC_TRY_LEAF_512),
    Switch("gfn_range", R("5.13"), "gfn-range series (Sean Christopherson; id not read)",
           "bool kvm_set_spte_gfn(range), always false", SRC_SET_SPTE_513),
    Switch("mte", R("5.13"), "MTE VM feature (Steven Price; id not read)",
           "KVM_CAP_ARM_MTE exists: faults sanitise tags; kvm_set_spte_gfn sanitises the new "
           "page's tags before mapping", SRC_SET_SPTE_513),
    Switch("cmo_in_walker", R("5.14"), "25aa28691bb9",
           "the explicit clean in kvm_set_spte_gfn is gone; the map walker cleans (and "
           "invalidates the I-cache for X) only when it installs a leaf", SRC_TRY_LEAF_514),
    Switch("mte_untagged_return", R("6.2"), "2dbf12ae132c",
           "an MTE VM's kvm_set_spte_gfn returns false before mapping when the new page is "
           "not PG_mte_tagged (no tag initialisation there any more)",
           Source(MMU_C, "kvm_set_spte_gfn", release="v6.2", via=VIA_62)),
    Switch("defer_unmap_tlbi", R("6.6"), "range-based unmap TLBI (id not read)",
           "with FWB and TLBIRANGE the unmap walk leaves its TLBIs to one range TLBI",
           SRC_DEFER_66),
    Switch("table_tlbi_not_deferred", R("6.9"), "f62d4c3eb687",
           "a cleared table entry is invalidated at once even when leaf TLBIs are deferred",
           Source(PGTABLE_C, "stage2_unmap_put_pte", via=VIA_PUT_PTE)),
    Switch("table_tlbi_no_hint", R("6.9"), "36e008323926",
           "a cleared table entry's TLBI carries no level hint (TLBI_TTL_UNKNOWN); before, "
           "the entry's own level", Source(PGTABLE_C, "stage2_unmap_put_pte", via=VIA_PUT_PTE)),
    Switch("table_pre_try_leaf", R("6.2"), "parallel stage-2 faults (Oliver Upton; ids not read)",
           "a table that a block may replace is broken like a leaf (stage2_try_break_pte) and "
           "the block installed at TABLE_PRE, the unlinked subtree freed after; before, "
           "TABLE_PRE zeroed the entry, invalidated the whole VMID and anchored, and "
           "TABLE_POST installed the block once the walk below had dropped its references",
           SRC_TABLE_PRE_62),
    Switch("walk_eagain_success", R("6.3"), "KVM_PGTABLE_WALK_HANDLE_FAULT (id not read)",
           "-EAGAIN from a walk without HANDLE_FAULT counts as success; before (as read at "
           "~v5.12 [171353416]) it was returned to kvm_set_spte_*, which ignored it",
           Source(PGTABLE_C, "kvm_pgtable_walk_continue", release="v6.3",
                  via="added by Oliver Upton's patch <20221202185156.696189-3-oliver.upton@"
                      "linux.dev> [37777791203] (read); posted 2022-12-02 on top of the "
                      "v6.2 parallel-fault code; v6.3 confirmed by 'KVM: arm64: Ignore EAGAIN "
                      "for walks outside of a fault' in the KVM/arm64 6.3 pull's shortlog "
                      "(stored id 4181060916)")),
])

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

    arrived = ARRIVED
    switches = SWITCHES
    copies = COPIES

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        """Before v5.10 the hooks are the shared hva-based functions of the arm/arm64 mmu.c
        (kvm_handle_hva walks the memslots); v5.10-v5.12 keep the hva entry points over the
        kvm_pgtable walkers; from v5.13 the gfn-range hooks cited at v6.9."""
        if kernel >= SWITCHES.get("gfn_range").since:
            return super().hooks_at(kernel)
        if kernel >= SWITCHES.get("kvm_pgtable").since:
            return {**cls.hooks,
                    "unmap_gfn_range": (Source(MMU_C, "kvm_unmap_hva_range", release="v5.10",
                                               via=VIA_510),) + cls.hooks["unmap_gfn_range"][2:],
                    "set_spte_gfn": (SRC_SET_SPTE_510,) + cls.hooks["set_spte_gfn"][1:]}
        return {"fault_in": (L_UMA_311, L_THP_313, L_PMD_HUGE_313, L_SET_PTE_311),
                "unmap_gfn_range": (_legacy("kvm_unmap_hva_range", "v3.11", VIA_311),
                                    L_UNMAP_311),
                "set_spte_gfn": (L_SET_SPTE_311, L_SET_PTE_311, L_SET_PTE_47, L_SET_PTE_419,
                                 L_SET_SPTE_419, L_SET_SPTE_50)}

    def _era(self) -> Release:
        """The start of the model's era that contains ``self.kernel``."""
        active = [s.since for s in self.switches if s.since <= self.kernel]
        return max(active, default=self.arrived.since)

    def src(self, source: Source) -> Source:
        """The Source a step cites at ``self.kernel``: a v6.9 citation run at an older
        release names the copy read for its era (``COPIES``: 5.15, 6.1, 6.6), else that
        release's era and the copies that show the same behaviour; sources already dated
        to an era are kept."""
        if self.kernel >= DEFAULT or source.release != DEFAULT_RELEASE:
            return source
        dated = copies.redate(source, self.kernel, self.copies)
        if dated is not source:
            return dated
        era = str(self._era())
        if self.since("kvm_pgtable"):
            return replace(source, release=era, via=VIA_PGT_ERA)
        file = VIRT_MMU_C if self.since("clean_dcache_set_spte") else ARM_MMU_C
        return replace(source, file=file if source.file == MMU_C else source.file,
                       release=era, via=VIA_LEGACY_ERA)

    def cite(self, source: Source) -> Source:
        """Every step cites the copy read for the release being run."""
        return self.src(source)

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(GEOMETRY, counted=True, free_policy=self.free_policy)
        self.memcache = MemoryCache(0)   # vcpu->arch.mmu_page_cache, kept across faults
        cpu = self.since("fwb_dic")      # before v4.19 KVM used neither feature
        self.fwb = cpu and self.options.get("fwb", False)
        self.tlbi_range = self.options.get("tlbi_range", False)
        self.dic = cpu and self.options.get("dic", False)

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
            return FaultResult(0, why, self.src(SRC_ABORT))
        hit = self.pt.lookup(gfn)
        if hit and (not write or hit[0].write):
            why = "the existing stage-2 leaf already allows this access: no fault is taken"
            self.step(why, SRC_ABORT)
            return FaultResult(self.pt.g.span(hit[1]), why, self.src(SRC_ABORT))
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
                  SRC_MIN_PAGES if self.since("kvm_pgtable") else L_UMA_311)

    def _mapping_pages(self, slot: Memslot, hva: int, host: HostMM, logging: bool,
                       perm_granule: int) -> tuple[int, str, Source]:
        """The mapping size user_mem_abort settles on for an anonymous VMA."""
        if logging:
            why = "dirty logging is active on the memslot (logging_active): force_pte, PAGE_SIZE"
            self.step(why, SRC_UMA)
            return 1, why, self.src(SRC_UMA)
        if perm_granule > 1:
            why = "permission fault on a block: keep the faulting granule"
            self.step(why, SRC_UMA)
            return perm_granule, why, self.src(SRC_UMA)
        if not self.since("block_mappings"):
            why = "user_mem_abort maps every fault with a 4 KiB pte (no block mappings yet)"
            self.step(why, L_UMA_311)
            return 1, why, L_UMA_311
        return self._thp_adjust(slot, hva, host)

    def _thp_adjust(self, slot: Memslot, hva: int, host: HostMM) -> tuple[int, str, Source]:
        """transparent_hugepage_adjust: a 2 MiB block when the slot allows one at this hva
        and the host maps the hva with a PMD (a THP); otherwise a 4 KiB page."""
        huge = self.pt.g.span(1)
        if not huge_mapping_fits(slot, hva, huge):
            why = "the memslot's gpa/hva alignment does not allow a 2 MiB block here"
            self.step(why, SRC_HUGE_OK)
            return 1, why, self.src(SRC_HUGE_OK)
        thp = SRC_THP if self.since("kvm_pgtable") else L_THP_313
        if host.mapping_pages(hva) < huge:
            why = "the host maps the hva with a 4 KiB page, not a THP"
            self.step(why, thp)
            return 1, why, self.src(thp)
        why = "the host maps the hva with a THP PMD: map a 2 MiB block"
        self.step(why, thp)
        return huge, why, self.src(thp)

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
        # the host judges these tags by its release's memcmp_pages / copy_highpage
        host.arch = HostArch(compare_refuses_tagged=self.src(SRC_MEMCMP),
                             copy_keeps_tags=self.src(SRC_COPY_HIGHPAGE))
        self.step(f"VM has MTE: sanitise tags of pfn [{pfn:#x}, {pfn + pages:#x})", SRC_MTE)

    def _user_mem_abort(self, slot: Memslot, gfn: int, host: HostMM, write: bool,
                        perm_granule: int) -> FaultResult:
        """user_mem_abort for a data (non-exec) fault on ordinary anonymous memory."""
        is_perm = perm_granule > 0
        if self.options.get("mte") and not self.since("mte"):
            raise CannotExist("the VM cannot have MTE: KVM_CAP_ARM_MTE arrived in v5.13",
                              self.switches.get("mte").source)
        hva = slot.gfn_to_hva(gfn)
        logging = slot.dirty_logging and not slot.readonly
        self._topup(is_perm, write, logging)
        pages, why, src = self._mapping_pages(slot, hva, host, logging, perm_granule)
        writable = self._writable(slot, host, hva, write, logging)
        base_gfn, pfn = gfn - gfn % pages, host.pte(hva).pfn
        pfn -= pfn % pages
        if self.options.get("mte") and not is_perm:
            self._sanitise_mte(host, pfn, pages)
        if not self.since("kvm_pgtable"):
            self._legacy_fault_map(base_gfn, pages, pfn, writable)
            return FaultResult(pages, why, src)
        if is_perm and pages == perm_granule:
            self._relax_perms(base_gfn, writable)
            return FaultResult(pages, why, src)
        ret = self.stage2_map(base_gfn, pages, pfn, (True, writable, self.dic), self.memcache,
                              handle_fault=True)
        self.step(f"kvm_pgtable_stage2_map returned {ERRNO[ret]}", SRC_UMA)
        return FaultResult(pages if ret in (OK, EAGAIN) else 0, why, src)

    def _legacy_fault_map(self, gfn: int, pages: int, pfn: int, writable: bool) -> None:
        """user_mem_abort before v5.10: a pte (or, from v3.13, a huge pmd) from PAGE_S2 plus
        write when writable, installed by stage2_set_pte / stage2_set_pmd_huge with the vCPU
        memory cache.  Before v4.16 PAGE_S2 has no XN, so every mapping is executable."""
        depth = 1 if pages > 1 else 0
        leaf = make_leaf(pfn, depth, True, writable,
                         self.dic or not self.since("s2_xn_default"))
        src = L_PMD_HUGE_313 if depth else self._legacy_set_pte_src()
        self.step(f"stage-2 {'pmd' if depth else 'pte'} = pfn {pfn:#x} with PAGE_S2"
                  f"{' + write' if writable else ''}: {leaf.perms}", src)
        self._legacy_set(gfn, depth, leaf, self.memcache, src)

    def _legacy_set_pte_src(self) -> Source:
        if self.since("skip_identical_pte"):
            return L_SET_PTE_419
        return L_SET_PTE_47 if self.since("bbm_set_pte") else L_SET_PTE_311

    def _legacy_set(self, gfn: int, depth: int, leaf: Leaf, mc: MemoryCache | None,
                    src: Source) -> None:
        """stage2_set_pte (depth 0) / stage2_set_pmd_huge (depth 1) before v5.10: walk down,
        linking a table from the cache where one is missing; with no cache (kvm_set_spte_hva)
        a missing table ends the call silently, returning 0."""
        table = self.pt.root
        while table.depth > depth:
            idx = self.pt.g.index(gfn, table.depth)
            entry = table.entries.get(idx)
            if isinstance(entry, Leaf):
                self.warn(f"{self._label(gfn, table.depth)} holds a block, but this path "
                          f"expects a table and would read the block's output page as one; "
                          f"not modelled, nothing changed", src)
                return
            if entry is None:
                if mc is None or mc.pages <= 0:
                    self.step(f"{self._label(gfn, table.depth)} is empty and there is no "
                              f"memory cache: return 0, nothing mapped", src)
                    return
                entry = self.pt.alloc_child(table, idx, mc)
                self.step(f"link a new {self.pt.g.names[table.depth - 1]} table from the memory "
                          f"cache at {self._label(gfn, table.depth)}; table refcount -> "
                          f"{table.refcount}", src)
            table = entry
        idx = self.pt.g.index(gfn, depth)
        old = table.entries.get(idx)
        where = self._label(gfn, depth)
        if isinstance(old, TablePage):
            self.warn(f"{where} holds a table: the block overwrites it and the table page is "
                      f"not freed (not modelled further)", src)
        if old is None:
            self.pt.set_entry(table, idx, leaf)
            self.step(f"{where} was empty: get_page on the table, write pfn {leaf.pfn:#x} "
                      f"{leaf.perms}; table refcount -> {table.refcount}", src)
            return
        if self.since("skip_identical_pte") and old == leaf:
            self.step(f"{where} already holds this exact value: return 0, no update", src)
            return
        if self.since("bbm_set_pte"):
            self.step(f"{where} is present: zero it first (break-before-make)", src)
            self.flush(f"TLBI by IPA for gfn {gfn:#x} (old entry was present)", src)
            table.entries[idx] = leaf
            self.step(f"write pfn {leaf.pfn:#x} {leaf.perms}; table refcount stays "
                      f"{table.refcount}", src)
            return
        table.entries[idx] = leaf
        self.step(f"{where} is present: write pfn {leaf.pfn:#x} {leaf.perms} over it; table "
                  f"refcount stays {table.refcount}", src)
        self.flush(f"TLBI by IPA for gfn {gfn:#x} after the write (old entry was present)",
                   src)

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
        if ret == EAGAIN and not handle_fault and self.since("walk_eagain_success"):
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
        if not self.since("perm_only_eagain"):
            if old == new:
                self.step(f"{self._label(gfn, depth)} already holds this exact leaf: keep it, "
                          f"return 0", SRC_TRY_LEAF_510)
                return OK
        elif not needs_update(old, new):
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
        """stage2_map_walker_try_leaf's cache maintenance before the new leaf is visible
        (from v5.14; before, the callers of kvm_pgtable_stage2_map did it)."""
        if not self.since("cmo_in_walker"):
            return
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
            self.warn("stage2_map_walk_leaf: no leaf allowed at L3", SRC_MAP_LEAF)
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
        if not self.since("table_pre_try_leaf"):
            return self._anchor_table_to_block(table, idx, gfn, pfn, prot)
        self._try_leaf(table, idx, gfn, pfn, prot, True)
        freed = self.pt.free_subtree(child)
        self.step(f"free the unlinked subtree ({freed} table page(s))", SRC_TABLE_PRE)
        return OK

    def _anchor_table_to_block(self, table: TablePage, idx: int, gfn: int, pfn: int,
                               prot: tuple[bool, bool, bool]) -> int:
        """Before v6.2: TABLE_PRE zeroes the table entry, invalidates the whole VMID and
        anchors; TABLE_POST frees the tables the walk below released and, back at the
        anchor, installs the block into the now empty entry (no second break)."""
        child = table.entries[idx]
        self.pt.clear_entry(table, idx)
        self.step(f"TABLE_PRE: a block may replace the table in {self._label(gfn, table.depth)}:"
                  f" zero the entry and anchor the walk there", SRC_TABLE_PRE_510)
        self.flush("TLBI the whole VMID (__kvm_tlb_flush_vmid): the detached table may hold "
                   "many valid leaves", SRC_TABLE_PRE_510)
        freed = self.pt.free_subtree(child)
        self.step(f"TABLE_POST: the walk below dropped its references; {freed} table page(s) "
                  f"freed", SRC_TABLE_PRE_510)
        self._try_leaf(table, idx, gfn, pfn, prot, True)
        return OK

    # -- unmap -----------------------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        """kvm_unmap_gfn_range: unmap the range through the page-table code (which issues
        its own TLBIs) and never ask generic code for a flush."""
        if not self.since("kvm_pgtable"):
            return self._legacy_unmap(rng)
        self.step(f"__unmap_stage2_range(gfn [{rng.start:#x}, {rng.end:#x}))", SRC_UNMAP)
        self._apply_range(rng.start, rng.end)
        self.step("return false: the stage-2 code did its own TLB maintenance", SRC_UNMAP)
        return False

    def _legacy_unmap(self, rng: GfnRange) -> bool:
        """kvm_unmap_hva_range before v5.10: unmap_stage2_range for each gfn; every present
        leaf in range is zeroed (a block whole) with a TLBI by IPA, then each table whose page
        count is back to 1 is unlinked and freed, one level up at a time; never the root.
        The D-cache clean some of these releases do for unmapped pages is not modelled."""
        self.step(f"unmap_stage2_range(gfn [{rng.start:#x}, {rng.end:#x}))", L_UNMAP_311)
        self._unmap_walk(self.pt.root, rng.start, rng.end)
        self.step("return 0: the stage-2 code did its own TLB maintenance", L_UNMAP_311)
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
        return self.tlbi_range and self.fwb and self.since("defer_unmap_tlbi")

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
        if not self.fwb and self.since("kvm_pgtable"):
            self.step(f"clean+invalidate the D-cache to PoC for the whole {size} of pfn "
                      f"{leaf.pfn:#x}", SRC_UNMAP_WALKER)

    def _unmap_table_post(self, table: TablePage, idx: int, gfn: int, child: TablePage,
                          start: int, end: int) -> None:
        """stage2_unmap_walker at TABLE_POST: free the child table only when its count is
        exactly 1 (no entries left), whatever part of it the range covered."""
        span = self.pt.g.span(table.depth)
        cover = "fully" if start <= gfn and gfn + span <= end else "partly"
        name = f"{self.pt.g.names[child.depth]} table @gfn {child.base_gfn:#x}"
        legacy = not self.since("kvm_pgtable")
        visit, src = ("after the walk below", L_UNMAP_311) if legacy else \
            ("TABLE_POST", SRC_UNMAP_WALKER)
        if not self.pt.may_free(child, cover == "fully"):
            self.step(f"{visit} on {cover} covered {name}: refcount {child.refcount} != 1, "
                      f"keep it", src)
            return
        self._put_pte(table, idx, gfn, max(gfn, start), f"table entry for the empty {name}",
                      table_entry=True)
        self.pt.free_page(child)
        self.step(f"{visit} on {cover} covered {name}: refcount was 1, table page freed", src)

    def _put_pte(self, table: TablePage, idx: int, gfn: int, addr: int, what: str, *,
                 table_entry: bool) -> None:
        """stage2_unmap_put_pte at v6.9: zero the entry; a cleared table entry is
        invalidated at once with no level hint, even when the walk defers its TLBIs; a
        cleared leaf gets a TLBI with its level as hint unless deferred.  The TLBI is at
        the walk address, which need not be aligned to the entry; put_page on the table
        page holding the entry follows."""
        self.pt.clear_entry(table, idx)
        if not self.since("kvm_pgtable"):
            self.step(f"zero the {what} in {self._label(gfn, table.depth)}; table refcount -> "
                      f"{table.refcount}", L_UNMAP_311)
            self.flush(f"TLBI by IPA for gfn {addr:#x}", L_UNMAP_311)
            return
        if not (self.since("table_tlbi_no_hint") and self.since("table_tlbi_not_deferred")):
            self.step(f"zero the {what} in {self._label(gfn, table.depth)}; table refcount -> "
                      f"{table.refcount}", SRC_UNMAP_WALKER_510)
            if not self._defer_tlbi():
                self.flush(f"TLBI by IPA for gfn {addr:#x} with level hint "
                           f"{self.pt.g.names[table.depth]}", SRC_UNMAP_WALKER_510)
            return
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
        """kvm_set_spte_gfn (kvm_set_spte_hva before v5.13): map the new pfn read-only at
        4 KiB with no memory cache, ignore the result, and return false (0 / void)."""
        if not self.since("kvm_pgtable"):
            return self._legacy_set_spte(rng)
        src = SRC_SET_SPTE if self.since("mte_untagged_return") else \
            SRC_SET_SPTE_513 if self.since("gfn_range") else SRC_SET_SPTE_510
        pfn = rng.pte.pfn
        self.step(f"pfn = pte_pfn(new host PTE) = {pfn:#x}"
                  f"{'' if rng.pte.present else ' (the PTE is not present; not checked)'}",
                  src)
        if rng.end - rng.start != 1:
            self.warn("kvm_set_spte_gfn on more than one gfn", src)
        if self.options.get("mte") and self.since("mte"):
            if self.since("mte_untagged_return"):
                if not rng.pte.tagged:
                    self.step("VM has MTE and the new page is not PG_mte_tagged: return false "
                              "before mapping", src)
                    return False
            else:
                self.step(f"VM has MTE: sanitise_mte_tags initialises the tags of pfn {pfn:#x} "
                          f"(if not yet tagged) and marks it PG_mte_tagged, then maps it", src)
        if not self.since("cmo_in_walker"):
            self.step(f"clean the D-cache to PoC for pfn {pfn:#x} (one page) before mapping, "
                      f"whatever the walk finds", src)
        ret = self.stage2_map(rng.start, 1, pfn, (True, False, False), None, handle_fault=False)
        self.step(f"kvm_pgtable_stage2_map returned {ERRNO[ret]} (ignored); return "
                  f"{'false' if self.since('gfn_range') else '0'}", src)
        return False

    def _legacy_set_spte(self, rng: GfnRange) -> bool:
        """kvm_set_spte_hva before v5.10: the stage-2 pte is the new pfn with PAGE_S2
        (read-only, AF; executable until v4.16), written by stage2_set_pte with no cache;
        v4.19+ first cleans the new page to PoC.  Void before v5.0, then always 0."""
        src = L_SET_SPTE_50 if self.since("int_return") else \
            L_SET_SPTE_419 if self.since("clean_dcache_set_spte") else L_SET_SPTE_311
        pfn = rng.pte.pfn
        self.step(f"pfn = pte_pfn(new host PTE) = {pfn:#x}"
                  f"{'' if rng.pte.present else ' (the PTE is not present; not checked)'}",
                  src)
        if self.since("clean_dcache_set_spte"):
            self.step(f"clean the D-cache to PoC for pfn {pfn:#x} (one page) before mapping, "
                      f"whatever the walk finds", L_SET_SPTE_419)
        xn = self.since("s2_xn_default")
        leaf = make_leaf(pfn, 0, True, False, not xn)
        self.step(f"stage-2 pte = pfn {pfn:#x} with PAGE_S2: {leaf.perms}, AF, Normal"
                  f"{' (PAGE_S2 is XN)' if xn else ' (PAGE_S2 has no XN: executable)'}",
                  L_XN_416 if xn else L_SET_SPTE_311)
        self._legacy_set(rng.start, 0, leaf, None, self._legacy_set_pte_src())
        self.step("return 0 (ignored: generic code flushes only on non-zero)"
                  if self.since("int_return") else "return (void)", src)
        return False
