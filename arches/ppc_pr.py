"""PowerPC Book3S PR ("problem state" KVM) shadow MMU, v3.7 to v6.9.

The guest runs in user mode and its translations are shadowed by entries in the
host's own hashed page table (HPT).  Each vCPU remembers the host HPTEs it
inserted in a cache of ``struct hpte_cache`` entries (book3s_mmu_hpte.c), so
that it can invalidate them later.  That cache, plus the host HPTEs it points
at, is the secondary-MMU state of this model.

Modelled here (own small structures, no radix table):

* ``HostHpt``: the host hash table, slot -> host HPTE (vpn, pfn, PP, N).  Where
  the host places an entry (primary/secondary hash group, eviction) is not
  modelled: slots are handed out in order, because change_pte never inserts.
* ``VcpuCache``: one vCPU's hpte cache: entries holding the guest translation
  (eaddr, vpage, guest real address ``raddr`` and may_read/write/execute), the
  host slot and vpn, the page size and the host pfn; plus the vCPU's ESID->VSID
  sid map, reduced to "first use gets the next VSID".
* Two vCPUs.  The per-vCPU loop of ``do_kvm_unmap_gfn`` is what makes a
  mapping on any vCPU go away, so the model keeps a second vCPU whose cache is
  walked too.  The engine's guest faults all run on vCPU 0; tests fault on
  vCPU 1 through ``map_page``.

Assumption (the guest MMU emulation, book3s_64_mmu.c, is not in the research
note): the faulting guest access is in real mode, so the guest translation is
eaddr = raddr = gpa with read, write and execute allowed.

Page size: every shadow entry is one 4 KiB host HPTE (MMU_PAGE_4K; 64K only in
a VSID_64K guest segment, which this model does not create), so a 2 MiB shadow
never exists.

Releases (``switches``): PR gets MMU notifiers in v3.7 (before, guest pages are pinned).
From v3.7 to v3.12 kvm_set_spte_hva and both unmap hooks only call kvm_flush_remote_tlbs:
KVM_REQ_TLB_FLUSH on every vCPU, which each vCPU serves at its next guest entry by dropping
*all* its shadow HPTEs (``serve_tlb_flush``; the engine never runs it, so right after
change_pte the entries are still there and a flush has been requested).  From v3.13 (the
2013 PR rework, date UNVERIFIED, bracketed by stored copies) the hooks invalidate, on every
vCPU and at once, only the shadow entries whose guest real address is in the range
(kvmppc_mmu_pte_pflush), and the fault path gains the mmu_notifier_retry check.  v5.0 makes
book3s.c return int 0, v5.13 converts to the gfn callbacks returning false.
"""

from __future__ import annotations

from kvmspte.records import record

from kvmspte.arches.ppc_eras import COPIES as ERA_COPIES
from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, FaultResult, Mapping
from kvmspte.sim.pagetable import PAGE_SHIFT
from kvmspte.sim.release import Release, Switch, Switches
from kvmspte.sim.source import Source

BOOK3S_C = "arch/powerpc/kvm/book3s.c"
PR_C = "arch/powerpc/kvm/book3s_pr.c"
HPTE_C = "arch/powerpc/kvm/book3s_mmu_hpte.c"
HOST64_C = "arch/powerpc/kvm/book3s_64_mmu_host.c"

VIA_DISPATCH = ("book3s.c as quoted by <20240405115815.3226315-2-pbonzini@redhat.com> "
                "(5 Apr 2024, v6.9-rc tree; merged for v6.10, so v6.9 has this code)")
VIA_PR = ("2021 gfn-based notifier conversion, the 2022 'unsigned long i' patch and the "
          "April 2024 removal diff <20240405115815.3226315-2-pbonzini@redhat.com>; "
          "unchanged between them")
VIA_HPTE = ("torvalds/linux copy 25768de5 (probably after v6.9: it frees with kfree_rcu "
            "where v6.9 used call_rcu; otherwise the same)")
VIA_HOST = ("v6.9 shape rebuilt from torvalds/linux 02b5a603, stored copy 14360426 and the "
            "context lines of Sean Christopherson's 2024 PPC diff (mmu_invalidate_* names)")

