"""Renderers for the matrix (table, json, markdown)."""

from __future__ import annotations

import json

from kvmspte.formats.markdown import table as md_table
from kvmspte.matrix import LEGEND, Matrix


def grid(m: Matrix) -> tuple[list[str], list[list[str]]]:
    headers = ["scenario", "expected", *m.arches]
    rows = [[r.scenario.name, r.expected or "-", *(c.text(r.expected) for c in r.cells)]
            for r in m.rows]
    return headers, rows


def legend_lines() -> list[str]:
    return [f"  {sym:<9} {text}" for sym, text in LEGEND]


def render_matrix(m: Matrix, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return json.dumps(m.to_dict(), indent=2) + "\n"
    headers, rows = grid(m)
    if fmt == "markdown":
        body = md_table(headers, [[f"`{r[0]}`", *r[1:]] for r in rows])
        legend = [f"- `{sym}`: {text}" for sym, text in LEGEND]
        return "\n".join(body + ["", *legend, "", f"{m.summary()}"]) + "\n"
    if color:
        return _rich(m, headers, rows)
    widths = [max(len(x[i]) for x in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [headers, *rows]]
    return "\n".join(lines + ["", "legend:", *legend_lines(), "", m.summary()]) + "\n"


def _rich(m: Matrix, headers, rows) -> str:
    from rich.console import Console
    from rich.table import Table

    from kvmspte.formats.rich_table import _Null

    console = Console(width=200, record=True, force_terminal=True, file=_Null())
    table = Table(title="kvmspte matrix", title_justify="left")
    for h in headers:
        table.add_column(h)
    for r in rows:
        styled = [f"[bold red]{c}[/]" if c.endswith("!") else
                  (c if c in ("=", "-") else f"[yellow]{c}[/]") for c in r[2:]]
        table.add_row(r[0], r[1], *styled)
    console.print(table)
    console.print("legend:\n" + "\n".join(legend_lines()))
    console.print(m.summary())
    return console.export_text(styles=True)
