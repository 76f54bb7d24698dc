"""kvmspte docs touches nothing outside --out, follows no link out of it, is repaired after
an interrupted run, and turns every OSError into one line with exit status 2."""

import hashlib
import os

import pytest

from kvmspte.docs import files as docfiles
from kvmspte.docs import generate as docgen
from kvmspte.cli import cli
from tests.conftest import one_line_exit_2


@pytest.fixture(scope="module")
def pages():
    """The generated pages, computed once: these tests are about files, not content."""
    return docgen.generate(cli)


@pytest.fixture(autouse=True)
def generate_once(pages, monkeypatch):
    monkeypatch.setattr(docgen, "generate", lambda _group: (dict(pages[0]), dict(pages[1])))


@pytest.fixture
def generated(tmp_path_factory, pages):
    """A generated docs folder to copy from."""
    out = tmp_path_factory.mktemp("gen") / "docs"
    docgen.run(str(out), None, check=False, group=cli)
    return out


def fresh(generated, tmp_path):
    import shutil

    out = tmp_path / "docs"
    shutil.copytree(generated, out)
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_manifest_entries_outside_dir_are_never_followed(generated, tmp_path, cli):
    out = fresh(generated, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    absolute = tmp_path / "abs.md"
    absolute.write_text("precious\n")
    digest = sha(b"precious\n")
    with open(out / docfiles.MANIFEST, "a") as fh:
        for rel in ("../victim.txt", str(victim), str(absolute), "arches/../../abs.md"):
            fh.write(f"{digest}  {rel}\n{rel}\n")
    r = cli("docs", "--out", str(out))
    assert r.code == 0, r.err
    assert victim.read_text() == "precious\n" and absolute.read_text() == "precious\n"
    assert "victim" not in (out / docfiles.MANIFEST).read_text()


def test_obsolete_page_is_removed_only_when_unchanged_since_generated(generated, tmp_path):
    out = fresh(generated, tmp_path)
    (out / "scenarios" / "gone.md").write_text("old page\n")
    (out / "scenarios" / "edited.md").write_text("edited by hand\n")
    with open(out / docfiles.MANIFEST, "a") as fh:
        fh.write(f"{sha(b'old page' + bytes([10]))}  scenarios/gone.md\n")
        fh.write(f"{sha(b'as generated')}  scenarios/edited.md\n")
    assert str(out / "scenarios" / "gone.md") in docgen.run(str(out), None, check=True, group=cli)
    docgen.run(str(out), None, check=False, group=cli)
    assert not (out / "scenarios" / "gone.md").exists()
    assert (out / "scenarios" / "edited.md").read_text() == "edited by hand\n"


def test_no_symlink_is_followed_out_of_dir(generated, tmp_path, cli):
    out = fresh(generated, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "arm64.md").write_text("not yours\n")
    victim = tmp_path / "victim.md"
    victim.write_text("precious\n")
    # a page that is a link: replaced by the page, the target untouched
    (out / "index.md").unlink()
    (out / "index.md").symlink_to(victim)
    # an obsolete page that is a link: not followed, not removed
    (out / "scenarios" / "old.md").symlink_to(victim)
    with open(out / docfiles.MANIFEST, "a") as fh:
        fh.write(f"{sha(b'precious' + bytes([10]))}  scenarios/old.md\n")
    assert cli("docs", "--out", str(out)).code == 0
    assert victim.read_text() == "precious\n"
    assert not (out / "index.md").is_symlink() and (out / "scenarios" / "old.md").is_symlink()
    # a subfolder that is a link out of DIR: refused before anything is written
    import shutil

    shutil.rmtree(out / "arches")
    (out / "arches").symlink_to(elsewhere)
    r = cli("docs", "--out", str(out))
    one_line_exit_2(r, "is a symbolic link")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["arm64.md"]
    assert (elsewhere / "arm64.md").read_text() == "not yours\n"


def test_interrupted_run_is_reported_and_repaired(generated, tmp_path, monkeypatch, cli):
    out = fresh(generated, tmp_path)
    for p in [out / "index.md", *sorted((out / "arches").iterdir())]:
        p.write_text("old\n")
    real_replace, calls = os.replace, []

    class Killed(BaseException):
        pass

    def replace(src, dst):
        calls.append(dst)
        if len(calls) > 3:
            raise Killed
        real_replace(src, dst)

    with monkeypatch.context() as m, pytest.raises(Killed):
        m.setattr(docfiles.os, "replace", replace)
        m.setattr(docfiles.shutil, "rmtree", lambda *a, **k: None)  # as if SIGKILLed
        docgen.run(str(out), None, check=False, group=cli)
    (left,) = docfiles.leftovers(out)
    r = cli("docs", "--out", str(out), "--check")
    assert r.code == 1 and f"stale: {left} (left by an interrupted run)" in r.err
    assert f"stale: {out / 'index.md'}" in r.err or f"{out / 'arches'}" in r.err
    assert cli("docs", "--out", str(out)).code == 0
    assert not left.exists() and docgen.run(str(out), None, check=True, group=cli) == []


def test_a_kill_before_the_swap_leaves_the_old_pages_whole(generated, tmp_path, monkeypatch):
    out = fresh(generated, tmp_path)
    (out / "index.md").write_text("old\n")

    def killed(*_a):
        raise KeyboardInterrupt

    monkeypatch.setattr(docfiles.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        docgen.run(str(out), None, check=False, group=cli)
    assert (out / "index.md").read_text() == "old\n" and docfiles.leftovers(out) == []


def test_out_under_a_file_is_one_line(tmp_path, cli):
    (tmp_path / "file").write_text("x")
    one_line_exit_2(cli("docs", "--out", str(tmp_path / "file" / "docs")), "Not a directory")
    one_line_exit_2(cli("docs", "--out", str(tmp_path / "file")), "is a file")


def test_a_page_that_is_a_folder_is_one_line(generated, tmp_path, cli):
    out = fresh(generated, tmp_path)
    (out / "cli.md").unlink()
    (out / "cli.md").mkdir()
    one_line_exit_2(cli("docs", "--out", str(out)), "cli.md", "is a folder")
    one_line_exit_2(cli("docs", "--out", str(out), "--check"), "is a folder")


def test_non_utf8_page_is_regenerated_and_non_utf8_readme_is_one_line(generated, tmp_path, cli):
    out = fresh(generated, tmp_path)
    (out / "index.md").write_bytes(b"\xff\xfe old")
    assert cli("docs", "--out", str(out)).code == 0
    assert (out / "index.md").read_text(encoding="utf-8").startswith("# kvmspte")
    readme = tmp_path / "README.md"
    readme.write_bytes(b"<!-- kvmspte:compare:start -->\xff\n")
    one_line_exit_2(cli("docs", "--out", str(out)), "README", "not UTF-8")
    one_line_exit_2(cli("docs", "--out", str(out), "--readme", str(readme)), "not UTF-8")


def test_missing_readme_says_it_is_missing(tmp_path, cli):
    one_line_exit_2(cli("docs", "--out", str(tmp_path / "d"), "--readme", "missing.md"),
                    "missing.md: does not exist")
    assert not (tmp_path / "d").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_folder_is_one_line(tmp_path, cli):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        one_line_exit_2(cli("docs", "--out", str(ro / "docs")), "Permission denied")
    finally:
        ro.chmod(0o700)


def test_any_oserror_while_writing_is_one_line(tmp_path, monkeypatch, cli):
    def denied(*_a, **_k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "d"))

    monkeypatch.setattr(docfiles.tempfile, "mkdtemp", denied)
    one_line_exit_2(cli("docs", "--out", str(tmp_path / "d")), "d: Permission denied")


def test_a_page_name_that_is_not_a_plain_name_is_refused():
    with pytest.raises(docfiles.DocsError, match=r"'arches/\.\./\.\./x\.md'"):
        docfiles.with_manifest({"arches/../../x.md": "x"})


ENTRY_NAMES = ["../victim.md", "../../victim.md", "arches/../../victim.md", "index.md",
               "scenarios/x.md", "/etc/passwd", "arches/", "", " ", "..", "./index.md"]


def test_fuzzed_manifests_never_reach_outside(generated, tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    root = tmp_path_factory.mktemp("fuzzdocs")
    victim = root / "victim.md"
    digest = sha(b"precious\n")
    entry = st.tuples(st.sampled_from([digest, "0" * 64, "zz", ""]),
                      st.one_of(st.sampled_from([*ENTRY_NAMES, str(victim)]),
                                st.text(max_size=20)),
                      st.sampled_from(["  ", " ", "\t"]))

    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(entry, max_size=6), st.binary(max_size=30))
    def run(entries, junk):
        import shutil

        victim.write_text("precious\n")
        out = root / "docs"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(generated, out)
        text = "".join(f"{h}{sep}{rel}\n" for h, rel, sep in entries)
        (out / docfiles.MANIFEST).write_bytes(text.encode("utf-8", "replace") + junk)
        docgen.run(str(out), None, check=False, group=cli)
        assert victim.read_text() == "precious\n"
        assert sorted(p.name for p in root.iterdir()) == ["docs", "victim.md"]
        assert docgen.run(str(out), None, check=True, group=cli) == []

    run()
