"""Breadth-first exploration of every interleaving, with invariants at each state.

States are compact tuples (kvmspte.explore.world); identical states are merged, and states
that differ only by a permutation of identical vCPUs are merged too (symmetry reduction: see
``SOUNDNESS``).  Breadth-first order makes the first violation of each kind found the
shortest counter-example of that kind.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from kvmspte.records import record, field

from kvmspte.sim import engine
from kvmspte.analyses.explore.actors import Ctx, host_changed
from kvmspte.analyses.explore.races import Race
from kvmspte.analyses.explore.world import STALE as STALE_AT
from kvmspte.analyses.explore.world import (ACTIVE, ARCH, FREED, HOST, IN_PROGRESS, KVM, LOCS, NEIGHBOUR,
                                   NEVER_FREED, NO_PTL, PCS, PTL, TARGET, Machine,
                                   QuietTrace, describe_pte)
from kvmspte.plugins.contract import CannotExist
from kvmspte.sim.release import DEFAULT, Release
from kvmspte.sim.triggers import MM_SWITCHES
from kvmspte.scenarios.definition import Scenario

COHERENCE, UAF, STALE_KIND = "coherence-at-quiescence", "use-after-free", "stale-install"
STALE = STALE_KIND

QUIESCENT = (
    "A state is quiescent when no invalidation is in progress (mmu_invalidate_in_progress and "
    "mn_active_invalidate_count are both 0) and no actor is inside an operation: nobody "
    "holds the page-table lock, and no actor sits between clearing a PTE and setting it (its "
    "next step is marked as continuing an operation).  Only there must the secondary MMU "
    "agree with the primary: inside the writer's PTL critical section the primary MMU itself "
    "is half-updated.")

SOUNDNESS = (
    "Symmetry reduction: vCPU actors made by the same factory run the same steps, start in "
    "the same local state, never hold the page-table lock across steps, and are treated "
    "alike by every other step (invalidate_range_start and a primary-PTE change mark every "
    "racing vCPU, whichever it is), so permuting them maps every execution to an execution. "
    "None of the three invariants names a vCPU (the stale-install message does not say "
    "which one).  States are therefore identified up to a permutation of those vCPUs "
    "(their (program counter, local state) pairs are sorted): a violating state is reachable "
    "iff its canonical form is, at the same depth, so every violation and its shortest "
    "counter-example are kept; the trace printed is replayed on concrete vCPUs.  "
    "Interleavings stay exact: a transition from a canonical state is counted once per "
    "concrete actor that can take it.")


@record
class Violation:
    kind: str
    message: str
    path: list[tuple[str, int]]            # (actor, step index) from the initial state
    state: dict = field(default_factory=dict)   # the violating state, described


@record
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
    actors: tuple = ()
    symmetry: bool = False
    #: what the secondary MMU maps the gfn to in the terminal states (every actor done)
    terminal: Counter = field(default_factory=Counter)
    #: the release explored, and a what-if label where the race departs from its mm
    kernel: str = "v6.9"
    what_if: str = ""
    #: 'Type: message' when the model raised during the search (the run exits 3)
    error: str = ""
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        out = {"race": self.race, "arch": self.arch, "kernel": self.kernel,
               "what_if": self.what_if, "actors": list(self.actors),
               "states": self.states, "transitions": self.transitions,
               "interleavings": self.interleavings, "finished": self.finished,
               "violations": dict(sorted(self.violations.items())),
               "terminal_secondary": dict(sorted(self.terminal.items())),
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
        return {"kind": v.kind, "message": v.message, "steps": len(v.path),
                "state": v.state, "trace": [self.step_dict(a, i) for a, i in v.path]}

    def step_dict(self, actor: str, index: int) -> dict:
        step = self.steps[actor][index]
        out = {"actor": actor, "step": step.label, "source": step.source.to_dict()}
        if step.also:
            out["also"] = [s.to_dict() for s in step.also]
        return out


# -- the initial world ---------------------------------------------------------------------------
def setup(race: Race, model, *, symmetry: bool = True, kernel: Release = DEFAULT):
    """The context and initial state: the gfn and its neighbour mapped at 4 KiB through the
    arch's own fault path (engine.setup), the race's actors at their first step."""
    acts = race.build(model, kernel)
    sc = Scenario(race.name, race.description, race.trigger)
    run = engine.setup(sc, model, QuietTrace(), kernel)
    m = Machine(run)
    ctx = Ctx(m, acts, model.fault_retry[0] if model.fault_retry else "")
    host = tuple(run.host.pte(h) for h in m.hvas)
    ctx.initial_ptes = host
    cow = race.trigger == "cow"
    kinds = [a.kind for a in acts]
    # our mapping; for a CoW the page is shared with the other process; a writer holds one
    refs = {host[TARGET].pfn: 1 + cow + ("writer" in kinds),
            host[NEIGHBOUR].pfn: 1 + cow}
    locs = []
    for a in acts:
        locs.append((host[TARGET].pfn, False) if a.kind == "writer" else a.local0)
    init = ((0,) * len(acts), tuple(locs), NO_PTL, m.kvm0, host,
            tuple(sorted((p, n) for p, n in refs.items() if p not in NEVER_FREED)), (), "",
            m.arch0)
    groups = _groups(race, acts) if symmetry else ()
    return ctx, init, groups


def _groups(race: Race, acts) -> tuple[tuple[int, ...], ...]:
    by: dict = {}
    for i, ((_, make), a) in enumerate(zip(race.actors, acts)):
        if a.kind == "vcpu":
            by.setdefault(make, []).append(i)
    return tuple(tuple(g) for g in by.values() if len(g) > 1)


# -- invariants ---------------------------------------------------------------------------------
def quiescent(ctx: Ctx, st, mids) -> bool:
    k = st[KVM]
    if k[IN_PROGRESS] or k[ACTIVE] or st[PTL] != NO_PTL:
        return False
    return not any(mids[i][pc] for i, pc in enumerate(st[PCS]))


def check(ctx: Ctx, st, quiet: bool) -> list[tuple[str, str]]:
    out = []
    if st[STALE_AT]:
        out.append((STALE_KIND, st[STALE_AT]))
    m = ctx.m
    for page in (TARGET, NEIGHBOUR):
        gfn = m.gfns[page]
        mp = m.lookup(st[ARCH], gfn)
        if mp is None:
            continue
        if mp.pfn in st[FREED]:
            out.append((UAF, f"the secondary MMU maps gfn {gfn:#x} to freed pfn {mp.pfn:#x}"))
        if quiet:
            p = st[HOST][page]
            if not p.present or p.pfn != mp.pfn:
                out.append((COHERENCE, f"quiescent, the secondary MMU maps gfn {gfn:#x} to pfn "
                                       f"{mp.pfn:#x} but the primary MMU maps "
                                       f"{describe_pte(p)}"))
            elif "w" in mp.perms and not p.write:
                out.append((COHERENCE, f"quiescent, the secondary mapping of gfn {gfn:#x} is "
                                       "writable, the primary PTE is not"))
    return out


def describe_state(ctx: Ctx, st, names, mids) -> dict:
    k = st[KVM]
    m = ctx.m
    sec = []
    for page in (TARGET, NEIGHBOUR):
        mp = m.lookup(st[ARCH], m.gfns[page])
        sec.append(f"pfn {mp.pfn:#x} ({mp.perms})" if mp else "nothing")
    return {"quiescent": quiescent(ctx, st, mids),
            "ptl": names[st[PTL]] if st[PTL] != NO_PTL else None,
            "mmu_invalidate_in_progress": k[IN_PROGRESS],
            "mn_active_invalidate_count": k[ACTIVE], "mmu_invalidate_seq": k[2],
            "primary": {"gfn": describe_pte(st[HOST][TARGET]),
                        "neighbour": describe_pte(st[HOST][NEIGHBOUR])},
            "secondary": {"gfn": sec[0], "neighbour": sec[1]},
            "freed": [f"{p:#x}" for p in st[FREED]]}


# -- transitions --------------------------------------------------------------------------------
def apply(ctx: Ctx, st: tuple, i: int) -> tuple:
    """Actor i runs its next step (its guard must hold); no canonicalisation."""
    pc = st[PCS][i]
    s = list(st)
    ctx.actors[i].steps[pc].act(ctx, s, i)
    before = st[HOST]
    if s[HOST] is not before:
        for page in (TARGET, NEIGHBOUR):
            if s[HOST][page] != before[page]:
                host_changed(ctx, s, page, before[page], i)
    pcs = list(s[PCS])
    pcs[i] = pc + 1
    s[PCS] = tuple(pcs)
    return tuple(s)


def _vkey(pc: int, loc: tuple):
    seq, pte, why, outcome = loc
    return (pc, -1 if seq is None else seq,
            () if pte is None else (pte.pfn, pte.present, pte.write, pte.dirty, pte.young,
                                    pte.exec, pte.special), why, outcome)


def canon(st: tuple, groups) -> tuple:
    if not groups:
        return st
    pcs, locs = list(st[PCS]), list(st[LOCS])
    for g in groups:
        items = sorted(((pcs[j], locs[j]) for j in g), key=lambda x: _vkey(*x))
        for j, (pc, loc) in zip(g, items):
            pcs[j], locs[j] = pc, loc
    s = list(st)
    s[PCS], s[LOCS] = tuple(pcs), tuple(locs)
    return tuple(s)


def _perm(st: tuple, groups, n: int) -> list[int]:
    """canonical position -> concrete actor index, consistent with canon()."""
    perm = list(range(n))
    for g in groups:
        order = sorted(g, key=lambda j: _vkey(st[PCS][j], st[LOCS][j]))
        for pos, j in zip(g, order):
            perm[pos] = j
    return perm


def enabled(ctx: Ctx, st: tuple, i: int) -> bool:
    pc = st[PCS][i]
    steps = ctx.actors[i].steps
    if pc >= len(steps):
        return False
    g = steps[pc].guard
    return g is None or g(ctx, st, i)


# -- the search --------------------------------------------------------------------------------
def explore(race: Race, model, *, max_states: int = 200_000, symmetry: bool = True,
            kernel: Release | None = None) -> Outcome:
    """Every interleaving of the race on the model, at ``kernel`` (default: the race's own
    era, else v6.9)."""
    at = kernel or race.era or DEFAULT
    out = Outcome(race.name, model.id, actors=race.names, symmetry=symmetry, kernel=str(at))
    if race.unwrapped and MM_SWITCHES.active("bracketed", at):
        out.what_if = ("the writer drops the invalidate_range_start/end that every caller has "
                       "had since v3.7 (6bdb913f0a70)")
    gone = engine.absent_reason(model, at)
    if gone is not None:
        out.na, out.finished = f"absent: {gone[0]}", True
        return out
    t0 = time.perf_counter()
    try:
        out.steps = race.steps(model, at)
        ctx, init, groups = setup(race, model, symmetry=symmetry, kernel=at)
    except CannotExist as exc:
        out.na, out.finished = exc.reason, True
        return out
    _search(out, ctx, init, groups, max_states)
    out.seconds = time.perf_counter() - t0
    return out


def attempt(race: Race, model, *, max_states: int = 200_000, **kw) -> Outcome:
    """explore(), or an Outcome carrying the error when the model raises."""
    try:
        return explore(race, model, max_states=max_states, **kw)
    except Exception as exc:  # a model or plugin bug: report it, keep the others running
        from kvmspte.errors import describe

        out = Outcome(race.name, str(getattr(model, "id", model)), actors=race.names)
        out.error, out.exception = describe(exc), exc
        return out


def _search(out: Outcome, ctx: Ctx, init: tuple, groups, max_states: int) -> None:
    n = len(ctx.actors)
    mids = [tuple(s.mid for s in a.steps) + (False,) for a in ctx.actors]
    ingroup = {j: gi for gi, g in enumerate(groups) for j in g}
    init = canon(init, groups)
    parent: dict = {init: None}
    paths: dict = {init: 1}
    queue = deque([init])
    memo: dict = {}
    dropped = False
    while queue:
        st = queue.popleft()
        out.states += 1
        quiet = quiescent(ctx, st, mids)
        ck = (st[ARCH], st[HOST], st[FREED], st[STALE_AT], quiet)
        found = memo.get(ck)
        if found is None:
            found = memo[ck] = check(ctx, st, quiet)
        for kind, message in found:
            out.violations[kind] += 1
            if kind not in out.examples:
                path, final = _concrete(ctx, parent, st, groups, n)
                out.examples[kind] = Violation(
                    kind, message, [(out.actors[a], pc) for a, pc in path],
                    describe_state(ctx, final, out.actors, mids))
                out.first = out.first or out.examples[kind]
        terminal = True
        seen: dict = {}
        here = paths[st]
        for i in range(n):
            if not enabled(ctx, st, i):
                continue
            terminal = False
            out.transitions += 1
            gi = ingroup.get(i)
            if gi is not None:
                sig = (gi, st[PCS][i], st[LOCS][i])
                if sig in seen:            # an identical vCPU: the same successor state
                    paths[seen[sig]] += here
                    continue
            nxt = canon(apply(ctx, st, i), groups)
            if nxt not in parent:
                if len(parent) >= max_states:
                    dropped = True
                    continue
                parent[nxt] = (st, i)
                paths[nxt] = 0
                queue.append(nxt)
            paths[nxt] += here
            if gi is not None:
                seen[sig] = nxt
        if terminal:
            out.interleavings += here
            mp = ctx.m.lookup(st[ARCH], ctx.m.gfns[TARGET])
            out.terminal[f"pfn {mp.pfn:#x}" if mp else "nothing"] += 1
    out.finished = not dropped


def _concrete(ctx: Ctx, parent: dict, st: tuple, groups, n: int):
    """The path to st as concrete (actor index, step index) pairs, replayed from the initial
    state, and the concrete final state."""
    chain = []
    while parent[st] is not None:
        st, i = parent[st]
        chain.append((st, i))
    chain.reverse()
    cur = chain[0][0] if chain else st
    path = []
    for _, i in chain:
        j = _perm(cur, groups, n)[i]
        path.append((j, cur[PCS][j]))
        cur = apply(ctx, cur, j)
    return path, cur


def replay(race: Race, model, path: list[tuple[str, int]]) -> tuple:
    """Run a counter-example's steps from the initial state (no symmetry); returns the
    context and the final state, for tests and docs."""
    ctx, st, _ = setup(race, model, symmetry=False)
    names = race.names
    for actor, pc in path:
        i = names.index(actor)
        assert st[PCS][i] == pc and enabled(ctx, st, i), (actor, pc)
        st = apply(ctx, st, i)
    return ctx, st


def is_quiescent(ctx: Ctx, st: tuple) -> bool:
    mids = [tuple(s.mid for s in a.steps) + (False,) for a in ctx.actors]
    return quiescent(ctx, st, mids)


