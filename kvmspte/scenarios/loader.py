"""Loading scenarios: the built-in catalogue (the TOML files beside this module), a user's
file (validated with pydantic, ``kvmspte.scenarios.schema``) or standard input.

The built-in catalogue is validated by the test suite, so the default path need not
import pydantic.  A built wheel also carries COMPILED, each TOML file's text with its parsed
document (written by setup.py), so that the default path need not import tomllib either; a
document is taken from it only while its recorded text is the file's text, byte for byte.
"""

from __future__ import annotations

import os

from kvmspte.errors import ScenarioError, shown
from kvmspte.scenarios.definition import Scenario, from_document
from kvmspte.util import suggest

STDIN = "<stdin>"
#: {file name: [TOML text, its parsed document]}, beside the TOML files of an installed wheel
COMPILED = "catalogue.json"
#: a scenario file is a few hundred bytes; anything far larger (/dev/zero...) is refused
MAX_BYTES = 1 << 20


def _catalogue_names() -> list[str]:
    """The file names of the built-in catalogue, in order ("NN-NAME.toml")."""
    here = os.path.dirname(__file__)
    try:  # an installed or checked-out package is a folder: no importlib.resources needed
        return sorted(n for n in os.listdir(here) if n.endswith(".toml"))
    except OSError:  # pragma: no cover - a zipped install
        from importlib import resources

        return sorted(p.name for p in resources.files(__package__).iterdir()
                      if p.name.endswith(".toml"))


def _catalogue_text(fname: str) -> str:
    try:
        with open(os.path.join(os.path.dirname(__file__), fname), encoding="utf-8") as fh:
            return fh.read()
    except OSError:  # pragma: no cover - a zipped install
        from importlib import resources

        return resources.files(__package__).joinpath(fname).read_text(encoding="utf-8")


def _compiled() -> dict:
    global _COMPILED
    if _COMPILED is None:
        import json

        try:
            with open(os.path.join(os.path.dirname(__file__), COMPILED), encoding="utf-8") as fh:
                _COMPILED = json.load(fh)
        except (OSError, ValueError):  # a source checkout (none written), or damaged
            _COMPILED = {}
    return _COMPILED


_COMPILED: dict | None = None


def _builtin_document(fname: str) -> dict:
    """The parsed TOML of a built-in file: from COMPILED while it matches the file's text."""
    text = _catalogue_text(fname)
    entry = _compiled().get(fname)
    if isinstance(entry, list) and len(entry) == 2 and entry[0] == text:
        return entry[1]
    import tomllib

    return tomllib.loads(text)


def builtin_documents() -> list[tuple[str, dict]]:
    """(file name, parsed TOML) for every built-in scenario."""
    return [(name, _builtin_document(name)) for name in _catalogue_names()]


#: built-in scenarios parsed so far, by file name
_PARSED: dict[str, Scenario] = {}


def _builtin_file(fname: str) -> Scenario:
    if fname not in _PARSED:
        _PARSED[fname] = from_document(_builtin_document(fname), f"built-in:{fname}")
    return _PARSED[fname]


def catalogue() -> dict[str, Scenario]:
    """The built-in scenarios by name, in file order."""
    return {sc.name: sc for sc in map(_builtin_file, _catalogue_names())}


def builtin(name: str) -> Scenario | None:
    """The built-in scenario called name, parsing only its own file (a file is named
    NN-NAME.toml, which the test suite checks), or None."""
    for fname in _catalogue_names():
        if fname[:-5].partition("-")[2] == name:
            sc = _builtin_file(fname)
            return sc if sc.name == name else catalogue().get(name)
    return None


def load_file(path) -> Scenario:
    """Parse and validate a user's scenario file (pydantic), or raise ScenarioError."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from None
    return load_bytes(data, str(path))


def load_stdin() -> Scenario:
    """The scenario file given as '-': read from standard input."""
    import sys

    try:
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
    except (OSError, AttributeError, ValueError) as exc:
        raise ScenarioError(f"{STDIN}: cannot read standard input: "
                            f"{getattr(exc, 'strerror', None) or exc}") from None
    return load_bytes(data, STDIN)


def load_bytes(data: bytes, origin: str) -> Scenario:
    """A scenario document as bytes (UTF-8, a leading BOM accepted), validated."""
    import tomllib

    from kvmspte.scenarios.schema import validate

    where = shown(origin)
    if len(data) > MAX_BYTES:
        raise ScenarioError(f"{where}: larger than {MAX_BYTES // 1024} KiB; not a scenario file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    try:
        return from_document(validate(tomllib.loads(text), where), origin)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: malformed TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{where}: malformed TOML: values nested too deeply") from None


def _is_file_ref(ref: str) -> bool:
    try:
        return ref.endswith(".toml") or os.path.exists(ref)
    except (OSError, ValueError):  # a name too long for a path, a NUL byte: not a file
        return False


def resolve(ref: str) -> Scenario:
    """A built-in scenario name, a path to a TOML file, or '-' for standard input."""
    found = builtin(ref)
    if found is not None:
        return found
    if ref == "-":
        return load_stdin()
    if _is_file_ref(ref):
        from pathlib import Path  # only for a file: pathlib costs start-up time

        return load_file(Path(ref))
    raise ScenarioError(f"unknown scenario '{shown(ref)}'{suggest(ref, catalogue())}; "
                        "see 'kvmspte scenarios', or pass a .toml file (or - for stdin)")


def unique(scenarios: list[Scenario]) -> list[Scenario]:
    """The scenarios of one run, each once; two different ones with one name are an error
    (their rows would mix in every report)."""
    seen: dict[str, Scenario] = {}
    for sc in scenarios:
        prev = seen.setdefault(sc.name, sc)
        if prev.origin != sc.origin:
            raise ScenarioError(f"scenario name '{sc.name}' is used by both "
                                f"{shown(prev.origin)} and {shown(sc.origin)}; names must be "
                                "unique in one run")
    return list(seen.values())
