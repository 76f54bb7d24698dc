"""The published JSON Schema of every ``--format json`` output (``kvmspte schema NAME``),
and of a scenario file (``kvmspte schema scenario``)."""

from __future__ import annotations

from kvmspte import SCHEMA_VERSION
from kvmspte.vocabulary import VERDICTS

_HEAD = {"schema_version": {"const": SCHEMA_VERSION}, "tool": {"const": "kvmspte"}}
_VERDICT = {"enum": [*VERDICTS, "error"],
            "description": "error: the model raised; see error (the run exits 3)"}

_SOURCE = {
    "type": ["object", "null"],
    "required": ["file", "function", "release"],
    "properties": {"file": {"type": "string"}, "function": {"type": "string"},
                   "release": {"type": "string"}, "via": {"type": "string"},
                   "url": {"type": "string", "description": "the file at its release on a "
                           "public cross-referencer"},
                   "ident_url": {"type": "string", "description": "the identifier search for "
                                 "the function at its release"}},
}
_STEP = {
    "type": "object",
    "required": ["phase", "actor", "kind", "text", "source"],
    "properties": {
        "phase": {"type": "string"},
        "actor": {"enum": ["mm", "kvm", "arch", "vcpu"]},
        "kind": {"enum": ["step", "hook", "flush", "warn", "event"]},
        "text": {"type": "string"},
        "source": _SOURCE,
    },
}
_READ_LATER = {"type": "array", "items": _SOURCE,
               "description": "the cited sources of the run that were read at a release later "
                              "than the one modelled: the model holds that code unchanged back "
                              "to the modelled release without a copy of it having been read"}
_SNAPSHOT = {"type": "object", "additionalProperties": {"type": "object"},
             "description": "secondary-MMU structures keyed by what they map"}
_RESULT = {
    "type": "object",
    "required": ["arch", "family", "release", "scenario", "gfn", "verdict", "reason",
                 "reached_arch_hook", "flush", "before", "after", "diff", "trace"],
    "properties": {
        "arch": {"type": "string"},
        "family": {"type": "string"},
        "release": {"type": "string"},
        "scenario": {"type": "string"},
        "gfn": {"type": "string", "pattern": "^0x[0-9a-f]+$"},
        "verdict": _VERDICT,
        "expected": {"enum": [*VERDICTS, None]},
        "matches": {"type": ["boolean", "null"]},
        "reason": {"type": "string"},
        "reason_source": _SOURCE,
        "reached_arch_hook": {"type": "boolean"},
        "flush": {"type": "boolean"},
        "flushes": {"type": "array", "items": {"type": "string"}},
        "before": _SNAPSHOT,
        "after": _SNAPSHOT,
        "diff": {"type": "array", "items": {
            "type": "object", "required": ["key", "kind", "old", "new"],
            "properties": {"key": {"type": "string"},
                           "kind": {"enum": ["added", "removed", "changed"]},
                           "old": {"type": ["object", "null"]},
                           "new": {"type": ["object", "null"]}}}},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "error": {"type": "string",
                  "description": "present only when verdict is error: the exception the "
                                 "model raised, as 'Type: message'"},
        "trace": {"type": "array", "items": _STEP},
        "span": {"type": ["object", "null"], "required": ["from", "to"],
                 "description": "the release range [from, to) over which the modelled code "
                                "(generic, mm and arch) stays the same; to null: open",
                 "properties": {"from": {"type": "string"},
                                "to": {"type": ["string", "null"]}}},
        "what_if": {"type": "string",
                    "description": "non-empty where the scenario departs from what the "
                                   "release's mm did (wrapped = false after v3.7)"},
        "read_later": _READ_LATER,
    },
}
REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "kvmspte report",
    "type": "object",
    "required": ["schema_version", "tool", "command", "scenarios", "results"],
    "properties": {
        **_HEAD,
        "command": {"enum": ["compare", "check"]},
        "kernel": {"type": "string", "description": "the release asked for (--kernel)"},
        "scenarios": {"type": "array", "items": {"type": "object"}},
        "results": {"type": "array", "items": _RESULT},
    },
}

