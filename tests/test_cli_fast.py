"""The entry point's click-free path for common `compare` invocations gives exactly what
click gives: the same output, message and exit status."""

import pytest

from kvmspte import cli as entry
from kvmspte.commands import cli
from kvmspte.errors import run_cli

SAME = [["compare"], ["compare", "--format", "json"], ["compare", "cow-huge", "--arch", "arm64"],
        ["compare", "--arch", "mips", "--arch", "riscv", "--format", "markdown"],
        ["compare", "--color", "always", "--arch", "x86-tdp"], ["compare", "--arch", "nope"],
        ["compare", "no-such-scenario"], ["compare", "ksm-merge", "--arch", "x86-tdp",
                                          "--arch", "x86-tdp"]]
CLICK = [["compare", "--format", "xml"], ["compare", "--format=json"], ["compare", "a", "b"],
         ["compare", "--arch"], ["compare", "--help"], ["compare", "--kernel", "5.15"],
         ["compare", "--format", "json", "--format", "table"], ["--debug", "compare"], [],
         ["compare", "-"], ["compare", "--arch", "-x"]]


def _run(capsys, monkeypatch, fn):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("COLUMNS", raising=False)
    code = fn()
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args", SAME, ids=" ".join)
def test_fast_path_matches_click(args, capsys, monkeypatch):
    assert entry._fast_compare(args) is not None

    def fast():
        with pytest.raises(SystemExit) as exc:
            entry.main(args)
        return exc.value.code or 0

    assert _run(capsys, monkeypatch, fast) == _run(capsys, monkeypatch,
                                                   lambda: run_cli(cli, args))


@pytest.mark.parametrize("args", CLICK, ids=" ".join)
def test_anything_else_goes_to_click(args):
    assert entry._fast_compare(args) is None
