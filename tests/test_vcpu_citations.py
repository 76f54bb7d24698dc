"""The vCPU side cites, at every release, only code of that release or earlier.

Project rule: a citation names the file, function and release it was read at, true for the
release being modelled.  The vCPU fault's generic lookup and retry predicates were renamed
over the releases (kvmspte.sim.vcpu), so these tests run every release 2.6.32..6.10 where a
model exists.
"""

from __future__ import annotations

import pytest

from kvmspte.plugins import registry
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim import engine, kvm, vcpu
from kvmspte.sim.release import Release


def releases() -> list[Release]:
    out = [Release(2, 6, m) for m in range(32, 40)]
    for major, last in ((3, 19), (4, 20), (5, 19), (6, 10)):
        out += [Release(major, m) for m in range(last + 1)]
    return out


def late(source, kernel: Release) -> bool:
    return Release.parse(source.release) > kernel


@pytest.mark.parametrize("kernel", releases(), ids=str)
def test_the_engine_vcpu_step_never_cites_a_later_release(kernel):
    scenarios = catalogue()
    for model in registry.models().values():
        for sc in scenarios.values():
            res = engine.run(sc, model, kernel=kernel)
            bad = [(s.source.function, s.source.release) for s in res.trace
                   if s.actor == "vcpu" and s.source and late(s.source, kernel)]
            assert not bad, (model.id, sc.name, bad)


@pytest.mark.parametrize("kernel, function", [
    # 2.6.32: the x86 fault paths call gfn_to_pfn directly (stored id 6332590, nonpaging_map)
    (Release(2, 6, 32), "gfn_to_pfn"),
    (Release(2, 6, 37), "gfn_to_pfn"),
    # 2.6.38 (async page faults): every path ends in hva_to_pfn (stored id 26982619099)
    (Release(3, 3), "hva_to_pfn"),
    (Release(3, 7), "hva_to_pfn"),
    # the 3.8.13 copy (stored id 3931551519) has the static __gfn_to_pfn_memslot
    (Release(3, 8), "__gfn_to_pfn_memslot"),
    (Release(4, 19), "__gfn_to_pfn_memslot"),
    (Release(6, 9), "__gfn_to_pfn_memslot"),
])
def test_the_lookup_is_named_as_in_its_era(kernel, function):
    src = vcpu.at(vcpu.LOOKUP, kernel)
    assert src.function == function and not late(src, kernel)


def test_the_v6_9_lookup_citation_is_unchanged():
    assert engine.SRC_VCPU.release == "v6.9" and engine.SRC_VCPU.function == "__gfn_to_pfn_memslot"


@pytest.mark.parametrize("kernel, predicate, name, behaviour", [
    # include/linux/kvm_host.h: mmu_notifier_retry(vcpu, seq) at 2.6.3x (stored id 6332590)
    (Release(3, 6), kvm.RETRY_GFN, "mmu_notifier_retry", kvm.RETRY_VM),
    (Release(5, 11), kvm.RETRY_GFN, "mmu_notifier_retry", kvm.RETRY_VM),
    # 4a42d848db44 (v5.12) adds the hva-ranged predicate (stored id 31875904778)
    (Release(5, 12), kvm.RETRY_GFN, "mmu_notifier_retry_hva", kvm.RETRY_GFN),
    # 20ec3ebd707c (v6.1) renames both (stored id 37319166717)
    (Release(6, 1), kvm.RETRY_GFN, "mmu_invalidate_retry_hva", kvm.RETRY_GFN),
    (Release(6, 1), kvm.RETRY_VM, "mmu_invalidate_retry", kvm.RETRY_VM),
    (Release(6, 8), kvm.RETRY_GFN, "mmu_invalidate_retry_gfn", kvm.RETRY_GFN),
    (Release(5, 10), kvm.RETRY_VM, "mmu_notifier_retry", kvm.RETRY_VM),
])
def test_retry_predicates_are_named_as_in_their_era(kernel, predicate, name, behaviour):
    called, does, src = vcpu.retry_at(predicate, kernel)
    assert (called, does, src.function) == (name, behaviour, name) and not late(src, kernel)


def test_era_tables_pick_the_latest_entry_not_after_the_kernel():
    table = ((Release(3, 0), "a"), (Release(4, 0), "b"))
    assert vcpu.at(table, Release(3, 19)) == "a" and vcpu.at(table, Release(4, 0)) == "b"
