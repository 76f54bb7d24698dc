"""Markdown: tables for pasting into a mail, a bug or the docs."""

from __future__ import annotations

from kvmspte.formats.common import HEADERS, by_scenario, scenario_line
from kvmspte.formats.interface import Plain


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(headers, rows) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report) -> str:
    out: list[str] = []
    for sc, rows in by_scenario(report):
        if out:
            out.append("")
        out += [f"**{cell(scenario_line(sc))}**", ""]
        out += table(HEADERS, [(f"`{r[0]}`", *r[1:]) for r in rows])
    return "\n".join(out) + "\n"


#: the markdown format of compare and check
REPORT = Plain(render_markdown)
