"""Generated documentation: reproducible, checked, written atomically, never deleting
what it did not generate."""

from pathlib import Path

import pytest

from kvmspte.docs import generate as docgen
from kvmspte.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_committed_docs_and_readme_are_current():
    stale = docgen.run(str(ROOT / "docs"), str(ROOT / "README.md"), check=True, group=cli)
    assert stale == [], f"run 'kvmspte docs --out docs'; stale: {stale}"


def test_the_matrix_is_pinned_once_in_the_docs_and_the_readme_links_to_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    header = "| scenario | expected |"  # the Markdown matrix's header row
    assert header in index and "\n## The matrix\n" in index
    assert header not in readme and "(docs/index.md#the-matrix)" in readme


def test_generation_is_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    docgen.run(str(a), None, check=False, group=cli)
    docgen.run(str(b), None, check=False, group=cli)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert docgen.run(str(a), None, check=True, group=cli) == []


def test_check_names_stale_and_foreign_files_survive(tmp_path):
    out = tmp_path / "docs"
    docgen.run(str(out), None, check=False, group=cli)
    (out / "index.md").write_text("edited\n")
    (out / "mine.md").write_text("not generated\n")
    assert docgen.run(str(out), None, check=True, group=cli) == [str(out / "index.md")]
    docgen.run(str(out), None, check=False, group=cli)
    assert (out / "mine.md").read_text() == "not generated\n"
    assert docgen.run(str(out), None, check=True, group=cli) == []


def test_failure_writes_nothing(tmp_path, monkeypatch):
    def boom(_group):
        raise RuntimeError("model failed")

    monkeypatch.setattr(docgen, "generate", boom)
    with pytest.raises(RuntimeError):
        docgen.run(str(tmp_path / "docs"), None, check=False, group=cli)
    assert not (tmp_path / "docs").exists()


def test_pages_per_arch_and_scenario(tmp_path):
    from kvmspte.plugins.registry import models
    from kvmspte.scenarios.loader import catalogue

    docgen.run(str(tmp_path), None, check=False, group=cli)
    for arch_id in models():
        page = (tmp_path / "arches" / f"{arch_id}.md").read_text()
        assert "## Every source this model cites" in page and "@ v6.9" in page
    for name in catalogue():
        assert (tmp_path / "scenarios" / f"{name}.md").exists()
    assert "## `kvmspte compare`" in (tmp_path / "cli.md").read_text()


def test_explore_page_names_the_maintained_kernel_findings_and_points_to_security_md():
    import re

    from kvmspte.plugins import registry
    from kvmspte.analyses.explore.checker import explore
    from kvmspte.analyses.explore.races import RACES

    models = list(registry.models().values())
    outcomes = [explore(r, m) for r in RACES.values() for m in models]
    section = "\n".join(docgen.maintained_section(outcomes, models))
    current = {(o.race, o.arch) for o in outcomes if o.violations and RACES[o.race].current}
    assert current, "the model no longer finds the writer-zapper hazard: update SECURITY.md"
    named = {(race, arch) for race, arches in
             re.findall(r"^- `([\w-]+)` .*?: on (.*?) the explorer reaches", section, re.M)
             for arch in re.findall(r"`([\w-]+)`", arches)}
    assert named == current  # historic orderings (current=False) are not listed
    assert "security@kernel.org" in section and "[SECURITY.md](../SECURITY.md)" in section
    page = (ROOT / "docs" / "explore.md").read_text(encoding="utf-8")
    assert section in page
    security = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert "security@kernel.org" in security
    assert "docs/explore.md#findings-that-touch-maintained-kernels" in security
    assert "## Findings that touch maintained kernels" in page
