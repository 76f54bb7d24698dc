"""PowerPC BookE e500 shadow TLB (arch/powerpc/kvm/e500_mmu_host.c), v3.7 to v6.9.

The guest owns an emulated TLB; for each guest TLB entry KVM keeps a
``struct tlbe_ref`` (host pfn and flags, E500_TLB_VALID among them), and the
actual shadow translations are host hardware TLB entries written with tlbwe.

Modelled here (own small structures, no radix table), for one vCPU (the
notifier hooks touch no per-vCPU state, so a second vCPU would add nothing):

* the guest TLB0 entries the guest has written (guest state, indexed by EPN;
  the set/way geometry of the emulated TLB0 is not modelled);
* ``gtlb_priv[0]``: one ``TlbeRef`` per guest TLB0 entry (gfn, pfn, flags);
* the host TLB0: 4 KiB host entries, indexed by EPN (the tlbsx victim choice
  is not modelled).

Assumption (guest TLB emulation, e500_mmu.c, is not in the research note): a
guest access to gfn goes through a valid 4 KiB guest TLB0 entry that the guest
wrote with tlbwe, identity-mapped (eaddr = gpa) with supervisor read, write and
execute, as a Linux guest does for ordinary pages.

The notifier hooks do nothing but return true: the work happens later, when
each vCPU serves KVM_REQ_TLB_FLUSH at its next entry (``serve_tlb_flush``,
which the engine never runs because it lies outside change_pte).

Releases (``switches``): e500 gets MMU notifiers in v3.7 (before, tlbe_refs held page
references).  From v3.7 to v5.12 the hooks call kvm_flush_remote_tlbs themselves and
return 0 (void until v5.0), so the generic layer never flushes: the same whole-guest
deferred flush, requested by the arch.  v5.13 (b1c5356e873c) moves that request to the
generic layer by returning true.  The fault path's mmu_notifier_retry check (and WIMGE from
the host PTE) arrives between v3.11 and v3.18 (dated v3.12, UNVERIFIED).
"""

from __future__ import annotations

from kvmspte.records import record, replace

from kvmspte.arches.ppc_eras import COPIES as ERA_COPIES
from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import GfnRange, Memslot
from kvmspte.sim import faultretry
from kvmspte.plugins.contract import ArchModel, CannotExist, FaultResult, Mapping
from kvmspte.sim.pagetable import PAGE_SHIFT
from kvmspte.sim.release import Release, Switch, Switches
from kvmspte.sim.source import Source

HOST_C = "arch/powerpc/kvm/e500_mmu_host.c"
BOOKE_C = "arch/powerpc/kvm/booke.c"
MAIN_C = "virt/kvm/kvm_main.c"

VIA_HOOKS = ("as quoted by <20240405115815.3226315-2-pbonzini@redhat.com> (5 Apr 2024, hunk at "
             "line 747; merged for v6.10, so v6.9 has this code) and the 2021 gfn-based "
             "notifier conversion; unchanged between them")
VIA_MAP = ("structure from torvalds/linux copy 03b755b2 (v6.13-rc7, after v6.9); v6.9 shape "
           "from the '-' side of the 6.1-stable backport of c9be85dabb37 and Sean "
           "Christopherson's 2024 e500 patches")
VIA_GUP = ("generic lookup as read for notes/x86.md (S9): a write lookup on a KVM_MEM_READONLY "
           "slot gets KVM_HVA_ERR_RO_BAD and an error pfn")

# change_pte / unmap
SRC_SET = Source(HOST_C, "kvm_set_spte_gfn", via=VIA_HOOKS)
SRC_UNMAP = Source(HOST_C, "kvm_unmap_gfn_range", via=VIA_HOOKS)
SRC_E500_UNMAP = Source(HOST_C, "kvm_e500_mmu_unmap_gfn", via=VIA_HOOKS)
# fault path
SRC_MMU_MAP = Source(HOST_C, "kvmppc_mmu_map", via=VIA_MAP)
SRC_TLB0_MAP = Source(HOST_C, "kvmppc_e500_tlb0_map", via=VIA_MAP)
SRC_SHADOW_MAP = Source(HOST_C, "kvmppc_e500_shadow_map", via=VIA_MAP)
SRC_REF_SETUP = Source(HOST_C, "kvmppc_e500_ref_setup", via=VIA_MAP)
SRC_SETUP_STLBE = Source(HOST_C, "kvmppc_e500_setup_stlbe", via=VIA_MAP)
SRC_WRITE_TLBE = Source(HOST_C, "write_host_tlbe", via=VIA_MAP)
SRC_GFN_TO_PFN = Source(MAIN_C, "__gfn_to_pfn_memslot", via=VIA_GUP)
# the deferred flush (outside change_pte)
SRC_CHECK_REQUESTS = Source(BOOKE_C, "kvmppc_core_check_requests",
                            via="several copies; the TLB-flush request part is the same")
