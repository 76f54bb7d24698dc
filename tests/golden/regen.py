"""Regenerate the golden files: .venv/bin/python tests/golden/regen.py (or `make golden`).

Each golden file is the exact output of one command, listed in CASES; the tests in
tests/test_golden.py compare the live output against them.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent

CASES = {
    "compare-ksm-merge.txt": ["compare"],
    "compare-ksm-merge.json": ["compare", "--format", "json"],
    "compare-ksm-merge.md": ["compare", "--format", "markdown"],
    "compare-cow-huge.txt": ["compare", "cow-huge"],
    "matrix.txt": ["matrix"],
    "matrix.md": ["matrix", "--format", "markdown"],
    "matrix.json": ["matrix", "--format", "json"],
    "explain-ksm-merge-arm64.md": ["explain", "ksm-merge", "--arch", "arm64", "--format",
                                   "markdown"],
    "explain-ksm-merge-x86-tdp.txt": ["explain", "ksm-merge", "--arch", "x86-tdp"],
    "arches.txt": ["arches"],
    "explore-writer-zapper.md": ["explore", "writer-zapper", "--format", "markdown"],
    "explore.json": ["explore", "--format", "json"],
    "scenarios.txt": ["scenarios"],
    "history-ksm-merge.txt": ["history"],
    "history-cow-4k.md": ["history", "cow-4k", "--format", "markdown"],
    # the same commands on a terminal wide enough for every line: the layout before
    # output was fitted to the width, unchanged
    "compare-ksm-merge-wide.txt": ["compare"],
    "matrix-wide.txt": ["matrix"],
    "explain-ksm-merge-x86-tdp-wide.txt": ["explain", "ksm-merge", "--arch", "x86-tdp"],
    "arches-wide.txt": ["arches"],
    "scenarios-wide.txt": ["scenarios"],
}

#: COLUMNS for a case; the others are piped output, laid out for 80 columns
WIDTHS = {name: 1000 for name in CASES if name.split(".")[0].endswith("-wide")}


def run(args: list[str], width: int | None = None) -> tuple[int, str]:
    """(exit status, standard output) of one case, piped (80 columns) unless width."""
    from kvmspte.cli import main

    os.environ["NO_COLOR"] = "1"
    os.environ.pop("COLUMNS", None)  # piped output is laid out for 80 columns
    if width:
        os.environ["COLUMNS"] = str(width)
    buf, code = io.StringIO(), 0
    with contextlib.redirect_stdout(buf):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code or 0
        finally:
            os.environ.pop("COLUMNS", None)
    return code, buf.getvalue()


def output(args: list[str], width: int | None = None) -> str:
    return run(args, width)[1]


if __name__ == "__main__":
    for name, args in CASES.items():
        (HERE / name).write_text(output(args, WIDTHS.get(name)), encoding="utf-8")
        print(f"wrote {name}", file=sys.stderr)
