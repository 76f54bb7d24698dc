"""Breadth-first exploration of every interleaving, with invariants at each state."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field

from kvmspte import engine
from kvmspte.explore.races import Race
from kvmspte.explore.world import QuietTrace, World
from kvmspte.host import HostMM
from kvmspte.kvm import Kvm
from kvmspte.model import CannotExist
from kvmspte.scenario import Scenario
from kvmspte.source import Source

COHERENCE, UAF, STALE = "coherence-at-quiescence", "use-after-free", "stale-install"


@dataclass
class Violation:
    kind: str
    message: str
    path: list[tuple[str, int]]            # (actor, step index) from the initial state


@dataclass
class Outcome:
    race: str
    arch: str
    states: int = 0
    transitions: int = 0
    interleavings: int = 0
    finished: bool = False
    seconds: float = 0.0
    violations: Counter = field(default_factory=Counter)
    first: Violation | None = None
    #: the shortest counter-example of each kind of violation, in the order found
    examples: dict = field(default_factory=dict)
    na: str = ""
    steps: dict = field(default_factory=dict)
    #: 'Type: message' when the model raised during the search (the run exits 3)
    error: str = ""
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        out = {"race": self.race, "arch": self.arch, "states": self.states,
               "transitions": self.transitions, "interleavings": self.interleavings,
               "finished": self.finished, "violations": dict(sorted(self.violations.items())),
               "na": self.na or None, "first_violation": None}
        if self.first:
            out["first_violation"] = self.example_dict(self.first)
        out["counter_examples"] = {k: self.example_dict(v) for k, v in self.examples.items()}
        if self.error:
            out["error"] = self.error
        return out

    def failures(self) -> list[tuple[str, BaseException | None]]:
        from kvmspte.errors import model_failure

        return [(model_failure(self.arch, f"race {self.race}", self.exception), self.exception)
                ] if self.error else []

    def example_dict(self, v: Violation) -> dict:
        return {"kind": v.kind, "message": v.message,
                "trace": [self.step_dict(a, i) for a, i in v.path]}

    def step_dict(self, actor: str, index: int) -> dict:
        step = self.steps[actor][index]
        return {"actor": actor, "step": step.label, "source": step.source.to_dict()}


# -- the initial world ---------------------------------------------------------------------------
def initial_world(race: Race, model) -> World:
    """The gfn and a neighbour mapped at 4 KiB through the arch's own fault path."""
    sc = Scenario(race.name, race.description, race.trigger)
    trace = QuietTrace()
    arch = model(trace, {"mte": False})
    slot = engine.make_slot(sc)
    from kvmspte.triggers import initial_pte

    host = HostMM(engine.BASE_HVA, engine.NPAGES, engine.BASE_PFN, thp=False,
                  pte=initial_pte(race.trigger, 0))
    run = engine.Run(sc, arch, Kvm(arch, [slot], trace), host, trace)
    engine.build_state(run, slot)
    if run.na:
        raise CannotExist(run.na, run.na_source or Source("-", "-"))
    names = tuple(name for name, _ in race.actors)
    w = World(arch, run.kvm, host, slot, engine.TARGET_GFN, names,
              pcs={n: 0 for n in names}, local={n: {} for n in names})
    old = host.pte(w.hva).pfn
    # our mapping; for a CoW the page is shared with the other process; the writer holds one
    w.refs[old] = 1 + (race.trigger == "cow") + ("writer" in names)
    if "writer" in names:
        w.local["writer"]["old"] = old
    return w


# -- invariants ---------------------------------------------------------------------------------
def check(w: World) -> list[tuple[str, str]]:
    out = []
    m = w.arch.lookup(w.gfn)
    if w.stale:
        out.append((STALE, w.stale[-1]))
    if m is None:
        return out
    if m.pfn in w.freed:
        out.append((UAF, f"the secondary MMU maps gfn {w.gfn:#x} to freed pfn {m.pfn:#x}"))
    k = w.kvm
    if k.mmu_invalidate_in_progress == 0 and k.mn_active_invalidate_count == 0:
        p = w.host.pte(w.hva)
        if not p.present or p.pfn != m.pfn:
            where = f"pfn {p.pfn:#x}" if p.present else "nothing"
            out.append((COHERENCE, f"no invalidation in progress, the secondary MMU maps gfn "
                                   f"{w.gfn:#x} to pfn {m.pfn:#x} but the primary MMU maps "
                                   f"{where}"))
        elif "w" in m.perms and not p.write:
            out.append((COHERENCE, f"secondary mapping of gfn {w.gfn:#x} is writable, the "
                                   "primary PTE is not"))
    return out


# -- the search --------------------------------------------------------------------------------
def explore(race: Race, model, *, max_states: int = 20_000) -> Outcome:
    out = Outcome(race.name, model.id, steps=race.steps())
    t0 = time.perf_counter()
    try:
        init = initial_world(race, model)
    except CannotExist as exc:
        out.na, out.finished = exc.reason, True
        return out
    _search(out, init, max_states)
    out.seconds = time.perf_counter() - t0
    return out


def attempt(race: Race, model, *, max_states: int = 20_000) -> Outcome:
    """explore(), or an Outcome carrying the error when the model raises."""
    try:
        return explore(race, model, max_states=max_states)
    except Exception as exc:  # a model or plugin bug: report it, keep the others running
        from kvmspte.errors import describe

        out = Outcome(race.name, str(getattr(model, "id", model)), steps=race.steps())
        out.error, out.exception = describe(exc), exc
        return out


def _successors(w: World, steps: dict):
    for actor in w.actors:
        pc = w.pcs[actor]
        if pc < len(steps[actor]) and steps[actor][pc].guard(w, actor):
            nxt = w.clone()
            steps[actor][pc].act(nxt, actor)
            nxt.pcs[actor] = pc + 1
            yield actor, pc, nxt


def _search(out: Outcome, init: World, max_states: int) -> None:
    steps = out.steps
    first_fp = init.fingerprint()
    parent: dict[str, tuple[str, str, int] | None] = {first_fp: None}
    paths: dict[str, int] = {first_fp: 1}
    queue = deque([(first_fp, init)])
    while queue:
        fp, w = queue.popleft()
        out.states += 1
        for kind, message in check(w):
            out.violations[kind] += 1
            if kind not in out.examples:
                out.examples[kind] = Violation(kind, message, _path(parent, fp))
                out.first = out.first or out.examples[kind]
        terminal = True
        for actor, pc, nxt in _successors(w, steps):
            terminal = False
            out.transitions += 1
            nfp = nxt.fingerprint()
            if nfp not in parent:
                if len(parent) >= max_states:
                    continue
                parent[nfp] = (fp, actor, pc)
                paths[nfp] = 0
                queue.append((nfp, nxt))
            paths[nfp] += paths[fp]
        if terminal:
            out.interleavings += paths[fp]
    out.finished = len(parent) < max_states


def _path(parent: dict, fp: str) -> list[tuple[str, int]]:
    path = []
    while parent[fp] is not None:
        fp, actor, pc = parent[fp]
        path.append((actor, pc))
    return path[::-1]
