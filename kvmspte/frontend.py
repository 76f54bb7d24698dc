"""What every command does around its analysis, with no click in it: pick the models and
scenarios, show the result in its format, and exit with the documented status.  The
``compare`` body lives here too, so the entry point can run the common invocations of
``compare`` without importing click (kvmspte.cli)."""

from __future__ import annotations

import os
import sys

from kvmspte.errors import EXIT_FAIL, EXIT_OK, InputError, OutputError, report_failures


def use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout is not None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def emit(text: str) -> None:
    """Write a fully rendered output in one go (never half a document)."""
    if sys.stdout is None:
        raise OutputError("cannot write the output: standard output is closed")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from exc


def show(command: str, fmt: str, data, color: str = "never") -> None:
    """Render data in the (command, fmt) format, laid out for the output's width, and emit it."""
    from kvmspte.formats import render
    from kvmspte.formats.layout import output_width

    emit(render(command, fmt, data, color=use_color(color), width=output_width()))


def finish(failures: list, failed: bool = False) -> None:
    """Exit 3 (one line each) when a model raised, else 1 when something did not hold."""
    sys.exit(report_failures(failures) or (EXIT_FAIL if failed else EXIT_OK))


def select_models(ids: tuple[str, ...]) -> list[type]:
    from kvmspte.plugins import registry

    table = registry.load_reporting()
    if not ids:
        return list(table.values())
    out = []
    for arch_id in dict.fromkeys(ids):
        try:
            out.append(registry.get(arch_id))
        except KeyError as exc:
            raise InputError(f"--arch: {exc.args[0]}") from None
    return out


def resolve_scenarios(refs) -> list:
    from kvmspte.scenarios.loader import ScenarioError, resolve, unique

    try:
        return unique([resolve(ref) for ref in refs])
    except ScenarioError as exc:
        raise InputError(str(exc)) from None


def compare_run(scenario: str, arches, fmt: str, color: str, kernel=None) -> None:
    """kvmspte compare: one scenario on every selected architecture."""
    from kvmspte.analyses.runs import run_report
    from kvmspte.sim.release import DEFAULT

    report = run_report("compare", resolve_scenarios([scenario]), select_models(arches),
                        kernel=kernel or DEFAULT)
    show("compare", fmt, report, color)
    finish(report.failures())