_EXPLORE_STEP = {
    "type": "object", "required": ["actor", "step", "source"],
    "properties": {"actor": {"type": "string"}, "step": {"type": "string"},
                   "source": _SOURCE},
}
_EXAMPLE = {
    "type": ["object", "null"],
    "required": ["kind", "message", "trace"],
    "properties": {
        "kind": {"enum": ["coherence-at-quiescence", "use-after-free", "stale-install"]},
        "message": {"type": "string"},
        "steps": {"type": "integer", "minimum": 0},
        "state": {"type": "object", "description": "the violating state: quiescent, PTL "
                                                    "holder, notifier counters, what each MMU "
                                                    "maps"},
        "trace": {"type": "array", "items": _EXPLORE_STEP},
    },
}
#: JSON Schema of ``kvmspte explore --format json`` (schema_version 1; fields added since the
#: first version: actors, counter_examples[*].steps and .state, all optional to readers)
EXPLORE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "kvmspte explore report",
    "type": "object",
    "required": ["schema_version", "tool", "command", "results"],
    "properties": {
        **_HEAD,
        "command": {"const": "explore"},
        "results": {"type": "array", "items": {
            "type": "object",
            "required": ["race", "arch", "states", "transitions", "interleavings", "finished",
                         "violations", "na", "first_violation", "counter_examples"],
            "properties": {
                "race": {"type": "string"}, "arch": {"type": "string"},
                "kernel": {"type": "string", "description": "the release explored"},
                "what_if": {"type": "string", "description": "non-empty where the race "
                            "departs from its release's mm (an unwrapped writer after v3.7)"},
                "error": {"type": "string"},
                "actors": {"type": "array", "items": {"type": "string"}},
                "states": {"type": "integer"}, "transitions": {"type": "integer"},
                "interleavings": {"type": "integer"}, "finished": {"type": "boolean"},
                "violations": {"type": "object",
                               "additionalProperties": {"type": "integer"}},
                "terminal_secondary": {"type": "object",
                                       "additionalProperties": {"type": "integer"}},
                "na": {"type": ["string", "null"]},
                "first_violation": _EXAMPLE,
                "counter_examples": {"type": "object", "additionalProperties": _EXAMPLE},
            },
        }},
    },
}


_RELEASE = {"type": "string", "pattern": r"^v\d+\.\d+(\.\d+)?$"}
_CAUSE = {
    "type": ["object", "null"],
    "description": "the switch point at the range's start that changed the verdict; null for "
                   "the first range (or, rarely, when no switch point at that release can be "
                   "named)",
    "required": ["table", "name", "commit", "since", "what", "source", "evidence"],
    "properties": {
        "table": {"type": "string", "description": "generic, mm, or the arch id"},
        "name": {"type": "string"}, "commit": {"type": "string"}, "since": _RELEASE,
        "what": {"type": "string"}, "source": _SOURCE,
        "evidence": {"type": "string", "description": "how the switch point was singled out "
                                                      "(the only one at the release, or "
                                                      "withholding it brings the earlier "
                                                      "verdict back)"},
    },
}
#: JSON Schema of ``kvmspte history --format json`` (schema_version 1)
HISTORY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "kvmspte history report",
    "type": "object",
    "required": ["schema_version", "tool", "command", "scenario", "points", "arches"],
    "properties": {
        **_HEAD,
        "command": {"const": "history"},
        "scenario": {"type": "string"},
        "points": {"type": "array", "items": _RELEASE,
                   "description": "every release the models were run at, ascending"},
        "arches": {"type": "array", "items": {
            "type": "object", "required": ["arch", "ranges"],
            "properties": {
                "arch": {"type": "string"},
                "ranges": {"type": "array", "minItems": 1, "items": {
                    "type": "object",
                    "required": ["from", "to", "verdict", "points", "changed_by"],
                    "description": "[from, to): consecutive switch points with one verdict",
                    "properties": {
                        "from": _RELEASE,
                        "to": {"anyOf": [_RELEASE, {"type": "null"}],
                               "description": "null: open-ended"},
                        "verdict": _VERDICT,
                        "points": {"type": "array", "items": _RELEASE, "minItems": 1},
                        "changed_by": _CAUSE,
                    },
                }},
            },
        }},
    },
}

def _document(title: str, command: str | None, required: list[str], **properties) -> dict:
    head = {**_HEAD, "command": {"const": command}} if command else \
        {"schema_version": _HEAD["schema_version"]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title,
            "type": "object", "required": [*head, *required],
            "properties": {**head, **properties}}


