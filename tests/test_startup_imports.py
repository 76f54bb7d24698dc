"""What the common invocation of ``compare`` imports: start-up is a measured target
(bench/startup.py), and these are the modules that once cost most of it.  The timings belong to
the benchmark; this only asserts that the expensive modules stay off the path."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

from kvmspte.scenarios import loader
from tests.conftest import INSTALLED

#: dataclasses (+inspect) was half the run of compare; click, rich and pydantic serve other
#: commands; tomllib (which imports typing, a tenth of the run) is needed only without the
#: wheel's compiled catalogue
NEVER = ("dataclasses", "inspect", "click", "rich", "pydantic", "importlib.metadata")


def _imported(*args: str) -> set[str]:
    code = ("import sys, atexit\n"
            "atexit.register(lambda: print(' '.join(sorted(sys.modules)), file=sys.stderr))\n"
            "from kvmspte.cli import main\n"
            f"main({list(args)!r})\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return set(r.stderr.split())


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_compare_imports_none_of_the_expensive_modules(fmt):
    found = _imported("compare", "--format", fmt)
    assert "kvmspte.arches.x86_tdp" in found  # the models did run
    assert sorted(found & set(NEVER)) == []


@pytest.mark.skipif(not INSTALLED, reason="the compiled catalogue is written by the wheel build")
def test_installed_compare_does_not_parse_toml_or_import_typing():
    assert {"tomllib", "typing"} & _imported("compare", "--format", "json") == set()


@pytest.mark.skipif(not INSTALLED, reason="the compiled catalogue is written by the wheel build")
def test_wheel_carries_the_catalogue_compiled_from_its_toml_files():
    table = loader._compiled()
    assert sorted(table) == loader._catalogue_names()
    for fname, (text, doc) in table.items():
        assert text == loader._catalogue_text(fname) and tomllib.loads(text) == doc


def test_a_compiled_entry_is_used_only_while_its_text_matches(monkeypatch):
    fname = loader._catalogue_names()[0]
    text = loader._catalogue_text(fname)
    monkeypatch.setattr(loader, "_COMPILED", {fname: [text, {"marker": 1}]})
    assert loader._builtin_document(fname) == {"marker": 1}
    monkeypatch.setattr(loader, "_COMPILED", {fname: [text + "#", {"marker": 1}]})
    assert loader._builtin_document(fname) == tomllib.loads(text)
    assert json.loads(json.dumps(tomllib.loads(text))) == tomllib.loads(text)  # JSON holds it
