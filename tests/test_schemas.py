"""Every command's --format json output validates against `kvmspte schema NAME`."""

import json

import jsonschema
import pytest

from kvmspte.formats import REGISTRY
from kvmspte.formats.schemas import SCHEMAS

RUNS = {
    "compare": [("compare", "--format", "json"), ("compare", "cow-huge", "--format", "json"),
                ("compare", "--kernel", "3.0", "--format", "json")],
    "check": [("check", "--format", "json"), ("check", "--kernel", "5.15", "--expect", "no-op", "--format", "json")],
    "matrix": [("matrix", "--format", "json"), ("matrix", "-e", "cow", "--kernel", "4.19",
                                                "--format", "json")],
    "explain": [("explain", "ksm-merge", "--arch", "arm64", "--format", "json"),
                ("explain", "cow-huge", "--arch", "mips", "--format", "json")],
    "explore": [("explore", "writer-zapper", "--arch", "riscv", "--format", "json")],
    "history": [("history", "cow-4k", "--arch", "arm64", "--arch", "mips", "--format", "json")],
    "arches": [("arches", "--format", "json"), ("arches", "--kernel", "5.4", "--format", "json")],
    "scenarios": [("scenarios", "--format", "json")],
}


def test_every_json_output_has_a_schema():
    commands = {c for c, f in REGISTRY if f == "json" and c != "schema"}
    assert commands == set(RUNS) and commands | {"scenario"} == set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_json_output_validates_against_its_schema(cli, name):
    schema = json.loads(cli("schema", name).out)
    jsonschema.Draft202012Validator.check_schema(schema)
    for args in RUNS[name]:
        r = cli(*args)
        assert r.code in (0, 1), (args, r.err)
        jsonschema.validate(json.loads(r.out), schema)


def test_old_schema_flags_are_aliases(cli):
    assert cli("schema").out == cli("schema", "compare").out
    assert cli("schema", "--explore").out == cli("schema", "explore").out
    assert cli("schema", "--scenario").out == cli("schema", "scenario").out


def test_result_schema_names_every_field_the_result_writes():
    # the schema is written by hand beside Result.to_dict: this keeps the two in step
    from kvmspte.formats.schemas import _RESULT
    from kvmspte.sim.report import Result

    written = set(Result("a", "f", "v6.9", "s", 1, error="E: x").to_dict())
    assert written == set(_RESULT["properties"])
    assert set(_RESULT["required"]) <= written
