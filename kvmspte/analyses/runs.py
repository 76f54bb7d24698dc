"""Run scenarios x models into a Report; attach expectations.

A model that raises is reported as a result with verdict "error" (``attempt``); the
other models still run, and the command exits 3.
"""

from __future__ import annotations

from kvmspte.sim.engine import TARGET_GFN, run
from kvmspte.errors import describe
from kvmspte.sim.release import DEFAULT, Release
from kvmspte.sim.report import Report, Result


def attempt(sc, model: type, **kw) -> Result:
    """run(sc, model), or a Result with verdict "error" when the model raises."""
    try:
        return run(sc, model, **kw)
    except Exception as exc:  # a model or plugin bug: report it, keep the others running
        return error_result(sc, model, exc)


def error_result(sc, model: type, exc: BaseException) -> Result:
    return Result(arch=str(getattr(model, "id", model)), family=str(getattr(model, "family", "")),
                  release=str(getattr(model, "release", "")), scenario=sc.name, gfn=TARGET_GFN,
                  verdict="error", reason=f"the model raised {describe(exc)}",
                  error=describe(exc), exception=exc)


def cells(scenarios: list, models: list[type], kernel: Release = DEFAULT, *,
          expect: str | None = None, checked_only: bool = False):
    """The one run loop (compare, check, matrix, docs): every (scenario, model) cell as
    (scenario, Result), the Result's expected set from ``expect`` or the scenario's
    expectation at ``kernel``; with checked_only, cells with no expectation are not run."""
    for sc in scenarios:
        for model in models:
            wanted = expect if expect is not None else sc.expectation(model.id, kernel)
            if checked_only and wanted is None:
                continue
            res = attempt(sc, model, kernel=kernel)
            res.expected = wanted
            yield sc, res


def run_report(command: str, scenarios: list, models: list[type],
               expect: str | None = None, kernel: Release = DEFAULT) -> Report:
    return Report(command, list(scenarios), [res for _, res in cells(
        scenarios, models, kernel, expect=expect)], kernel=str(kernel))


def check_report(scenarios: list, models: list[type], expect: str | None,
                 kernel: Release = DEFAULT) -> tuple[Report, int]:
    """Like run_report, but only (scenario, arch) pairs with an expectation are run."""
    report = Report("check", list(scenarios), [res for _, res in cells(
        scenarios, models, kernel, expect=expect, checked_only=True)], kernel=str(kernel))
    return report, sum(1 for r in report.results if r.matches is False)
