"""The explain formats: Markdown, and the terminal text (plain, or drawn with rich)."""

from __future__ import annotations

import re

from kvmspte.errors import escape
from kvmspte.formats.interface import Plain, Terminal
from kvmspte.formats.layout import PIPE_WIDTH, wrap
from kvmspte.sim.source import cite


def _value(val) -> str:
    if isinstance(val, dict):
        return "{" + " ".join(_item(k, v) for k, v in val.items()) + "}"
    if isinstance(val, list):
        return ",".join(map(str, val)) or "(empty)"
    return str(val)


def _item(key: str, val) -> str:
    if isinstance(val, bool):
        return key if val else f"!{key}"
    return f"{key}={_value(val)}"


def state_line(row: dict) -> str:
    """One structure of the walk as a compact line: key=value, flags bare or negated."""
    return " ".join(_item(k, v) for k, v in row.items())


def render_markdown(doc: dict, *, state_width: int | None = None, links: bool = True) -> str:
    """Markdown; with state_width, the state lines (a code block) wrap to that width; links:
    citations link to the cross-referencer (plain text drops them)."""
    def cite_md(src: dict) -> str:
        return cite(src, markdown=True) if links else f"`{cite(src)}`"

    sc, arch = doc["scenario"], doc["arch"]
    out = [f"# {sc['name']} on {arch['id']} (Linux {arch['release']})", "",
           escape(sc["description"]), "",
           f"**Verdict: `{doc['verdict']}`** for gfn {doc['gfn']}: {doc['reason']}"]
    if doc["reason_source"]:
        out[-1] += f" ({cite_md(doc['reason_source'])})"
    out.append("")
    for n, ph in enumerate(doc["phases"]):
        head = ph["title"]
        if ph["title_source"]:
            head += f" — {cite_md(ph['title_source'])}"
        out += [f"## {n}. {head}", ""]
        for i, st in enumerate(ph["steps"], 1):
            mark = {"flush": " **[flush]**", "warn": " **[WARN]**", "hook": " **[arch hook]**"}
            src = f" — {cite_md(st['source'])}" if st["source"] else ""
            out.append(f"{i}. {st['actor']}: {st['text']}{mark.get(st['kind'], '')}{src}")
        if ph["state"] is not None:
            out += ["", f"State for gfn {doc['gfn']} afterwards:", ""]
            out += [f"    {ln}" for r in ph["state"] for ln in
                    ([state_line(r)] if state_width is None else
                     wrap(state_line(r), state_width, "", "  "))] or ["    (nothing)"]
        out.append("")
    if doc["diff"]:
        out += ["## What change_pte changed", ""]
        out += [f"- {c['kind']} `{c['key']}`: {_value(c['old']) if c['old'] else '(none)'} -> "
                f"{_value(c['new']) if c['new'] else '(none)'}" for c in doc["diff"]]
        out.append("")
    if doc.get("read_later"):
        out += [f"## Read at a later release than {arch['release']}", "",
                f"These citations name a copy read after {arch['release']}: the model holds "
                "their code unchanged back to this release, and no copy of this release was "
                "read for them.", ""]
        out += [f"- {cite_md(src)}" for src in doc["read_later"]]
        out.append("")
    return "\n".join(out)


# what a line starts with, and so where its continuation lines are indented to
_LEAD = re.compile(r"#+ (?:\d+\. )?|\d+\. |- |    ")


def render_plain(doc: dict, width: int = PIPE_WIDTH) -> str:
    """The Markdown without its markup, each line wrapped to width under its own text."""
    text = render_markdown(doc, links=False).replace("**", "").replace("`", "")
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        m = _LEAD.match(line)
        lead = m.group(0) if m else ""
        rest = " " * (len(lead) + (2 if lead == "    " else 0))
        out += wrap(line[len(lead):], width, lead, rest)
    return "\n".join(out)


def render_rich(doc: dict, width: int = PIPE_WIDTH) -> str:
    from rich.console import Console
    from rich.markdown import Markdown

    from kvmspte.formats.rich_table import _Null

    console = Console(width=width, record=True, force_terminal=True, file=_Null())
    # rich draws a code block with one column of padding on either side
    console.print(Markdown(render_markdown(doc, state_width=width - 2)))
    # citations are OSC 8 hyperlinks; drop rich's random link ids so output is reproducible
    return re.sub(r"\x1b\]8;id=\d+;", "\x1b]8;;", console.export_text(styles=True))


TABLE = Terminal(render_plain, render_rich)
MARKDOWN = Plain(render_markdown)
