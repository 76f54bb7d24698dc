"""The bounded model checker: exhaustive, deduplicating, and able to catch a broken model."""

from math import comb

import pytest

from kvmspte.arches.arm64 import Model as Arm64
from kvmspte.arches.mips import Model as Mips
from kvmspte.arches.riscv import Model as Riscv
from kvmspte.arches.x86_tdp import Model as Tdp
from kvmspte.explore import actors
from kvmspte.explore.checker import COHERENCE, STALE, UAF, explore
from kvmspte.explore.races import RACES, Race


def test_tiny_race_state_count_by_hand():
    # A fault's first step (read the sequence) against a zapper's first step (start):
    #   start -> (0,0); then (1,0) fault read first, (0,1) zapper started first;
    #   (1,1) twice: read-then-start marks the fault "invalidated", start-then-read does not,
    #   so the two orders stay distinct states.  5 states, 2 interleavings.
    race = Race("tiny", "", "cow", (("vcpu", lambda: actors.vcpu_fault()[:1]),
                                    ("zapper", lambda: actors.zapper()[:1])))
    out = explore(race, Tdp)
    assert (out.states, out.interleavings, out.finished) == (5, 2, True)
    assert not out.violations


def test_zapper_and_fault_cover_every_interleaving():
    # Neither actor holds the PTL across steps, so every order of 4 + 4 steps is possible.
    out = explore(RACES["zapper-fault"], Tdp)
    assert out.interleavings == comb(8, 4) and out.finished
    assert not out.violations   # mmu_invalidate_retry_gfn makes the fault retry


def test_bound_is_reported():
    out = explore(RACES["writer-fault"], Tdp, max_states=10)
    assert out.finished is False and out.states == 10


@pytest.mark.parametrize("model", [Tdp, Arm64])
def test_writer_and_fault_are_safe_with_the_retry_check(model):
    # include/linux/kvm_host.h:mmu_invalidate_retry_gfn: a fault that read the sequence before
    # the writer's start retries; change_pte itself installs only the new page.
    out = explore(RACES["writer-fault"], model)
    assert out.finished and not out.violations


def test_a_fault_path_without_the_retry_check_is_caught():
    race = Race("broken", "", "cow", (("writer", lambda: actors.writer("cow", True)),
                                      ("vcpu", lambda: actors.vcpu_fault(retry_check=False))))
    out = explore(race, Tdp)
    assert out.violations[STALE] > 0
    kinds = [out.steps[a][i].label for a, i in out.first.path]
    assert kinds[0] == "read mmu_invalidate_seq" and "NO retry check" in kinds[-1]


@pytest.mark.parametrize("model", [Mips, Arm64, Riscv])
def test_change_pte_with_two_invalidations_outstanding_breaks_coherence(model):
    # 6bdb913f0a70 warned that .change_pte() must not act while more than one invalidation
    # is outstanding; kvm_main.c:kvm_mmu_notifier_change_pte checks only "any in progress".
    # These arches' kvm_set_spte_gfn install the new page (mips: kvm_set_spte_gfn set_pte;
    # arm64: kvm_pgtable_stage2_map with no cache into the surviving L3 table; riscv:
    # gstage_map_page), after the zapper's start already unmapped, so nothing removes it:
    # the zapper's tlb_finish_mmu then frees a page the guest still maps.
    out = explore(RACES["writer-zapper"], model)
    assert out.violations[COHERENCE] > 0 and out.violations[UAF] > 0
    labels = [out.steps[a][i].label for a, i in out.first.path]
    assert labels.index("set_pte_at_notify: change_pte, then set the new PTE") > \
        [i for i, (a, _) in enumerate(out.first.path) if a == "zapper"][0]


def test_x86_tdp_is_safe_with_two_invalidations():
    # tdp_mmu.c:set_spte_gfn never installs when nothing is present
    assert not explore(RACES["writer-zapper"], Tdp).violations


def test_pre_3_7_ordering_is_incoherent_everywhere():
    # Without start/end, kvm_mmu_notifier_change_pte returns early (nothing in progress), so
    # the secondary MMU keeps the old page while the primary PTE is cleared.
    out = explore(RACES["unwrapped-fault"], Tdp)
    assert out.violations[COHERENCE] > 0 and len(out.first.path) == 1


def test_all_races_on_all_arches_finish():
    from kvmspte.registry import models

    for race in RACES.values():
        for model in models().values():
            assert explore(race, model).finished
