"""The shape of the package: one JSON writer, short functions, a one-line charter per
folder, and the old plugin import paths still working."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import kvmspte

PKG = Path(kvmspte.__file__).resolve().parent
MAX_LINES = 60


def _trees():
    for path in sorted(PKG.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_exactly_one_json_dumps_in_the_package():
    calls = [f"{p.relative_to(PKG)}:{n.lineno}" for p, tree in _trees()
             for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "dumps"
             and isinstance(n.value, ast.Name) and n.value.id == "json"]
    assert calls == ["formats/jsonfmt.py:" + calls[0].split(":")[1]], calls


def test_no_function_over_60_lines():
    roots = [PKG, Path(__file__).resolve().parent.parent / "arches"]
    long = [f"{path.name}:{n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for root in roots if root.is_dir() for path in sorted(root.rglob("*.py"))
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > MAX_LINES]
    assert long == []


def test_every_folder_says_in_one_line_what_it_owns():
    for init in sorted(PKG.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init.parent.name}/__init__.py has no docstring"
        assert len(doc.splitlines()[0]) > 20, init.parent.name


def test_old_plugin_import_paths_are_the_new_modules():
    for old, new in (("model", "plugins.contract"), ("pagetable", "sim.pagetable"),
                     ("source", "sim.source"), ("kvm", "sim.kvm"), ("host", "sim.host"),
                     ("release", "sim.release"), ("trace", "sim.trace"),
                     ("faultretry", "sim.faultretry")):
        assert importlib.import_module(f"kvmspte.{old}") is \
            importlib.import_module(f"kvmspte.{new}"), old
    from kvmspte.model import ArchModel
    from kvmspte.plugins.contract import ArchModel as Contract

    assert ArchModel is Contract
