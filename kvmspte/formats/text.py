"""Plain text: what a pipe or NO_COLOR gets; no escape codes, no rich import.

Laid out for ``width`` columns (80 when piped): the last column wraps inside
itself, and the scenario line wraps with a two-space indent.
"""

from __future__ import annotations

from kvmspte.formats.common import HEADERS, by_scenario, scenario_line
from kvmspte.formats.interface import Terminal
from kvmspte.formats.layout import PIPE_WIDTH, table, wrap


def render_text(report, *, width: int = PIPE_WIDTH) -> str:
    out: list[str] = []
    for sc, rows in by_scenario(report):
        if out:
            out.append("")
        out.extend(wrap(scenario_line(sc), width, "", "  "))
        out.extend(table(HEADERS, rows, width))
    return "\n".join(out) + "\n"


def _rich(report, width: int) -> str:
    from kvmspte.formats.rich_table import render_rich

    return render_rich(report, width=width)


#: the table format of compare and check: plain text, or drawn with rich when coloured
REPORT = Terminal(lambda report, width: render_text(report, width=width), _rich)
