"""Renderers against golden files (regenerate with: python tests/golden/regen.py)."""

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "golden"
_spec = importlib.util.spec_from_file_location("regen", HERE / "regen.py")
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)


@pytest.mark.parametrize("name", sorted(regen.CASES))
def test_output_matches_golden(name, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    want = (HERE / name).read_text(encoding="utf-8")
    code, got = regen.case(name)
    assert code == 0, f"{name}: kvmspte {' '.join(regen.CASES[name])} exited {code}"
    if got != want:
        import difflib

        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            f"tests/golden/{name}", "now", n=2))
        pytest.fail(f"{name} changed; if intended, regenerate with: "
                    f"python tests/golden/regen.py\n{diff[:20000]}", pytrace=False)


def test_every_golden_file_is_a_case():
    files = {p.name for p in HERE.iterdir() if p.is_file() and p.suffix != ".py"}
    assert files == set(regen.CASES), ("golden files that no case writes, or cases with no "
                                       "file: python tests/golden/regen.py, and remove the "
                                       "files it does not write")