SRC_FLUSH_TLB = Source(HOST_C, "kvmppc_core_flush_tlb", via=VIA_MAP)
SRC_CLEAR_PRIVS = Source(HOST_C, "clear_tlb_privs", via=VIA_MAP)

# -- older releases ------------------------------------------------------------------------
TLB_C = "arch/powerpc/kvm/e500_tlb.c"
VIA_37 = ("stored copy 63171175 (e500_tlb.c era, judged v3.7: tlb_refs[1], single-hva "
          "kvm_age_hva, void kvm_set_spte_hva): kvm_set_spte_hva -> kvm_unmap_hva, which calls "
          "kvm_flush_remote_tlbs and returns 0; identical in the v3.8.13 copy 11275820060 "
          "(e500_mmu_host.c) and copy 11273239 (v4.5-v4.12)")
VIA_50 = ("<20181013145406.4911-5-Tianyu.Lan@microsoft.com> (copy 31375062387; 748c0e312fce, "
          "v5.0): kvm_set_spte_hva returns int 0 after the static kvm_unmap_hva flushed; the "
          "same on the '-' side of copy 2132829017 (v5.12)")
VIA_RETRY = ("absent in copies 63171175 (v3.7), 11275820060 (v3.8.13) and the v3.10 HEAD side of "
             "merge copy 25663444939; present on its v3.18 side and in copy 11273239: "
             "kvmppc_e500_shadow_map snapshots mmu_notifier_seq, takes mmu_lock, returns "
             "-EAGAIN on mmu_notifier_retry, takes WIMGE from the host PTE; dated v3.12 "
             "(Bharat Bhushan's 2013 'use cache attributes from linux pte' work, from memory) "
             "UNVERIFIED")


SRC_SET_37 = Source(TLB_C, "kvm_set_spte_hva", "v3.7", VIA_37)
SRC_UNMAP_HVA_37 = Source(TLB_C, "kvm_unmap_hva", "v3.7", VIA_37)
SRC_UNMAP_RANGE_37 = Source(TLB_C, "kvm_unmap_hva_range", "v3.7", VIA_37)
VIA_38 = (f"copy 11275820060 (v3.8.13, e500_mmu_host.c after the e500_tlb.c split): the same "
          f"hooks; {VIA_37}")
SRC_SET_38 = Source(HOST_C, "kvm_set_spte_hva", "v3.8", VIA_38)
SRC_UNMAP_HVA_38 = Source(HOST_C, "kvm_unmap_hva", "v3.8", VIA_38)
SRC_UNMAP_RANGE_38 = Source(HOST_C, "kvm_unmap_hva_range", "v3.8", VIA_38)
SRC_SET_50 = Source(HOST_C, "kvm_set_spte_hva", "v5.0", VIA_50)
SRC_SHADOW_MAP_37 = Source(TLB_C, "kvmppc_e500_shadow_map", "v3.7",
                           "stored copy 63171175: gfn_to_pfn_memslot (a write lookup), no "
                           "mmu_notifier_seq snapshot and no retry check; the rest of the "
                           "model's fault path is the v6.9 one")
SRC_SHADOW_MAP_312 = Source(HOST_C, "kvmppc_e500_shadow_map", "v3.12", VIA_RETRY)
SRC_SHADOW_MAP_38 = Source(HOST_C, "kvmppc_e500_shadow_map", "v3.8",
                           "copy 11275820060 (v3.8.13 e500_mmu_host.c): gfn_to_pfn_memslot, "
                           "then ref_setup, with no mmu_notifier_seq snapshot, no mmu_lock and "
                           "no retry check")

#: e500_tlb.c is split into e500_mmu.c / e500_mmu_host.c by v3.8 (copy 11275820060): file
#: names in citations only, no behaviour changes
SPLIT = Release(3, 8)

