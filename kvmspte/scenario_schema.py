"""pydantic validation of scenario files (schema version 1).

Only files a user passes go through here; the error for a bad document is one
line naming the file, the field and the problem.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kvmspte import SCHEMA_VERSION
from kvmspte.errors import ScenarioError, shown
from kvmspte.util import suggest
from kvmspte.vocabulary import STATES, TRIGGERS, VERDICTS

Trigger = Literal[TRIGGERS]
State = Literal[STATES]
Verdict = Literal[VERDICTS]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Guest(_Strict):
    state: State = Field("mapped-4k", description="the gfn's secondary mapping before the event")
    neighbours: bool = Field(True, description="another gfn in the same last-level table is "
                                               "mapped")


class MemslotFlags(_Strict):
    dirty_logging: bool = Field(False, description="KVM_MEM_LOG_DIRTY_PAGES")
    readonly: bool = Field(False, description="KVM_MEM_READONLY")
    invalid: bool = Field(False, description="KVM_MEMSLOT_INVALID: slot being deleted or moved")


class Options(_Strict):
    mte: bool = Field(False, description="the VM has MTE (arm64 only): the guest's faults "
                                         "tag the pages they map; other architectures "
                                         "ignore it")


class ScenarioDoc(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)
    description: str = Field("", max_length=500, description="one line shown by explain and "
                                                             "the docs")
    trigger: Trigger
    wrapped: bool = Field(True, description="false replays the pre-3.7 ordering: change_pte "
                                            "with no surrounding invalidation")
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
    from kvmspte import registry

    known = registry.models()
    for arch_id in [*parsed.expect, *(a for t in parsed.expect_at.values() for a in t)]:
        if arch_id not in known:
            raise ScenarioError(f"{origin}: field 'expect.{shown(arch_id, 40)}': unknown "
                                f"architecture '{shown(arch_id)}'{suggest(arch_id, known)}")


def scenario_json_schema() -> dict:
    return ScenarioDoc.model_json_schema()
