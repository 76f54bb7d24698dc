"""PowerPC Book3S HV, hashed page table guest (book3s_64_mmu_hv.c, book3s_hv_rm_mmu.c), v3.3 to v6.9.

Structure (our own small model, not a radix tree):

* the guest HPT: HPTEs by index, each with VALID/ABSENT, the base gfn and page size
  from the guest's R word (``guest_rpte``), the host pfn the hypervisor put in the
  real R word, its write permission, and the R (referenced) / C (changed) bits;
  the guest's own copy of R/C (``guest_rpte``) is kept too;
* per host base page of a memslot, an rmap word: a chain of HPTE indices (the
  circular list threaded through ``rev[].forw/back``, head first) and the R/C
  bits harvested from HPTEs that were unmapped.

The guest creates its HPTEs with H_ENTER (kvmppc_do_h_enter).  When the host Linux PTE
of the page's hva is present, H_ENTER itself makes the entry VALID with that host pfn
(read-only if the host PTE is not writable) and links it into the rmap chain of its *base*
gfn; it stores the entry ABSENT only when there is no valid memslot (emulated MMIO), no
present host PTE, or an invalidation is in progress (the mmu_invalidate_retry check under
the rmap lock), and refuses with H_PARAMETER, storing nothing, an HPTE larger than the host
page.  An ABSENT entry is backed later by the hypervisor page fault
(kvmppc_book3s_hv_page_fault), which does the same linking.  Unmapping (kvm_unmap_rmapp)
drains the chain of one gfn: each HPTE goes back to ABSENT (the guest's view is kept), is
tlbie'd, and its R/C move to the rmap (C also to the dirty bitmap).

Page sizes: HPTEs are 4K, 64K or 16M; there is no 2 MiB HPTE size, and H_ENTER refuses an
HPTE larger than the host page backing it (the page fault, for an ABSENT one, too).  The
model's guest uses 4K HPTEs (``guest_pages``; tests also use 64K and 16M).  Not modelled:
HPT resizing, nested guests, WIMG/cache-inhibited mappings, HPTE/rmap locking, and whether
a host page table exists under a non-present PTE (H_ENTER's size check runs only where the
host PTE is present).  The young/dirty update H_ENTER makes to the host Linux PTE is traced,
not applied to the model's host.

Releases (``switches``): change_pte reaches this code from v3.3 (342d3db763f2) and in every
release it unmaps the gfn's HPTE chain (ABSENT, synchronous tlbie, R/C kept, new PTE never
read).  What changes: the dispatch around it (``ppc_book3s_hv``); before v3.19 a VM only
uses MMU notifiers on a POWER7-or-later host (``kvm->arch.using_mmu_notifiers``; on a
PPC970 host every hook returns at once and guest pages stay pinned) -- the model's host is
POWER7 or later, and the switch only records the check; from v4.15 (e641a317830b) the C bit
harvested at unmap also goes into the memslot dirty bitmap (before, only into the rmap's
CHANGED bit, read at KVM_GET_DIRTY_LOG).  Before v3.7 the generic layer does not bracket
change_pte with an invalidation, so the hook finds the HPTE still valid and unmaps it.
H_ENTER backs a present host page at once in every copy read, v3.3 to v6.9 (``VIA_H_ENTER``,
``VIA_H_ENTER_33``); only the function holding the body (kvmppc_h_enter in the v3.3 form,
kvmppc_do_h_enter later) and the host page-table walk differ, and from v5.13 the copies read
do the first invalidation check inside that walk, before the page-size check.
"""

from __future__ import annotations

from kvmspte.records import record, field

from kvmspte.arches import ppc_book3s_hv as hv
from kvmspte.arches import ppc_eras as eras
from kvmspte.sim.host import HostMM
from kvmspte.sim import kvm as kvm_generic
from kvmspte.sim.kvm import Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import FaultResult, Mapping
from kvmspte.sim.release import Release, Switch, Switches
from kvmspte.sim.source import Source

VIA_RM = ("stored copy 2310820074 of book3s_hv_rm_mmu.c (torvalds/linux 010e85f9: "
          "mmu_notifier_seq and __find_linux_pte, so v4.17-v5.7): a new HPTE goes at the tail "
          "of the circular chain whose head the rmap word holds, or starts the chain and sets "
          "PRESENT and the HPT flag; not re-read in the v6.1+ copy 91330101")