ARRIVED = Switch("arrived", Release(3, 7), "unverified (Alexander Graf, 2012, 'E500: "
                 "Implement MMU notifiers')", "KVM_ARCH_WANT_MMU_NOTIFIER for e500; the hooks "
                 "flush every shadow TLB entry", SRC_UNMAP_HVA_37)
SWITCHES = Switches((
    Switch("fault-retry", Release(3, 12), "unverified",
           "kvmppc_e500_shadow_map checks mmu_notifier_retry under mmu_lock and takes WIMGE "
           "from the host PTE", SRC_SHADOW_MAP_312),
    Switch("int-return", Release(5, 0), "748c0e312fce",
           "kvm_set_spte_hva returns int 0 (after its own flush): generic code never flushes",
           SRC_SET_50),
    Switch("gfn-hooks", Release(5, 13), "b1c5356e873c",
           "kvm_e500_mmu_unmap_gfn no longer flushes and returns true: the generic layer "
           "issues kvm_flush_remote_tlbs", SRC_E500_UNMAP),
))

E500_TLB_VALID = "E500_TLB_VALID"
TSIZE_4K = "4K"


@record(frozen=True, slots=True)
class GuestTlbe:
    """A guest TLB0 entry (guest state): EPN -> gfn, 4 KiB, with its MAS3 permissions."""

    epn: int
    gfn: int
    perms: str

    @property
    def writable(self) -> bool:
        return "w" in self.perms

    def to_dict(self) -> dict:
        return {"epn": hex(self.epn), "gfn": hex(self.gfn), "tsize": TSIZE_4K,
                "perms": self.perms}


@record(frozen=True, slots=True)
class TlbeRef:
    """struct tlbe_ref: the host pfn behind a guest entry, and its flags."""

    gfn: int
    pfn: int
    flags: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return E500_TLB_VALID in self.flags

    def to_dict(self) -> dict:
        return {"gfn": hex(self.gfn), "pfn": hex(self.pfn), "valid": self.valid,
                "flags": list(self.flags)}


@record(frozen=True, slots=True)
class HostTlbe:
    """A host TLB0 entry as write_host_tlbe writes it (MAS1/MAS2/MAS7_3 in short)."""

    epn: int
    pfn: int
    perms: str
    tsize: str = TSIZE_4K

    def to_dict(self) -> dict:
        return {"epn": hex(self.epn), "pfn": hex(self.pfn), "tsize": self.tsize,
                "perms": self.perms, "valid": True}