# change_pte / unmap entry points and the PR code below them
SRC_SET_DISPATCH = Source(BOOK3S_C, "kvm_set_spte_gfn", via=VIA_DISPATCH)
SRC_UNMAP_DISPATCH = Source(BOOK3S_C, "kvm_unmap_gfn_range", via=VIA_DISPATCH)
SRC_SET_PR = Source(PR_C, "kvm_set_spte_gfn_pr", via=VIA_PR)
SRC_UNMAP_PR = Source(PR_C, "kvm_unmap_gfn_range_pr", via=VIA_PR)
SRC_DO_UNMAP = Source(PR_C, "do_kvm_unmap_gfn", via=VIA_PR)
SRC_PFLUSH = Source(HPTE_C, "kvmppc_mmu_pte_pflush", via=VIA_HPTE)
SRC_INVALIDATE = Source(HPTE_C, "invalidate_pte", via=VIA_HPTE)
SRC_HOST_INVALIDATE = Source(HOST64_C, "kvmppc_mmu_invalidate_pte", via=VIA_HOST)
# fault path
SRC_MAP_PAGE = Source(HOST64_C, "kvmppc_mmu_map_page", via=VIA_HOST)
SRC_CACHE_NEXT = Source(HPTE_C, "kvmppc_mmu_hpte_cache_next", via=VIA_HPTE)
SRC_CACHE_MAP = Source(HPTE_C, "kvmppc_mmu_hpte_cache_map", via=VIA_HPTE)

# -- older releases ------------------------------------------------------------------------
VIA_37 = ("stored copy 18883897 of book3s_pr.c (judged v3.7-v3.12: no _pr ops suffix, "
          "single-hva kvm_age_hva, kvm_unmap_hva_range present, kvmppc_core_check_requests); "
          "the same text on the v3.10 HEAD side of merge copy 25986227933")
VIA_313 = ("v3.18 side of merge copy 25986227933 (static do_kvm_unmap_hva, kvm_set_spte_hva_pr, "
           "per-vCPU kvmppc_mmu_pte_pflush) and copy 37863016 (v4.x-v5.x); the rework is Paul "
           "Mackerras' 2013 PR series ('Reduce number of shadow PTEs invalidated by MMU "
           "notifiers', 'Use mmu_notifier_retry() in kvmppc_mmu_map_page'), dated v3.13 from "
           "memory, UNVERIFIED: the copies bracket it in v3.11..v3.18")
VIA_50 = ("<20181013145406.4911-5-Tianyu.Lan@microsoft.com> (copy 31375062387; 748c0e312fce, "
          "v5.0) and the '-' side of copy 2132829017 (v5.12): book3s.c returns 0")
SRC_SET_HVA_37 = Source(PR_C, "kvm_set_spte_hva", "v3.7", VIA_37)
SRC_UNMAP_HVA_37 = Source(PR_C, "kvm_unmap_hva", "v3.7", VIA_37)
SRC_UNMAP_RANGE_37 = Source(PR_C, "kvm_unmap_hva_range", "v3.7", VIA_37)
SRC_CHECK_REQUESTS = Source(PR_C, "kvmppc_core_check_requests", "v3.7",
                            f"{VIA_37}; KVM_REQ_TLB_FLUSH -> kvmppc_mmu_pte_flush(vcpu, 0, 0) "
                            "also on the v3.18 side of 25986227933 and in the 2023 "
                            "kvmppc_core_check_requests_pr cleanup patch (copy 24881836269)")
SRC_MAP_PAGE_37 = Source(HOST64_C, "kvmppc_mmu_map_page", "v3.7",
                         "not re-read for v3.7-v3.12; research note: no mmu_notifier_retry in "
                         "the v3.7 fault flow (kvmppc_handle_pagefault in copy 18883897); the "
                         "rest of the model's fault path is the v6.9 one")
