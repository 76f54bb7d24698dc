"""Exit statuses a CI job can trust: 0 good, 1 did not hold, 2 bad usage or input, 3 kvmspte
could not finish, 130 interrupted; every failure one line, the traceback only on request."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from kvmspte.plugins import registry
from kvmspte.plugins.registry import models

KVMSPTE = [sys.executable, "-m", "kvmspte"]


@pytest.fixture
def boom(tmp_path, monkeypatch):
    """An installed plugin 'boom' whose set_spte_gfn raises."""
    dist = tmp_path / "boom_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text("[kvmspte.arches.v1]\nboom = boom_arch:Model\n")
    (tmp_path / "boom_arch.py").write_text(textwrap.dedent("""
        from kvmspte.arches.x86_tdp import Model as Tdp

        class Model(Tdp):
            id = "boom"

            def set_spte_gfn(self, *args, **kwargs):
                raise RuntimeError("boom in set_spte_gfn")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("KVMSPTE_DEBUG", raising=False)
    registry.reset()
    yield tmp_path
    registry.reset()
    sys.modules.pop("boom_arch", None)


def one_error_line(err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.startswith("kvmspte: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_compare_reports_every_other_arch_and_exits_3(boom, cli):
    r = cli("compare")
    assert r.code == 3
    for arch_id in models():
        assert f"\n{arch_id} " in r.out
    assert "\nboom  " in r.out and "error" in r.out
    one_error_line(r.err, "'boom'", "'ksm-merge'", "RuntimeError: boom in set_spte_gfn")


def test_json_names_the_error_and_validates(boom, cli):
    import jsonschema

    r = cli("compare", "--format", "json")
    doc = json.loads(r.out)
    jsonschema.validate(doc, json.loads(cli("schema").out))
    (bad,) = [x for x in doc["results"] if x["arch"] == "boom"]
    assert bad["verdict"] == "error" and "boom in set_spte_gfn" in bad["error"]
    assert r.code == 3 and len(doc["results"]) == len(models())
    assert all("error" not in x for x in doc["results"] if x["arch"] != "boom")


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_every_format_shows_the_error(boom, cli, fmt):
    r = cli("compare", "--arch", "boom", "--arch", "arm64", "--format", fmt)
    assert r.code == 3 and "boom in set_spte_gfn" in r.out and "arm64" in r.out


def test_check_matrix_explore_explain_docs_exit_3(boom, cli, tmp_path):
    r = cli("check", "ksm-merge", "--expect", "no-op", "--arch", "boom", "--arch", "x86-tdp")
    assert r.code == 3 and "x86-tdp" in r.out
    one_error_line(r.err, "'boom'")
    r = cli("matrix", "-e", "^cow-4k$", "--format", "json")
    cells = json.loads(r.out)["rows"][0]["cells"]
    assert r.code == 3 and [c["verdict"] for c in cells if c["arch"] == "boom"] == ["error"]
    assert len(cells) == len(models())
    one_error_line(r.err, "'boom'", "'cow-4k'")
    r = cli("explore", "writer-fault")
    assert r.code == 3 and "  arm64 " in r.out and "error" in r.out
    one_error_line(r.err, "'boom'", "writer-fault")
    r = cli("explain", "ksm-merge", "--arch", "boom")
    assert r.code == 3 and r.out == ""
    one_error_line(r.err, "'boom'", "'ksm-merge'", "RuntimeError")
    r = cli("docs", "--out", str(tmp_path / "d"))
    assert r.code == 3 and not (tmp_path / "d").exists()
    one_error_line(r.err, "'boom'")


def test_debug_shows_the_traceback(boom, cli, monkeypatch):
    r = cli("--debug", "compare", "--arch", "boom")
    assert r.code == 3 and "Traceback" in r.err and "set_spte_gfn" in r.err
    monkeypatch.setenv("KVMSPTE_DEBUG", "1")
    registry.reset()
    assert "Traceback" in cli("compare", "--arch", "boom").err


def test_an_unexpected_error_is_one_line_exit_3(cli, monkeypatch):
    from kvmspte.analyses import runs as runner

    def crash(*_a, **_k):
        raise ValueError("unexpected\nsecond line")

    monkeypatch.setattr(runner, "run_report", crash)
    r = cli("compare")
    assert r.code == 3 and r.out == ""
    one_error_line(r.err, "internal error: ValueError: unexpected\\nsecond line")
    assert r.err.count("\n") == 1


def test_keyboard_interrupt_exits_130_quietly(cli, monkeypatch):
    from kvmspte.analyses import runs as runner

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_report", interrupted)
    r = cli("compare")
    assert (r.code, r.out, r.err) == (130, "", "")


#: the read system call's number, by machine (what /proc/PID/syscall shows while blocked in it)
READ_SYSCALL = {"x86_64": 0, "aarch64": 63, "riscv64": 63, "loongarch64": 63}


def _wait_until_reading_stdin(pid: int, limit: float = 20.0) -> None:
    """Until the process is blocked in read() on fd 0 (so Python's SIGINT handler is in
    place: a signal during interpreter start-up kills it instead, as under a loaded CI
    machine); where /proc/PID/syscall cannot tell, a fixed wait."""
    nr = READ_SYSCALL.get(os.uname().machine)
    deadline = time.monotonic() + limit
    while nr is not None and time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/syscall", encoding="ascii") as fh:
                fields = fh.read().split()
        except OSError:
            break
        if len(fields) > 1 and fields[0] == str(nr) and int(fields[1], 16) == 0:
            return
        time.sleep(0.02)
    time.sleep(1.0)


def test_sigint_exits_130_quietly(tmp_path):
    # compare - waits on stdin: a real Ctrl-C arrives while it is blocked there
    p = subprocess.Popen([*KVMSPTE, "compare", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    _wait_until_reading_stdin(p.pid)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130 and b"Traceback" not in err and out == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_exits_3(tmp_path):
    with open("/dev/full", "w") as full:
        r = subprocess.run([*KVMSPTE, "compare"], stdout=full, stderr=subprocess.PIPE,
                           text=True, cwd=tmp_path)
    assert r.returncode == 3
    one_error_line(r.stderr, "cannot write the output: No space left on device")
    assert r.stderr.count("\n") == 1


def test_bare_kvmspte_prints_help_and_exits_0(cli):
    r = cli()
    assert r.code == 0 and r.out.startswith("Usage: kvmspte") and r.err == ""


def test_help_documents_the_exit_codes(cli):
    out = cli("--help").out
    for line in ("0    all good", "1    an expectation or invariant did not hold",
                 "2    bad usage or input", "3    kvmspte could not finish", "130  interrupted"):
        assert line in out
    assert "--debug" in out


def test_overlong_argument_is_one_short_line_exit_2(cli):
    for arg in ("a" * 300, "a" * 300 + ".toml", "a/" * 3000):
        r = cli("compare", arg)
        assert r.code == 2 and r.out == "" and r.err.count("\n") == 1
        assert "Traceback" not in r.err and len(r.err) < 400 and "chars)" in r.err


def test_deeply_nested_toml_is_one_line_exit_2(cli, tmp_path):
    p = tmp_path / "deep.toml"
    p.write_text('name = "deep"\ntrigger = "cow"\nx = ' + "[" * 3000 + "]" * 3000 + "\n")
    r = cli("compare", str(p))
    assert r.code == 2 and r.err.count("\n") == 1 and "nested too deeply" in r.err
    p.write_text('name = "deep"\ntrigger = "cow"\nx = ' + "{a=" * 3000 + "1" + "}" * 3000)
    assert cli("compare", str(p)).code == 2
