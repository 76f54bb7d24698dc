"""Renderers for explore outcomes (table, json, markdown)."""

from __future__ import annotations

from kvmspte.formats.interface import Plain, Terminal
from kvmspte import envelope
from kvmspte.formats.jsonfmt import Json
from kvmspte.formats.layout import PIPE_WIDTH, can_fit, table, wrap
from kvmspte.formats.markdown import table as md_table
from kvmspte.sim.source import cite

HEADERS = ("race", "arch", "actors", "states", "interleavings", "finished", "gfn at the end",
           "violations")


def _viol(o) -> str:
    if o.error:
        return f"error: the model raised {o.error}"
    if o.na:
        return f"n/a: {o.na}"
    return ", ".join(f"{k} x{n}" for k, n in sorted(o.violations.items())) or "none"


def rows(outcomes) -> list[tuple[str, ...]]:
    return [(o.race, o.arch, ",".join(o.actors), str(o.states), str(o.interleavings),
             _finished(o), _ends(o), _viol(o)) for o in outcomes]


def _finished(o) -> str:
    if o.error:
        return "error"
    return "yes" if o.finished else "NO (bound hit)"


def _ends(o) -> str:
    """What the secondary MMU maps the gfn to in the terminal states, by count."""
    return ", ".join(f"{k} x{n}" for k, n in sorted(o.terminal.items())) or "-"


def counterexamples(outcomes, md: bool, width: int | None = None) -> list[str]:
    out = []
    for o in outcomes:
        for v in o.examples.values():
            out += _example(o, v, md, width)
    return out


def _example(o, v, md: bool, width: int | None = None) -> list[str]:
    """The shortest counter-example of one kind, as numbered steps with citations (and, in
    Markdown, a Mermaid sequence diagram beside them).  With a width (the text table), a
    line that does not fit wraps under its own text, its citation on lines of its own."""
    head = f"{o.race} on {o.arch}: {v.kind} (shortest, {len(v.path)} steps): {v.message}"
    if md:
        out = ["", f"### {head}", ""] + mermaid(o, v) + [""]
    else:
        out = ["", head] if width is None or len(head) <= width else \
            ["", *wrap(head, width, "", "  ")]
    for n, (actor, idx) in enumerate(v.path, 1):
        st = o.steps[actor][idx]
        cited = "; ".join(cite(s) for s in (st.source, *st.also))
        if md:
            out.append(f"{n}. {actor}: {st.label} — `{cited}`")
            continue
        lead = f"  {n:>2}. {actor:<7} "
        line = f"{lead}{st.label}  [{cited}]"
        if width is None or len(line) <= width:
            out.append(line)
        else:
            rest = " " * len(lead)
            out += wrap(st.label, width, lead, rest) + wrap(f"[{cited}]", width, rest, rest)
    if md and v.state:
        out += ["", f"Violating state: {state_text(v.state)}."]
    return out


def state_text(state: dict) -> str:
    quiet = "quiescent" if state.get("quiescent") else "not quiescent"
    ptl = f"PTL held by {state['ptl']}" if state.get("ptl") else "PTL free"
    return (f"{quiet}, {ptl}, mmu_invalidate_in_progress={state['mmu_invalidate_in_progress']}"
            f", mn_active_invalidate_count={state['mn_active_invalidate_count']}; primary "
            f"maps {state['primary']['gfn']}, secondary maps {state['secondary']['gfn']}")


_MERMAID_BAD = str.maketrans({";": ",", "#": "no.", "<": "‹", ">": "›", ":": " -", "\n": " ",
                             "\"": "'", "{": "(", "}": ")", "%": " pct"})


def mermaid_text(text: str) -> str:
    """Text safe inside a Mermaid sequence message or note: no statement separators, no
    comment or entity markers, no HTML brackets."""
    return text.translate(_MERMAID_BAD).strip()


def mermaid(o, v) -> list[str]:
    """The counter-example as a Mermaid sequence diagram: each actor a lifeline, each step a
    message from the actor to the layer it acts on, the violating state as a closing note."""
    actors = list(dict.fromkeys(a for a, _ in v.path)) or list(o.actors)
    lines = ["```mermaid", "sequenceDiagram", "    autonumber"]
    for a in actors:
        lines.append(f"    participant {_mid(a)} as {mermaid_text(a)}")
    lines.append("    participant mm as primary MMU")
    lines.append("    participant kvm as KVM + secondary MMU")
    for actor, idx in v.path:
        st = o.steps[actor][idx]
        target = "kvm" if _to_kvm(st.label) else "mm"
        lines.append(f"    {_mid(actor)}->>{target}: {mermaid_text(st.label)}")
    note = mermaid_text(f"{v.kind}: {v.message}")
    lines.append(f"    Note over {_mid(actors[0])},kvm: {note}")
    lines.append("```")
    return lines


def _mid(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _to_kvm(label: str) -> bool:
    return any(w in label for w in ("invalidate_range", "change_pte", "mmu_lock",
                                    "mmu_invalidate_seq"))


def summary(outcomes) -> str:
    total = sum(o.states for o in outcomes)
    secs = sum(o.seconds for o in outcomes)
    bad = sum(1 for o in outcomes if o.violations)
    rate = f", {total / secs:,.0f} states/s" if secs else ""
    return (f"{len(outcomes)} runs, {total} states{rate}; {bad} with violations; "
            f"{'all finished' if all(o.finished for o in outcomes) else 'SOME DID NOT FINISH'}")


def explore_doc(outcomes) -> dict:
    return envelope("explore", results=[o.to_dict() for o in outcomes])


def render_markdown(outcomes) -> str:
    body = md_table(HEADERS, rows(outcomes))
    return "\n".join(body + counterexamples(outcomes, True)) + "\n"


def render_text(outcomes, width: int = PIPE_WIDTH, *, timing: bool = True) -> str:
    rs = rows(outcomes)
    lines = table(HEADERS, rs, width) if can_fit(HEADERS, rs, width) else _by_race(rs, width)
    lines += counterexamples(outcomes, False, width)
    if timing:
        lines += ["", *wrap(summary(outcomes), width, "", "  ")]
    return "\n".join(lines) + "\n"


def _by_race(rs, width: int) -> list[str]:
    """The table grouped under one line per race, for a width the flat table cannot fit."""
    out: list[str] = []
    for race in dict.fromkeys(r[0] for r in rs):
        if out:
            out.append("")
        out.append(race)
        out += ["  " + ln if ln else ln
                for ln in table(HEADERS[1:], [r[1:] for r in rs if r[0] == race], width - 2)]
    return out


TABLE = Terminal(render_text)
MARKDOWN = Plain(render_markdown)
JSON = Json(explore_doc)
