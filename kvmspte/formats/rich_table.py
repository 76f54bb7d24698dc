"""The terminal table, drawn with rich (imported only here).

Column widths are decided by kvmspte.formats.layout for the console width (rich
would otherwise fold words it cannot fit), and cells are Text or escaped, never markup, so
text such as ``[expect]`` is printed as it is.
"""

from __future__ import annotations

from kvmspte.formats.common import HEADERS, by_scenario, scenario_line
from kvmspte.formats.layout import fit, wrap

STYLE = {"no-op": "green", "flush-only": "yellow", "changes": "bold red", "n/a": "dim",
         "error": "bold magenta"}


def box_widths(headers, rows, width: int) -> list[int]:
    """Content widths of a rich box table of ``width`` columns (borders and padding off)."""
    room = width - (3 * len(headers) + 1)
    return fit([list(col) for col in zip(headers, *rows)], room, gap=0)


def folded(text: str, width: int) -> str:
    return text if len(text) <= width else "\n".join(wrap(text, width))


def render_rich(report, *, width: int = 100) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    console = Console(width=width, record=True, force_terminal=True, file=_Null())
    for sc, rows in by_scenario(report):
        table = Table(title=escape(scenario_line(sc)), title_justify="left", expand=False)
        widths = box_widths(HEADERS, rows, width)
        for h, w in zip(HEADERS, widths):
            table.add_column(escape(folded(h, w)), width=w, no_wrap=True, overflow="ignore")
        for row in rows:
            style = STYLE.get(row[1].split(" ")[0], "")
            table.add_row(*(Text(folded(c, w), style=style if i == 1 else "")
                            for i, (c, w) in enumerate(zip(row, widths))))
        console.print(table)
    return console.export_text(styles=True)


class _Null:
    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        pass
