"""Read-only memslots and the KVM_MEMSLOT_INVALID copy of a slot, release by release
(kvmspte.sim.memslot).  What each arrival rests on, as read:

* KVM_MEM_READONLY: 4d8b81abc47b 'KVM: introduce readonly memslot' (v3.7), whose
  include/linux/kvm.h hunk defines the flag and KVM_CAP_READONLY_MEM under
  __KVM_HAVE_READONLY_MEM and whose arch/x86/include/asm/kvm.h hunk defines that for x86
  (gitiles mirrors of the commit).  Before it, virt/kvm/kvm_main.c:__kvm_set_memory_region
  (the pre-2.6.32 copy, stored id 428910408) copies mem->flags unchecked and reads only
  KVM_MEM_LOG_DIRTY_PAGES.
* arm/arm64: 98047888bb9f 'arm/arm64: KVM: Support KVM_CAP_READONLY_MEM' (v3.18, by memory
  of the KVM/ARM 3.18 merge; no dated copy found).
* MIPS: 'KVM: MIPS: Claim KVM_CAP_READONLY_MEM support' in the kvm_mips_4.11_1 pull (stored
  ids 48100336259, 48547031307).
* RISC-V and LoongArch: the define is in the uapi header from the port on (kvmtool's copy of
  the RISC-V header, stored id 39552213304; the LoongArch port patch, stored id 7155974847).
* powerpc: never (the v6.9 Kconfig select by 8886640dade4 skips it, as the header did).
* KVM_MEMSLOT_INVALID: bc6678a33d9b (v2.6.34, authored 23 Dec 2009; Fixes tag in stored id
  16586515607); in the pre-2.6.32 copy a deletion flushes the shadow MMU and then replaces
  the slot under mmu_lock, with no flagged copy.  The publishing function: inline in
  __kvm_set_memory_region, kvm_set_memslot from v5.7 (stored id 19961860862),
  kvm_invalidate_memslot from v5.17 (stored id 1291887927).
"""

from __future__ import annotations

import pytest

from kvmspte.plugins import registry
from kvmspte.scenarios.definition import Scenario
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim import memslot
from kvmspte.sim.engine import run
from kvmspte.sim.kvm import GENERIC
from kvmspte.sim.release import FIRST, REMOVED, Release


def _releases():
    out, r = [], REMOVED
    while r >= FIRST:
        out.append(r)
        r = r.previous()
    return out[::-1]


RO = Scenario("ro", "", "ksm-replace-page", readonly=True)
INVALID = Scenario("inv", "", "ksm-replace-page", invalid=True)


def test_generic_arrivals_and_their_commits():
    assert GENERIC.get("readonly-mem").since == Release(3, 7)
    assert GENERIC.get("readonly-mem").commit == "4d8b81abc47b"
    assert GENERIC.get("memslot-invalid").since == Release(2, 6, 34)
    assert GENERIC.get("memslot-invalid").commit == "bc6678a33d9b"


@pytest.mark.parametrize("arch_id,since", [
    ("x86-shadow", Release(3, 7)), ("x86-tdp", Release(3, 7)), ("arm64", Release(3, 18)),
    ("mips", Release(4, 11)), ("riscv", Release(5, 16)), ("loongarch", Release(6, 7)),
    ("ppc-hv-hpt", None), ("ppc-hv-radix", None), ("ppc-pr", None), ("ppc-e500", None)])
def test_each_arch_accepts_read_only_memslots_from_its_release(arch_id, since):
    model = registry.models()[arch_id]
    table = memslot.readonly_table(model.readonly_mem)
    if since is None:
        assert model.readonly_mem is None and not len(table)
        return
    assert table.get("readonly-mem").since == since
    before, at = since.previous(), since
    assert memslot.readonly_refusal(model.readonly_mem, at) is None
    why = memslot.readonly_refusal(model.readonly_mem, before)
    assert why is not None and why[1].function in ("check_memory_region_flags",
                                                    "__kvm_set_memory_region")


