"""Renderers for ``kvmspte history``: a plain table, JSON, Markdown, and a Mermaid chart.

The Mermaid chart is a ``gantt`` whose time axis is the index of the switch points, not a
date: ``dateFormat X`` reads each bound as a Unix time in seconds, and ``axisFormat %s``
prints it back as that number, so bar i..j spans switch points i to j.  One section per
architecture is one lane; the task tags colour the bars by verdict (``crit`` red for
changes, ``active`` for flush-only, ``done`` grey for no-op, no tag for absent or n/a) and
every bar is labelled with its verdict and releases, so the colour is never the only
carrier.  GitHub and GitLab render ``gantt`` blocks; ``timeline`` has no lanes of bars.
"""

from __future__ import annotations

from kvmspte.formats.interface import Plain, Terminal
from kvmspte.formats.jsonfmt import REPORT
from kvmspte.formats.layout import PIPE_WIDTH, table
from kvmspte.formats.markdown import cell, table as md_table

HEADERS = ("arch", "releases", "verdict", "changed by")
#: Mermaid gantt task tags per verdict (the bar's colour); other verdicts: no tag
TAGS = {"changes": "crit", "flush-only": "active", "no-op": "done", "error": "crit, active"}


def span_text(r) -> str:
    return f"{r.start}..{r.end}" if r.end else f"{r.start}.. (open)"


def cause_text(c, *, cite: bool = True) -> str:
    from kvmspte.analyses.history import cite as cite_of

    if c is None:
        return "-"
    text = f"{c.table} {c.switch.name} {c.switch.commit}"
    return f"{text}: {cite_of(c.switch.source)}" if cite else text


def heading(h) -> str:
    pts = h.points
    return (f"{h.scenario.name}: verdict by release, run at {len(pts)} switch points "
            f"{pts[0]}..{pts[-1]}; a range runs from its release up to the next")


def rows(h) -> tuple[list[list[str]], list[str]]:
    """The table rows, and the citations they point to as numbered notes ([1] ...)."""
    from kvmspte.analyses.history import cite

    notes: dict[str, int] = {}
    out = []
    for a in h.arches:
        for i, r in enumerate(a.ranges):
            c = r.changed_by
            text = "-"
            if c is not None:
                n = notes.setdefault(cite(c.switch.source), len(notes) + 1)
                text = f"{cause_text(c, cite=False)} [{n}]"
            out.append([a.arch if i == 0 else "", span_text(r), r.verdict, text])
    return out, [f"[{n}] {text}" for text, n in notes.items()]


def render_text(h, width: int = PIPE_WIDTH) -> str:
    from kvmspte.formats.layout import wrap

    body, notes = rows(h)
    lines = wrap(heading(h), width, "", "  ") + table(HEADERS, body, width) + [""]
    for note in notes:
        first, _, rest = note.partition(" ")
        lines += wrap(rest, width, first + " ")
    return "\n".join(lines) + "\n"


def markdown_rows(h) -> list[list[str]]:
    from kvmspte.analyses.history import cite

    out = []
    for a in h.arches:
        for i, r in enumerate(a.ranges):
            c = r.changed_by
            out.append([f"`{a.arch}`" if i == 0 else "", f"{r.start}",
                        f"{r.end}" if r.end else "(open)", f"`{r.verdict}`",
                        "-" if c is None else cell(f"{c.table} `{c.switch.name}` "
                                                   f"{c.switch.commit}"),
                        "-" if c is None else cell(f"`{cite(c.switch.source)}`")])
    return out


def render_markdown(h, *, chart: bool = True) -> str:
    lines = [f"**{cell(heading(h))}**", ""]
    lines += md_table(("arch", "from", "to", "verdict", "changed by", "citation"),
                      markdown_rows(h))
    if chart:
        lines += ["", *mermaid(h)]
    return "\n".join(lines) + "\n"


def mermaid(h) -> list[str]:
    """A gantt chart: one lane per architecture, the axis the index of the switch points."""
    index = {p: i for i, p in enumerate(h.points)}
    last = len(h.points)
    out = ["```mermaid", "gantt", f"    title {h.scenario.name}: verdict by release "
           f"(axis: switch point index, listed below)", "    dateFormat X",
           "    axisFormat %s"]
    for a in h.arches:
        out.append(f"    section {a.arch}")
        for n, r in enumerate(a.ranges):
            end = index[r.end] if r.end else last
            tag = TAGS.get(r.verdict)
            label = f"{r.verdict} {r.start}-{r.end or 'open'}".replace(":", " ")
            out.append(f"    {label} :{tag + ', ' if tag else ''}{_id(a.arch)}{n}, "
                       f"{index[r.start]}, {end}")
    out.append("```")
    out += ["", "Switch points (axis index: release): " +
            ", ".join(f"{i}: {p}" for i, p in enumerate(h.points)) + "."]
    return out


def _id(arch: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in arch) + "_"


TABLE = Terminal(render_text)
MARKDOWN = Plain(render_markdown)
#: like the compare report, the history keeps non-ASCII text as it is
JSON = REPORT
