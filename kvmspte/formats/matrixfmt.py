"""Renderers for the matrix (table, json, markdown).

The table is drawn with the verdicts as words when that fits the width; when it
does not (ten architectures need about 140 columns), it turns compact: one
letter per verdict, with a legend, and the architecture names staggered over
the columns they head, so every line fits in 80 columns.
"""

from __future__ import annotations

from kvmspte.formats.interface import Plain, Terminal
from kvmspte.formats.layout import PIPE_WIDTH, table, wrap
from kvmspte.formats.markdown import table as md_table
from kvmspte.analyses.matrix import COMPACT_LEGEND, LEGEND, Matrix

GAP = "  "       # between the columns of the full table
PITCH = 3        # columns per architecture in the compact table: a cell of 2 and a space


def grid(m: Matrix, *, compact: bool = False) -> tuple[list[str], list[list[str]]]:
    headers = ["scenario", "expected", *m.arches]
    rows = [[r.scenario.name, r.expected or "-",
             *(c.text(r.expected, compact=compact) for c in r.cells)] for r in m.rows]
    return headers, rows


def legend_lines(legend=LEGEND, width: int | None = None) -> list[str]:
    if width is None:
        return [f"  {sym:<9} {text}" for sym, text in legend]
    return [ln for sym, text in legend for ln in wrap(text, width, f"  {sym:<9} ")]


def _widths(headers, rows) -> list[int]:
    return [max(len(x[i]) for x in [headers, *rows]) for i in range(len(headers))]


def full_width(m: Matrix) -> int:
    return sum(_widths(*grid(m))) + len(GAP) * (len(m.arches) + 1)


def compact_lines(m: Matrix) -> tuple[list[str], list[tuple[list[str], list[str]]]]:
    """The staggered header lines, and per row (its two leading cells, its symbols)."""
    headers, rows = grid(m, compact=True)
    lead = [max(len(x[i]) for x in [headers, *rows]) for i in (0, 1)]
    left = lead[0] + len(GAP) + lead[1] + len(GAP)
    head = []
    for i, arch in enumerate(m.arches):
        start = (headers[0].ljust(lead[0]) + GAP + headers[1]).ljust(left) if i == 0 \
            else " " * left
        head.append((start + "|  " * i + arch).rstrip())
    body = [([r[0].ljust(lead[0]), r[1].ljust(lead[1])], r[2:]) for r in rows]
    return head, body


def render_markdown(m: Matrix) -> str:
    headers, rows = grid(m)
    body = md_table(headers, [[f"`{r[0]}`", *r[1:]] for r in rows])
    legend = [f"- `{sym}`: {text}" for sym, text in LEGEND]
    return "\n".join(body + ["", *legend, "", f"{m.summary()}"]) + "\n"


def render_text(m: Matrix, width: int = PIPE_WIDTH) -> str:
    headers, rows = grid(m)
    if full_width(m) <= width:
        lines = table(headers, rows, width)
        return "\n".join(lines + ["", "legend:", *legend_lines(), "", m.summary()]) + "\n"
    head, body = compact_lines(m)
    lines = head + [(GAP.join(lead) + GAP + " ".join(c.ljust(PITCH - 1) for c in cells))
                    .rstrip() for lead, cells in body]
    return "\n".join(lines + ["", "legend:", *legend_lines(COMPACT_LEGEND, width), "",
                              m.summary()]) + "\n"


def _style(cell, text: str) -> str:
    if cell.mismatch:
        return "bold red"
    return "" if text == "=" else "yellow"


def render_rich(m: Matrix, width: int = PIPE_WIDTH) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from kvmspte.formats.rich_table import _Null

    headers, rows = grid(m)
    console = Console(width=width, record=True, force_terminal=True, file=_Null())
    # a box table costs 3 columns per column plus one for its borders and padding
    boxed = sum(_widths(headers, rows)) + 3 * len(headers) + 1
    if boxed <= width:
        table = Table(title="kvmspte matrix", title_justify="left")
        for h in headers:
            table.add_column(h, no_wrap=True)
        for r, row in zip(m.rows, rows):
            table.add_row(row[0], row[1], *(Text(t, style=_style(c, t))
                                            for c, t in zip(r.cells, row[2:])))
        console.print(table)
        legend = legend_lines()
    else:
        head, body = compact_lines(m)
        console.print(Text("kvmspte matrix", style="italic"))
        for line in head:
            console.print(Text(line, style="bold"), no_wrap=True, overflow="ignore")
        for r, (lead, cells) in zip(m.rows, body):
            line = Text(GAP.join(lead) + GAP)
            for c, t in zip(r.cells, cells):
                line.append(t, style=_style(c, t))
                line.append(" " * (PITCH - len(t)))
            line.rstrip()
            console.print(line, no_wrap=True, overflow="ignore")
        legend = legend_lines(COMPACT_LEGEND, width)
    console.print("legend:\n" + "\n".join(legend), markup=False, highlight=False)
    console.print(m.summary())
    return console.export_text(styles=True)


TABLE = Terminal(render_text, render_rich)
MARKDOWN = Plain(render_markdown)
