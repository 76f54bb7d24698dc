"""PowerPC Book3S HV, radix guest (arch/powerpc/kvm/book3s_64_mmu_radix.c), v4.11 to v6.9.

Structure: one partition-scoped radix tree per VM (``kvm->arch.pgtable``) built
from Linux page-table types.  The model assumes a 4 KiB-page host kernel
(CONFIG_PPC_4K_PAGES), the only base page size the shared mechanism has, so a
level-0 leaf is 4 KiB; p4d is folded, leaving pgd -> pud -> pmd -> pte.

Entry format: a leaf is a Linux PTE value taken from the host PTE, with
_PAGE_PRESENT/_PAGE_PTE/_PAGE_READ, _PAGE_WRITE, _PAGE_EXEC, _PAGE_ACCESSED
(young) and _PAGE_DIRTY (the C bit that dirty logging harvests).

Freeing policy: unmapping (kvmppc_unmap_pte) only zeroes the leaf; table pages
are freed only when kvmppc_create_pte puts a large leaf where a lower table was
(and at VM teardown, not modelled).  Table pages come from kmem caches allocated
with GFP_KERNEL before mmu_lock; there is no kvm_mmu_memory_cache.

Not modelled: secure (Ultravisor) guests, nested (L2) guests and their rmaps,
1 GiB leaves (the host side never maps a PUD here).

Releases (``switches``): radix guests and their notifier path arrive with POWER9 support
(merge 167c76e05591, v4.11).  Until v4.16 (``whole-pte``) kvm_unmap_radix clears only
_PAGE_PRESENT, so the rest of the entry (pfn, permission and R/C bits) stays in the table
as a non-present value that the next fault overwrites, and a present 4 KiB entry met by a
fault is replaced (PRESENT cleared, tlbie) rather than merged into.  The fault path has three
shapes: v4.11-v4.14 maps 2 MiB only for a hugetlbfs page (PageHuge, never a THP), makes a
load writable only on a writable *and* dirty host PTE, and meets a larger leaf with -EAGAIN;
v4.15 (``fault-gfn-to-pfn``) maps 2 MiB for any compound page, upgrades a load on a writable
host page, removes a larger leaf, and frees a pte page replaced by a 2 MiB leaf *without*
clearing or tlbie-ing what it still maps; from v4.16 the v6.9 shape (level from the host PTE,
bits merged).  From v5.0 dirty logging forces 4 KiB; from v4.20 kvm_unmap_radix calls
kvmppc_unmap_pte (same resulting state).  Secure guests (~v5.5) are not modelled.
"""

from __future__ import annotations

from kvmspte.records import replace