SRC_SET_DISPATCH_313 = Source(BOOK3S_C, "kvm_set_spte_hva", "v3.13", VIA_313)
SRC_UNMAP_DISPATCH_313 = Source(BOOK3S_C, "kvm_unmap_hva_range", "v3.13", VIA_313)
SRC_SET_DISPATCH_50 = Source(BOOK3S_C, "kvm_set_spte_hva", "v5.0", VIA_50)
SRC_UNMAP_DISPATCH_50 = Source(BOOK3S_C, "kvm_unmap_hva_range", "v5.0", VIA_50)
SRC_SET_PR_313 = Source(PR_C, "kvm_set_spte_hva_pr", "v3.13", VIA_313)
SRC_UNMAP_PR_313 = Source(PR_C, "kvm_unmap_hva_range_pr", "v3.13", VIA_313)
SRC_DO_UNMAP_313 = Source(PR_C, "do_kvm_unmap_hva", "v3.13", VIA_313)
SRC_INVALIDATE_OLD = Source(HPTE_C, "invalidate_pte", "v3.7",
                            "not re-read per release: copy 110546456 (pre-v3.9) calls it for "
                            "each matching entry; the model keeps v6.9's effect (host HPTE "
                            "removed with a global tlbie, cache entry unhashed)")
SRC_PFLUSH_OLD = Source(HPTE_C, "kvmppc_mmu_pte_pflush", "v3.7",
                        "stored copy 110546456 (pre-v3.9 five-argument hlist walk): every "
                        "cached entry whose guest real address is in [pa_start, pa_end) is "
                        "invalidated -- the semantics the model uses in every era")

ARRIVED = Switch("arrived", Release(3, 7), "unverified (Alexander Graf, 2012, 'Book3S PR: MMU "
                 "notifier support')", "KVM_ARCH_WANT_MMU_NOTIFIER for PR; the hooks flush all "
                 "shadow entries", SRC_UNMAP_HVA_37)
SWITCHES = Switches((
    Switch("pflush", Release(3, 13), "unverified (Paul Mackerras' 2013 PR series)",
           "the hooks invalidate only the range's shadow HPTEs on every vCPU at once "
           "(kvmppc_mmu_pte_pflush), through book3s.c and kvm_ops_pr; the fault path checks "
           "mmu_notifier_retry (before: kvm_flush_remote_tlbs, every vCPU drops all its shadow "
           "HPTEs at its next entry)", SRC_DO_UNMAP_313),
    Switch("int-return", Release(5, 0), "748c0e312fce",
           "book3s.c's kvm_set_spte_hva returns int 0: generic code never flushes for PR",
           SRC_SET_DISPATCH_50),
    Switch("gfn-hooks", Release(5, 13), "b1c5356e873c",
           "kvm_set_spte_gfn_pr / kvm_unmap_gfn_range_pr -> do_kvm_unmap_gfn, false",
           SRC_DO_UNMAP),
))

NR_VCPUS = 2
PAGESIZE = "4K"          # MMU_PAGE_4K: the host HPTE size kvmppc_mmu_map_page uses
PP_RW, PP_RO = "PP_RWXX", "PP_RXRX"
SID_SHIFT = 28           # 256 MiB segments
FIRST_VSID = 0x100       # an arbitrary first host VSID handed out by the sid map


@record(frozen=True, slots=True)
class GuestPte:
    """struct kvmppc_pte: the guest translation a shadow entry stands for."""

    eaddr: int
    vpage: int
    raddr: int
    may_read: bool
    may_write: bool
    may_execute: bool

    @property
    def perms(self) -> str:
        bits = (self.may_read, self.may_write, self.may_execute)
        return "".join(c if on else "-" for c, on in zip("rwx", bits))


@record(frozen=True, slots=True)
class HpteCache:
    """struct hpte_cache: one host HPTE this vCPU inserted, and what it shadows."""

    pte: GuestPte
    slot: int
    host_vpn: int
    pagesize: str
    pfn: int

    def to_dict(self) -> dict:
        return {"eaddr": hex(self.pte.eaddr), "vpage": hex(self.pte.vpage),
                "raddr": hex(self.pte.raddr), "guest_perms": self.pte.perms,
                "slot": self.slot, "host_vpn": hex(self.host_vpn),
                "pagesize": self.pagesize, "pfn": hex(self.pfn)}


@record(frozen=True, slots=True)
class HostHpte:
    """A valid entry in the host's hashed page table."""

    vpn: int
    pfn: int
    pp: str           # PP_RWXX (read/write) or PP_RXRX (read-only)
    noexec: bool      # HPTE_R_N
    pagesize: str

    def to_dict(self) -> dict:
        return {"vpn": hex(self.vpn), "pfn": hex(self.pfn), "pp": self.pp,
                "N": self.noexec, "pagesize": self.pagesize}


