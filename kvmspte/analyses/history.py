"""The verdict of one scenario across kernel releases, per architecture.

Nothing here knows an answer: the models are run at every switch point (the union of the
releases in the generic switch table, the mm table, each selected model's ``switches`` and
``arrived``, and the edges v2.6.31, v2.6.32 and v6.10), adjacent releases with the same
verdict are merged into ranges, and each range after the first names the switch point at
its start that changed the verdict.  Where several switch points share that release, each
is withheld in turn (``Switches.withheld``) and the model run again: the one whose absence
brings the earlier verdict back is named.  The result is plain data; renderers live in
``kvmspte.formats.historyfmt``.
"""

from __future__ import annotations

from kvmspte.records import record, field

from kvmspte import envelope
from kvmspte.sim import memslot, triggers
from kvmspte.sim.engine import SRC_ARRIVE, SRC_REMOVED
from kvmspte.sim.kvm import GENERIC
from kvmspte.sim.release import FIRST, REMOVED, Release, Switch, Switches
from kvmspte.analyses.runs import attempt
from kvmspte.sim.source import Source

#: The release before .change_pte() existed: where every history starts.
BEFORE = Release(2, 6, 31)

#: The two edges of the callback's life, as switch points of the generic layer.
ADDED = Switch("change-pte", FIRST, "3da0dd433dc3",
               "KVM gets .change_pte() (x86 only)", SRC_ARRIVE)
DELETED = Switch("change-pte-removed", REMOVED, "f3b65bbaed7c",
                 ".change_pte(), set_pte_at_notify and every kvm_set_spte_gfn deleted",
                 SRC_REMOVED)


@record(frozen=True)
class Cause:
    """The switch point at a range's start that changed the verdict, and how that is known."""

    table: str          # "generic", "mm", or the arch id
    switch: Switch
    evidence: str

    def to_dict(self) -> dict:
        return {"table": self.table, "name": self.switch.name, "commit": self.switch.commit,
                "since": str(self.switch.since), "what": self.switch.what,
                "source": self.switch.source.to_dict(), "evidence": self.evidence}


@record
class Range:
    """[start, end): the switch points over which the verdict stays the same."""

    start: Release
    end: Release | None
    verdict: str
    points: list[Release]
    changed_by: Cause | None = None

    def to_dict(self) -> dict:
        return {"from": str(self.start), "to": str(self.end) if self.end else None,
                "verdict": self.verdict, "points": [str(p) for p in self.points],
                "changed_by": self.changed_by.to_dict() if self.changed_by else None}


@record
class ArchHistory:
    arch: str
    ranges: list[Range] = field(default_factory=list)
    #: results whose model raised (verdict "error")
    errors: list = field(default_factory=list)


@record
class History:
    scenario: object
    points: list[Release]
    arches: list[ArchHistory]

    def failures(self) -> list[tuple[str, BaseException | None]]:
        from kvmspte.sim.report import Report

        # one line per architecture that raised: the first release it raised at
        return Report("history", [], [a.errors[0] for a in self.arches if a.errors]).failures()

    def to_dict(self) -> dict:
        return envelope("history", scenario=self.scenario.name,
                        points=[str(p) for p in self.points],
                        arches=[{"arch": a.arch, "ranges": [r.to_dict() for r in a.ranges]}
                                for a in self.arches])


def tables(model: type) -> list[tuple[str, Switches]]:
    """The switch tables a run of ``model`` consults, labelled as the history names them."""
    return [("generic", GENERIC), ("mm", triggers.MM_SWITCHES), (model.id, model.switches),
            ("memslot", memslot.readonly_table(model.readonly_mem))]


_POINTS: dict[tuple, tuple[Release, ...]] = {}


def switch_points(models: list[type]) -> list[Release]:
    """Every release where some selected model's code (generic, mm or arch) may change,
    plus the edges; computed once per set of models."""
    key = tuple(models)
    if key not in _POINTS:
        got = {BEFORE, FIRST, REMOVED}
        got.update(GENERIC.releases(), triggers.MM_SWITCHES.releases())
        for m in models:
            got.update(m.switches.releases(), memslot.edges(m.readonly_mem))
            if m.arrived is not None:
                got.add(m.arrived.since)
        _POINTS[key] = tuple(sorted(got))
    return list(_POINTS[key])


def cause(sc, model: type, at: Release, earlier: Release, was: str, now: str) -> Cause | None:
    """Which switch point at ``at`` turned ``was`` (the verdict at ``earlier``) into ``now``."""
    if "absent" in (was, now):
        if at == REMOVED:
            return Cause("generic", DELETED, f"the callback is gone from {REMOVED} on")
        if model.arrived is not None and model.arrived.since == at:
            return Cause(model.id, model.arrived,
                         f"before {at} no .change_pte() reaches {model.id}")
        if at == FIRST:
            return Cause("generic", ADDED, f"KVM has no .change_pte() before {FIRST}")
    here = [(label, sw, t) for label, t in tables(model) for sw in t if sw.since == at]
    if len(here) == 1:
        return Cause(here[0][0], here[0][1], f"the only switch point at {at}")
    moved = None
    for label, sw, t in here:
        with t.withheld(sw.name):
            got = attempt(sc, model, kernel=at).verdict
        if got == was:
            return Cause(label, sw, f"with it withheld, {at} gives {was} again, the verdict "
                                    f"at {earlier}")
        if got != now and moved is None:
            moved = Cause(label, sw, f"no single switch point at {at} brings {was} back; "
                                     f"withholding this one changes the verdict to {got}")
    if moved is not None:
        return moved
    if here:
        return Cause(here[0][0], here[0][1], f"{len(here)} switch points at {at}; none "
                                             f"alone changes the verdict")
    return None


def arch_history(sc, model: type, points: list[Release]) -> ArchHistory:
    out = ArchHistory(model.id)
    prev: Release | None = None
    for at in points:
        res = attempt(sc, model, kernel=at)
        if res.verdict == "error":
            out.errors.append(res)
        if out.ranges and out.ranges[-1].verdict == res.verdict:
            out.ranges[-1].points.append(at)
        else:
            if out.ranges:
                out.ranges[-1].end = at
            rng = Range(at, None, res.verdict, [at])
            if out.ranges and "error" not in (out.ranges[-1].verdict, res.verdict):
                rng.changed_by = cause(sc, model, at, prev, out.ranges[-1].verdict,
                                       res.verdict)
            out.ranges.append(rng)
        prev = at
    return out


def build(sc, models: list[type]) -> History:
    points = switch_points(models)
    return History(sc, points, [arch_history(sc, m, points) for m in models])


def cite(s: Source) -> str:
    from kvmspte.sim.source import cite as source_cite

    return source_cite(s)