VIA_H_ENTER = (
    "stored copy 91330101 of book3s_hv_rm_mmu.c (mmu_invalidate_seq / mmu_invalidate_retry: "
    "v6.1 or later, read as the v6.9 text): the sequence is read first; with a valid memslot "
    "the hva's Linux PTE is found by find_kvm_host_pte under kvm->mmu_lock (which returns "
    "nothing when an invalidation is in progress); a host page smaller than the HPTE gives "
    "H_PARAMETER; a present PTE gives the pfn, and read-only when the HPTE asks for write and "
    "the PTE is not writable; with a pfn the entry is VALID, else ABSENT; under the rmap lock "
    "mmu_invalidate_retry turns a VALID entry ABSENT, else kvmppc_add_revmap_chain links it and "
    "R/C are kept only where the rmap has them. The same in intel/tdx copy 6926275224 (about "
    "v6.0: mmu_updating_retry), the new side of merge copy 3059436873, and copy 2310820074 "
    "(v4.17-v5.7: __find_linux_pte with interrupts off, no early check); find_kvm_host_pte came with Aneesh Kumar's 2020 series (RFC "
    "<20200227065620.50804-16-aneesh.kumar@linux.ibm.com>, stored id 21679780581), merge release "
    "not verified")
VIA_H_ENTER_33 = (
    "HEAD side of merge copy 3059436873 (vcpu-based kvmppc_h_enter holding the body, fixed "
    "HPT_NPTE, mmu_notifier_retry(vcpu, ...): the v3.3-v3.5 form): with using_mmu_notifiers "
    "(set on the modelled POWER7+ host) the hva's Linux PTE is looked up (lookup_linux_pte); a "
    "present one gives the pfn (read-only if not writable) and a VALID entry, none an ABSENT "
    "one; a smaller host page gives H_PARAMETER; under the rmap lock the retry check turns a "
    "VALID entry ABSENT, else it is linked. The same in copy 35009576 (v3.14 on: "
    "lookup_linux_pte_and_update) and copy 2310820074 (v4.17-v5.7: kvmppc_do_h_enter, "
    "__find_linux_pte); the body moved to kvmppc_do_h_enter at a release not verified, "
    "kvmppc_h_enter staying as the real-mode wrapper")
VIA_BOOK3S_64_H = ("stored copy 40086437794 of kvm_book3s_64.h (find_kvm_host_pte calls "
                   "mmu_invalidate_retry: v6.1 or later), the same in copy 9589467 "
                   "(mmu_notifier_retry: v5.8-v6.0 by content)")
VIA_READ_UPDATE = (
    f"{VIA_BOOK3S_64_H}: waits for H_PAGE_BUSY to clear; a non-present PTE reads as none; a "
    "present one is made young, and dirty too when the HPTE asks for write and the PTE is "
    "writable, by an atomic exchange")
VIA_FIND_HOST_PTE = (
    f"{VIA_BOOK3S_64_H}: with kvm->mmu_lock held, returns no PTE when the retry check reports "
    "an invalidation since the sequence was read, else walks the host page table "
    "(__find_linux_pte on kvm->mm)")

SRC_H_ENTER = Source(hv.RM_MMU_C, "kvmppc_do_h_enter", via=VIA_H_ENTER)
SRC_H_ENTER_33 = Source(hv.RM_MMU_C, "kvmppc_h_enter", "v3.3", VIA_H_ENTER_33)
SRC_READ_UPDATE = Source(eras.KVM_BOOK3S_64_H, "kvmppc_read_update_linux_pte",
                         via=VIA_READ_UPDATE)
SRC_FIND_HOST_PTE = Source(eras.KVM_BOOK3S_64_H, "find_kvm_host_pte", via=VIA_FIND_HOST_PTE)
SRC_PAGE_FAULT = Source(hv.MMU_HV_C, "kvmppc_book3s_hv_page_fault", via=hv.VIA_MMU_HV)
SRC_ADD_REVMAP = Source(hv.RM_MMU_C, "kvmppc_add_revmap_chain", via=VIA_RM)
SRC_UNMAP_RMAPP = Source(hv.MMU_HV_C, "kvm_unmap_rmapp", via=hv.VIA_MMU_HV)
SRC_UNMAP_HPTE = Source(hv.MMU_HV_C, "kvmppc_unmap_hpte", via=hv.VIA_MMU_HV)
SRC_INVALIDATE = Source(hv.RM_MMU_C, "kvmppc_invalidate_hpte",
                        via="not re-read for v6.9 (research note §4.3, memory): clears "
                            "HPTE_V_VALID and issues the tlbie through do_tlbies")