class HostHpt:
    """The host HPT: slot -> valid host HPTE (placement by hash is not modelled)."""

    def __init__(self) -> None:
        self.slots: dict[int, HostHpte] = {}
        self._next = 0

    def insert(self, hpte: HostHpte) -> int:
        slot = self._next
        self._next += 1
        self.slots[slot] = hpte
        return slot

    def invalidate(self, slot: int) -> HostHpte | None:
        return self.slots.pop(slot, None)


class VcpuCache:
    """One vCPU's hpte cache (the hash lists reduced to one ordered list) and sid map."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.entries: list[HpteCache] = []
        self.sid_map: dict[int, int] = {}

    @property
    def hpte_cache_count(self) -> int:
        return len(self.entries)

    def vsid_for(self, esid: int) -> int:
        """The host VSID for a guest ESID; the first use maps the segment."""
        if esid not in self.sid_map:
            self.sid_map[esid] = FIRST_VSID + len(self.sid_map)
        return self.sid_map[esid]


def host_vpn(vsid: int, eaddr: int) -> int:
    """Virtual page number of eaddr in the host segment vsid (4 KiB pages)."""
    return (vsid << (SID_SHIFT - PAGE_SHIFT)) | ((eaddr >> PAGE_SHIFT)
                                                 & ((1 << (SID_SHIFT - PAGE_SHIFT)) - 1))


class Model(ArchModel):
    id = "ppc-pr"
    fault_retry = faultretry.PPC_PR
    #: before the v3.13 rework kvmppc_mmu_map_page makes no mmu_notifier_retry check
    fault_retry_before = ("pflush", ((ARRIVED.since, SRC_MAP_PAGE_37),))
    family = "powerpc"
    title = "PowerPC Book3S PR (shadow host HPTEs, per-vCPU hpte cache)"
    hooks = {
        "fault_in": (SRC_MAP_PAGE, SRC_CACHE_NEXT, SRC_CACHE_MAP),
        "unmap_gfn_range": (SRC_UNMAP_DISPATCH, SRC_UNMAP_PR, SRC_DO_UNMAP, SRC_PFLUSH,
                            SRC_INVALIDATE, SRC_HOST_INVALIDATE),
        "set_spte_gfn": (SRC_SET_DISPATCH, SRC_SET_PR, SRC_DO_UNMAP, SRC_PFLUSH,
                         SRC_INVALIDATE, SRC_HOST_INVALIDATE),
    }
    chain = (SRC_SET_DISPATCH, SRC_SET_PR, SRC_DO_UNMAP, SRC_PFLUSH, SRC_INVALIDATE,
             SRC_HOST_INVALIDATE)
    findings = ()
    arrived = ARRIVED
    switches = SWITCHES
    copies = ERA_COPIES

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.hpt = HostHpt()
        self.vcpus = [VcpuCache(i) for i in range(NR_VCPUS)]
        self.src_map = SRC_MAP_PAGE if self.since("pflush") else SRC_MAP_PAGE_37
        self.src_pflush = SRC_PFLUSH if self.since("gfn-hooks") else SRC_PFLUSH_OLD
        self.src_inval = SRC_INVALIDATE if self.since("gfn-hooks") else SRC_INVALIDATE_OLD
        self.src_map, self.src_pflush, self.src_inval = (
            self.cite(self.src_map), self.cite(self.src_pflush), self.cite(self.src_inval))


    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        if kernel >= SWITCHES.get("gfn-hooks").since:
            return super().hooks_at(kernel)
        if kernel < SWITCHES.get("pflush").since:
            return {"fault_in": (SRC_MAP_PAGE_37, SRC_CACHE_NEXT, SRC_CACHE_MAP),
                    "unmap_gfn_range": (SRC_UNMAP_RANGE_37, SRC_UNMAP_HVA_37,
                                        SRC_CHECK_REQUESTS),
                    "set_spte_gfn": (SRC_SET_HVA_37, SRC_UNMAP_HVA_37, SRC_CHECK_REQUESTS)}
        int_era = kernel >= SWITCHES.get("int-return").since
        tail = (SRC_DO_UNMAP_313, SRC_PFLUSH_OLD, SRC_INVALIDATE_OLD, SRC_HOST_INVALIDATE)
        return {"fault_in": cls.hooks["fault_in"],
                "unmap_gfn_range": (SRC_UNMAP_DISPATCH_50 if int_era else SRC_UNMAP_DISPATCH_313,
                                    SRC_UNMAP_PR_313) + tail,
                "set_spte_gfn": (SRC_SET_DISPATCH_50 if int_era else SRC_SET_DISPATCH_313,
                                 SRC_SET_PR_313) + tail}

    # -- fault ----------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """The engine's guest faults run on vCPU 0."""
        return self.map_page(0, slot, gfn, host, write)

    def map_page(self, vcpu: int, slot: Memslot, gfn: int, host: HostMM,
                 iswrite: bool) -> FaultResult:
        """kvmppc_mmu_map_page on one vCPU for a real-mode guest access to gfn."""
        v = self.vcpus[vcpu]
        gpa = gfn << PAGE_SHIFT
        pte = GuestPte(eaddr=gpa, vpage=gpa >> PAGE_SHIFT, raddr=gpa,
                       may_read=True, may_write=True, may_execute=True)
        self.step(f"vcpu{vcpu}: guest real-mode access to gpa {gpa:#x} "
                  f"({'write' if iswrite else 'read'}): shadow it", self.src_map)
        pfn, writable = self._gpa_to_pfn(slot, gfn, host)
        vsid = v.vsid_for(pte.eaddr >> SID_SHIFT)
        hpte = self._host_hpte(vcpu, host_vpn(vsid, pte.eaddr), pfn, pte, writable, slot, gfn)
        if self.since("pflush"):
            self.step(f"vcpu{vcpu}: take a free hpte_cache entry ({v.hpte_cache_count} in use); "
                      "take kvm->mmu_lock; no invalidation is in progress", SRC_CACHE_NEXT)
        else:
            self.step(f"vcpu{vcpu}: take a free hpte_cache entry ({v.hpte_cache_count} in use); "
                      "no mmu_lock and no mmu_notifier_retry check on this path",
                      self.src_map)
        entry = HpteCache(pte, self.hpt.insert(hpte), hpte.vpn, PAGESIZE, pfn)
        self.step(f"insert host HPTE slot {entry.slot}: vpn {hpte.vpn:#x} -> pfn {pfn:#x} "
                  f"{hpte.pp}{' N' if hpte.noexec else ''} ({PAGESIZE})", self.src_map)
        v.entries.append(entry)
        self.step(f"vcpu{vcpu}: fill the cache entry and hash it into the eaddr/vpage lists",
                  SRC_CACHE_MAP)
        self.step("drop mmu_lock and release the pfn" if self.since("pflush")
                  else "release the pfn", self.src_map)
        return FaultResult(1, self._why_4k(slot, gfn, host), self.src_map)

    def _gpa_to_pfn(self, slot: Memslot, gfn: int, host: HostMM) -> tuple[int, bool]:
        """kvmppc_gpa_to_pfn: the host pfn, and whether the host lets it be written
        (never for a read-only memslot)."""
        hp = host.pte(slot.gfn_to_hva(gfn))
        writable = hp.write and not slot.readonly
        self.step(f"kvmppc_gpa_to_pfn: pfn {hp.pfn:#x}, host-writable={writable}", self.src_map)
        return hp.pfn, writable

    def _host_hpte(self, vcpu: int, vpn: int, pfn: int, pte: GuestPte, writable: bool,
                   slot: Memslot, gfn: int) -> HostHpte:
        """rflags: writable only when the guest and the host both allow it; N unless the
        guest allows execute."""
        rw = pte.may_write and writable
        if rw:
            self.step(f"writable mapping: mark gfn {gfn:#x} and pfn {pfn:#x} dirty", self.src_map)
        else:
            self.step("guest or host forbids writing: map read-only (PP_RXRX)", self.src_map)
        if pte.may_execute:
            self.step(f"guest may execute: flush the icache for pfn {pfn:#x}", self.src_map)
        return HostHpte(vpn, pfn, PP_RW if rw else PP_RO, not pte.may_execute, PAGESIZE)

    @staticmethod
    def _why_4k(slot: Memslot, gfn: int, host: HostMM) -> str:
        base = ("kvmppc_mmu_map_page shadows each faulting guest page with one 4 KiB host HPTE "
                "(MMU_PAGE_4K; 64K only in a VSID_64K guest segment)")
        if host.mapping_pages(slot.gfn_to_hva(gfn)) > 1:
            return f"the host page is a THP, but {base}"
        return base

    # -- unmap and change_pte ---------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        if not self.since("pflush"):
            self.step("kvm_unmap_hva_range: kvm_unmap_hva flushes everything anyway",
                      SRC_UNMAP_RANGE_37)
            return self._flush_all_37()
        if not self.since("gfn-hooks"):
            entry = SRC_UNMAP_DISPATCH_50 if self.since("int-return") else SRC_UNMAP_DISPATCH_313
            self.step("kvm_unmap_hva_range -> kvm_ops_pr.unmap_hva_range", entry)
            self.step("kvm_unmap_hva_range_pr: do_kvm_unmap_hva over the range", SRC_UNMAP_PR_313)
            return self._do_unmap_hva(rng)
        self.step("kvm_unmap_gfn_range -> kvm_ops_pr.unmap_gfn_range", SRC_UNMAP_DISPATCH)
        self.step("kvm_unmap_gfn_range_pr returns do_kvm_unmap_gfn", SRC_UNMAP_PR)
        return self._do_unmap_gfn(rng)

    def set_spte_gfn(self, rng: GfnRange) -> bool:
        if not self.since("pflush"):
            self.step(f"kvm_set_spte_hva -> kvm_unmap_hva; the new host PTE (pfn "
                      f"{rng.pte.pfn:#x}) is not read", SRC_SET_HVA_37)
            return self._flush_all_37()
        if not self.since("gfn-hooks"):
            entry = SRC_SET_DISPATCH_50 if self.since("int-return") else SRC_SET_DISPATCH_313
            self.step("kvm_set_spte_hva -> kvm_ops_pr.set_spte_hva", entry)
            self.step(f"kvm_set_spte_hva_pr: the new host PTE (pfn {rng.pte.pfn:#x}, "
                      f"present={rng.pte.present}) is not read; do_kvm_unmap_hva(hva, "
                      "hva + PAGE_SIZE)", SRC_SET_PR_313)
            return self._do_unmap_hva(rng)
        self.step("kvm_set_spte_gfn -> kvm_ops_pr.set_spte_gfn", SRC_SET_DISPATCH)
        self.step(f"the new host PTE (pfn {rng.pte.pfn:#x}, present={rng.pte.present}) is not "
                  "read: the page is remapped on its next fault; do_kvm_unmap_gfn", SRC_SET_PR)
        return self._do_unmap_gfn(rng)

    def _do_unmap_gfn(self, rng: GfnRange) -> bool:
        """pflush [start, end) in gpa on every vCPU; always returns false."""
        removed = sum(self._pflush(v, rng.start << PAGE_SHIFT, rng.end << PAGE_SHIFT)
                      for v in self.vcpus)
        self.step(f"{removed} shadow entr{'y' if removed == 1 else 'ies'} for gfn "
                  f"[{rng.start:#x}, {rng.end:#x}) removed across {len(self.vcpus)} vCPUs; "
                  "do_kvm_unmap_gfn returns false (no generic remote flush)", SRC_DO_UNMAP)
        return False

    def _flush_all_37(self) -> bool:
        """v3.7-v3.12 kvm_unmap_hva: kvm_flush_remote_tlbs, return 0 (void for set_spte).
        Nothing is dropped now: each vCPU drops everything at its next entry."""
        self.flush_remote_tlbs("kvm_flush_remote_tlbs: KVM_REQ_TLB_FLUSH on every vCPU; each drops all "
                   "its shadow HPTEs (kvmppc_mmu_pte_flush(vcpu, 0, 0)) at its next guest "
                   "entry", SRC_UNMAP_HVA_37)
        self.step(f"returns 0 having dropped nothing yet: {self._cached()} shadow entr"
                  f"{'y' if self._cached() == 1 else 'ies'} still cached until the vCPUs "
                  "re-enter", SRC_UNMAP_HVA_37)
        return False

    def _cached(self) -> int:
        return sum(v.hpte_cache_count for v in self.vcpus)

    def _do_unmap_hva(self, rng: GfnRange) -> bool:
        """v3.13-v5.12 do_kvm_unmap_hva: the memslot's gfn range, pflush on every vCPU."""
        removed = sum(self._pflush(v, rng.start << PAGE_SHIFT, rng.end << PAGE_SHIFT)
                      for v in self.vcpus)
        ret = "book3s.c returns 0" if self.since("int-return") else "void / 0"
        self.step(f"{removed} shadow entr{'y' if removed == 1 else 'ies'} for gfn "
                  f"[{rng.start:#x}, {rng.end:#x}) removed across {len(self.vcpus)} vCPUs; "
                  f"{ret}: no generic remote flush", SRC_DO_UNMAP_313)
        return False

    def serve_tlb_flush(self, vcpu: int | None = None) -> None:
        """KVM_REQ_TLB_FLUSH at a vCPU's next entry (kvmppc_core_check_requests): drop every
        shadow HPTE of that vCPU (None: every vCPU, as the explorer serves a request before
        any vCPU enters again); never run by the single replay (it lies outside change_pte)."""
        if vcpu is None:
            for i in range(len(self.vcpus)):
                self.serve_tlb_flush(i)
            return
        v = self.vcpus[vcpu]
        self.step(f"vcpu{vcpu}: KVM_REQ_TLB_FLUSH pending: kvmppc_mmu_pte_flush(vcpu, 0, 0)",
                  SRC_CHECK_REQUESTS)
        for entry in list(v.entries):
            self._invalidate_pte(v, entry)

    def _pflush(self, v: VcpuCache, pa_start: int, pa_end: int) -> int:
        """kvmppc_mmu_pte_pflush: walk every cached entry, drop those whose guest real
        address lies in [pa_start, pa_end); returns how many were dropped."""
        hits = [e for e in v.entries if pa_start <= e.pte.raddr < pa_end]
        self.step(f"vcpu{v.index}: pflush gpa [{pa_start:#x}, {pa_end:#x}) walks all "
                  f"{v.hpte_cache_count} cached entries, {len(hits)} match", self.src_pflush)
        for entry in hits:
            self._invalidate_pte(v, entry)
        return len(hits)

    def _invalidate_pte(self, v: VcpuCache, entry: HpteCache) -> None:
        """invalidate_pte: remove the host HPTE (global tlbie), then unhash the entry."""
        self.hpt.invalidate(entry.slot)
        self.flush(f"vcpu{v.index}: hpte_invalidate host HPTE slot {entry.slot} "
                   f"(vpn {entry.host_vpn:#x}, {entry.pagesize}) with a global tlbie",
                   SRC_HOST_INVALIDATE)
        if entry in v.entries:
            v.entries.remove(entry)
            self.step(f"vcpu{v.index}: unhash the cache entry for raddr {entry.pte.raddr:#x} "
                      f"({v.hpte_cache_count} left); free it after an RCU grace period",
                      self.src_inval)

    # -- views ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for v in self.vcpus:
            for e in v.entries:
                out[f"vcpu{v.index} hpte_cache slot {e.slot} @raddr {e.pte.raddr:#x}"] = e.to_dict()
        for slot, hpte in self.hpt.slots.items():
            out[f"host HPTE slot {slot}"] = hpte.to_dict()
        return dict(sorted(out.items()))

    def _entries_for(self, gfn: int):
        for v in self.vcpus:
            for e in v.entries:
                if e.pte.raddr >> PAGE_SHIFT == gfn:
                    yield v, e

    def lookup(self, gfn: int) -> Mapping | None:
        for _, e in self._entries_for(gfn):
            hpte = self.hpt.slots.get(e.slot)
            if hpte is not None:
                perms = "r" + ("w" if hpte.pp == PP_RW else "-") + ("-" if hpte.noexec else "x")
                return Mapping(hpte.pfn, 1, perms)
        return None

    def view(self, gfn: int) -> list[dict]:
        rows = []
        for v, e in self._entries_for(gfn):
            row = {"vcpu": v.index, "hpte_cache": e.to_dict()}
            hpte = self.hpt.slots.get(e.slot)
            row["host_hpte"] = hpte.to_dict() if hpte else None
            rows.append(row)
        return rows or [{"gfn": hex(gfn), "hpte_cache": "no entry on any vCPU"}]
