"""Regenerate the golden files: .venv/bin/python tests/golden/regen.py (or `make golden`).

Each golden file is the output of one command, listed in CASES (exact bytes, unless
PROJECTIONS names a reduction of it); the tests in tests/test_golden.py compare the live
output against them.

Few and small: one per output path that nothing else pins byte for byte. The README's
compare and history blocks and the pages of docs/ (the matrix, the explore and history
Markdown) are pinned by `kvmspte docs --check` (tests/test_docs.py); the shape of every
JSON output by its schema (tests/test_schemas.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent

CASES = {
    "compare-ksm-merge.md": ["compare", "--format", "markdown"],
    "compare-ksm-merge.summary.json": ["compare", "--format", "json"],
    "matrix-ksm-merge.txt": ["matrix", "-e", "^ksm-merge$"],
    "explain-ksm-merge-arm64.md": ["explain", "ksm-merge", "--arch", "arm64", "--format",
                                   "markdown"],
    "explain-ksm-merge-x86-tdp.txt": ["explain", "ksm-merge", "--arch", "x86-tdp"],
    "explore-writer-zapper-x86-tdp.json": ["explore", "writer-zapper", "--arch", "x86-tdp",
                                           "--format", "json"],
    "scenarios.txt": ["scenarios"],
    # on a terminal wide enough for every line: the layout before output was fitted to
    # the width, unchanged
    "compare-ksm-merge-wide.txt": ["compare"],
}


def _summary(out: str) -> str:
    """What compare concluded per arch, without the wording of its trace and reasons."""
    doc = json.loads(out)
    rows = [{"arch": r["arch"], "verdict": r["verdict"], "expected": r["expected"],
             "reached_arch_hook": r["reached_arch_hook"], "flush": r["flush"],
             "flushes": len(r["flushes"]), "span": r["span"],
             "reason_source": r["reason_source"] and r["reason_source"]["function"],
             "diff": r["diff"]} for r in doc["results"]]
    head = json.dumps({"kernel": doc["kernel"],
                       "scenarios": [s["name"] for s in doc["scenarios"]]})[:-1]
    return (head + ', "results": [\n' + ",\n".join(json.dumps(r) for r in rows)
            + "\n]}\n")  # JSON, one arch a line


#: a reduction of a case's output, pinned instead of its bytes
PROJECTIONS = {"compare-ksm-merge.summary.json": _summary}

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


def case(name: str) -> tuple[int, str]:
    """(exit status, golden text) of the case written to tests/golden/NAME."""
    code, out = run(CASES[name], WIDTHS.get(name))
    return code, PROJECTIONS.get(name, str)(out) if code == 0 else out


if __name__ == "__main__":
    for name in CASES:
        (HERE / name).write_text(case(name)[1], encoding="utf-8")
        print(f"wrote {name}", file=sys.stderr)