class VcpuE500:
    """One vCPU's guest TLB0, its tlbe_refs (gtlb_priv[0]) and the host TLB0 it fills."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.gtlb0: dict[int, GuestTlbe] = {}
        self.refs: dict[int, TlbeRef] = {}
        self.host_tlb0: dict[int, HostTlbe] = {}


class Model(ArchModel):
    id = "ppc-e500"
    fault_retry = faultretry.PPC_E500
    #: before v3.12 kvmppc_e500_shadow_map takes no sequence snapshot and makes no retry check
    fault_retry_before = ("fault-retry", ((ARRIVED.since, SRC_SHADOW_MAP_37),
                                          (SPLIT, SRC_SHADOW_MAP_38)))
    family = "powerpc"
    title = "PowerPC BookE e500 (shadow TLB with tlbe_refs)"
    hooks = {
        "fault_in": (SRC_MMU_MAP, SRC_TLB0_MAP, SRC_SHADOW_MAP, SRC_GFN_TO_PFN, SRC_REF_SETUP,
                     SRC_SETUP_STLBE, SRC_WRITE_TLBE),
        "unmap_gfn_range": (SRC_UNMAP, SRC_E500_UNMAP),
        "set_spte_gfn": (SRC_SET, SRC_E500_UNMAP),
    }
    chain = (SRC_SET, SRC_E500_UNMAP)
    findings = (
        "On e500, kvm_set_spte_gfn returns true (it calls kvm_e500_mmu_unmap_gfn, which "
        "touches nothing and returns true), so every change_pte that reaches it makes the "
        "generic code request a remote TLB flush (kvm_flush_remote_tlbs) even though nothing "
        "changed: arch/powerpc/kvm/e500_mmu_host.c:kvm_set_spte_gfn @ v6.9 (as quoted by "
        "<20240405115815.3226315-2-pbonzini@redhat.com>).",
    )

    arrived = ARRIVED
    switches = SWITCHES
    copies = ERA_COPIES

    def __init__(self, trace, options=None, kernel=None) -> None:
        super().__init__(trace, options, kernel)
        self.vcpu = VcpuE500(0)
        split = self.kernel >= SPLIT
        self.src_set = (SRC_SET_50 if self.since("int-return") else
                        SRC_SET_38 if split else SRC_SET_37)
        self.src_unmap_hva = SRC_UNMAP_HVA_38 if split else SRC_UNMAP_HVA_37
        self.src_unmap_range = SRC_UNMAP_RANGE_38 if split else SRC_UNMAP_RANGE_37
        self.src_shadow = (SRC_SHADOW_MAP if self.since("gfn-hooks") else SRC_SHADOW_MAP_312
                           if self.since("fault-retry") else SRC_SHADOW_MAP_37)
        self.src_shadow = self.cite(self.src_shadow)


    @classmethod
    def hooks_at(cls, kernel: Release) -> dict[str, tuple[Source, ...]]:
        if kernel >= SWITCHES.get("gfn-hooks").since:
            return super().hooks_at(kernel)
        shadow = SRC_SHADOW_MAP_312 if kernel >= SWITCHES.get("fault-retry").since \
            else SRC_SHADOW_MAP_37
        fault = tuple(shadow if x is SRC_SHADOW_MAP else x for x in cls.hooks["fault_in"])
        split = kernel >= SPLIT
        set_src = (SRC_SET_50 if kernel >= SWITCHES.get("int-return").since else
                   SRC_SET_38 if split else SRC_SET_37)
        hva = SRC_UNMAP_HVA_38 if split else SRC_UNMAP_HVA_37
        return {"fault_in": fault,
                "unmap_gfn_range": (SRC_UNMAP_RANGE_38 if split else SRC_UNMAP_RANGE_37, hva),
                "set_spte_gfn": (set_src, hva)}

    # -- fault ----------------------------------------------------------------------
    def fault_in(self, slot: Memslot, gfn: int, host: HostMM, write: bool) -> FaultResult:
        """A guest TLB miss on vCPU 0 that hits the guest's TLB0 entry for gfn."""
        epn = gfn  # identity-mapped: eaddr = gpa
        if epn not in self.vcpu.gtlb0:
            self.vcpu.gtlb0[epn] = GuestTlbe(epn, gfn, "rwx")
        self.step(f"guest {'write' if write else 'read'} to eaddr {epn << PAGE_SHIFT:#x} hits "
                  f"its 4 KiB TLB0 entry -> gpa {gfn << PAGE_SHIFT:#x}: kvmppc_mmu_map",
                  SRC_MMU_MAP)
        self.mmu_map(slot, epn, host)
        return FaultResult(1, self._why_4k(slot, gfn, host), self.cite(SRC_SHADOW_MAP))

    def mmu_map(self, slot: Memslot, epn: int, host: HostMM) -> None:
        """kvmppc_mmu_map for a guest TLB0 entry: a VALID ref is reused as it is,
        otherwise kvmppc_e500_tlb0_map looks the page up again."""
        v, gtlbe = self.vcpu, self.vcpu.gtlb0[epn]
        ref = v.refs.get(epn)
        if ref is not None and ref.valid:
            self.step(f"tlbe_ref already VALID: reuse its cached pfn {ref.pfn:#x} without "
                      "looking at the host page tables", SRC_MMU_MAP)
        else:
            self.step("tlbe_ref not VALID: kvmppc_e500_tlb0_map", SRC_TLB0_MAP)
            ref = self._shadow_map(slot, gtlbe, host)
        self._write_host_tlbe(gtlbe, ref)

    def _shadow_map(self, slot: Memslot, gtlbe: GuestTlbe, host: HostMM) -> TlbeRef:
        """kvmppc_e500_shadow_map for a guest TLB0 entry (tlbsel 0): no VMA sizing, a
        4 KiB page looked up for write, WIMGE from the host PTE, then ref_setup."""
        hva = slot.gfn_to_hva(gtlbe.gfn)
        retry = self.since("fault-retry")
        self.step(("snapshot mmu_invalidate_seq; " if retry else "")
                  + f"hva {hva:#x}; guest TLB0 entry: tsize 4 KiB, "
                  "no VMA lookup (that is done for guest TLB1 only)", self.src_shadow)
        pfn = self._gfn_to_pfn_for_write(slot, gtlbe.gfn, host)
        if retry:
            self.step("take mmu_lock; no invalidation is in progress; the host Linux PTE is "
                      "present: take its WIMGE bits", self.src_shadow)
        else:
            self.step("no mmu_lock and no mmu_notifier_retry check on this path; WIMGE from "
                      "the guest entry", self.src_shadow)
        return self._ref_setup(gtlbe, pfn)

    def _gfn_to_pfn_for_write(self, slot: Memslot, gfn: int, host: HostMM) -> int:
        """gfn_to_pfn_memslot: always a write lookup, so the shadow can only ever point at
        a page the host lets this process write."""
        if slot.readonly:
            raise CannotExist(
                f"gfn {gfn:#x}: kvmppc_e500_shadow_map looks the pfn up for write "
                "(gfn_to_pfn_memslot); on a KVM_MEM_READONLY memslot that lookup returns an "
                "error pfn and the fault fails with -EINVAL, so nothing is ever mapped",
                SRC_GFN_TO_PFN)
        hva = slot.gfn_to_hva(gfn)
        hp = host.pte(hva)
        if not (hp.present and hp.write):
            if not hp.vma_write:
                raise CannotExist(
                    f"gfn {gfn:#x}: kvmppc_e500_shadow_map looks the pfn up for write "
                    "(gfn_to_pfn_memslot) and the VMA has no VM_WRITE, so the lookup fails "
                    "and nothing is mapped", self.src_shadow)
            hp = host.break_cow(hva, "kvmppc_e500_shadow_map looks the pfn up for write "
                                     "(gfn_to_pfn_memslot)")
            self.step(f"the write lookup breaks CoW in the host: private copy pfn {hp.pfn:#x}",
                      self.src_shadow)
        self.step(f"gfn_to_pfn_memslot (write lookup): pfn {hp.pfn:#x}", self.src_shadow)
        return hp.pfn

    def _ref_setup(self, gtlbe: GuestTlbe, pfn: int) -> TlbeRef:
        """kvmppc_e500_ref_setup: pfn and VALID (plus attribute bits, not modelled); the
        pfn is marked accessed, and dirty when the guest entry is writable."""
        ref = TlbeRef(gtlbe.gfn, pfn, (E500_TLB_VALID,))
        self.vcpu.refs[gtlbe.epn] = ref
        dirty = " and dirty (guest entry is writable)" if gtlbe.writable else ""
        self.step(f"tlbe_ref: pfn {pfn:#x}, flags VALID; mark the pfn accessed{dirty}",
                  SRC_REF_SETUP)
        return ref

    def _write_host_tlbe(self, gtlbe: GuestTlbe, ref: TlbeRef) -> None:
        """kvmppc_e500_setup_stlbe + write_host_tlbe: a 4 KiB host TLB0 entry with the
        guest's permissions (host writability is not consulted at v6.9)."""
        stlbe = HostTlbe(gtlbe.epn, ref.pfn, gtlbe.perms)
        self.step(f"shadow entry: MAS1 tsize 4K valid; MAS2 epn {gtlbe.epn:#x}; MAS7_3 pfn "
                  f"{ref.pfn:#x} with guest permissions {gtlbe.perms}", SRC_SETUP_STLBE)
        self.vcpu.host_tlb0[gtlbe.epn] = stlbe
        self.step(f"tlbwe into host TLB0 (epn {gtlbe.epn:#x} -> pfn {ref.pfn:#x})",
                  SRC_WRITE_TLBE)

    @staticmethod
    def _why_4k(slot: Memslot, gfn: int, host: HostMM) -> str:
        base = ("kvmppc_e500_shadow_map maps a guest TLB0 entry with one 4 KiB host TLB0 entry, "
                "and sizes above 4 KiB only for guest TLB1 entries in hugetlb or VM_PFNMAP VMAs")
        if host.mapping_pages(slot.gfn_to_hva(gfn)) > 1:
            return f"{base}; a transparent huge page is not considered"
        return base

    # -- unmap and change_pte ---------------------------------------------------------
    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        if not self.since("gfn-hooks"):
            self.step("kvm_unmap_hva_range -> kvm_unmap_hva(start)", self.src_unmap_range)
            return self._unmap_hva_flush()
        self.step("kvm_unmap_gfn_range returns kvm_e500_mmu_unmap_gfn", SRC_UNMAP)
        return self._e500_unmap_gfn()

    def set_spte_gfn(self, rng: GfnRange) -> bool:
        if not self.since("gfn-hooks"):
            self.step(f"kvm_set_spte_hva -> kvm_unmap_hva; the new host PTE (pfn "
                      f"{rng.pte.pfn:#x}, present={rng.pte.present}) is not read",
                      self.src_set)
            return self._unmap_hva_flush()
        self.step(f"the new host PTE (pfn {rng.pte.pfn:#x}, present={rng.pte.present}) is not "
                  "read: the page is remapped on its next fault; kvm_e500_mmu_unmap_gfn",
                  SRC_SET)
        return self._e500_unmap_gfn()

    def _e500_unmap_gfn(self) -> bool:
        """kvm_e500_mmu_unmap_gfn: changes nothing and asks generic code to flush every
        shadow TLB entry everywhere."""
        self.step("kvm_e500_mmu_unmap_gfn touches no tlbe_ref and no host TLB entry, and "
                  "returns true so that generic code flushes all shadow TLB entries",
                  SRC_E500_UNMAP)
        return True

    def _unmap_hva_flush(self) -> bool:
        """v3.7-v5.12 kvm_unmap_hva: the arch itself requests the whole-guest flush and
        returns 0, so generic code has nothing to flush."""
        self.flush_remote_tlbs("kvm_flush_remote_tlbs: KVM_REQ_TLB_FLUSH on every vCPU; each runs "
                   "kvmppc_core_flush_tlb at its next guest entry", self.src_unmap_hva)
        self.step("touches no tlbe_ref and no host TLB entry now; returns 0"
                  + (" (an int since v5.0)" if self.since("int-return") else
                     " (kvm_set_spte_hva is void)"), self.src_unmap_hva)
        return False

    # -- the deferred flush (a vCPU's next entry; never run by the engine) --------------
    def serve_tlb_flush(self) -> None:
        """KVM_REQ_TLB_FLUSH at the next guest entry: kvmppc_core_flush_tlb invalidates
        every host TLB entry of the guest and clears every tlbe_ref's flags."""
        v = self.vcpu
        self.step("KVM_REQ_TLB_FLUSH pending: kvmppc_core_flush_tlb", SRC_CHECK_REQUESTS)
        v.host_tlb0.clear()
        self.flush("kvmppc_e500_tlbil_all: invalidate every host TLB entry of the guest",
                   SRC_FLUSH_TLB)
        for epn, ref in v.refs.items():
            if ref.valid:
                v.refs[epn] = replace(ref, flags=())
        self.step(f"clear_tlb_privs: {len(v.refs)} tlbe_ref(s) now have no flags",
                  SRC_CLEAR_PRIVS)

    # -- views ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        v, out = self.vcpu, {}
        for epn, g in v.gtlb0.items():
            out[f"vcpu{v.index} guest TLB0 epn {epn:#x}"] = g.to_dict()
        for epn, ref in v.refs.items():
            out[f"vcpu{v.index} tlbe_ref TLB0 epn {epn:#x}"] = ref.to_dict()
        for epn, t in v.host_tlb0.items():
            out[f"host TLB0 epn {epn:#x}"] = t.to_dict()
        return dict(sorted(out.items()))

    def lookup(self, gfn: int) -> Mapping | None:
        v = self.vcpu
        for epn, ref in v.refs.items():
            host = v.host_tlb0.get(epn)
            if ref.gfn == gfn and ref.valid and host is not None:
                return Mapping(host.pfn, 1, host.perms)
        return None

    def view(self, gfn: int) -> list[dict]:
        v, rows = self.vcpu, []
        for epn, g in v.gtlb0.items():
            if g.gfn != gfn:
                continue
            ref, host = v.refs.get(epn), v.host_tlb0.get(epn)
            rows.append({"guest_tlbe": g.to_dict(),
                         "tlbe_ref": ref.to_dict() if ref else None,
                         "host_tlbe": host.to_dict() if host else None})
        return rows or [{"gfn": hex(gfn), "guest_tlbe": "none"}]
