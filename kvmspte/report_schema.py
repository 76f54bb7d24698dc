"""JSON Schema of the report that ``--format json`` prints (schema_version 1)."""

from __future__ import annotations

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
        "verdict": {"enum": ["no-op", "flush-only", "changes", "n/a", "absent", "error"],
                    "description": "error: the model raised; see error (the run exits 3)"},
        "expected": {"enum": ["no-op", "flush-only", "changes", "n/a", "absent", None]},
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
    },
}
REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "kvmspte report",
    "type": "object",
    "required": ["schema_version", "tool", "command", "scenarios", "results"],
    "properties": {
        "schema_version": {"const": 1},
        "tool": {"const": "kvmspte"},
        "command": {"type": "string"},
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
        "schema_version": {"const": 1},
        "tool": {"const": "kvmspte"},
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
        "schema_version": {"const": 1},
        "tool": {"const": "kvmspte"},
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
                        "verdict": {"enum": ["no-op", "flush-only", "changes", "n/a",
                                             "absent", "error"]},
                        "points": {"type": "array", "items": _RELEASE, "minItems": 1},
                        "changed_by": _CAUSE,
                    },
                }},
            },
        }},
    },
}
