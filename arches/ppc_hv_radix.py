"""PowerPC Book3S HV, radix guest (arch/powerpc/kvm/book3s_64_mmu_radix.c) at v6.9.

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
"""

from __future__ import annotations

from dataclasses import replace

from kvmspte.arches import ppc_book3s_hv as hv
from kvmspte.host import HostMM, HostPte
from kvmspte.kvm import Memslot
from kvmspte import faultretry
from kvmspte.model import FaultResult, RadixViews
from kvmspte.pagetable import (
    FREE_NEVER, Geometry, Leaf, MemoryCache, RadixTable, TablePage,
)
from kvmspte.source import Source

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

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.pt = RadixTable(GEOMETRY, free_policy=self.free_policy)
        #: kvm->stat.num_2M_pages
        self.num_2m = 0
        #: set False to make the GFP_KERNEL table allocations fail (kvmppc_pte_alloc & co)
        self.kmem_ok = True

    # -- fault ----------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """kvmppc_book3s_radix_page_fault: slot checks, then instantiate_page."""
        if slot.invalid:
            why = "no valid memslot: the fault is emulated as MMIO"
            self.step(why, SRC_PAGE_FAULT)
            return FaultResult(0, why, SRC_PAGE_FAULT)
        kvm_ro = False
        if slot.readonly:
            if write:
                why = "write to a KVM_MEM_READONLY slot: a DSI (store, protection) is injected"
                self.step(why, SRC_PAGE_FAULT)
                return FaultResult(0, why, SRC_PAGE_FAULT)
            kvm_ro = True
            self.step("read fault on a KVM_MEM_READONLY slot: kvm_ro, no write upgrade",
                      SRC_PAGE_FAULT)
        return self._instantiate(slot, gfn, host, write, kvm_ro)

    def _instantiate(self, slot: Memslot, gfn: int, host: HostMM, writing: bool,
                     kvm_ro: bool) -> FaultResult:
        """kvmppc_book3s_instantiate_page: host PTE -> level and entry bits -> create_pte."""
        hva = slot.gfn_to_hva(gfn)
        hpte = host.pte(hva)
        upgrade = self._upgrade_write(hpte, kvm_ro)
        if not hpte.present:
            why = "host PTE not present under mmu_lock: resume the guest"
            self.step(why, SRC_INSTANTIATE)
            return FaultResult(0, why, SRC_INSTANTIATE)
        depth, why = self._level(slot, host, hva, gfn)
        span = self.pt.g.span(depth)
        leaf = guest_leaf(host_linux_pte(hpte, hpte.pfn & ~(span - 1)), writing, upgrade)
        ret = self._create_pte(gfn & ~(span - 1), depth, leaf, slot)
        if ret:
            return FaultResult(0, f"kvmppc_create_pte returned {ret}", SRC_CREATE_PTE)
        if depth == PMD_DEPTH:
            self.num_2m += 1
        self.step(f"installed a {self.pt.g.size(depth)} {self.pt.g.names[depth]} leaf: pfn "
                  f"{leaf.pfn:#x} {leaf.perms} dirty={leaf.dirty}"
                  + ("; set_page_dirty_lock" if leaf.write else ""), SRC_INSTANTIATE)
        return FaultResult(span, why, SRC_INSTANTIATE)

    def _upgrade_write(self, hpte: HostPte, kvm_ro: bool) -> bool:
        """Fast GUP with FOLL_WRITE (skipped for kvm_ro) succeeds only on a writable host PTE;
        then a read fault is mapped writable too.  Otherwise the slow path does not upgrade."""
        if not kvm_ro and hpte.write:
            self.step("get_user_page_fast_only(FOLL_WRITE) succeeds: upgrade_write", SRC_INSTANTIATE)
            return True
        self.step("no writable fast GUP: slow path __gfn_to_pfn_memslot, no write upgrade",
                  SRC_INSTANTIATE)
        return False

    def _level(self, slot: Memslot, host: HostMM, hva: int, gfn: int) -> tuple[int, str]:
        """Level 1 when large pages are enabled, the host maps a PMD and gpa and hva agree
        modulo 2 MiB; otherwise level 0."""
        if slot.dirty_logging:
            why = ("dirty logging on the memslot clears large_enable in "
                   "kvmppc_book3s_instantiate_page: level 0 (4 KiB)")
        elif host.mapping_pages(hva) < PMD_PAGES:
            why = "the host PTE is a base-page PTE (shift 0): level 0 (4 KiB)"
        elif ((gfn << 12) ^ hva) & (PMD_PAGES * 4096 - 1):
            why = "gpa and hva are not congruent modulo 2 MiB: level 0 (4 KiB)"
        else:
            self.step("host maps the hva with a PMD (shift PMD_SHIFT) and large pages are "
                      "enabled: level 1 (2 MiB)", SRC_INSTANTIATE)
            return PMD_DEPTH, "the host maps the hva with a 2 MiB PMD"
        self.step(why, SRC_INSTANTIATE)
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
                  + ("" if self.kmem_ok else ": allocation fails"), SRC_CREATE_PTE)
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
        if isinstance(entry, Leaf):
            if pool.pages == 0:
                self.step("a larger leaf is in the way and no lower table was pre-allocated: "
                          "-EAGAIN", SRC_CREATE_PTE)
                return EAGAIN
            self.step(f"a {self.pt.g.size(table.depth)} leaf is in the way: unmap it",
                      SRC_CREATE_PTE)
            self._unmap_pte(table, idx, self.pt.child_gfn(table, idx), slot)
            entry = None
        if entry is None:
            entry = self.pt.alloc_child(table, idx, pool)
            if entry is None:
                self.step(f"{self.pt.g.names[table.depth]} entry empty and nothing was "
                          "pre-allocated: -ENOMEM", SRC_CREATE_PTE)
                return ENOMEM
            self.step(f"populate a {self.pt.g.names[entry.depth]} table page", SRC_CREATE_PTE)
        return entry

    def _set_leaf(self, table: TablePage, gfn: int, depth: int, leaf: Leaf, slot: Memslot) -> int:
        idx = self.pt.g.index(gfn, depth)
        old = table.entries.get(idx)
        if isinstance(old, TablePage):
            self._free_table(table, idx, old, slot)
        elif isinstance(old, Leaf):
            return self._merge(table, idx, old, leaf)
        self.pt.set_entry(table, idx, leaf)
        return 0

    def _merge(self, table: TablePage, idx: int, old: Leaf, new: Leaf) -> int:
        """A present leaf is never re-pointed: identical -> done, else OR in the new bits."""
        if old == new:
            self.step("the same entry is already there", SRC_CREATE_PTE)
            return 0
        if must_match_differs(old, new):
            self.trace.warn("kvmppc_create_pte: present entry differs outside W/D/A "
                            "(WARN_ON_ONCE)", SRC_CREATE_PTE)
        self.pt.set_entry(table, idx, merge_bits(old, new))
        self.step("present entry: OR the new W/D/A bits into it", SRC_CREATE_PTE)
        return 0

    def _free_table(self, parent: TablePage, idx: int, child: TablePage, slot: Memslot) -> None:
        """kvmppc_unmap_free_pmd/pud_entry_table: clear the entry, flush the page-walk cache,
        unmap whatever is still mapped below and free the table pages."""
        self.pt.clear_entry(parent, idx)
        self.flush(f"flush the page-walk cache for the {self.pt.g.names[child.depth]} table at "
                   f"gfn {child.base_gfn:#x}", SRC_FLUSH_PWC)
        self._free_below(child, slot)

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
        if not isinstance(entry, Leaf):
            return False
        self.step(f"find_kvm_secondary_pte: a {self.pt.g.size(table.depth)} "
                  f"{self.pt.g.names[table.depth]} leaf covers gfn {gfn:#x}", SRC_FIND_PTE)
        self._unmap_pte(table, idx, gfn, slot)
        return True

    def _unmap_pte(self, table: TablePage, idx: int, gfn: int, slot: Memslot) -> None:
        """kvmppc_unmap_pte: clear the whole entry, tlbie at its page size, move D to the dirty
        bitmap (from the unaligned gfn, as the kernel does).  No table page is freed."""
        old = self.pt.clear_entry(table, idx)
        size = self.pt.g.size(table.depth)
        self.step(f"clear the whole {size} {self.pt.g.names[table.depth]} entry "
                  f"(pfn {old.pfn:#x})", SRC_UNMAP_PTE)
        base = gfn & ~(self.pt.g.span(table.depth) - 1)
        self.flush(f"tlbie: partition-scoped invalidation of the {size} page at gpa "
                   f"{base << 12:#x}", SRC_TLBIE)
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
