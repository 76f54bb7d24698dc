"""The bounded model checker: exhaustive, deduplicating, and able to catch a broken model."""

from functools import lru_cache
from math import comb

import pytest

from kvmspte.arches.arm64 import Model as Arm64
from kvmspte.arches.loongarch import Model as Loongarch
from kvmspte.arches.mips import Model as Mips
from kvmspte.arches.riscv import Model as Riscv
from kvmspte.arches.x86_tdp import Model as Tdp
from kvmspte.analyses.explore import actors
from kvmspte.analyses.explore.checker import COHERENCE, STALE, UAF, is_quiescent, replay
from kvmspte.sim.release import DEFAULT
from kvmspte.analyses.explore.checker import explore as _explore
from kvmspte.analyses.explore.races import RACES, Race, vcpu
from kvmspte.plugins.registry import models

ALL = list(models().values())


def explore(race, model, **kw):
    """Built-in races are explored once per test session (outcomes are deterministic)."""
    if kw or RACES.get(race.name) is not race:
        return _explore(race, model, **kw)
    return _cached(race.name, model)


@lru_cache(maxsize=None)
def _cached(name, model):
    return _explore(RACES[name], model)


def test_tiny_race_state_count_by_hand():
    # A fault's first step (read the sequence) against a zapper's first step (start):
    #   (0,0); then (1,0) fault read first, (0,1) zapper started first;
    #   (1,1) twice: read-then-start marks the fault as racing, start-then-read does not,
    #   so the two orders stay distinct states.  5 states, 2 interleavings.
    def one(make):
        return lambda m, k=None: actors.Actor(make(m).kind, make(m).steps[:1], make(m).local0)
    race = Race("tiny", "", "cow", (("vcpu", one(vcpu)),
                                    ("zapper", one(lambda m, k=None: actors.zapper()))))
    out = explore(race, Tdp)
    assert (out.states, out.interleavings, out.finished) == (5, 2, True)
    assert not out.violations


def test_zapper_and_fault_cover_every_interleaving():
    # Neither actor holds the PTL across steps, so every order of 4 + 4 steps is possible.
    out = explore(RACES["zapper-fault"], Tdp)
    assert out.interleavings == comb(8, 4) and out.finished
    assert not out.violations   # mmu_invalidate_retry_gfn makes the fault retry


def test_bound_is_reported_and_the_exact_bound_finishes():
    out = explore(RACES["writer-fault"], Tdp, max_states=10)
    assert out.finished is False and out.states == 10
    exact = explore(RACES["writer-fault"], Tdp).states
    assert explore(RACES["writer-fault"], Tdp, max_states=exact).finished is True
    assert explore(RACES["writer-fault"], Tdp, max_states=exact - 1).finished is False


@pytest.mark.parametrize("model", [Tdp, Arm64, Loongarch])
def test_writer_and_fault_are_safe_with_the_retry_check(model):
    # include/linux/kvm_host.h: either predicate makes a fault that read the sequence before
    # the writer's start retry; change_pte itself installs only the new page.
    out = explore(RACES["writer-fault"], model)
    assert out.finished and not out.violations


def test_a_fault_path_without_the_retry_check_is_caught():
    race = Race("broken", "", "cow", (("writer", lambda m, k=None: actors.writer("cow", True)),
                                      ("vcpu", lambda m, k=None: actors.vcpu_fault(None))))
    out = explore(race, Tdp)
    assert out.violations[STALE] > 0
    path = out.examples[STALE].path          # the vCPU's steps: begin, look up, install
    assert path[0] == ("vcpu", 0) and path[-1] == ("vcpu", 2)
    # A path without a retry check snapshots no sequence and cites no retry predicate.
    cited = {s.source.function for s in out.steps["vcpu"]}
    assert not cited & {"mmu_invalidate_retry_gfn", "mmu_invalidate_retry",
                        "mmu_notifier_retry", "mmu_invalidate_retry_hva"}
    assert "NO retry check" in out.steps["vcpu"][2].label


