"""Run scenarios x models into a Report; attach expectations."""

from __future__ import annotations

from kvmspte.engine import run
from kvmspte.release import DEFAULT, Release
from kvmspte.report import Report


def run_report(command: str, scenarios: list, models: list[type],
               expect: str | None = None, kernel: Release = DEFAULT) -> Report:
    report = Report(command, list(scenarios), kernel=str(kernel))
    for sc in scenarios:
        for model in models:
            res = run(sc, model, kernel=kernel)
            res.expected = expect if expect is not None else sc.expectation(model.id, kernel)
            report.results.append(res)
    return report


def check_report(scenarios: list, models: list[type], expect: str | None,
                 kernel: Release = DEFAULT) -> tuple[Report, int]:
    """Like run_report, but only (scenario, arch) pairs with an expectation are run."""
    report = Report("check", list(scenarios), kernel=str(kernel))
    for sc in scenarios:
        for model in models:
            wanted = expect if expect is not None else sc.expectation(model.id, kernel)
            if wanted is None:
                continue
            res = run(sc, model, kernel=kernel)
            res.expected = wanted
            report.results.append(res)
    failures = sum(1 for r in report.results if r.matches is False)
    return report, failures
