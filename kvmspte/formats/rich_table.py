"""The terminal table, drawn with rich (imported only here)."""

from __future__ import annotations

from kvmspte.formats.common import HEADERS, by_scenario, scenario_line

STYLE = {"no-op": "green", "flush-only": "yellow", "changes": "bold red", "n/a": "dim",
         "error": "bold magenta"}


def render_rich(report, *, width: int = 100) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width, record=True, force_terminal=True, file=_Null())
    for sc, rows in by_scenario(report):
        table = Table(title=scenario_line(sc), title_justify="left", expand=False)
        for h in HEADERS:
            table.add_column(h, overflow="fold")
        for row in rows:
            style = STYLE.get(row[1].split(" ")[0], "")
            table.add_row(row[0], f"[{style}]{row[1]}[/]" if style else row[1], *row[2:])
        console.print(table)
    return console.export_text(styles=True)


class _Null:
    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        pass