def test_the_vcpu_uses_its_arch_predicate():
    # x86 is_page_fault_stale: mmu_invalidate_retry_gfn; arm64 user_mem_abort:
    # mmu_invalidate_retry.  A neighbour's invalidation makes only arm64 retry.
    x86 = actors.vcpu_fault(*Tdp.fault_retry).steps[2].label
    arm = actors.vcpu_fault(*Arm64.fault_retry).steps[2].label
    assert "mmu_invalidate_retry_gfn" in x86 and "mmu_invalidate_retry;" in arm
    assert actors.vcpu_fault(*Arm64.fault_retry).steps[2].source.function == "user_mem_abort"


def test_gup_fast_needs_no_ptl_but_the_slow_path_does():
    # kvm_main.c:hva_to_pfn_fast: get_user_page_fast_only(FOLL_WRITE) takes no lock and works
    # only on a writable PTE; a read-only one goes to hva_to_pfn_slow (follow_page_pte, PTL).
    step = actors.vcpu_fault(*Tdp.fault_retry).steps[1]
    from kvmspte.analyses.explore.world import HOST, PTL, NONE_PTE
    from kvmspte.sim.host import HostPte
    rw = HostPte(pfn=1, write=True)
    ro = HostPte(pfn=1, write=False)
    state = [None] * 9
    state[PTL], state[HOST] = 0, (rw, NONE_PTE)
    assert step.guard(None, state, 1)          # PTL held by the writer, writable: GUP-fast
    state[HOST] = (ro, NONE_PTE)
    assert not step.guard(None, state, 1)      # read-only: the slow path waits for the PTL
    state[PTL] = -1
    assert step.guard(None, state, 1)


@pytest.mark.parametrize("model", [Mips, Arm64, Riscv])
def test_change_pte_with_two_invalidations_outstanding_breaks_coherence(model):
    # 6bdb913f0a70 warned that .change_pte() must not act while more than one invalidation
    # is outstanding; kvm_main.c:kvm_mmu_notifier_change_pte checks only "any in progress".
    # These arches' kvm_set_spte_gfn install the new page after the zapper's start already
    # unmapped, so nothing removes it: the zapper's tlb_finish_mmu then frees a page the
    # guest still maps.
    out = explore(RACES["writer-zapper"], model)
    assert out.violations[COHERENCE] > 0 and out.violations[UAF] > 0
    path = out.examples[COHERENCE].path
    labels = [out.steps[a][i].label for a, i in path]
    assert labels.index("set_pte_at_notify: change_pte, then set the new PTE") > \
        [i for i, (a, _) in enumerate(path) if a == "zapper"][0]


def test_x86_tdp_is_safe_with_two_invalidations():
    # tdp_mmu.c:set_spte_gfn never installs when nothing is present
    assert not explore(RACES["writer-zapper"], Tdp).violations


def test_pre_3_7_ordering_is_incoherent_once_the_writer_is_done():
    # Without start/end, kvm_mmu_notifier_change_pte returns early (nothing in progress), so
    # the secondary MMU keeps the old page; the shortest quiescent witness is the writer's
    # whole critical section (clear, set, unlock): 3 steps, not the 1-step state inside it.
    out = explore(RACES["unwrapped-fault"], Tdp, kernel=DEFAULT)  # the what-if
    v = out.examples[COHERENCE]
    assert len(v.path) == 3 and v.state["quiescent"] and v.state["ptl"] is None


@pytest.mark.parametrize("model", [Tdp, Arm64])
def test_unwrapped_race_reports_the_stale_install(model):
    # A vCPU that looked the old pfn up before the bare clear/change_pte and installs after it:
    # no invalidation ever bumps mmu_invalidate_seq, so neither predicate retries.
    out = explore(RACES["unwrapped-fault"], model, kernel=DEFAULT)  # what-if
    v = out.examples[STALE]
    # the vCPU's steps: read seq, look up (GUP-fast), install
    assert v.path[1] == ("vcpu", 1) and v.path[-1] == ("vcpu", 2)
    assert out.steps["vcpu"][1].source.function == "hva_to_pfn_fast"
    assert any(a == "writer" for a, _ in v.path[2:-1])


