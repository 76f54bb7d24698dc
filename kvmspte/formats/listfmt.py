"""Listing formats: the architecture models and the scenario catalogue."""

from __future__ import annotations

from kvmspte import envelope
from kvmspte.formats.interface import Plain, Terminal
from kvmspte.formats.jsonfmt import Json
from kvmspte.formats.layout import PIPE_WIDTH, table, wrap
from kvmspte.formats.markdown import table as md_table
from kvmspte.sim.source import cite


def _fold(line: str, width: int, rest: int) -> list[str]:
    """A listing line, wrapped under its own text (rest: the indent of what follows)."""
    if len(line) <= width:
        return [line]
    return wrap(line[rest:], width, line[:rest], " " * rest)


GLUE = "\x00"  # a space wrap() must not break at (str.split() breaks at \x1c-\x1f)


def _source_lines(hook: str, s: dict, width: int) -> list[str]:
    """One cited source of a hook; too wide, the note goes under the citation, and the
    citation under the hook name when its file:function does not fit beside it."""
    lead, cited = f"    {hook:<16} ", cite(s)
    line = lead + cited + (f"  [{s['via']}]" if s.get("via") else "")
    if len(line) <= width:
        return [line]
    if len(lead) + len(cited.split()[0]) <= width:
        out, first, indent = [], lead, len(lead)
    else:
        out, first, indent = [lead.rstrip()], " " * 6, 6
    # "@ release" stays with its function where the two fit on a line
    glued = cited.replace(" @ ", GLUE + "@" + GLUE) if indent + len(cited) <= width else cited
    out += wrap(glued, width, first, " " * indent)
    indent += 2
    out = [ln.replace(GLUE, " ") for ln in out]
    return out + (wrap(f"[{s['via']}]", width, " " * indent) if s.get("via") else [])


def _era_lines(r: dict, width: int) -> list[str]:
    """With --kernel: whether change_pte reaches the model there, and its switch points."""
    out = []
    if r.get("absent"):
        out += _fold(f"    absent: {r['absent']}", width, 12)
    for s in r["switches"]:
        mark = "in" if s["active"] else "not yet"
        out += _fold(f"    switch {s['since']} ({mark}): {s['name']}: {s['what']}", width, 6)
    return out


def arches_markdown(doc: dict) -> str:
    body = [(f"`{r['id']}`", r["family"], r["release"], r["title"]) for r in doc["arches"]]
    return "\n".join(md_table(("id", "family", "release", "model"), body)) + "\n"


def arches_text(doc: dict, width: int = PIPE_WIDTH) -> str:
    out = []
    kernel = doc.get("kernel")
    for r in doc["arches"]:
        out += _arch_lines(r, width, kernel)
    return "\n".join(out)


def _arch_lines(r: dict, width: int, kernel) -> list[str]:
    out = []
    lead = f"{r['id']}  ({r['family']}, Linux {r['release']})  "
    out += [lead + r["title"]] if len(lead + r["title"]) <= width else \
        wrap(r["title"], width, lead, "    ")
    if r["free_policy"]:
        out += _fold(f"    table pages      freed: {r['free_policy']}", width, 21)
    for hook, sources in r["hooks"].items():
        for s in sources:
            out += _source_lines(hook, s, width)
    if r.get("fault_retry"):
        fr = r["fault_retry"]
        out += _source_lines("fault retry", dict(fr["source"], function=fr["source"]["function"]
                                               + f" ({fr['predicate']})"), width)
    for rule, s in r.get("host_mm", {}).items():
        out += _source_lines(f"host mm: {rule}", s, width)
    for finding in r["findings"]:
        out += _fold(f"    finding: {finding}", width, 13)
    if kernel is not None:
        out += _era_lines(r, width)
    out.append("")
    return out


def scenarios_doc(scenarios) -> dict:
    return envelope(None, scenarios=[s.to_dict() for s in scenarios])


def _scenario_rows(scenarios):
    rows = []
    for s in scenarios:
        flags = "+".join(n for n, on in (("dirty-log", s.dirty_logging), ("ro", s.readonly),
                                          ("invalid", s.invalid), ("mte", s.mte),
                                          ("unwrapped", not s.wrapped)) if on) or "-"
        rows.append((s.name, s.trigger, s.state, "yes" if s.neighbours else "no", flags,
                     s.description))
    return rows


SCENARIO_HEADERS = ("name", "trigger", "gfn state", "neighbours", "flags", "description")


def scenarios_markdown(scenarios) -> str:
    rows = _scenario_rows(scenarios)
    return "\n".join(md_table(SCENARIO_HEADERS, [(f"`{r[0]}`", *r[1:]) for r in rows])) + "\n"


def scenarios_text(scenarios, width: int = PIPE_WIDTH) -> str:
    return "\n".join(table(SCENARIO_HEADERS, _scenario_rows(scenarios), width)) + "\n"


ARCHES_TABLE = Terminal(arches_text)
ARCHES_MARKDOWN = Plain(arches_markdown)
SCENARIOS_TABLE = Terminal(scenarios_text)
SCENARIOS_JSON = Json(scenarios_doc)
SCENARIOS_MARKDOWN = Plain(scenarios_markdown)