def test_before_3_7_no_arch_has_a_read_only_memslot():
    for model in registry.models().values():
        why = memslot.readonly_refusal(model.readonly_mem, Release(3, 6))
        assert why is not None
        assert why[1].function == "__kvm_set_memory_region" and why[1].release == "v2.6.32"


def test_arm64_read_only_scenario_is_na_between_its_port_and_3_18():
    arm64 = registry.models()["arm64"]
    res = run(RO, arm64, kernel=Release(3, 17))
    assert res.verdict == "n/a"
    assert res.reason_source.function == "check_memory_region_flags"
    assert "v3.18" in res.reason
    assert run(RO, arm64, kernel=Release(3, 18)).verdict != "n/a"
    assert res.span.end == Release(3, 18)


def test_x86_shadow_read_only_scenario_is_na_before_the_flag():
    shadow = registry.models()["x86-shadow"]
    res = run(RO, shadow, kernel=Release(3, 6))
    assert res.verdict == "n/a" and "v3.7" in res.reason
    assert run(RO, shadow, kernel=Release(3, 7)).verdict != "n/a"


def test_invalid_slot_scenario_is_na_before_the_flagged_copy():
    shadow = registry.models()["x86-shadow"]
    res = run(INVALID, shadow, kernel=Release(2, 6, 33))
    assert res.verdict == "n/a"
    assert (res.reason_source.function, res.reason_source.release) == (
        "__kvm_set_memory_region", "v2.6.32")
    assert run(INVALID, shadow, kernel=Release(2, 6, 34)).verdict != "n/a"


@pytest.mark.parametrize("kernel,function", [
    ("2.6.34", "__kvm_set_memory_region"), ("5.6", "__kvm_set_memory_region"),
    ("5.7", "kvm_set_memslot"), ("5.16", "kvm_set_memslot"),
    ("5.17", "kvm_invalidate_memslot"), ("6.9", "kvm_invalidate_memslot")])
def test_the_invalid_copy_is_cited_at_the_function_of_its_era(kernel, function):
    res = run(INVALID, registry.models()["x86-shadow"], kernel=Release.parse(kernel))
    step = [s for s in res.trace if "KVM_MEMSLOT_INVALID set" in s.text]
    assert [s.source.function for s in step] == [function]


def test_memslot_citations_are_never_later_than_the_run():
    """At every release 2.6.32..6.10 and on every model: the read-only refusal, the arch's
    grant and the invalid-slot citation each rest on a copy no later than the run."""
    late = []
    for kernel in _releases():
        inv = memslot.invalidation(kernel)
        refusal = memslot.invalid_refusal(kernel)
        cited = [s for s in (inv and inv[1], refusal and refusal[1]) if s]
        for model in registry.models().values():
            why = memslot.readonly_refusal(model.readonly_mem, kernel)
            cited.append(why[1] if why else memslot.readonly_source(model.readonly_mem, kernel))
        late += [(str(kernel), str(s)) for s in cited if Release.parse(s.release) > kernel]
        assert (inv is None) != (refusal is None), kernel
    assert not late, late[:10]


def test_catalogue_read_only_and_invalid_citations_in_runs_are_not_later():
    cat = catalogue()
    scenarios = [sc for sc in cat.values() if sc.readonly or sc.invalid]
    late = []
    for kernel in _releases():
        for sc in scenarios:
            for model in registry.models().values():
                res = run(sc, model, kernel=kernel)
                srcs = [s.source for s in res.trace if s.source is not None and
                        "KVM_MEMSLOT_INVALID set" in s.text]
                if res.verdict == "n/a" and res.reason_source is not None:
                    srcs.append(res.reason_source)
                late += [(str(kernel), sc.name, model.id, str(s)) for s in srcs
                         if Release.parse(s.release) > kernel]
    assert not late, late[:10]


def test_expect_at_tables_hold():
    cat = catalogue()
    for name in ("ksm-merge-readonly", "ksm-merge-invalid-slot"):
        sc = cat[name]
        for key, table in sc.expect_at.items():
            kernel = Release.parse(key)
            for arch_id, verdict in table.items():
                got = run(sc, registry.models()[arch_id], kernel=kernel).verdict
                assert got == verdict, (name, key, arch_id)