def test_ksm_page_count_check_sees_kvms_gup_reference():
    # mm/ksm.c:write_protect_page gives up (set_pte_at of the old entry) while KVM holds its
    # GUP reference, so no interleaving leaves a writable secondary mapping behind.
    out = explore(RACES["ksm-wrprotect-fault"], Tdp)
    assert out.finished and not out.violations


@pytest.mark.parametrize("race", sorted(RACES))
@pytest.mark.parametrize("model", ALL, ids=lambda m: m.id)
def test_no_coherence_counter_example_stops_inside_an_operation(race, model):
    out = explore(RACES[race], model)
    assert out.finished
    assert out.actors == RACES[race].names
    v = out.examples.get(COHERENCE)
    if v is None:
        return
    ctx, st = replay(RACES[race], model, v.path)
    assert is_quiescent(ctx, st) and v.state["quiescent"] and v.state["ptl"] is None


def test_two_vcpus_finish_on_every_arch_and_symmetry_is_exact():
    race = RACES["vcpus-writer-zapper"]
    for model in ALL:
        assert explore(race, model).finished
    full = explore(race, Tdp, symmetry=False)
    reduced = explore(race, Tdp)
    assert full.finished and reduced.finished
    assert reduced.states < full.states
    assert reduced.interleavings == full.interleavings
    assert sorted(full.violations) == sorted(reduced.violations)
    arm_full, arm_red = explore(race, Arm64, symmetry=False), explore(race, Arm64)
    assert {k: len(v.path) for k, v in arm_full.examples.items()} == \
        {k: len(v.path) for k, v in arm_red.examples.items()}


def test_every_counter_example_replays():
    for race in ("vcpus-writer-zapper", "writer-zapper", "unwrapped-fault"):
        out = explore(RACES[race], Arm64)
        for v in out.examples.values():
            replay(RACES[race], Arm64, v.path)


def test_neighbour_zapper_decides_whether_arm64_keeps_the_table_for_the_install():
    # arm64 stage-2 tables are refcounted (free_policy unreferenced): if the neighbour's unmap
    # runs while the writer's start has the gfn unmapped, the last-level table is freed and
    # kvm_set_spte_gfn (no memory cache) cannot install; otherwise change_pte maps the new
    # page.  x86 TDP never installs on a non-present SPTE; RISC-V never frees the table.
    ends = {m.id: explore(RACES["writer-neighbour-zapper"], m).terminal for m in ALL}
    assert set(ends["arm64"]) == {"pfn 0xd0000", "nothing"}
    assert set(ends["x86-tdp"]) == {"nothing"} and set(ends["riscv"]) == {"pfn 0xd0000"}
    assert all(explore(RACES["writer-neighbour-zapper"], m).finished for m in ALL)


def test_migrate_over_a_zapped_pte_sets_it_with_no_notifier():
    # mm/migrate_device.c:migrate_vma_insert_page: a none PTE gets a plain set_pte_at (the
    # "flush" branch with set_pte_at_notify is only for the zero page), so arm64's
    # kvm_set_spte_gfn never sees the device-private entry on this path.
    from kvmspte.analyses.explore.world import ARCH, HOST, TARGET
    path = [("writer", 0), ("zapper", 0), ("zapper", 1), ("writer", 1), ("writer", 2),
            ("writer", 3), ("writer", 4), ("zapper", 2)]
    ctx, st = replay(RACES["migrate-zapper"], Arm64, path)
    assert st[HOST][TARGET].special == "device-private"
    assert ctx.m.lookup(st[ARCH], ctx.m.gfns[TARGET]) is None and is_quiescent(ctx, st)


