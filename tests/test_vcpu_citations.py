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
from kvmspte.sim.release import Release, at


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
    src = at(vcpu.LOOKUP, kernel)
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
    assert at(table, Release(3, 19)) == "a" and at(table, Release(4, 0)) == "b"


# -- the explorer's vCPU actor -------------------------------------------------------------------
def vcpu_sources(actor):
    return [src for step in actor.steps for src in (step.source, *step.also)]


@pytest.mark.parametrize("kernel", releases(), ids=str)
def test_explorer_actor_steps_never_cite_a_later_release(kernel):
    # every actor (vCPU, writer, zapper) of every race whose trigger exists at the release,
    # on every model present there (kvmspte.sim.vcpu, kvmspte.analyses.explore.mmeras)
    from kvmspte.analyses.explore.races import RACES
    from kvmspte.plugins.contract import CannotExist
    from kvmspte.sim import triggers

    for model in registry.models().values():
        if engine.absent_reason(model, kernel) is not None:
            continue
        for race in RACES.values():
            if triggers.exists_at(race.trigger, kernel) is not None:
                continue
            try:
                built = race.build(model, kernel)
            except CannotExist:
                continue
            for actor in built:
                bad = [(s.function, s.release) for s in vcpu_sources(actor) if late(s, kernel)]
                assert not bad, (model.id, race.name, actor.kind, bad)


@pytest.mark.parametrize("race, arch, kernel", [
    ("unwrapped-fault", "x86-shadow", None),            # its own era, v3.6
    ("writer-fault", "ppc-pr", Release(3, 7)),
    ("writer-fault", "x86-tdp", Release(5, 10)),
    ("writer-fault", "riscv", Release(6, 1)),
])
def test_explorer_counter_examples_cite_no_later_code(race, arch, kernel):
    from kvmspte.analyses.explore.checker import explore
    from kvmspte.analyses.explore.races import RACES

    out = explore(RACES[race], registry.models()[arch], kernel=kernel).to_dict()
    at = Release.parse(out["kernel"])
    steps = [s for ex in out["counter_examples"].values() for s in ex["trace"]]
    srcs = [src for s in steps for src in (s["source"], *s.get("also", []))]
    assert [s for s in srcs if Release.parse(s["release"]) > at] == []


NO_RETRY = {"mmu_notifier_retry", "mmu_notifier_retry_hva", "mmu_invalidate_retry",
            "mmu_invalidate_retry_hva", "mmu_invalidate_retry_gfn"}


@pytest.mark.parametrize("kernel", [Release(3, 6), Release(5, 10), Release(6, 9)], ids=str)
def test_a_fault_without_a_retry_check_cites_no_retry_predicate(kernel):
    from kvmspte.analyses.explore import actors

    steps = actors.vcpu_fault(None, kernel=kernel).steps
    assert not {s.source.function for s in steps} & NO_RETRY
    assert "NO retry check" in steps[2].label and "mmu_lock" not in steps[2].label
    assert "seq" not in steps[0].source.function       # no sequence snapshot is cited


@pytest.mark.parametrize("model_id, before, since", [
    # e500: kvmppc_e500_shadow_map has no mmu_notifier_seq snapshot, no mmu_lock and no retry
    # check in the v3.8.13 copy (arch/powerpc/kvm/e500_mmu_host.c, stored id 11275820060);
    # the model's fault-retry switch puts the check at v3.12.
    ("ppc-e500", Release(3, 11), Release(3, 12)),
    # PR: no mmu_notifier_retry in the v3.7 fault flow (stored copy 18883897, the model's
    # research note); the check comes with the model's pflush switch (v3.13).
    ("ppc-pr", Release(3, 12), Release(3, 13)),
])
def test_explorer_vcpu_has_no_retry_check_where_the_arch_path_had_none(model_id, before, since):
    from kvmspte.analyses.explore import races

    model = registry.models()[model_id]
    old, new = races.vcpu(model, before), races.vcpu(model, since)
    assert "NO retry check" in old.steps[2].label
    assert not {s.source.function for s in old.steps} & NO_RETRY
    assert "mmu_notifier_retry" in new.steps[2].label


@pytest.mark.parametrize("kernel, label", [
    # x86 is_page_fault_stale at v6.9 (faultretry.X86); before 4a42d848db44 (v5.12) x86's
    # fault path calls the VM-wide mmu_notifier_retry (no ranged predicate exists)
    (Release(6, 9), "mmu_invalidate_retry_gfn"), (Release(6, 1), "mmu_invalidate_retry_hva"),
    (Release(5, 12), "mmu_notifier_retry_hva"), (Release(5, 10), "mmu_notifier_retry;"),
])
def test_x86_vcpu_names_the_predicate_of_its_era(kernel, label):
    from kvmspte.analyses.explore import races

    step = races.vcpu(registry.models()["x86-tdp"], kernel).steps[2]
    assert label in step.label and not late(step.source, kernel)


def test_the_v6_9_vcpu_citations_keep_the_arch_call_site_and_gup_copies():
    from kvmspte.analyses.explore import actors, races

    steps = races.vcpu(registry.models()["arm64"], Release(6, 9)).steps
    assert steps[2].source.function == "user_mem_abort"
    assert steps[1].source is actors.SRC_GUP_FAST and steps[1].also == (actors.SRC_GUP_SLOW,)
    # the sequence is a field of struct kvm, not a v6.9 kvm_main.c function: the generic
    # __kvm_faultin_pfn only arrives with the 2024 kvm_follow_pfn series (stored id 25845278560)
    assert steps[0].source.file == "include/linux/kvm_host.h"


@pytest.mark.parametrize("kernel, function", [
    # 2f38ab2c3c7f (v4.1) extracted wp_page_copy from do_wp_page (stored id 16138924930)
    (Release(3, 6), "do_wp_page"), (Release(4, 1), "wp_page_copy"), (Release(6, 9), "wp_page_copy"),
])
def test_the_cow_writer_cites_the_function_of_its_era(kernel, function):
    from kvmspte.analyses.explore import actors

    steps = actors.writer("cow", True, kernel).steps
    assert steps[1].source.function == function and not late(steps[1].source, kernel)


@pytest.mark.parametrize("kernel, start, finish", [
    # MADV_DONTNEED: zap_page_range until 21b85b09527c (v6.1, stored id 30382448948);
    # tlb_finish_mmu in mm/memory.c until the v4.20 move (stored id 34987605557)
    (Release(3, 6), "zap_page_range", "mm/memory.c"),
    (Release(5, 10), "zap_page_range", "mm/mmu_gather.c"),
    (Release(6, 1), "zap_page_range_single", "mm/mmu_gather.c"),
])
def test_the_zapper_cites_the_functions_of_its_era(kernel, start, finish):
    from kvmspte.analyses.explore import actors

    steps = actors.zapper(kernel=kernel).steps
    assert steps[0].source.function == start and steps[3].source.file == finish


def test_the_check_less_e500_fault_cites_its_file_of_the_era():
    # e500_tlb.c until the v3.8 split; the v3.8.13 e500_mmu_host.c copy (stored id
    # 11275820060) has kvmppc_e500_shadow_map with no sequence snapshot and no retry check
    from kvmspte.analyses.explore import races

    e500 = registry.models()["ppc-e500"]
    assert races.vcpu(e500, Release(3, 7)).steps[2].source.file.endswith("e500_tlb.c")
    at38 = races.vcpu(e500, Release(3, 8)).steps[2].source
    assert at38.file.endswith("e500_mmu_host.c") and at38.release == "v3.8"
