"""Shared fixtures: run the CLI in-process and capture its exit status and output."""

from __future__ import annotations

import pytest

from kvmspte.cli import main
from kvmspte.engine import run
from kvmspte.scenario import catalogue


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


def run_named(name: str, model):
    """Run a built-in scenario on a model class."""
    return run(catalogue()[name], model)