_CELL = {"type": "object", "required": ["arch", "verdict", "expected", "mismatch"],
         "properties": {"arch": {"type": "string"}, "verdict": _VERDICT,
                        "expected": {"enum": [*VERDICTS, None]},
                        "mismatch": {"type": "boolean"}, "error": {"type": "string"}}}
MATRIX_SCHEMA = _document(
    "kvmspte matrix", "matrix", ["kernel", "arches", "rows", "cells", "mismatches", "legend"],
    kernel={"type": "string"}, arches={"type": "array", "items": {"type": "string"}},
    rows={"type": "array", "items": {
        "type": "object", "required": ["scenario", "expected", "cells"],
        "properties": {"scenario": {"type": "string"},
                       "expected": {"enum": [*VERDICTS, None]},
                       "cells": {"type": "array", "items": _CELL}}}},
    cells={"type": "integer", "minimum": 0}, mismatches={"type": "integer", "minimum": 0},
    legend={"type": "object", "additionalProperties": {"type": "string"}})

_SWITCH = {"type": "object", "required": ["name", "since", "what", "source"],
           "properties": {"name": {"type": "string"}, "since": {"type": "string"},
                          "commit": {"type": "string"}, "what": {"type": "string"},
                          "source": _SOURCE, "active": {"type": "boolean"}}}
_ARCH = {
    "type": "object",
    "required": ["id", "family", "title", "release", "hooks", "chain", "findings",
                 "free_policy", "switches"],
    "properties": {
        "id": {"type": "string"}, "family": {"type": "string"}, "title": {"type": "string"},
        "release": {"type": "string"},
        "hooks": {"type": "object", "additionalProperties": {"type": "array",
                                                             "items": _SOURCE}},
        "chain": {"type": "array", "items": _SOURCE},
        "findings": {"type": "array", "items": {"type": "string"}},
        "readonly_mem": _SOURCE, "free_policy": {"type": ["string", "null"]},
        "host_mm": {"type": "object", "additionalProperties": _SOURCE},
        "arrived": {**_SWITCH, "type": ["object", "null"],
                    "description": "the switch point where change_pte first reaches the model"},
        "switches": {"type": "array", "items": _SWITCH},
        "fault_retry": {"type": ["object", "null"]},
        "absent": {"type": ["string", "null"],
                   "description": "with --kernel: why change_pte does not reach the model"},
    },
}
ARCHES_SCHEMA = _document("kvmspte arches", None, ["arches"],
                          kernel={"type": "string"}, arches={"type": "array", "items": _ARCH})

_PHASE = {"type": "object", "required": ["phase", "title", "title_source", "steps", "state"],
          "properties": {"phase": {"type": "string"}, "title": {"type": "string"},
                         "title_source": _SOURCE,
                         "steps": {"type": "array", "items": _STEP},
                         "state": {"type": ["array", "null"], "items": {"type": "object"}}}}
EXPLAIN_SCHEMA = _document(
    "kvmspte explain", "explain",
    ["scenario", "arch", "gfn", "verdict", "reason", "reason_source", "reached_arch_hook",
     "flush", "diff", "warnings", "phases"],
    scenario={"type": "object"}, arch=_ARCH, gfn=_RESULT["properties"]["gfn"],
    verdict=_VERDICT, reason={"type": "string"}, reason_source=_SOURCE,
    reached_arch_hook={"type": "boolean"}, flush={"type": "boolean"},
    diff=_RESULT["properties"]["diff"], warnings=_RESULT["properties"]["warnings"],
    phases={"type": "array", "items": _PHASE}, read_later=_READ_LATER)


def _scenario() -> dict:
    from kvmspte.scenarios.schema import scenario_json_schema

    return scenario_json_schema()


def _scenarios() -> dict:
    return _document("kvmspte scenarios", None, ["scenarios"],
                     scenarios={"type": "array", "items": {"type": "object"}})


#: kvmspte schema NAME -> the schema (or a function building it, for the pydantic one)
SCHEMAS = {"compare": REPORT_SCHEMA, "check": REPORT_SCHEMA, "matrix": MATRIX_SCHEMA,
           "explain": EXPLAIN_SCHEMA, "explore": EXPLORE_SCHEMA, "history": HISTORY_SCHEMA,
           "arches": ARCHES_SCHEMA, "scenarios": _scenarios, "scenario": _scenario}


def schema(name: str) -> dict:
    found = SCHEMAS[name]
    return found() if callable(found) else found
