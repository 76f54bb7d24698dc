"""pydantic validation of scenario files (schema version 1).

Only files a user passes go through here; the error for a bad document is one
line naming the file, the field and the problem.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from kvmspte import SCHEMA_VERSION
from kvmspte.errors import ScenarioError, shown
from kvmspte.scenarios.definition import LAYOUT, TABLES, default
from kvmspte.util import suggest
from kvmspte.vocabulary import STATES, TRIGGERS, VERDICTS

Trigger = Literal[TRIGGERS]
State = Literal[STATES]
Verdict = Literal[VERDICTS]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


#: the class (and JSON Schema title) of each table of the scenario file
_TABLE_MODELS = {"guest": "Guest", "memslot": "MemslotFlags", "options": "Options"}
#: the type of each setting that is not a plain bool
_TYPES = {"state": State}


def _setting(attr: str, description: str):
    return (_TYPES.get(attr, bool), Field(default(attr), description=description))


def _table_model(table: str) -> type[_Strict]:
    fields = {attr: _setting(attr, text) for attr, (t, text) in LAYOUT.items() if t == table}
    return create_model(_TABLE_MODELS[table], __base__=_Strict, **fields)


Guest, MemslotFlags, Options = (_table_model(t) for t in TABLES)


class ScenarioDoc(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)
    description: str = Field("", max_length=500, description="one line shown by explain and "
                                                             "the docs")
    trigger: Trigger
    wrapped: bool = Field(default("wrapped"), description=LAYOUT["wrapped"][1])
    guest: Guest = Guest()
    memslot: MemslotFlags = MemslotFlags()
    options: Options = Options()
    expect: dict[str, Verdict] = Field(default_factory=dict,
                                       description="arch id -> expected verdict at v6.9")
    expect_at: dict[str, dict[str, Verdict]] = Field(
        default_factory=dict, description='release ("X.Y") -> arch id -> expected verdict '
                                          'at that release (check --kernel X.Y)')


def _where(loc: tuple) -> str:
    return ".".join(shown(p, 40) for p in loc) if loc else "(document)"


def _one_line(err: dict) -> str:
    where = _where(err["loc"])
    if err["type"] == "missing":
        return f"field '{where}' is required"
    if err["type"] == "extra_forbidden":
        return f"unknown field '{where}'"
    got = err.get("input")
    value = shown(repr(got)) if isinstance(got, (str, int, float, bool)) else type(got).__name__
    return f"field '{where}': {err['msg']} (got {value})"


def validate(doc: dict, origin: str) -> dict:
    """Validate a parsed TOML document; return it with defaults filled in."""
    try:
        parsed = ScenarioDoc.model_validate(doc)
    except ValidationError as exc:
        errs = exc.errors()
        more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
        raise ScenarioError(f"{origin}: {_one_line(errs[0])}{more}") from None
    _check_arches(parsed, origin)
    return parsed.model_dump()


def _check_arches(parsed: ScenarioDoc, origin: str) -> None:
    from kvmspte.plugins import registry

    known = registry.models()
    for arch_id in [*parsed.expect, *(a for t in parsed.expect_at.values() for a in t)]:
        if arch_id not in known:
            raise ScenarioError(f"{origin}: field 'expect.{shown(arch_id, 40)}': unknown "
                                f"architecture '{shown(arch_id)}'{suggest(arch_id, known)}")


def scenario_json_schema() -> dict:
    return ScenarioDoc.model_json_schema()
