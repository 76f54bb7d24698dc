"""Scenarios: what state the guest mapping is in, which trigger runs, what to expect.

Scenarios are plain frozen dataclasses.  Files a user passes are validated with
pydantic (``kvmspte.scenario_schema``); the built-in catalogue ships as TOML in
``kvmspte/scenarios`` and is validated by the test suite, so the default path
need not import pydantic.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from kvmspte.errors import ScenarioError, shown
from kvmspte.util import suggest

STDIN = "<stdin>"
#: a scenario file is a few hundred bytes; anything far larger (/dev/zero...) is refused
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    trigger: str
    wrapped: bool = True
    state: str = "mapped-4k"
    neighbours: bool = True
    dirty_logging: bool = False
    readonly: bool = False
    invalid: bool = False
    mte: bool = False
    expect: dict[str, str] = field(default_factory=dict)
    origin: str = "built-in"
    #: expectations at other releases: "vX.Y" -> arch id -> verdict ([expect_at."X.Y"])
    expect_at: dict[str, dict[str, str]] = field(default_factory=dict)

    def expectation(self, arch_id: str, kernel=None) -> str | None:
        """The verdict expected of ``arch_id`` at ``kernel``: [expect] holds the default
        release's (v6.9), [expect_at."X.Y"] any other release's."""
        from kvmspte.release import DEFAULT

        if kernel is None or kernel == DEFAULT:
            return self.expect.get(arch_id)
        return self.expect_at.get(str(kernel), {}).get(arch_id)

    def expectations(self, kernel=None) -> dict[str, str]:
        from kvmspte.release import DEFAULT

        if kernel is None or kernel == DEFAULT:
            return self.expect
        return self.expect_at.get(str(kernel), {})

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "trigger": self.trigger,
            "wrapped": self.wrapped,
            "guest": {"state": self.state, "neighbours": self.neighbours},
            "memslot": {"dirty_logging": self.dirty_logging, "readonly": self.readonly,
                        "invalid": self.invalid},
            "options": {"mte": self.mte},
            "expect": dict(sorted(self.expect.items())),
            **({"expect_at": {k: dict(sorted(v.items())) for k, v in self.expect_at.items()}}
               if self.expect_at else {}),
        }


def from_document(doc: dict, origin: str) -> Scenario:
    """Build a Scenario from an already validated TOML document."""
    guest, slot, opts = doc.get("guest", {}), doc.get("memslot", {}), doc.get("options", {})
    return Scenario(
        name=doc["name"], description=doc.get("description", ""), trigger=doc["trigger"],
        wrapped=doc.get("wrapped", True), state=guest.get("state", "mapped-4k"),
        neighbours=guest.get("neighbours", True),
        dirty_logging=slot.get("dirty_logging", False), readonly=slot.get("readonly", False),
        invalid=slot.get("invalid", False), mte=opts.get("mte", False),
        expect=dict(doc.get("expect", {})), origin=origin,
        expect_at=_expect_at(doc.get("expect_at") or {}, origin))


def _expect_at(tables: dict, origin: str) -> dict[str, dict[str, str]]:
    from kvmspte.release import Release, ReleaseError

    out = {}
    for key, table in tables.items():
        try:
            out[str(Release.parse(key))] = dict(table)
        except ReleaseError as exc:
            raise ScenarioError(f"{origin}: field 'expect_at.{key[:40]}': {exc}") from None
    return out


def _catalogue_files() -> list[tuple[str, str]]:
    folder = resources.files("kvmspte.scenarios")
    return sorted((p.name, p.read_text(encoding="utf-8"))
                  for p in folder.iterdir() if p.name.endswith(".toml"))


def builtin_documents() -> list[tuple[str, dict]]:
    """(file name, parsed TOML) for every built-in scenario."""
    return [(name, tomllib.loads(text)) for name, text in _catalogue_files()]


_CATALOGUE: dict[str, Scenario] | None = None


def catalogue() -> dict[str, Scenario]:
    """The built-in scenarios by name, in file order."""
    global _CATALOGUE
    if _CATALOGUE is None:
        _CATALOGUE = {}
        for fname, doc in builtin_documents():
            sc = from_document(doc, f"built-in:{fname}")
            _CATALOGUE[sc.name] = sc
    return _CATALOGUE


def load_file(path: Path) -> Scenario:
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
    from kvmspte.scenario_schema import validate

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
        return ref.endswith(".toml") or Path(ref).exists()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte: not a file
        return False


def resolve(ref: str) -> Scenario:
    """A built-in scenario name, a path to a TOML file, or '-' for standard input."""
    cat = catalogue()
    if ref in cat:
        return cat[ref]
    if ref == "-":
        return load_stdin()
    if _is_file_ref(ref):
        return load_file(Path(ref))
    raise ScenarioError(f"unknown scenario '{shown(ref)}'{suggest(ref, cat)}; "
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