SRC_MMU_RC = Source(hv.MMU_HV_C, "kvmppc_book3s_hv_page_fault", via=(
    "after RESUME_GUEST the guest retries its access and the MMU sets R, and C on a store, in "
    "the now valid HPTE: the hardware behaviour kvmppc_unmap_hpte's R/C harvest relies on"))

# -- older releases ------------------------------------------------------------------------
VIA_33 = ("stored copy 105972674 of book3s_64_mmu_hv.c, judged v3.3-v3.5 (fixed HPT_ORDER, "
          "using_mmu_notifiers, single-hva kvm_handle_hva, no kvm_unmap_hva_range)")
VIA_33_FAULT = (f"{VIA_33}: gup with write=writing, and for a read fault on a writable guest "
                "HPTE the host Linux PTE's write bit decides write_ok; R/C are kept only where "
                "both the rmap and guest_rpte have them -- the outcome the model computes. Later "
                "copies up to v5.12 not re-read for the fault path")
VIA_36 = ("stored copy 24254970671 (judged v4.1-v4.10): kvm_handle_hva is kvm_handle_hva_range("
          "hva, hva+1); range form from 84504ef38673 (v3.6, research note)")
VIA_GATE = ("the early return on a clear kvm->arch.using_mmu_notifiers: in copy 105972674 "
            "(v3.3) and on both sides of merge copy 25902056047 (v3.10 / v3.18); set exactly "
            "when the CPU has CPU_FTR_ARCH_206 (copies 69890140, 24178573546); absent in copy "
            "24254970671 (v4.1+). The removal (PPC970 HV code removal, c17b98cf6028 from "
            "memory) dated v3.19 UNVERIFIED: somewhere in v3.19..v4.1")
VIA_415 = ("stored copy 2001413 (judged v4.15-v4.20: mmu_ready, kvm_is_radix, void "
           "set_spte_hva): kvmppc_unmap_hpte sets the dirty bitmap for a harvested C when the "
           "memslot has one; commit e641a317830b 'Unify dirty page map between HPT and radix' "
           "(message read via the pages corpus, review.tizen.org)")
VIA_RC_33 = (f"{VIA_33}: the unmap body is inline in kvm_unmap_rmapp; C goes only into the "
             "rmap's CHANGED bit (harvested later by kvmppc_hv_get_dirty_log)")

SRC_SET_HVA_33 = Source(hv.MMU_HV_C, "kvm_set_spte_hva", "v3.3", VIA_33)
SRC_UNMAP_HVA_33 = Source(hv.MMU_HV_C, "kvm_unmap_hva", "v3.3", VIA_33)
SRC_UNMAP_HVA_RANGE_36 = Source(hv.MMU_HV_C, "kvm_unmap_hva_range", "v3.6", VIA_36)
SRC_PAGE_FAULT_33 = Source(hv.MMU_HV_C, "kvmppc_book3s_hv_page_fault", "v3.3", VIA_33_FAULT)
SRC_UNMAP_RMAPP_33 = Source(hv.MMU_HV_C, "kvm_unmap_rmapp", "v3.3", VIA_RC_33)
SRC_UNMAP_HPTE_415 = Source(hv.MMU_HV_C, "kvmppc_unmap_hpte", "v4.15", VIA_415)
SRC_INVALIDATE_33 = Source(hv.RM_MMU_C, "kvmppc_invalidate_hpte", "v3.3",
                           "HEAD side of merge copy 3059436873: clears HPTE_V_VALID, then a "
                           "global tlbie under kvm->arch.tlbie_lock and tlbsync/ptesync: "
                           "synchronous")
SRC_INVALIDATE_314 = Source(hv.RM_MMU_C, "kvmppc_invalidate_hpte", "v3.14",
                            "research note (not re-read here): copy 35009576 (judged "
                            "v3.14-v4.9) issues do_tlbies(kvm, &rb, 1, 1, true), global and "
                            "synchronous; copy 91330101 (v4.10+) the same plus the ISA v3.00 "
                            "HPTE format conversion")
SRC_GATE = Source(hv.MMU_HV_C, "kvm_set_spte_hva", "v3.3", VIA_GATE)

ARRIVED = Switch("arrived", Release(3, 3), "342d3db763f2",
                 "KVM_ARCH_WANT_MMU_NOTIFIER for Book3S HV: POWER7 guests stop pinning pages; "
                 "kvm_set_spte_hva unmaps the gfn's HPTEs",
                 Source("arch/powerpc/include/asm/kvm_host.h", "KVM_ARCH_WANT_MMU_NOTIFIER",
                        "v3.3", "342d3db763f2 message and kvm_host.h hunk (pages corpus: "
                        "repo.or.cz, fairphone msm-4.9 gerrit); code at copy 105972674"))
