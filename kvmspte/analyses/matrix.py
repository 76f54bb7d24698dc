"""The matrix: scenarios x architectures, herd's mcompare7 -kinds shape.

The expected column holds the verdict most architectures are expected to give
in that scenario.  A cell is "=" where the arch gives that verdict as expected,
the verdict itself where the arch is expected to differ from the column and
does, and "verdict!" where the result contradicts the arch's own expectation.
"""

from __future__ import annotations

import re
from collections import Counter
from kvmspte.records import record, field

from kvmspte import envelope
from kvmspte.analyses.runs import cells

LEGEND = [
    ("=", "same verdict as the expected column, as this arch's [expect] says"),
    ("VERDICT", "differs from the expected column, as this arch's [expect] says"),
    ("VERDICT!", "mismatch: the model's verdict contradicts this arch's [expect]"),
    ("VERDICT?", "no expectation for this arch in the scenario"),
]

#: One-letter verdicts for the compact matrix (a terminal too narrow for the words).
SYMBOLS = {"no-op": "N", "flush-only": "F", "changes": "C", "n/a": "-", "absent": "A"}

COMPACT_LEGEND = [
    ("=", LEGEND[0][1]),
    (" ".join(SYMBOLS.values()), f"{', '.join(SYMBOLS)}: the verdict, where it "
                                 f"{LEGEND[1][1]}"),
    ("X!", LEGEND[2][1].replace("verdict", "verdict X", 1)),
    ("X?", LEGEND[3][1]),
]


@record
class Cell:
    arch: str
    verdict: str
    expected: str | None
    #: the Result, when the model raised (verdict "error")
    failed: object = field(default=None, repr=False, compare=False)

    @property
    def mismatch(self) -> bool:
        return self.expected is not None and self.expected != self.verdict

    def text(self, column: str | None, *, compact: bool = False) -> str:
        verdict = SYMBOLS[self.verdict] if compact else self.verdict
        if self.expected is None:
            return f"{verdict}?"
        if self.mismatch:
            return f"{verdict}!"
        return "=" if self.verdict == column else verdict

    def to_dict(self) -> dict:
        out = {"arch": self.arch, "verdict": self.verdict, "expected": self.expected,
               "mismatch": self.mismatch}
        if self.failed is not None:
            out["error"] = self.failed.error
        return out


@record
class Row:
    scenario: object
    expected: str | None
    cells: list[Cell] = field(default_factory=list)


@record
class Matrix:
    arches: list[str]
    rows: list[Row]
    kernel: str = "v6.9"

    @property
    def cells(self) -> int:
        return sum(len(r.cells) for r in self.rows)

    @property
    def mismatches(self) -> int:
        return sum(c.mismatch for r in self.rows for c in r.cells)

    def failures(self) -> list[tuple[str, BaseException | None]]:
        from kvmspte.sim.report import Report

        return Report("matrix", [], [c.failed for r in self.rows for c in r.cells
                                     if c.failed is not None]).failures()

    def summary(self) -> str:
        return f"{self.cells} cells, {self.mismatches} mismatches"

    def to_dict(self) -> dict:
        return envelope(
            "matrix", kernel=self.kernel, arches=self.arches,
            rows=[{"scenario": r.scenario.name, "expected": r.expected,
                   "cells": [c.to_dict() for c in r.cells]} for r in self.rows],
            cells=self.cells, mismatches=self.mismatches, legend=dict(LEGEND))


def column_verdict(expect: dict[str, str], arches: list[str]) -> str | None:
    """The verdict most of the selected arches are expected to give (ties: first seen)."""
    votes = Counter(expect[a] for a in arches if a in expect)
    return votes.most_common(1)[0][0] if votes else None


def filter_scenarios(scenarios: list, patterns: tuple[str, ...]) -> list:
    if not patterns:
        return scenarios
    compiled = [re.compile(p) for p in patterns]
    return [s for s in scenarios if any(c.search(s.name) for c in compiled)]


def build(scenarios: list, models: list[type], kernel=None) -> Matrix:
    from kvmspte.sim.release import DEFAULT

    kernel = kernel or DEFAULT
    return from_results(scenarios, [m.id for m in models],
                        [res for _, res in cells(scenarios, models, kernel)], kernel)


def from_results(scenarios: list, arches: list[str], results: list, kernel) -> Matrix:
    """The matrix of results already run (one per scenario x arch, scenario-major)."""
    by_cell = {(r.scenario, r.arch): r for r in results}
    rows = []
    for sc in scenarios:
        row = Row(sc, column_verdict(sc.expectations(kernel), arches))
        for arch in arches:
            res = by_cell[sc.name, arch]
            row.cells.append(Cell(arch, res.verdict, res.expected,
                                  res if res.error is not None else None))
        rows.append(row)
    return Matrix(arches, rows, str(kernel))