from kvmspte.arches import ppc_book3s_hv as hv
from kvmspte.sim.host import HostMM, HostPte
from kvmspte.sim.kvm import Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import FaultResult, RadixViews
from kvmspte.sim.pagetable import (
    FREE_NEVER, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.sim.release import Release, Switch, Switches
from kvmspte.sim.source import Source

RADIX_C = "arch/powerpc/kvm/book3s_64_mmu_radix.c"
VIA_RADIX = ("sean-jc copy 7323582f (about v5.13) and intel/tdx copy 6abb35b5 (about v6.0), which "
             "agree; v6.9 differs only in the mmu_invalidate_* names")
VIA_INSTANTIATE = (f"{VIA_RADIX}; prologue cross-checked against the '-' lines of 'KVM: PPC: Use "
                   "__kvm_faultin_pfn() to handle page faults on Book3s Radix' (26 Jul 2024)")

SRC_PAGE_FAULT = Source(RADIX_C, "kvmppc_book3s_radix_page_fault", via=VIA_RADIX)
SRC_INSTANTIATE = Source(RADIX_C, "kvmppc_book3s_instantiate_page", via=VIA_INSTANTIATE)
SRC_CREATE_PTE = Source(RADIX_C, "kvmppc_create_pte", via=VIA_RADIX)
SRC_FREE_TABLE = Source(RADIX_C, "kvmppc_unmap_free_pmd_entry_table", via=VIA_RADIX)
SRC_FLUSH_PWC = Source(RADIX_C, "kvmppc_radix_flush_pwc", via=VIA_RADIX)
SRC_UNMAP_RADIX = Source(RADIX_C, "kvm_unmap_radix", via=VIA_RADIX)
SRC_FIND_PTE = Source("arch/powerpc/include/asm/kvm_book3s_64.h", "find_kvm_secondary_pte",
                      via="2020 patch 'KVM: PPC: Book3S HV: Use find_kvm_secondary_pte'")
SRC_UNMAP_PTE = Source(RADIX_C, "kvmppc_unmap_pte", via=VIA_RADIX)
SRC_TLBIE = Source(RADIX_C, "kvmppc_radix_tlbie_page", via=VIA_RADIX)

# -- older releases ------------------------------------------------------------------------
VIA_412 = ("stored copy 24772949431 (judged v4.11-v4.12: __find_linux_pte_or_hugepte, "
           "mark_pages_dirty); unchanged in the v4.13-v4.14 copy 274560072 and, but for "
           "kvmppc_update_dirty_map, in the v4.15 copy 52287468")
VIA_416 = ("bracketed by copy 52287468 (v4.15: only _PAGE_PRESENT cleared, PageHuge-only "
           "large pages) and copy 165278135 (judged v4.17-v4.19: the whole entry cleared, "
           "level from the host PTE's shift, upgrade_write, bits merged into a present entry, "
           "kvm_unmap_radix not yet using kvmppc_unmap_pte); attributed to c3856aeb2940 "
           "'Fix handling of large pages in radix page fault handler' (v4.16) from memory, "
           "UNVERIFIED")
VIA_420 = ("'KVM: PPC: Book3S HV: Use kvmppc_unmap_pte() in kvm_unmap_radix()' listed in the "
           "KVM v4.20 pull (issues corpus, xuliker/LKML-email-pure-viewer#39); commit id not "
           "found in the store")
SRC_UNMAP_RADIX_412 = Source(RADIX_C, "kvm_unmap_radix", "v4.11", VIA_412)
SRC_CREATE_PTE_412 = Source(RADIX_C, "kvmppc_create_pte", "v4.11", VIA_412)
SRC_PAGE_FAULT_412 = Source(RADIX_C, "kvmppc_book3s_radix_page_fault", "v4.11", VIA_412)
SRC_TLBIE_412 = Source(RADIX_C, "kvmppc_radix_tlbie_page", "v4.11", VIA_412)
SRC_MARK_DIRTY_412 = Source(RADIX_C, "mark_pages_dirty", "v4.11",
                            f"{VIA_412}: mark_page_dirty for a 4 KiB leaf, else one bit per page "
                            "from the unaligned gfn; nothing without a dirty bitmap")
VIA_415 = ("stored copy 52287468 (judged v4.15: kvmppc_update_dirty_map(memslot, gfn, npages) "
           "of e641a317830b, PageCompound large pages, still a _PAGE_PRESENT-only unmap); the "
           "v4.13-v4.14 copy 274560072 still has the v4.11 fault path; c459464388c7 'Use "
           "__gfn_to_pfn_memslot() in page fault handler' message read via the pages corpus "
           "(git.baikalelectronics.ru); v4.15 is the earliest release the bracket allows, "
           "UNVERIFIED")
SRC_PAGE_FAULT_415 = Source(RADIX_C, "kvmppc_book3s_radix_page_fault", "v4.15", VIA_415)
SRC_CREATE_PTE_415 = Source(RADIX_C, "kvmppc_create_pte", "v4.15", VIA_415)
SRC_UNMAP_RADIX_415 = Source(RADIX_C, "kvm_unmap_radix", "v4.15", VIA_415)
SRC_UNMAP_RADIX_416 = Source(RADIX_C, "kvm_unmap_radix", "v4.16", VIA_416)
SRC_UNMAP_RADIX_420 = Source(RADIX_C, "kvm_unmap_radix", "v4.20", VIA_420)
SRC_PAGE_FAULT_416 = Source(RADIX_C, "kvmppc_book3s_radix_page_fault", "v4.16",
                            f"{VIA_416}; one function until v6.9's split into "
                            "kvmppc_book3s_instantiate_page, with the logic the model follows")
SRC_CREATE_PTE_416 = Source(RADIX_C, "kvmppc_create_pte", "v4.16", VIA_416)
VIA_50 = ("absent from copy 165278135 (v4.17-v4.19: the level comes from the host PTE's "
          "shift alone) and present in the v5.13 copy the v6.9 model was read from; attributed "
          "to Paul Mackerras' 'Map single pages when doing dirty page logging' (v5.0) from "
          "memory, UNVERIFIED")
SRC_DIRTY_LOG_50 = Source(RADIX_C, "kvmppc_book3s_instantiate_page", "v5.0", VIA_50)

ARRIVED = Switch("arrived", Release(4, 11), "167c76e05591 (merge)",
                 "POWER9 radix guests: kvm_is_radix() VMs unmap through kvm_unmap_radix",
                 Source(RADIX_C, "kvm_unmap_radix", "v4.11",
                        "merge 167c76e05591 'POWER9 radix MMU host and guest support' (pages "
                        "corpus, review.shift-gmbh.com); v4.11 inferred: the earliest radix "
                        "copy predates the v4.13 __find_linux_pte rename, and the kvm-4.11-2 "
                        "tag already fixes POWER9 HV; {VIA_412}"))
SWITCHES = Switches(hv.SWITCHES_DISPATCH + (
    Switch("dirty-map", Release(4, 15), "e641a317830b",
           "kvmppc_update_dirty_map replaces mark_page_dirty / mark_pages_dirty (the same bits "
           "for 4 KiB and 2 MiB leaves with 4 KiB base pages)",
           Source(RADIX_C, "kvm_unmap_radix", "v4.15", "stored copy 52287468 (judged v4.15: "
                  "kvmppc_update_dirty_map(memslot, gfn, npages)); commit message of "
                  "e641a317830b read via the pages corpus")),
    Switch("fault-gfn-to-pfn", Release(4, 15), "c459464388c7 (release inferred)",
           "the fault path looks the page up with a writable fast GUP then "
           "__gfn_to_pfn_memslot (upgrade_write), maps 2 MiB for any compound page (THP "
           "too), and sets WRITE|DIRTY on a store or an upgraded load; a larger leaf in the way "
           "is removed instead of -EAGAIN", SRC_PAGE_FAULT_415),
    Switch("whole-pte", Release(4, 16), "c3856aeb2940 (from memory, UNVERIFIED)",
           "kvm_unmap_radix clears the whole entry (before: only _PAGE_PRESENT); the fault "
           "path takes the level from the host PTE (THP too), upgrades a read fault to write "
           "on a writable host page and merges bits into a present entry", SRC_UNMAP_RADIX_416),
    Switch("dirty-log-4k", Release(5, 0), "unverified (Paul Mackerras, late 2018)",
           "dirty logging on the memslot forces 4 KiB leaves (before: the host PTE's size "
           "decides alone)", SRC_DIRTY_LOG_50),
    Switch("unmap-pte", Release(4, 20), "unverified ('Use kvmppc_unmap_pte() in "
           "kvm_unmap_radix()')", "kvm_unmap_radix goes through kvmppc_unmap_pte (nested-rmap "
           "aware; the same whole-entry clear, tlbie and dirty harvest)", SRC_UNMAP_RADIX_420),
))

#: pgd -> pud -> pmd -> pte; p4d is folded on ppc64.
GEOMETRY = Geometry(levels=4, names=("pte", "pmd", "pud", "pgd"))
LEAF_BITS = ("_PAGE_PRESENT", "_PAGE_PTE")
PMD_DEPTH, PMD_PAGES = 1, 512
EAGAIN, ENOMEM = -11, -12


def host_linux_pte(pte: HostPte, pfn: int) -> Leaf:
    """The host PTE value as find_kvm_host_pte returns it, in Leaf form."""
    return Leaf(pfn=pfn, read=True, write=pte.write, exec=pte.exec, dirty=pte.dirty,
                young=pte.young, native=LEAF_BITS)


def guest_leaf(host: Leaf, writing: bool, upgrade_write: bool) -> Leaf:
    """instantiate_page's entry bits: always EXEC and ACCESSED; DIRTY added when the access may
    write and the host PTE allows it; WRITE and DIRTY dropped for a read-only mapping."""
    leaf = replace(host, exec=True, young=True)
    if writing or upgrade_write:
        return replace(leaf, dirty=True) if leaf.write else leaf
    return replace(leaf, write=False, dirty=False)


def merge_bits(old: Leaf, new: Leaf) -> Leaf:
    """kvmppc_radix_update_pte(clr=0, set=new): OR the new entry's bits into the old one."""
    return replace(old, write=old.write or new.write, exec=old.exec or new.exec,
                   dirty=old.dirty or new.dirty, young=old.young or new.young,
                   native=tuple(sorted(set(old.native) | set(new.native))))


def must_match_differs(old: Leaf, new: Leaf) -> bool:
    """PTE_BITS_MUST_MATCH: everything but WRITE, DIRTY and ACCESSED must be equal."""
    return (old.pfn, old.read, old.exec, old.native) != (new.pfn, new.read, new.exec, new.native)


class Model(RadixViews, hv.HvModel):
    id = "ppc-hv-radix"
    fault_retry = faultretry.PPC_HV_RADIX
    free_policy = FREE_NEVER
    title = "PowerPC Book3S HV, radix partition-scoped tables (POWER9+)"
    radix = True
    unmap_fn = "kvm_unmap_radix"
    hooks = {
        "fault_in": (SRC_PAGE_FAULT, SRC_INSTANTIATE, SRC_CREATE_PTE, SRC_FREE_TABLE,
                     SRC_FLUSH_PWC),
        "unmap_gfn_range": (hv.SRC_UNMAP_GFN_RANGE, hv.SRC_OPS_HV, hv.SRC_UNMAP_HV,
                            SRC_UNMAP_RADIX, SRC_FIND_PTE, SRC_UNMAP_PTE, SRC_TLBIE,
                            hv.SRC_DIRTY_MAP),
        "set_spte_gfn": (hv.SRC_SET_SPTE_GFN, hv.SRC_OPS_HV, hv.SRC_SET_SPTE_HV,
                         SRC_UNMAP_RADIX, SRC_FIND_PTE, SRC_UNMAP_PTE, SRC_TLBIE,
                         hv.SRC_DIRTY_MAP),
    }
    chain = (hv.SRC_SET_SPTE_GFN, hv.SRC_SET_SPTE_HV, SRC_UNMAP_RADIX, SRC_UNMAP_PTE)
    arrived = ARRIVED
    switches = SWITCHES

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(GEOMETRY, free_policy=self.free_policy)
        #: kvm->stat.num_2M_pages
        self.num_2m = 0
        #: set False to make the GFP_KERNEL table allocations fail (kvmppc_pte_alloc & co)
        self.kmem_ok = True
        if self.since("gfn-hooks"):
            self.src_fault, self.src_inst, self.src_create = (SRC_PAGE_FAULT, SRC_INSTANTIATE,
                                                              SRC_CREATE_PTE)
            self.src_unmap, self.src_unmap_pte, self.src_tlbie = (SRC_FIND_PTE, SRC_UNMAP_PTE,
                                                                  SRC_TLBIE)
        elif self.since("whole-pte"):
            self.src_fault = self.src_inst = SRC_PAGE_FAULT_416
            self.src_create = SRC_CREATE_PTE_416
            self.src_unmap = self.src_unmap_pte = self.src_tlbie = (
                SRC_UNMAP_RADIX_420 if self.since("unmap-pte") else SRC_UNMAP_RADIX_416)
        elif self.since("fault-gfn-to-pfn"):
            self.src_fault = self.src_inst = SRC_PAGE_FAULT_415
            self.src_create = SRC_CREATE_PTE_415
            self.src_unmap = self.src_unmap_pte = self.src_tlbie = SRC_UNMAP_RADIX_415
        else:
            self.src_fault = self.src_inst = SRC_PAGE_FAULT_412
            self.src_create = SRC_CREATE_PTE_412
            self.src_unmap = self.src_unmap_pte = SRC_UNMAP_RADIX_412
            self.src_tlbie = SRC_TLBIE_412
        if not self.since("dirty-map"):
            self.src_dirty = SRC_MARK_DIRTY_412
        self.cite_all("src_fault", "src_inst", "src_create", "src_unmap", "src_unmap_pte",
                      "src_tlbie")

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        out = super().hooks_at(kernel)
        if kernel >= hv.SW_GFN.since:
            return out
        if kernel >= SWITCHES.get("whole-pte").since:
            fault = (SRC_PAGE_FAULT_416, SRC_CREATE_PTE_416, SRC_FREE_TABLE, SRC_FLUSH_PWC)
            unmap = (SRC_UNMAP_RADIX_420 if kernel >= SWITCHES.get("unmap-pte").since
                     else SRC_UNMAP_RADIX_416, hv.SRC_DIRTY_MAP)
        elif kernel >= SWITCHES.get("fault-gfn-to-pfn").since:
            fault = (SRC_PAGE_FAULT_415, SRC_CREATE_PTE_415, SRC_FLUSH_PWC)
            unmap = (SRC_UNMAP_RADIX_415, hv.SRC_DIRTY_MAP)
        else:
            fault = (SRC_PAGE_FAULT_412, SRC_CREATE_PTE_412)
            unmap = (SRC_UNMAP_RADIX_412, SRC_TLBIE_412)
        out["fault_in"] = fault
        for hook in ("unmap_gfn_range", "set_spte_gfn"):
            head = out[hook][:len(out[hook]) - len(cls.hooks[hook][3:])]
            out[hook] = head + unmap
        return out

    def handler_text(self) -> str:
        return "kvm_is_radix() is true: kvm_unmap_radix"

    def leaf_present(self, leaf: Leaf) -> bool:
        """Before v4.16 an unmapped entry keeps its value without _PAGE_PRESENT."""
        return "_PAGE_PRESENT" in leaf.native

    # -- fault ----------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvmppc_book3s_radix_page_fault: slot checks, then instantiate_page."""
        if slot.invalid:
            why = "no valid memslot: the fault is emulated as MMIO"
            self.step(why, self.src_fault)
            return FaultResult(0, why, self.src_fault)
        kvm_ro = False
        if slot.readonly:
            if write:
                why = "write to a KVM_MEM_READONLY slot: a DSI (store, protection) is injected"
                self.step(why, self.src_fault)
                return FaultResult(0, why, self.src_fault)
            kvm_ro = True
            self.step("read fault on a KVM_MEM_READONLY slot: kvm_ro, no write upgrade",
                      self.src_fault)
        return self._instantiate(slot, gfn, host, write, kvm_ro)

    def _instantiate(self, slot: Memslot, gfn: int, host: HostMM, writing: bool,
                     kvm_ro: bool) -> FaultResult:
        """kvmppc_book3s_instantiate_page: host PTE -> level and entry bits -> create_pte."""
        if not self.since("fault-gfn-to-pfn"):
            return self._fault_411(slot, gfn, host, writing)
        if not self.since("whole-pte"):
            return self._fault_415(slot, gfn, host, writing)
        hva = slot.gfn_to_hva(gfn)
        hpte = host.pte(hva)
        upgrade = self._upgrade_write(hpte, kvm_ro)
        if not hpte.present:
            why = "host PTE not present under mmu_lock: resume the guest"
            self.step(why, self.src_inst)
            return FaultResult(0, why, self.src_inst)
        depth, why = self._level(slot, host, hva, gfn)
        span = self.pt.g.span(depth)
        leaf = guest_leaf(host_linux_pte(hpte, hpte.pfn & ~(span - 1)), writing, upgrade)
        ret = self._create_pte(gfn & ~(span - 1), depth, leaf, slot)
        if ret:
            return FaultResult(0, f"kvmppc_create_pte returned {ret}", self.src_create)
        if depth == PMD_DEPTH:
            self.num_2m += 1
        self.step(f"installed a {self.pt.g.size(depth)} {self.pt.g.names[depth]} leaf: pfn "
                  f"{leaf.pfn:#x} {leaf.perms} dirty={leaf.dirty}"
                  + ("; set_page_dirty_lock" if leaf.write else ""), self.src_inst)
        return FaultResult(span, why, self.src_inst)

    def _fault_411(self, slot: Memslot, gfn: int, host: HostMM, writing: bool) -> FaultResult:
        """v4.11-v4.15: get_user_pages_fast(write=writing); a 2 MiB leaf only for a hugetlbfs
        page; the entry is built from the pfn: READ|EXEC|ACCESSED, WRITE on a store or when
        the host PTE is writable and dirty, DIRTY with WRITE."""
        hva = slot.gfn_to_hva(gfn)
        hpte = host.pte(hva)
        if not hpte.present:
            why = "host PTE not present under mmu_lock: resume the guest"
            self.step(why, self.src_fault)
            return FaultResult(0, why, self.src_fault)
        if writing and not hpte.write:
            if not hpte.vma_write:
                why = "get_user_pages_fast(write) fails on a VMA without VM_WRITE: -EFAULT"
                self.step(why, self.src_fault)
                return FaultResult(0, why, self.src_fault)
            hpte = host.break_cow(hva, "get_user_pages_fast(write) in "
                                       "kvmppc_book3s_radix_page_fault")
            self.step(f"get_user_pages_fast(write) breaks CoW: private copy pfn {hpte.pfn:#x}",
                      self.src_fault)
        write = writing or (hpte.write and hpte.dirty)
        self.step("store: _PAGE_WRITE" if writing else
                  "load: _PAGE_WRITE only if the host PTE is writable and dirty: "
                  + ("it is" if write else "it is not"), self.src_fault)
        why = ("the host page is a transparent huge page, not PageHuge(): level 0 (4 KiB)"
               if host.mapping_pages(hva) > 1 else "the host page is a base page: level 0 (4 KiB)")
        self.step(why, self.src_fault)
        leaf = Leaf(pfn=hpte.pfn, read=True, write=write, exec=True, dirty=write, young=True,
                    native=LEAF_BITS)
        ret = self._create_pte(gfn, 0, leaf, slot)
        if ret:
            return FaultResult(0, f"kvmppc_create_pte returned {ret}", self.src_create)
        self.step(f"installed a 4K pte leaf: pfn {leaf.pfn:#x} {leaf.perms} dirty={leaf.dirty}",
                  self.src_fault)
        return FaultResult(1, why, self.src_fault)

    def _fault_415(self, slot: Memslot, gfn: int, host: HostMM, writing: bool) -> FaultResult:
        """v4.15: a writable fast GUP (upgrade_write) or __gfn_to_pfn_memslot(writing); 2 MiB
        for a compound page whose gpa and hva agree modulo 2 MiB; the entry is built from the
        pfn: READ|EXEC|PRESENT|PTE|ACCESSED, plus WRITE|DIRTY on a store or an upgrade."""
        hva = slot.gfn_to_hva(gfn)
        hpte = host.pte(hva)
        if not hpte.present:
            why = "host PTE not present under mmu_lock: resume the guest"
            self.step(why, self.src_fault)
            return FaultResult(0, why, self.src_fault)
        upgrade = hpte.write
        self.step("__get_user_pages_fast(write) succeeds: upgrade_write" if upgrade else
                  "no writable fast GUP: __gfn_to_pfn_memslot", self.src_fault)
        if writing and not hpte.write:
            if not hpte.vma_write:
                why = "__gfn_to_pfn_memslot(write) fails on a VMA without VM_WRITE: -EFAULT"
                self.step(why, self.src_fault)
                return FaultResult(0, why, self.src_fault)
            hpte = host.break_cow(hva, "__gfn_to_pfn_memslot(write) in "
                                       "kvmppc_book3s_radix_page_fault")
            self.step(f"the write lookup breaks CoW: private copy pfn {hpte.pfn:#x}",
                      self.src_fault)
        write = writing or upgrade
        if host.mapping_pages(hva) < PMD_PAGES:
            depth, why = 0, "the page is not compound: level 0 (4 KiB)"
        elif ((gfn << 12) ^ hva) & (PMD_PAGES * 4096 - 1):
            depth, why = 0, "gpa and hva are not congruent modulo 2 MiB: level 0 (4 KiB)"
        else:
            depth, why = PMD_DEPTH, ("the host page is a compound (transparent huge) page: "
                                     "level 1 (2 MiB)")
        self.step(why, self.src_fault)
        span = self.pt.g.span(depth)
        leaf = Leaf(pfn=hpte.pfn & ~(span - 1), read=True, write=write, exec=True,
                    dirty=write, young=True, native=LEAF_BITS)
        ret = self._create_pte(gfn & ~(span - 1), depth, leaf, slot)
        if ret:
            return FaultResult(0, f"kvmppc_create_pte returned {ret}", self.src_create)
        if depth == PMD_DEPTH:
            self.num_2m += 1
        self.step(f"installed a {self.pt.g.size(depth)} {self.pt.g.names[depth]} leaf: pfn "
                  f"{leaf.pfn:#x} {leaf.perms} dirty={leaf.dirty}"
                  + ("; set_page_dirty_lock" if write else ""), self.src_fault)
        return FaultResult(span, why, self.src_fault)

    def _upgrade_write(self, hpte: HostPte, kvm_ro: bool) -> bool:
        """Fast GUP with FOLL_WRITE (skipped for kvm_ro) succeeds only on a writable host PTE;
        then a read fault is mapped writable too.  Otherwise the slow path does not upgrade."""
        if not kvm_ro and hpte.write:
            self.step("get_user_page_fast_only(FOLL_WRITE) succeeds: upgrade_write", self.src_inst)
            return True
        self.step("no writable fast GUP: slow path __gfn_to_pfn_memslot, no write upgrade",
                  self.src_inst)
        return False

    def _level(self, slot: Memslot, host: HostMM, hva: int, gfn: int) -> tuple[int, str]:
        """Level 1 when large pages are enabled, the host maps a PMD and gpa and hva agree
        modulo 2 MiB; otherwise level 0."""
        if slot.dirty_logging and self.since("dirty-log-4k"):
            why = ("dirty logging on the memslot clears large_enable in "
                   "kvmppc_book3s_instantiate_page: level 0 (4 KiB)")
        elif host.mapping_pages(hva) < PMD_PAGES:
            why = "the host PTE is a base-page PTE (shift 0): level 0 (4 KiB)"
        elif ((gfn << 12) ^ hva) & (PMD_PAGES * 4096 - 1):
            why = "gpa and hva are not congruent modulo 2 MiB: level 0 (4 KiB)"
        else:
            self.step("host maps the hva with a PMD (shift PMD_SHIFT) and large pages are "
                      "enabled: level 1 (2 MiB)", self.src_inst)
            return PMD_DEPTH, "the host maps the hva with a 2 MiB PMD"
        self.step(why, self.src_inst)
        return 0, why

    # -- kvmppc_create_pte --------------------------------------------------------
    def _prealloc(self, gfn: int, depth: int) -> MemoryCache:
        """Table pages allocated before mmu_lock: a pud page if the pgd entry is empty, a pmd
        page if level <= 1 and the pud entry is no table, a pte page if level 0 and the pmd
        entry is no table."""
        need, table = 0, self.pt.root
        for d in range(self.pt.g.root_depth, depth, -1):
            entry = table.entries.get(self.pt.g.index(gfn, d)) if table else None
            if not isinstance(entry, TablePage):
                need += 1
            table = entry if isinstance(entry, TablePage) else None
        got = need if self.kmem_ok else 0
        self.step(f"pre-allocate {need} table page(s) with GFP_KERNEL"
                  + ("" if self.kmem_ok else ": allocation fails"), self.src_create)
        return MemoryCache(got)

    def _create_pte(self, gfn: int, depth: int, leaf: Leaf, slot: Memslot) -> int:
        """Walk down under mmu_lock, populating missing levels from the pre-allocated pages,
        replacing a larger leaf in the way, then set or merge the leaf.  0, -EAGAIN, -ENOMEM."""
        pool = self._prealloc(gfn, depth)
        table = self.pt.root
        while table.depth > depth:
            table = self._descend(table, gfn, slot, pool)
            if isinstance(table, int):
                return table
        return self._set_leaf(table, gfn, depth, leaf, slot)

    def _descend(self, table: TablePage, gfn: int, slot: Memslot,
                 pool: MemoryCache) -> TablePage | int:
        idx = self.pt.g.index(gfn, table.depth)
        entry = table.entries.get(idx)
        if isinstance(entry, Leaf) and not self.since("fault-gfn-to-pfn"):
            self.step(f"a {self.pt.g.size(table.depth)} leaf is in the way: -EAGAIN",
                      self.src_create)
            return EAGAIN
        if isinstance(entry, Leaf):
            if pool.pages == 0:
                self.step("a larger leaf is in the way and no lower table was pre-allocated: "
                          "-EAGAIN", self.src_create)
                return EAGAIN
            self.step(f"a {self.pt.g.size(table.depth)} leaf is in the way: unmap it",
                      self.src_create)
            self._unmap_pte(table, idx, self.pt.child_gfn(table, idx), slot, whole=True)
            entry = None
        if entry is None:
            entry = self.pt.alloc_child(table, idx, pool)
            if entry is None:
                self.step(f"{self.pt.g.names[table.depth]} entry empty and nothing was "
                          "pre-allocated: -ENOMEM", self.src_create)
                return ENOMEM
            self.step(f"populate a {self.pt.g.names[entry.depth]} table page", self.src_create)
        return entry

    def _set_leaf(self, table: TablePage, gfn: int, depth: int, leaf: Leaf, slot: Memslot) -> int:
        idx = self.pt.g.index(gfn, depth)
        old = table.entries.get(idx)
        if isinstance(old, TablePage) and not self.since("whole-pte"):
            self.pt.clear_entry(table, idx)
            self.flush(f"flush the page-walk cache for the {self.pt.g.names[old.depth]} table "
                       f"at gfn {old.base_gfn:#x}", self.src_create)
            self._drop_below(old)
        elif isinstance(old, TablePage):
            self._free_table(table, idx, old, slot)
        elif isinstance(old, Leaf) and not self.since("whole-pte"):
            if old == leaf:
                self.step("the same entry is already there", self.src_create)
                return 0
            if self.leaf_present(old):
                self.step("a present entry is there: clear its _PAGE_PRESENT first",
                          self.src_create)
                self._unmap_pte(table, idx, gfn, slot)
            self.step("store the new entry over the old value", self.src_create)
        elif isinstance(old, Leaf):
            return self._merge(table, idx, old, leaf)
        self.pt.set_entry(table, idx, leaf)
        return 0

    def _merge(self, table: TablePage, idx: int, old: Leaf, new: Leaf) -> int:
        """A present leaf is never re-pointed: identical -> done, else OR in the new bits."""
        if old == new:
            self.step("the same entry is already there", self.src_create)
            return 0
        if must_match_differs(old, new):
            self.warn("kvmppc_create_pte: present entry differs outside W/D/A "
                            "(WARN_ON_ONCE)", self.src_create)
        self.pt.set_entry(table, idx, merge_bits(old, new))
        self.step("present entry: OR the new W/D/A bits into it", self.src_create)
        return 0

    def _free_table(self, parent: TablePage, idx: int, child: TablePage, slot: Memslot) -> None:
        """kvmppc_unmap_free_pmd/pud_entry_table: clear the entry, flush the page-walk cache,
        unmap whatever is still mapped below and free the table pages."""
        self.pt.clear_entry(parent, idx)
        self.flush(f"flush the page-walk cache for the {self.pt.g.names[child.depth]} table at "
                   f"gfn {child.base_gfn:#x}", SRC_FLUSH_PWC)
        self._free_below(child, slot)

    def _drop_below(self, table: TablePage) -> None:
        """v4.15 kvmppc_create_pte: the table page is freed with whatever it still maps; its
        entries are neither cleared one by one nor tlbie'd and their dirty bits are lost."""
        for idx, _gfn, entry in list(self.pt.entries_in(table, 0, 1 << 64)):
            if isinstance(entry, TablePage):
                self._drop_below(entry)
        left = len(table.entries)
        self.pt.free_page(table)
        self.step(f"free the {self.pt.g.names[table.depth]} table page #{table.id} with its "
                  f"{left} entr{'y' if left == 1 else 'ies'}: no tlbie, no dirty harvest",
                  self.src_create)

    def _free_below(self, table: TablePage, slot: Memslot) -> None:
        for idx, gfn, entry in list(self.pt.entries_in(table, 0, 1 << 64)):
            if isinstance(entry, TablePage):
                self.pt.clear_entry(table, idx)
                self._free_below(entry, slot)
            else:
                self._unmap_pte(table, idx, gfn, slot)
        self.pt.free_page(table)
        self.step(f"free the {self.pt.g.names[table.depth]} table page #{table.id}",
                  SRC_FREE_TABLE)

    # -- unmap ----------------------------------------------------------------------
    def unmap_gfn(self, slot: Memslot, gfn: int) -> bool:
        """kvm_unmap_radix: find the leaf covering gfn at any level; unmap it if present."""
        table, idx, entry = self.pt.walk(gfn)[-1]
        if not isinstance(entry, Leaf) or not self.leaf_present(entry):
            return False
        lookup = ("find_kvm_secondary_pte" if self.since("gfn-hooks")
                  else "look up kvm->arch.pgtable")
        self.step(f"{lookup}: a {self.pt.g.size(table.depth)} "
                  f"{self.pt.g.names[table.depth]} leaf covers gfn {gfn:#x}", self.src_unmap)
        self._unmap_pte(table, idx, gfn, slot)
        return True

    def _unmap_pte(self, table: TablePage, idx: int, gfn: int, slot: Memslot,
                   whole: bool | None = None) -> None:
        """kvmppc_unmap_pte: clear the whole entry, tlbie at its page size, move D to the dirty
        bitmap (from the unaligned gfn, as the kernel does).  No table page is freed.  Before
        v4.16 kvm_unmap_radix clears only _PAGE_PRESENT (``whole`` False)."""
        size = self.pt.g.size(table.depth)
        if self.since("whole-pte") if whole is None else whole:
            old = self.pt.clear_entry(table, idx)
            self.step(f"clear the whole {size} {self.pt.g.names[table.depth]} entry "
                      f"(pfn {old.pfn:#x})", self.src_unmap_pte)
        else:
            old = table.entries[idx]
            kept = tuple(b for b in old.native if b != "_PAGE_PRESENT")
            self.pt.set_entry(table, idx, replace(old, native=kept))
            self.step(f"clear only _PAGE_PRESENT in the {size} {self.pt.g.names[table.depth]} "
                      f"entry: pfn {old.pfn:#x}, permissions and R/C stay in the table",
                      self.src_unmap_pte)
        base = gfn & ~(self.pt.g.span(table.depth) - 1)
        self.flush(f"tlbie: partition-scoped invalidation of the {size} page at gpa "
                   f"{base << 12:#x}", self.src_tlbie)
        if table.depth == PMD_DEPTH:
            self.num_2m -= 1
        if old.dirty:
            self.mark_dirty(slot, gfn, self.pt.g.span(table.depth))

    # -- views ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        out = self.pt.snapshot()
        out["stat"] = {"num_2M_pages": self.num_2m}
        out.update(self.dirty.snapshot())
        return dict(sorted(out.items()))
