"""Shared fixtures: run the CLI in-process and capture its exit status and output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kvmspte

from kvmspte.cli import main
from kvmspte.sim.engine import run
from kvmspte.scenarios.loader import catalogue


ROOT = Path(__file__).resolve().parent.parent
#: set by tests/run_installed.py (the README's test command): the suite must be testing
#: the installed wheel, not this checkout
INSTALLED = os.environ.get("KVMSPTE_TEST_INSTALLED") == "1"


def pytest_configure(config):
    if INSTALLED and ROOT in Path(kvmspte.__file__).resolve().parents:
        raise pytest.UsageError(f"KVMSPTE_TEST_INSTALLED=1 but kvmspte was imported from the "
                                f"checkout ({kvmspte.__file__}), not from site-packages")
    _explore_each_search_once()


def _explore_each_search_once() -> None:
    """The explorer is deterministic: within one test session each (race, model, bound,
    symmetry, release) is searched once and its Outcome shared, so the checker, width, docs,
    golden and schema tests of `explore` all look at what one real search found instead of
    repeating the ~4 s search of every race on every model a dozen times.  A test that needs
    another search (another bound, no symmetry reduction, a model that raises) gets one: its
    key differs.  Installed before collection, so a test module's own import of explore is
    this one."""
    from kvmspte.analyses.explore import checker

    real, memo = checker.explore, {}

    def explore(race, model, *, max_states=200_000, symmetry=True, kernel=None):
        key = (id(race), race.name, model, max_states, symmetry, kernel)
        if key not in memo:  # the race is kept with its outcome, so its id is never reused
            memo[key] = (race, real(race, model, max_states=max_states, symmetry=symmetry,
                                    kernel=kernel))
        return memo[key][1]

    explore.__doc__ = real.__doc__
    checker.explore = explore


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("COLUMNS", raising=False)

    def invoke(*args: str) -> CliResult:
        with pytest.raises(SystemExit) as exc:
            main(list(args))
        out, err = capsys.readouterr()
        return CliResult(exc.value.code or 0, out, err)

    return invoke


def one_line_exit_2(r: CliResult, *needles: str) -> None:
    """Bad input: status 2, nothing on stdout, one escaped line on stderr with each needle."""
    assert r.code == 2 and r.out == "" and r.err.count("\n") == 1, r.err
    assert "\x1b" not in r.err and "\r" not in r.err and "Traceback" not in r.err
    for n in needles:
        assert n in r.err, r.err


def run_named(name: str, model):
    """Run a built-in scenario on a model class."""
    return run(catalogue()[name], model)
