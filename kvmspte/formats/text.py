"""Plain text: what a pipe or NO_COLOR gets; no escape codes, no rich import."""

from __future__ import annotations

from kvmspte.formats.common import HEADERS, by_scenario, scenario_line


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS) - 1)]
    lines = []
    for row in [HEADERS, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return lines


def render_text(report) -> str:
    out: list[str] = []
    for sc, rows in by_scenario(report):
        if out:
            out.append("")
        out.append(scenario_line(sc))
        out.extend(_table(rows))
    return "\n".join(out) + "\n"
