"""The contract every architecture model passes, as plain functions a plugin's own tests can
run on their model (``kvmspte.testing.contract(Model)``), and the engine's world constants.

Each check takes a model class and raises AssertionError naming what broke.  The built-in
models pass all of them (tests/test_contract.py); a plugin author can do the same:

    from kvmspte import testing

    @pytest.mark.parametrize("check", testing.CHECKS, ids=lambda c: c.__name__)
    def test_contract(check):
        check(MyModel)
"""

from __future__ import annotations

import pickle

from kvmspte.sim.engine import BASE_GFN, BASE_HVA, BASE_PFN, NPAGES, TARGET_GFN, run
from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import Memslot
from kvmspte.vocabulary import VERDICTS

__all__ = ["BASE_GFN", "BASE_HVA", "BASE_PFN", "NPAGES", "TARGET_GFN", "SLOT", "slot", "host",
           "not_reached", "NOT_REACHED", "CHECKS", "contract"]


def slot(**flags) -> Memslot:
    """The engine's memslot (16 MiB at BASE_GFN / BASE_HVA), with KVM_MEM_* flags."""
    return Memslot(0, BASE_GFN, NPAGES, BASE_HVA, **flags)


SLOT = slot()


def host(**kw) -> HostMM:
    """The engine's host mm behind SLOT (thp=..., pte=..., arch=... as HostMM takes them)."""
    return HostMM(BASE_HVA, NPAGES, BASE_PFN, **kw)


def not_reached(sc) -> bool:
    """Whether generic KVM code returns before any arch hook at v6.9: kvm_change_spte_gfn
    skips a KVM_MEMSLOT_INVALID slot, and kvm_mmu_notifier_change_pte returns when no
    invalidation is in progress (an unwrapped, pre-3.7 ordering).  A property of the generic
    layer, not of any architecture."""
    return sc.invalid or not sc.wrapped


def _catalogue():
    from kvmspte.scenarios.loader import catalogue

    return catalogue()


#: the built-in scenarios in which no arch hook runs (see not_reached)
NOT_REACHED = frozenset(n for n, sc in _catalogue().items() if not_reached(sc))


def change_pte_steps(result) -> list:
    """The trace steps of a run's .change_pte() notification: the generic dispatch, the
    architecture's hook and the flushes it asked for."""
    return [s for s in result.trace if s.phase.endswith(":change_pte")]


def declares_what_it_models(model) -> None:
    from kvmspte.plugins.contract import HOOK_NAMES, ArchModel

    assert isinstance(model, type) and issubclass(model, ArchModel), model
    for attr in ("id", "family", "title", "release"):
        assert isinstance(getattr(model, attr, None), str) and getattr(model, attr), attr
    for hook in HOOK_NAMES:
        assert model.hooks.get(hook), f"{model.id}: no source cited for {hook}"


def runs_every_scenario_to_a_verdict(model) -> None:
    for name, sc in _catalogue().items():
        res = run(sc, model)
        assert res.verdict in VERDICTS, (name, res.verdict)
        if res.verdict == "n/a":
            assert res.reason and res.reason_source is not None, name
        else:
            assert res.reached_arch_hook is not not_reached(sc), name


def gives_the_catalogue_verdicts(model) -> None:
    """The [expect] tables of the catalogue are the one place verdicts are written down."""
    wrong = {name: (sc.expect[model.id], res.verdict) for name, sc in _catalogue().items()
             if model.id in sc.expect and (res := run(sc, model)).verdict != sc.expect[model.id]}
    assert not wrong, f"{model.id}: (expected, got) {wrong}"


def cites_a_source_for_every_step(model) -> None:
    for name, sc in _catalogue().items():
        res = run(sc, model)
        missing = [s.text for s in res.trace if s.actor == "arch" and s.source is None]
        assert not missing, (name, missing[:3])


def snapshots_plain_data_deterministically(model) -> None:
    for name, sc in _catalogue().items():
        a, b = run(sc, model), run(sc, model)
        assert (a.verdict, a.before, a.after, a.diff) == (b.verdict, b.before, b.after, b.diff)
        for snap in (a.before, a.after):
            assert all(isinstance(k, str) and isinstance(v, dict) for k, v in snap.items()), name


def survives_pickling(model) -> None:
    """The explorer stores arch states pickled; a model's state must round-trip."""
    from kvmspte.sim.engine import setup
    from kvmspte.plugins.contract import CannotExist

    for name, sc in _catalogue().items():
        try:
            world = setup(sc, model)
        except CannotExist:
            continue
        copy = pickle.loads(pickle.dumps(world.arch, pickle.HIGHEST_PROTOCOL))
        assert copy.snapshot() == world.arch.snapshot(), name
        assert copy.lookup(TARGET_GFN) == world.arch.lookup(TARGET_GFN), name


CHECKS = (declares_what_it_models, runs_every_scenario_to_a_verdict,
          gives_the_catalogue_verdicts, cites_a_source_for_every_step,
          snapshots_plain_data_deterministically, survives_pickling)


def contract(model) -> None:
    """Every check of the contract on one model class."""
    for check in CHECKS:
        check(model)
