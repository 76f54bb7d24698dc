"""Fitting text into a width without breaking words (no rich import here).

Lines break at spaces.  A word longer than the room it has is split only after a
comma, which in this tool's output separates the items of a flag list
(``_PAGE_PRESENT,_PAGE_READ``); a word with no comma in it is never broken, it
overflows instead.  Tables give every column its natural width and, when the row
is too wide, narrow the column with the most room to spare, never below its
longest unbreakable piece.
"""

from __future__ import annotations

import os
import re
import sys

#: Width used when the output is not a terminal and COLUMNS is unset.
PIPE_WIDTH = 80

_SOFT = re.compile(r"(?<=,)(?=.)")


def output_width() -> int:
    """The width to lay out for: COLUMNS if set, else the terminal's, else 80 (a pipe)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns or PIPE_WIDTH
    except (OSError, ValueError, AttributeError):
        pass
    return PIPE_WIDTH


def pieces(word: str) -> list[str]:
    """The parts a word may be split into: after each comma."""
    return _SOFT.split(word)


def min_width(text: str) -> int:
    """The narrowest width text can be wrapped to without breaking a word."""
    return max((len(p) for w in text.split() for p in pieces(w)), default=0)


def wrap(text: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """Greedy wrap at spaces (and, for over-long words, after commas).

    ``first`` prefixes the first line and ``rest`` (default: as many spaces as
    ``first`` is long) every following one; both count towards ``width``.
    """
    rest = " " * len(first) if rest is None else rest
    lines: list[str] = []
    cur, prefix = "", first
    for word in text.split():
        room = width - len(prefix)
        if not cur and len(word) <= room:
            cur = word
            continue
        if cur and len(cur) + 1 + len(word) <= room:
            cur += " " + word
            continue
        # the word does not fit on this line: close it, unless the word must be split
        parts = pieces(word) if len(word) > width - len(rest) else [word]
        if cur:
            if len(parts) > 1 and len(cur) + 1 + len(parts[0]) <= room:
                cur += " " + parts.pop(0)
                word = "".join(parts)
            lines.append(prefix + cur)
            cur, prefix = "", rest
        for part in parts:
            room = width - len(prefix)
            if cur and len(cur) + len(part) > room:
                lines.append(prefix + cur)
                cur, prefix = "", rest
            cur += part
    lines.append(prefix + cur)
    return [ln.rstrip() for ln in lines]


def fit(columns: list[list[str]], width: int, gap: int) -> list[int]:
    """Column widths for cells (column-major) in ``width``: natural, narrowed as needed."""
    natural = [max((len(c) for c in col), default=0) for col in columns]
    least = [max((min_width(c) for c in col), default=0) for col in columns]
    widths = natural[:]
    over = sum(widths) + gap * (len(widths) - 1) - width
    while over > 0:
        i = max(range(len(widths)), key=lambda k: widths[k] - least[k])
        if widths[i] <= least[i]:
            break
        widths[i] -= 1
        over -= 1
    return widths


def can_fit(headers, rows, width: int, gap: int = 2) -> bool:
    """Whether table() can keep every column in the row at this width."""
    least = [max(min_width(c) for c in col) for col in zip(headers, *rows)]
    return sum(least) + gap * (len(least) - 1) <= width


def table(headers, rows, width: int, gap: int = 2) -> list[str]:
    """A plain table in ``width`` columns; cells wrap inside their column.

    When even the narrowest columns do not fit, the last column leaves the row
    and is printed under it, indented by four spaces (and if the rest still does
    not fit, the gaps narrow to one space).
    """
    grid = [list(headers), *[list(r) for r in rows]]
    least = [max(min_width(c) for c in col) for col in zip(*grid)]
    if len(least) > 1 and sum(least) + gap * (len(least) - 1) > width:
        if sum(least[:-1]) + gap * (len(least) - 2) > width:
            gap = 1  # the gaps narrow to one space before more leaves the row
        out = []
        for lines, row in zip(_rows([r[:-1] for r in grid], width, gap), grid):
            out += lines + wrap(row[-1], width, "    ")
        return out
    return [ln for lines in _rows(grid, width, gap) for ln in lines]


def _rows(grid, width: int, gap: int) -> list[list[str]]:
    """The lines of each row of grid (headers first), laid out in width."""
    widths = fit([list(col) for col in zip(*grid)], width, gap)
    out = []
    for row in grid:
        cells = [wrap(c, w) if len(c) > w else [c] for c, w in zip(row, widths)]
        lines = []
        for n in range(max(len(c) for c in cells)):
            parts = [(c[n] if n < len(c) else "").ljust(w) for c, w in zip(cells, widths)]
            lines.append((" " * gap).join(parts[:-1] + [cells[-1][n] if n < len(cells[-1])
                                                        else ""]).rstrip())
        out.append(lines)
    return out