SWITCHES = Switches(hv.SWITCHES_DISPATCH + (
    Switch("hva-range", Release(3, 6), "84504ef38673",
           "kvm_unmap_hva_range and kvm_handle_hva_range (before: the generic layer calls "
           "kvm_unmap_hva once per page)", SRC_UNMAP_HVA_RANGE_36),
    Switch("no-970-gate", Release(3, 19), "c17b98cf6028 (from memory, UNVERIFIED)",
           "the using_mmu_notifiers early return is gone (before: a PPC970 host's hooks do "
           "nothing; the modelled POWER7+ host always passes it)", SRC_GATE),
    Switch("radix-dispatch", Release(4, 11), "167c76e05591 (merge)",
           "kvm_is_radix() picks kvm_unmap_radix or kvm_unmap_rmapp (HPT guests unchanged)",
           hv.SRC_SET_HVA_HV),
    Switch("dirty-bitmap-at-unmap", Release(4, 15), "e641a317830b",
           "a C bit harvested at unmap also sets the memslot dirty bitmap", SRC_UNMAP_HPTE_415),
))

#: HPTE page sizes in 4 KiB pages (research note §4.5): 4K, 64K, 16M.
HPTE_SIZES = {1: "4K", 16: "64K", 4096: "16M"}
#: the model's HPT: 2^18 bytes of 16-byte HPTEs, as 2048 groups of 8 (index placement is
#: the model's stand-in for the guest's hash).
HPTEG_COUNT, HPTES_PER_GROUP = 2048, 8


def size_label(pages: int) -> str:
    return f"{pages * 4 // 1024}M" if pages >= 256 else f"{pages * 4}K"


@record
class Hpte:
    """One HPTE and its revmap entry (the guest's R word)."""

    index: int
    gfn: int               # base gfn, hpte_rpn(guest_rpte, psize)
    pages: int             # page size in 4 KiB pages
    valid: bool = False
    absent: bool = True
    pfn: int | None = None  # host pfn in the real R word (None until first backed)
    write: bool = True     # cleared by hpte_make_readonly
    r: bool = False
    c: bool = False
    guest_r: bool = False  # R/C as recorded in rev[index].guest_rpte
    guest_c: bool = False

    @property
    def perms(self) -> str:
        return "r" + ("w" if self.write else "-") + "x"

    def to_dict(self) -> dict:
        return {"gfn": hex(self.gfn), "size": HPTE_SIZES[self.pages], "valid": self.valid,
                "absent": self.absent, "pfn": None if self.pfn is None else hex(self.pfn),
                "perms": self.perms, "R": self.r, "C": self.c,
                "guest_R": self.guest_r, "guest_C": self.guest_c}


@record
class Rmap:
    """memslot->arch.rmap[gfn - base_gfn]: PRESENT + chain head, plus harvested R/C."""

    chain: list[int] = field(default_factory=list)
    r: bool = False
    c: bool = False

    @property
    def present(self) -> bool:
        return bool(self.chain)

    def to_dict(self) -> dict:
        return {"present": self.present, "chain": [hex(i) for i in self.chain],
                "R": self.r, "C": self.c}


