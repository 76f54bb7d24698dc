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
}


def output(args: list[str]) -> str:
    from kvmspte.cli import main

    os.environ["NO_COLOR"] = "1"
    os.environ.pop("COLUMNS", None)  # piped output is laid out for 80 columns
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            main(list(args))
        except SystemExit:
            pass
    return buf.getvalue()


if __name__ == "__main__":
    for name, args in CASES.items():
        (HERE / name).write_text(output(args), encoding="utf-8")
        print(f"wrote {name}", file=sys.stderr)
