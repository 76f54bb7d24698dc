"""Messages stay one line and safe: what is echoed from the user is escaped and cut,
scenario names are unique in a run, '-' reads stdin, a UTF-8 BOM is accepted."""

import io
import json
import sys

import pytest

from kvmspte.errors import shown
from tests.conftest import one_line_exit_2


def test_shown_escapes_and_cuts():
    assert shown("a\nb\x1b[2J\x00\u202e") == "a\\nb\\x1b[2J\\x00\\u202e"
    assert shown("x" * 300) == "x" * 80 + "... (300 chars)"
    assert shown("plain-value") == "plain-value"


def test_key_with_newline_and_escape_bytes(cli, tmp_path):
    p = tmp_path / "k.toml"
    p.write_text('name = "k"\ntrigger = "cow"\n"evil\\nkey\\u001b[2J" = 1\n')
    one_line_exit_2(cli("compare", str(p)), "unknown field 'evil\\nkey\\x1b[2J'")
    p.write_text('name = "k"\ntrigger = "cow"\n[expect]\n"x86\\u001b[31m" = "no-op"\n')
    one_line_exit_2(cli("compare", str(p)), "unknown architecture 'x86\\x1b[31m'")


@pytest.mark.parametrize("args", [
    ("compare", "bad\x1b[2Jname"),
    ("compare", "--arch", "x\ny"),
    ("explore", "\x1b]0;title\x07"),
    ("history", "bad\x1b[2Jname"),
    ("check", "--expect", "\r\n"),
    ("matrix", "-e", "\x1b" * 500),
    ("\x1bc",),
    ("compare", "--format", "\n" * 400),
])
def test_echoed_arguments_are_escaped_one_line(cli, args):
    r = cli(*args)
    one_line_exit_2(r)
    assert len(r.err) < 500


def test_file_name_with_control_characters(cli, tmp_path, monkeypatch):
    # a relative name: a long temporary folder would be cut from the message (as it should)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a\nb\x1b.toml").write_text("not toml [")
    one_line_exit_2(cli("compare", "a\nb\x1b.toml"), "a\\nb\\x1b.toml: malformed TOML")


def test_explain_escapes_a_description_that_clears_the_screen(cli, tmp_path):
    p = tmp_path / "d.toml"
    p.write_text('name = "d"\ntrigger = "cow"\ndescription = "\\u001b[2J\\u001b[Hgone\\nline"\n')
    for fmt in ("table", "markdown"):
        r = cli("explain", str(p), "--arch", "arm64", "--format", fmt)
        assert r.code == 0 and "\x1b" not in r.out and "\\x1b[2J\\x1b[Hgone\\nline" in r.out
    doc = json.loads(cli("explain", str(p), "--arch", "arm64", "--format", "json").out)
    assert doc["scenario"]["description"] == "\x1b[2J\x1b[Hgone\nline"


def test_description_is_bounded(cli, tmp_path):
    p = tmp_path / "long.toml"
    p.write_text(f'name = "long"\ntrigger = "cow"\ndescription = "{"d" * 501}"\n')
    one_line_exit_2(cli("compare", str(p)), "field 'description'", "at most 500")
    assert "d" * 100 not in cli("compare", str(p)).err


def test_two_scenarios_with_one_name_are_rejected(cli, tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('name = "same"\ntrigger = "cow"\n[expect]\nx86-tdp = "no-op"\n')
    b.write_text('name = "same"\ntrigger = "uprobe"\n[expect]\nx86-tdp = "no-op"\n')
    one_line_exit_2(cli("check", str(a), str(b)), "'same'", str(a), str(b))
    one_line_exit_2(cli("matrix", str(a), str(b)), "'same'")
    c = tmp_path / "c.toml"
    c.write_text('name = "ksm-merge"\ntrigger = "cow"\n[expect]\nx86-tdp = "no-op"\n')
    one_line_exit_2(cli("check", "ksm-merge", str(c)), "'ksm-merge'", "built-in")
    r = cli("check", str(a), str(a), "--format", "json")
    assert r.code == 0 and len(json.loads(r.out)["results"]) == 1


def _stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_dash_reads_the_scenario_from_stdin(cli, monkeypatch):
    _stdin(monkeypatch, b'name = "piped"\ntrigger = "cow"\n[expect]\narm64 = "changes"\n')
    r = cli("check", "-", "--arch", "arm64", "--format", "json")
    assert r.code == 0 and [x["scenario"] for x in json.loads(r.out)["results"]] == ["piped"]
    _stdin(monkeypatch, b'name = "piped"\ntrigger = 3\n')
    one_line_exit_2(cli("compare", "-"), "<stdin>: field 'trigger'")


def test_utf8_bom_is_accepted_and_other_encodings_named(cli, tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes(b'\xef\xbb\xbfname = "bom"\ntrigger = "cow"\n')
    r = cli("compare", str(p), "--arch", "arm64", "--format", "json")
    assert r.code == 0 and [x["name"] for x in json.loads(r.out)["scenarios"]] == ["bom"]
    p.write_bytes('name = "x"\ntrigger = "cow"\n'.encode("utf-16"))
    one_line_exit_2(cli("compare", str(p)), "not UTF-8 text")


def test_endless_or_huge_file_is_refused(cli, tmp_path):
    one_line_exit_2(cli("compare", "/dev/zero"), "/dev/zero: larger than 1024 KiB")
    p = tmp_path / "big.toml"
    p.write_bytes(b"#" * (2 << 20))
    one_line_exit_2(cli("compare", str(p)), "larger than")


def test_closed_stdout_is_exit_3(capsys, monkeypatch):
    from kvmspte.cli import main

    for args in (["scenarios"], ["compare"]):
        monkeypatch.setattr(sys, "stdout", None)
        with pytest.raises(SystemExit) as exc:
            main(args)
        monkeypatch.undo()
        assert exc.value.code == 3
        assert "standard output is closed" in capsys.readouterr().err
