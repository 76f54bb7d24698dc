"""explain: a step-by-step account of one run, grouped by notifier event.

For each event: the mm-side step that issued it, every generic-KVM and arch step
with its citation, and the secondary-MMU state for the gfn afterwards (the walk
from root to leaf, or the rmap chain, with table-page refcounts where counted).
"""

from __future__ import annotations

from kvmspte.sim.engine import run
from kvmspte import envelope
from kvmspte.sim.trace import EVENT


def build(sc, model, kernel=None) -> dict:
    from kvmspte.sim.release import DEFAULT

    try:
        res = run(sc, model, views=True, kernel=kernel or DEFAULT)
    except Exception as exc:  # a model or plugin bug: exit 3, one line naming it
        from kvmspte.errors import ModelError

        raise ModelError(model.id, sc.name, exc) from exc
    states = dict(res.states)
    phases: list[dict] = []
    for step in res.trace:
        if not phases or phases[-1]["phase"] != step.phase:
            phases.append({"phase": step.phase, "title": "", "title_source": None,
                           "steps": [], "state": states.get(step.phase)})
        cur = phases[-1]
        if step.kind == EVENT and not cur["title"]:
            cur["title"] = step.text
            cur["title_source"] = step.source.to_dict() if step.source else None
        else:
            cur["steps"].append(step.to_dict())
    for ph in phases:
        if ph["phase"] == "setup":
            ph["title"] = "starting state: the arch's own fault path builds the mappings"
    return envelope(
        "explain",
        scenario=sc.to_dict(),
        arch=model.describe(kernel),
        gfn=hex(res.gfn),
        verdict=res.verdict,
        reason=res.reason,
        reason_source=res.reason_source.to_dict() if res.reason_source else None,
        reached_arch_hook=res.reached_arch_hook,
        flush=res.flush,
        diff=[c.to_dict() for c in res.diff],
        warnings=res.warnings,
        phases=phases,
        read_later=[src.to_dict() for src in res.read_later()],
    )