def test_ksm_gives_up_while_kvm_holds_its_gup_reference():
    # mm/ksm.c:write_protect_page: page_mapcount + 1 != page_count after the clear: the old
    # entry is put back (set_pte_at, no notifier) and set_pte_at_notify never runs.
    from kvmspte.analyses.explore.world import HOST, LOCS, TARGET
    race = RACES["ksm-wrprotect-fault"]
    ctx, st = replay(race, Tdp, [("vcpu", 0), ("vcpu", 1), ("writer", 0), ("writer", 1)])
    assert st[HOST][TARGET] == ctx.initial_ptes[TARGET] and st[HOST][TARGET].write
    assert st[LOCS][race.names.index("writer")][1] is True
    _, st2 = replay(race, Tdp, [("writer", 0), ("writer", 1), ("writer", 2)])
    assert not st2[HOST][TARGET].write          # no extra reference: write-protected


def test_a_shadow_tlb_is_dropped_when_the_requested_flush_is_served():
    # e500_mmu_host.c: kvm_unmap_gfn_range changes nothing and returns true; generic code's
    # kvm_flush_remote_tlbs makes every vCPU serve KVM_REQ_TLB_FLUSH (kvmppc_core_flush_tlb)
    # before it re-enters the guest, so the zapped page is not left mapped.
    from kvmspte.arches.ppc_e500 import Model as E500
    for race in ("ksm-wrprotect-zapper", "ksm-wrprotect-fault"):
        out = explore(RACES[race], E500)
        assert not out.na and out.finished and not out.violations


@pytest.mark.parametrize("model,outcome", [(Tdp, "installed"), (Loongarch, "installed"),
                                           (Arm64, "retry"), (Riscv, "retry"), (Mips, "retry")])
def test_a_neighbours_invalidation_makes_only_vm_wide_checkers_retry(model, outcome):
    # x86 is_page_fault_stale / loongarch kvm_map_page: mmu_invalidate_retry_gfn, the range
    # [neighbour, neighbour + 1) does not cover the gfn; arm64 user_mem_abort, riscv
    # kvm_riscv_gstage_map, mips kvm_mips_map_page: mmu_invalidate_retry, any invalidation.
    from kvmspte.analyses.explore.world import LOCS
    race = Race("neighbour-fault", "", "cow", (("zapper", lambda m, k=None: actors.zapper(1)),
                                               ("vcpu", vcpu)))
    _, st = replay(race, model, [("vcpu", 0), ("zapper", 0), ("vcpu", 1), ("vcpu", 2)])
    assert st[LOCS][1][3] == outcome


def test_unwrapped_race_runs_in_its_own_era_by_default():
    """unwrapped-fault pairs the pre-3.7 mm ordering with the KVM of its time (v3.6): the
    callers were bracketed only by 6bdb913f0a70 (v3.7).  At v3.6 change_pte still bumped
    mmu_notifier_seq (removed by c13fda237f08, v5.13) and had no early return (071064f14d87,
    v5.15), so on x86's shadow MMU change_pte repoints the SPTE and a racing fault retries:
    no coherence violation at quiescence.  Architectures whose .change_pte() came later are
    absent; with --kernel 6.9 the same race is a labelled what-if."""
    from kvmspte.arches.x86_shadow import Model as Shadow

    old = explore(RACES["unwrapped-fault"], Shadow)
    assert old.kernel == "v3.6" and not old.what_if and old.finished
    assert COHERENCE not in old.violations
    assert explore(RACES["unwrapped-fault"], Mips).na.startswith("absent: ")
    new = explore(RACES["unwrapped-fault"], Tdp, kernel=DEFAULT)
    assert new.kernel == "v6.9" and "6bdb913f0a70" in new.what_if
    assert COHERENCE in new.violations


def test_an_arch_own_remote_flush_is_served_before_reentry():
    """Before 5.0 the handlers flushed for themselves: Book3S PR's v3.7-v3.12 kvm_unmap_hva
    only calls kvm_flush_remote_tlbs, and each vCPU drops all its shadow HPTEs at its next
    entry (arch/powerpc/kvm/book3s_pr.c @ v3.7, stored copy 18883897).  The explorer serves
    that request as it serves the generic one, so no false coherence violation remains."""
    from kvmspte.arches.ppc_pr import Model as Pr
    from kvmspte.release import Release

    out = explore(RACES["writer-zapper"], Pr, kernel=Release(3, 7))
    assert out.finished and not out.violations
