"""Run scenarios x models into a Report; attach expectations."""

from __future__ import annotations

from kvmspte.engine import run
from kvmspte.report import Report


def run_report(command: str, scenarios: list, models: list[type],
               expect: str | None = None) -> Report:
    report = Report(command, list(scenarios))
    for sc in scenarios:
        for model in models:
            res = run(sc, model)
            res.expected = expect if expect is not None else sc.expect.get(model.id)
            report.results.append(res)
    return report


def check_report(scenarios: list, models: list[type], expect: str | None) -> tuple[Report, int]:
    """Like run_report, but only (scenario, arch) pairs with an expectation are run."""
    report = Report("check", list(scenarios))
    for sc in scenarios:
        for model in models:
            wanted = expect if expect is not None else sc.expect.get(model.id)
            if wanted is None:
                continue
            res = run(sc, model)
            res.expected = wanted
            report.results.append(res)
    failures = sum(1 for r in report.results if r.matches is False)
    return report, failures
