"""Listings: the architecture models and the scenario catalogue."""

from __future__ import annotations

import json

from kvmspte.formats.layout import PIPE_WIDTH, table, wrap
from kvmspte.formats.markdown import table as md_table


def arch_rows(models, kernel=None) -> list[dict]:
    from kvmspte.engine import absent_reason

    rows = []
    for m in models:
        row = m.describe(kernel)
        if kernel is not None:
            gone = absent_reason(m, kernel)
            row["absent"] = gone[0] if gone else None
        rows.append(row)
    return rows


def _fold(line: str, width: int, rest: int) -> list[str]:
    """A listing line, wrapped under its own text (rest: the indent of what follows)."""
    if len(line) <= width:
        return [line]
    return wrap(line[rest:], width, line[:rest], " " * rest)


GLUE = "\x00"  # a space wrap() must not break at (str.split() breaks at \x1c-\x1f)


def _source_lines(hook: str, s: dict, width: int) -> list[str]:
    """One cited source of a hook; too wide, the note goes under the citation, and the
    citation under the hook name when its file:function does not fit beside it."""
    lead, cite = f"    {hook:<16} ", f"{s['file']}:{s['function']} @ {s['release']}"
    line = lead + cite + (f"  [{s['via']}]" if s.get("via") else "")
    if len(line) <= width:
        return [line]
    if len(lead) + len(cite.split()[0]) <= width:
        out, first, indent = [], lead, len(lead)
    else:
        out, first, indent = [lead.rstrip()], " " * 6, 6
    # "@ release" stays with its function where the two fit on a line
    glued = cite.replace(" @ ", GLUE + "@" + GLUE) if indent + len(cite) <= width else cite
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


def render_arches(models, fmt: str, width: int = PIPE_WIDTH, kernel=None) -> str:
    rows = arch_rows(models, kernel)
    if fmt == "json":
        doc = {"schema_version": 1, "arches": rows}
        if kernel is not None:
            doc = {"schema_version": 1, "kernel": str(kernel), "arches": rows}
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "markdown":
        body = [(f"`{r['id']}`", r["family"], r["release"], r["title"]) for r in rows]
        return "\n".join(md_table(("id", "family", "release", "model"), body)) + "\n"
    out = []
    for r in rows:
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
    return "\n".join(out)


def render_scenarios(scenarios, fmt: str, width: int = PIPE_WIDTH) -> str:
    if fmt == "json":
        return json.dumps({"schema_version": 1, "scenarios": [s.to_dict() for s in scenarios]},
                          indent=2) + "\n"
    rows = []
    for s in scenarios:
        flags = "+".join(n for n, on in (("dirty-log", s.dirty_logging), ("ro", s.readonly),
                                          ("invalid", s.invalid), ("mte", s.mte),
                                          ("unwrapped", not s.wrapped)) if on) or "-"
        rows.append((s.name, s.trigger, s.state, "yes" if s.neighbours else "no", flags,
                     s.description))
    headers = ("name", "trigger", "gfn state", "neighbours", "flags", "description")
    if fmt == "markdown":
        return "\n".join(md_table(headers, [(f"`{r[0]}`", *r[1:]) for r in rows])) + "\n"
    return "\n".join(table(headers, rows, width)) + "\n"