class Hpt:
    """The guest HPT (HPTEs by index) and the per-gfn rmaps."""

    def __init__(self) -> None:
        self.hptes: dict[int, Hpte] = {}
        self.rmaps: dict[int, Rmap] = {}

    def free_index(self, gfn: int, pages: int) -> int:
        """A slot in the HPTE group the guest's hash picks; the model hashes the page number."""
        group = (gfn // pages) % HPTEG_COUNT
        for index in range(group * HPTES_PER_GROUP, (group + 1) * HPTES_PER_GROUP):
            if index not in self.hptes:
                return index
        raise RuntimeError(f"HPTE group {group:#x} is full")

    def find(self, gfn: int, pages: int) -> Hpte | None:
        """The guest's HPTE for the page of this size that holds gfn, if it made one."""
        base = gfn & ~(pages - 1)
        return next((h for h in self.hptes.values() if (h.gfn, h.pages) == (base, pages)), None)

    def rmap(self, gfn: int) -> Rmap:
        return self.rmaps.setdefault(gfn, Rmap())

    def snapshot(self) -> dict[str, dict]:
        out = {f"hpte {i:#06x}": h.to_dict() for i, h in self.hptes.items()}
        out.update({f"rmap gfn {g:#x}": r.to_dict() for g, r in self.rmaps.items()
                    if r.present or r.r or r.c})
        return out


class Model(hv.HvModel):
    id = "ppc-hv-hpt"
    fault_retry = faultretry.PPC_HV_HPT
    title = "PowerPC Book3S HV, hashed page table (HPT) guest"
    radix = False
    unmap_fn = "kvm_unmap_rmapp"
    #: the HPTE page size the model's guest uses, in 4 KiB pages (a key of HPTE_SIZES)
    guest_pages = 1
    hooks = {
        "fault_in": (SRC_H_ENTER, SRC_FIND_HOST_PTE, SRC_READ_UPDATE, SRC_ADD_REVMAP,
                     SRC_PAGE_FAULT, SRC_INVALIDATE, SRC_MMU_RC),
        "unmap_gfn_range": (hv.SRC_UNMAP_GFN_RANGE, hv.SRC_OPS_HV, hv.SRC_UNMAP_HV,
                            SRC_UNMAP_RMAPP, SRC_UNMAP_HPTE, SRC_INVALIDATE, hv.SRC_DIRTY_MAP),
        "set_spte_gfn": (hv.SRC_SET_SPTE_GFN, hv.SRC_OPS_HV, hv.SRC_SET_SPTE_HV,
                         SRC_UNMAP_RMAPP, SRC_UNMAP_HPTE, SRC_INVALIDATE, hv.SRC_DIRTY_MAP),
    }
    chain = (hv.SRC_SET_SPTE_GFN, hv.SRC_SET_SPTE_HV, SRC_UNMAP_RMAPP, SRC_UNMAP_HPTE)
    arrived = ARRIVED
    switches = SWITCHES

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.hpt = Hpt()
        gfn_era = self.since("gfn-hooks")
        self.src_fault = SRC_PAGE_FAULT if gfn_era else SRC_PAGE_FAULT_33
        self.src_h_enter = SRC_H_ENTER if gfn_era else SRC_H_ENTER_33
        self.src_read_pte = SRC_READ_UPDATE if gfn_era else SRC_H_ENTER_33
        self.src_find_pte = SRC_FIND_HOST_PTE if gfn_era else SRC_H_ENTER_33
        self.src_invalidate = (SRC_INVALIDATE if gfn_era else SRC_INVALIDATE_314
                               if self.kernel >= Release(3, 14) else SRC_INVALIDATE_33)
        if gfn_era:
            self.src_unmap = SRC_UNMAP_HPTE
        else:
            self.src_unmap = (SRC_UNMAP_HPTE_415 if self.since("dirty-bitmap-at-unmap")
                              else SRC_UNMAP_RMAPP_33)
        self.cite_all("src_fault", "src_h_enter", "src_read_pte", "src_find_pte",
                      "src_invalidate", "src_unmap")

    # -- release-dependent sources ------------------------------------------------------
    @classmethod
    def hva_fn(cls, kernel: Release, kind: str) -> Source:
        if kernel >= hv.SW_OPS.since:
            return super().hva_fn(kernel, kind)
        if kind == "set":
            return SRC_SET_HVA_33
        return SRC_UNMAP_HVA_RANGE_36 if kernel >= SWITCHES.get("hva-range").since \
            else SRC_UNMAP_HVA_33

    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        out = super().hooks_at(kernel)
        if kernel >= hv.SW_GFN.since:
            return out
        later = kernel >= SWITCHES.get("dirty-bitmap-at-unmap").since
        inval = SRC_INVALIDATE_314 if kernel >= Release(3, 14) else SRC_INVALIDATE_33
        tail = ((SRC_UNMAP_HPTE_415, inval, hv.SRC_DIRTY_MAP) if later
                else (SRC_UNMAP_RMAPP_33, inval))
        for hook in ("unmap_gfn_range", "set_spte_gfn"):
            head = out[hook][:len(out[hook]) - len(cls.hooks[hook][3:])]
            out[hook] = head + tail
        out["fault_in"] = (SRC_H_ENTER_33, SRC_ADD_REVMAP, SRC_PAGE_FAULT_33, inval, SRC_MMU_RC)
        return out

    def handler_text(self) -> str:
        if self.since("radix-dispatch"):
            return "kvm_is_radix() is false: kvm_unmap_rmapp"
        return "handler kvm_unmap_rmapp"

    def gate(self, fn: Source) -> None:
        if not self.since("no-970-gate"):
            self.step("kvm->arch.using_mmu_notifiers is set (the modelled host is POWER7 or "
                      "later, CPU_FTR_ARCH_206); on a PPC970 host it is clear and the hook "
                      "returns here, guest pages staying pinned", SRC_GATE)

    # -- fault ----------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """The guest's H_ENTER when it has no HPTE for the page yet, which backs a present host
        page at once; the hypervisor page fault only for an entry left ABSENT (or an existing
        HPTE the guest faults on); then the retried access sets R (and C on a store).  The
        engine calls this only when no invalidation races with it, so H_ENTER's retry check
        passes here (``_h_enter(retry=True)`` takes the other branch)."""
        hpte = self.hpt.find(gfn, self.guest_pages)
        entered = hpte is None
        if entered:
            hpte, why = self._h_enter(slot, gfn, self.guest_pages, host)
            if hpte is None:
                return FaultResult(0, why, self.src_h_enter)
        if not (entered and hpte.valid):
            entered = False
            ret = self._page_fault(slot, hpte, host)
            if ret:
                return FaultResult(0, ret, self.src_fault)
        self._guest_access(hpte, write, entered)
        return FaultResult(hpte.pages, self._size_reason(hpte, host, slot),
                           self.src_h_enter if entered else self.src_fault)

    def _h_enter(self, slot: Memslot, gfn: int, pages: int, host: HostMM,
                 retry: bool = False) -> tuple[Hpte | None, str]:
        """kvmppc_do_h_enter (kvmppc_h_enter in the v3.3 form): the new HPTE, VALID and linked
        when the host page is present and no invalidation is in progress (``retry`` False),
        else ABSENT; (None, why) for H_PARAMETER, where nothing is stored."""
        base, src = gfn & ~(pages - 1), self.src_h_enter
        self.step(f"guest H_ENTER: {HPTE_SIZES[pages]} HPTE for gfn {base:#x}; read "
                  f"{self._seq_names()[0]}", src)
        if slot.invalid:
            return self._store(base, pages, "no valid memslot: stored ABSENT, marked as "
                                            "emulated MMIO (key 31)"), ""
        found = self._h_enter_lookup(slot, base, pages, host, retry)
        if isinstance(found, str):
            self.step(found, src)
            return None, found
        if found is None:
            return self._store(base, pages, "no host pfn: stored ABSENT, for the hypervisor "
                                            "page fault to back"), ""
        pfn, write_ok = found
        check = self._seq_names()[1]
        if retry:
            return self._store(base, pages, f"under the rmap lock {check} reports an "
                                            "invalidation in progress: stored ABSENT, not "
                                            "linked"), ""
        hpte = self._store(base, pages, None)
        self.step(f"HPTE {hpte.index:#x}: the host pfn makes it VALID; under the rmap lock "
                  f"{check} reports no invalidation", src)
        self._back(slot, hpte, pfn, write_ok, src)
        return hpte, ""

    def _seq_names(self) -> tuple[str, str]:
        """The notifier sequence and its retry check as the release names them."""
        if self.kernel >= kvm_generic.GENERIC.get("invalidate-rename").since:
            return "mmu_invalidate_seq", "mmu_invalidate_retry"
        return "mmu_notifier_seq", "mmu_notifier_retry"

    def _h_enter_lookup(self, slot: Memslot, base: int, pages: int, host: HostMM,
                        retry: bool) -> tuple[int, bool] | str | None:
        """The host Linux PTE walk of H_ENTER: (pfn, write_ok), None (no pfn: store ABSENT),
        or why H_PARAMETER.  From v5.13 the copies read check for an invalidation inside the
        walk (find_kvm_host_pte) and find no PTE then; before, only under the rmap lock."""
        src, hva = self.src_h_enter, slot.gfn_to_hva(base)
        if retry and self.since("gfn-hooks"):
            self.step(f"find_kvm_host_pte under kvm->mmu_lock: {self._seq_names()[1]} reports "
                      "an invalidation in progress, so no host PTE is returned",
                      self.src_find_pte)
            return None
        hp = host.pte(hva)
        if not hp.present:
            self.step(f"no present host Linux PTE at hva {hva:#x}", self.src_read_pte)
            return None
        host_pages = host.mapping_pages(hva)
        if pages > host_pages:
            return (f"HPTE size {HPTE_SIZES[pages]} is larger than the host page "
                    f"({size_label(host_pages)}): H_PARAMETER to the guest, nothing stored")
        update = ""
        if self.since("gfn-hooks"):       # the young/dirty update read for this era only
            update = "; marked young" + (", and dirty since the guest's HPTE asks for write"
                                         if hp.write else "")
        self.step(f"host Linux PTE at hva {hva:#x} present (pfn {hp.pfn:#x}, "
                  f"{'writable' if hp.write else 'read-only'}){update}", self.src_read_pte)
        if not hp.write:
            self.step("the HPTE asks for write but the host PTE is not writable: "
                      "hpte_make_readonly", src)
        return hp.pfn & ~(pages - 1), hp.write

    def _store(self, base: int, pages: int, why: str | None) -> Hpte:
        """Take a free slot of the HPTE group and save the guest's R word (guest_rpte); an
        entry with a ``why`` is written ABSENT."""
        hpte = Hpte(self.hpt.free_index(base, pages), base, pages)
        self.hpt.hptes[hpte.index] = hpte
        if why is not None:
            self.step(f"HPTE {hpte.index:#x}: {why}", self.src_h_enter)
        return hpte

    def _size_reason(self, hpte: Hpte, host: HostMM, slot: Memslot) -> str:
        host_pages = host.mapping_pages(slot.gfn_to_hva(hpte.gfn))
        fits = max(p for p in HPTE_SIZES if p <= host_pages)
        return (f"HPTE page sizes are 4K, 64K and 16M, none of them 2 MiB; "
                f"{self.src_h_enter.function} refuses (H_PARAMETER) an HPTE larger than its "
                f"host page, as kvmppc_book3s_hv_page_fault does for an absent one "
                f"({size_label(host_pages)} here, so at most {HPTE_SIZES[fits]}), and this "
                f"guest's HPTE is {HPTE_SIZES[hpte.pages]}")

    def _page_fault(self, slot: Memslot, hpte: Hpte, host: HostMM) -> str:
        """kvmppc_book3s_hv_page_fault: back the HPTE with the host page; '' or why not."""
        if slot.invalid:
            return self._fail("no valid memslot: emulated as MMIO")
        hva = slot.gfn_to_hva(hpte.gfn)
        hpte_host = host.pte(hva)
        write_ok = self._write_ok(slot, hpte_host.write)
        if not hpte_host.present:
            return self._fail("host PTE not present under mmu_lock: resume the guest")
        host_pages = host.mapping_pages(hva)
        if hpte.pages > host_pages:
            return self._fail(f"HPTE size {HPTE_SIZES[hpte.pages]} is larger than the host "
                              f"page ({size_label(host_pages)}): -EFAULT")
        pfn = hpte_host.pfn & ~(hpte.pages - 1)
        self._back(slot, hpte, pfn, write_ok)
        return ""

    def _fail(self, why: str) -> str:
        self.step(why, self.src_fault)
        return why

    def _write_ok(self, slot: Memslot, host_write: bool) -> bool:
        """Fast GUP with FOLL_WRITE: success (a writable host PTE) makes write_ok true;
        otherwise the slow path on a read-only host page leaves it false."""
        if not self.since("gfn-hooks"):
            self.step(f"get_user_pages_fast; the host Linux PTE is "
                      f"{'writable: write_ok' if host_write else 'not writable: no write_ok'}",
                      self.src_fault)
            return host_write
        if not host_write:
            self.step("no writable fast GUP: slow path __gfn_to_pfn_memslot, not writable",
                      self.src_fault)
            return False
        self.step("get_user_page_fast_only(FOLL_WRITE) succeeds: write_ok", self.src_fault)
        if slot.readonly:
            self.step("KVM_MEM_READONLY: the research note records no read-only-slot check on "
                      "this path, so the model keeps write_ok", self.src_fault)
        return True

    def _back(self, slot: Memslot, hpte: Hpte, pfn: int, write_ok: bool,
              src: Source | None = None) -> None:
        """Under the HPTE lock (H_ENTER's or the page fault's, ``src``): VALID, !ABSENT, new R
        word; link into the base gfn's rmap, or, if it was already valid, invalidate it first
        and keep its R/C."""
        src = src or self.src_fault
        rmap = self.hpt.rmap(hpte.gfn)
        if hpte.valid:
            self.step(f"HPTE {hpte.index:#x} already valid: make it absent and invalidate it, "
                      "keeping R/C", src)
            self._invalidate(hpte)
        else:
            hpte.r, hpte.c = rmap.r and hpte.guest_r, rmap.c and hpte.guest_c
            rmap.chain.append(hpte.index)
            self.step(f"link HPTE {hpte.index:#x} at the tail of the rmap chain of gfn "
                      f"{hpte.gfn:#x}", SRC_ADD_REVMAP)
        hpte.pfn, hpte.write, hpte.valid, hpte.absent = pfn, write_ok, True, False
        dirty = ""
        if write_ok and src is self.src_fault:
            dirty = "; set_page_dirty_lock" if self.since("gfn-hooks") else "; SetPageDirty"
        self.step(f"HPTE {hpte.index:#x} valid: pfn {pfn:#x} {hpte.perms}"
                  + ("" if write_ok else " (hpte_make_readonly)") + dirty, src)

    def _guest_access(self, hpte: Hpte, write: bool, entered: bool = False) -> None:
        """The guest's access through the valid HPTE: the MMU sets R, and C on a store (after
        H_ENTER returned H_SUCCESS, or after the page fault resumed the guest)."""
        hpte.r = True
        hpte.c = hpte.c or (write and hpte.write)
        rc = f"R{' and C' if hpte.c else ''} in HPTE {hpte.index:#x}"
        if entered:
            self.step(f"H_ENTER returns H_SUCCESS; the guest's access through the valid HPTE "
                      f"sets {rc} (hardware)", self.src_h_enter)
        else:
            self.step(f"the retried guest access sets {rc}", SRC_MMU_RC)

    # -- unmap ----------------------------------------------------------------------
    def unmap_gfn(self, slot: Memslot, gfn: int) -> bool:
        """kvm_unmap_rmapp: while the gfn's rmap is PRESENT, unmap the chain head."""
        rmap = self.hpt.rmaps.get(gfn)
        if rmap is None or not rmap.present:
            return False
        while rmap.present:
            self._unmap_hpte(slot, rmap, gfn, self.hpt.hptes[rmap.chain[0]])
        return True

    def _unmap_hpte(self, slot: Memslot, rmap: Rmap, gfn: int, hpte: Hpte) -> None:
        """kvmppc_unmap_hpte: unlink; if valid and based at gfn: ABSENT, invalidate + tlbie,
        harvest R/C into the rmap (C into the dirty bitmap) and into guest_rpte."""
        rmap.chain.remove(hpte.index)
        self.step(f"unlink HPTE {hpte.index:#x} from the rmap chain of gfn {gfn:#x}",
                  self.src_unmap)
        if not (hpte.valid and hpte.gfn == gfn):
            self.step(f"HPTE {hpte.index:#x} is not a valid mapping based at gfn {gfn:#x}: "
                      "left alone", self.src_unmap)
            return
        hpte.absent = True
        r, c = self._invalidate(hpte)
        rmap.r, rmap.c = rmap.r or r, rmap.c or c
        self.step(f"harvest R={int(r)} C={int(c)} into the rmap", self.src_unmap)
        if c and self.since("dirty-bitmap-at-unmap"):
            self.mark_dirty(slot, gfn, hpte.pages)
        if not self.since("gfn-hooks"):
            hpte.guest_r, hpte.guest_c = hpte.guest_r or r, hpte.guest_c or c
            self.step("R/C ORed into guest_rpte", self.src_unmap)
        elif (r and not hpte.guest_r) or (c and not hpte.guest_c):
            hpte.guest_r, hpte.guest_c = hpte.guest_r or r, hpte.guest_c or c
            self.step("new R/C bits ORed into guest_rpte (note_hpte_modification)",
                      self.src_unmap)

    def _invalidate(self, hpte: Hpte) -> tuple[bool, bool]:
        """kvmppc_invalidate_hpte: clear VALID and tlbie the entry; R/C as they were."""
        hpte.valid = False
        self.flush(f"tlbie HPTE {hpte.index:#x} ({HPTE_SIZES[hpte.pages]} page at gfn "
                   f"{hpte.gfn:#x})", self.src_invalidate)
        return hpte.r, hpte.c

    # -- views ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        out = self.hpt.snapshot()
        out.update(self.dirty.snapshot())
        return dict(sorted(out.items()))

    def lookup(self, gfn: int) -> Mapping | None:
        for h in self.hpt.hptes.values():
            if h.valid and h.gfn <= gfn < h.gfn + h.pages:
                return Mapping(h.pfn, h.pages, h.perms)
        return None

    def view(self, gfn: int) -> list[dict]:
        rmap = self.hpt.rmaps.get(gfn, Rmap())
        rows: list[dict] = [{"rmap": f"gfn {gfn:#x}", **rmap.to_dict()}]
        covering = [h for h in self.hpt.hptes.values() if h.gfn <= gfn < h.gfn + h.pages]
        rows += [{"hpte": hex(h.index), **h.to_dict()} for h in covering]
        return rows
