"""Which retry check each architecture's vCPU fault path makes before it installs a mapping.

Every fault path snapshots ``mmu_invalidate_seq`` before it looks the host pfn up and, under
mmu_lock, asks a predicate from include/linux/kvm_host.h whether an invalidation raced with
it.  Two exist at v6.9 (``kvmspte.kvm.retry_vm`` and ``kvmspte.kvm.retry_gfn``); which one an
arch calls is read here from its fault path, and each arch model declares it as
``fault_retry``.  Kept outside arches/ so that a model only names its entry.

Copies read (none is a clean v6.9 tree; each is dated by its content):

- the v6.1 rename diff 20ec3ebd707c 'KVM: Rename mmu_notifier_* to mmu_invalidate_*'
  (stored id 37319166717), which shows every arch's call site as it was at v6.1;
- for x86, Sean Christopherson's <20240209222858.396696-2-seanjc@google.com> (v4 1/4,
  merged for v6.9; stored id 37705756334), whose context shows is_page_fault_stale ending in
  mmu_invalidate_retry_gfn, and which adds lockless pre-checks of the same ranged predicate;
- for LoongArch (merged in v6.7, after the rename), the v6.8-cycle patch that converts its
  kvm_map_page from mmu_invalidate_retry_hva to mmu_invalidate_retry_gfn (stored id
  37314325025) and a stored copy of kvm_map_page after it (stored id 104666440);
- later copies of arm64 user_mem_abort (stored id 22419578) and RISC-V kvm_riscv_gstage_map
  (stored ids 335559122, 783676262) still call the VM-wide predicate, so v6.9, between the
  rename and them, does too.
"""

from __future__ import annotations

from kvmspte.sim.kvm import RETRY_GFN, RETRY_VM
from kvmspte.sim.source import Source

_RENAME = "v6.1 rename diff 20ec3ebd707c (stored id 37319166717)"

X86 = (RETRY_GFN, Source(
    "arch/x86/kvm/mmu/mmu.c", "is_page_fault_stale",
    via="context of <20240209222858.396696-2-seanjc@google.com> (merged for v6.9, stored id "
        "37705756334): the locked check is mmu_invalidate_retry_gfn on fault->gfn; "
        "kvm_faultin_pfn's lockless pre-checks use the same ranged test, and any retry they "
        "decide the locked check would decide too, so only the locked one is modelled"))
ARM64 = (RETRY_VM, Source(
    "arch/arm64/kvm/mmu.c", "user_mem_abort",
    via=f"{_RENAME}; still the VM-wide call in a later copy (stored id 22419578)"))
RISCV = (RETRY_VM, Source(
    "arch/riscv/kvm/mmu.c", "kvm_riscv_gstage_map",
    via=f"{_RENAME}; same call in copies either side of v6.9 (stored ids 335559122, 783676262)"))
MIPS = (RETRY_VM, Source(
    "arch/mips/kvm/mmu.c", "kvm_mips_map_page",
    via=f"{_RENAME}; the check is in kvm_mips_map_page (the slow path), not in "
        "_kvm_mips_map_page_fast, which never installs a new pfn"))
LOONGARCH = (RETRY_GFN, Source(
    "arch/loongarch/kvm/mmu.c", "kvm_map_page",
    via="the v6.8-cycle hva->gfn conversion (stored id 37314325025) and a copy after it "
        "(stored id 104666440): mmu_invalidate_retry_gfn under mmu_lock"))
PPC_HV_RADIX = (RETRY_VM, Source(
    "arch/powerpc/kvm/book3s_64_mmu_radix.c", "kvmppc_create_pte",
    via=f"{_RENAME}; kvmppc_book3s_instantiate_page reads the sequence, kvmppc_create_pte "
        "checks it under mmu_lock"))
PPC_HV_HPT = (RETRY_VM, Source(
    "arch/powerpc/kvm/book3s_64_mmu_hv.c", "kvmppc_book3s_hv_page_fault",
    via=f"{_RENAME}; checked under the rmap lock (H_ENTER's kvmppc_do_h_enter does the same)"))
PPC_PR = (RETRY_VM, Source(
    "arch/powerpc/kvm/book3s_64_mmu_host.c", "kvmppc_mmu_map_page", via=_RENAME))
PPC_E500 = (RETRY_VM, Source(
    "arch/powerpc/kvm/e500_mmu_host.c", "kvmppc_e500_shadow_map", via=_RENAME))
