"""End-to-end fuzz of command lines and scenario files: whatever comes in, kvmspte exits
0, 1 or 2 (3 only when it cannot finish, which no input here should cause), never prints
a traceback, and bad input is exactly one escaped line on stderr with nothing on stdout.

Bounded (200 examples, a few seconds); derandomized under CI so a landing is reproducible.
"""

import contextlib
import io
import itertools
import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvmspte.cli import main
from kvmspte.analyses.explore.races import RACES
from kvmspte.plugins.registry import models
from kvmspte.scenarios.loader import catalogue
from kvmspte.vocabulary import STATES, VERDICTS

COMMANDS = ["compare", "check", "matrix", "explain", "explore", "history", "arches", "scenarios",
            "schema"]
OPTIONS = ["--arch", "--format", "--expect", "-e", "--regex", "--color", "--max-states",
           "--fail-on-violation", "--scenario", "--debug", "--help", "-h", "--version", "--"]
NAMES = [*list(catalogue())[:6], *models(), *RACES, *VERDICTS, "table", "json", "markdown",
         "always", "never", "auto", "0", "-1", "1", "-", "nosuch", "a" * 300, "x/" * 200,
         "(", ".*", "/dev/null", "/", "."]
TRIGGERS = ["cow", "uprobe", "ksm-replace-page", "ksm-write-protect", "migrate-device-zero"]
WILD = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)

_counter = itertools.count()


def toml_value(draw, depth=0):
    kind = draw(st.sampled_from(["str", "int", "bool", "list", "table"] if depth < 3 else
                                ["str", "int", "bool"]))
    if kind == "str":
        return json.dumps(draw(st.one_of(WILD, st.sampled_from([*TRIGGERS, *VERDICTS]))))
    if kind == "int":
        return str(draw(st.integers(-2**70, 2**70)))
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    items = draw(st.lists(st.deferred(lambda: st.just(None)), max_size=3))
    if kind == "list":
        return "[" + ", ".join(toml_value(draw, depth + 1) for _ in items) + "]"
    return "{" + ", ".join(f"{json.dumps(draw(st.sampled_from(['state', 'mte', 'k'])))} = "
                           f"{toml_value(draw, depth + 1)}" for _ in items) + "}"


def _toml(doc: dict) -> str:
    top = [f"{json.dumps(k)} = {v}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [f"[{json.dumps(k)}]\n" + "".join(f"{json.dumps(kk)} = {vv}\n"
                                             for kk, vv in v.items())
              for k, v in doc.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables)


@st.composite
def valid_document(draw) -> dict:
    """A scenario document that validates (values are TOML literals)."""
    boolean = st.sampled_from(["true", "false"])
    doc = {"name": json.dumps(draw(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True))),
           "trigger": json.dumps(draw(st.sampled_from(TRIGGERS)))}
    if draw(st.booleans()):
        doc["description"] = json.dumps(draw(WILD))
    if draw(st.booleans()):
        doc["wrapped"] = draw(boolean)
    doc["guest"] = {"state": json.dumps(draw(st.sampled_from(STATES))),
                    "neighbours": draw(boolean)}
    doc["memslot"] = {k: draw(boolean) for k in ("dirty_logging", "readonly", "invalid")
                      if draw(st.booleans())}
    doc["options"] = {"mte": draw(boolean)}
    arches = draw(st.lists(st.sampled_from(list(models())), max_size=4, unique=True))
    doc["expect"] = {a: json.dumps(draw(st.sampled_from(VERDICTS))) for a in arches}
    return doc


@st.composite
def scenario_file(draw) -> bytes:
    kind = draw(st.sampled_from(["valid", "valid", "mutated", "mutated", "bytes", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        n = draw(st.integers(1, 4000))
        return f'name = "d"\ntrigger = "cow"\nx = {"[" * n}{"]" * n}\n'.encode()
    doc = draw(valid_document())
    if kind == "mutated":  # one value or key made wrong
        table = draw(st.sampled_from([None, "guest", "memslot", "options", "expect"]))
        where = doc if table is None else doc[table]
        key = draw(st.one_of(st.sampled_from(sorted(where) or ["bogus"]), WILD))
        where[key] = toml_value(draw)
    text = _toml(doc)
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + text.encode("utf-8", "surrogatepass")


def _files(draw, folder) -> list[str]:
    files = []
    for data in draw(st.lists(scenario_file(), max_size=2)):
        path = os.path.join(folder, f"s{next(_counter)}.toml")
        with open(path, "wb") as fh:
            fh.write(data)
        files.append(path)
    return files


@st.composite
def structured(draw, files) -> list[str]:
    """A command line each subcommand would accept, with drawn values."""
    arch = st.sampled_from(list(models()))
    scen = st.sampled_from(files + ["ksm-merge", "cow-huge", "-"] if files else ["cow-4k", "-"])
    fmt = ["--format", draw(st.sampled_from(["table", "json", "markdown"]))]
    arches = [x for a in draw(st.lists(arch, max_size=2)) for x in ("--arch", a)]
    cmd = draw(st.sampled_from(COMMANDS))
    if cmd in ("compare", "check", "matrix"):
        args = [cmd, *draw(st.lists(scen, max_size=2 if cmd != "compare" else 1)), *arches, *fmt]
        if cmd == "check" and draw(st.booleans()):
            args += ["--expect", draw(st.sampled_from(VERDICTS))]
        if cmd == "matrix" and draw(st.booleans()):
            args += ["-e", draw(st.sampled_from(["cow", "^ksm", ".", "(", "zzz"]))]
        return args
    if cmd == "explain":
        return [cmd, draw(scen), "--arch", draw(arch), *fmt]
    if cmd == "history":
        return [cmd, draw(scen), *arches, *fmt]
    if cmd == "explore":
        return [cmd, draw(st.sampled_from(list(RACES))), *arches, *fmt, "--max-states", "300"]
    return [cmd, *(fmt if cmd != "schema" else [])]


@st.composite
def wild(draw, files) -> list[str]:
    """Anything: commands, options and values in any order, some of them garbage."""
    token = st.one_of(st.sampled_from(OPTIONS), st.sampled_from(NAMES), WILD,
                      st.sampled_from(files) if files else st.sampled_from(NAMES))
    head = draw(st.one_of(st.sampled_from(COMMANDS), WILD))
    args = [head, *draw(st.lists(token, max_size=6))]
    if head == "explore":  # every race on every arch is slow; keep each example short
        args += ["--max-states", "300"]
    return args


@st.composite
def command_line(draw, folder):
    files = _files(draw, folder)
    args = draw(st.one_of(structured(files), wild(files)))
    if draw(st.integers(0, 9)) == 0:
        args.insert(0, "--debug")
    stdin = draw(scenario_file()) if "-" in args else b""
    return args, stdin


def invoke(args: list[str], stdin: bytes) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with pytest.raises(SystemExit) as exc:
                main(args)
    finally:
        sys.stdin = old_stdin
    return exc.value.code or 0, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=200, deadline=None, derandomize=bool(os.environ.get("CI")),
          database=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_input_makes_a_traceback(data, folder, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("KVMSPTE_DEBUG", raising=False)
    args, stdin = data.draw(command_line(folder))
    code, out, err = invoke(args, stdin)
    shown = f"kvmspte {args!r} -> {code}\n{err}"
    assert code in (0, 1, 2), shown
    assert "Traceback" not in out + err, shown
    assert "\x1b" not in err and "\r" not in err, shown
    if code == 2:
        assert out == "" and err.count("\n") == 1, shown
        assert err.startswith("kvmspte: error: ") and len(err) < 1200, shown
