"""The command line: exit codes, output shapes, one-line errors."""

import json

import pytest

from kvmspte import __version__
from kvmspte.plugins.registry import models


def test_version(cli):
    r = cli("--version")
    assert (r.code, r.out.strip()) == (0, f"kvmspte {__version__}")


def test_help_teaches(cli):
    r = cli("--help")
    assert r.code == 0 and "Examples:" in r.out and "Exit status" in r.out
    assert "compare" in r.out and "check" in r.out


def test_compare_default_runs_every_arch(cli):
    r = cli("compare")
    assert r.code == 0 and r.out.startswith("ksm-merge: trigger ksm-replace-page")
    for arch_id in models():
        assert f"\n{arch_id} " in r.out
    assert "\x1b[" not in r.out


def test_compare_json_shape(cli):
    r = cli("compare", "--format", "json", "--arch", "x86-tdp")
    doc = json.loads(r.out)
    assert doc["schema_version"] == 1
    (res,) = doc["results"]
    for key in ("arch", "verdict", "reached_arch_hook", "flush", "before", "after", "trace"):
        assert key in res
    assert all({"file", "function", "release"} <= set(s["source"])
               for s in res["trace"] if s["source"])
    assert "\x1b" not in r.out


def test_compare_json_is_deterministic(cli):
    assert cli("compare", "--format", "json").out == cli("compare", "--format", "json").out


@pytest.mark.parametrize("args, needle", [
    (("compare", "--arch", "x86-tpd"), "unknown architecture 'x86-tpd' (did you mean: x86-tdp"),
    (("compare", "ksm-merg"), "unknown scenario 'ksm-merg' (did you mean: ksm-merge"),
    (("compare", "--format", "xml"), "'xml' is not one of"),
    (("compare", "--bogus"), "No such option '--bogus'"),
    (("check", "--expect", "maybe"), "unknown verdict 'maybe'"),
    (("nosuch",), "No such command 'nosuch'"),
])
def test_bad_input_is_one_line_exit_2(cli, args, needle):
    r = cli(*args)
    assert r.code == 2 and r.out == ""
    assert needle in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err


def test_malformed_scenario_file(cli, tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name = "x"\ntrigger = "cow"\n[guest]\nstate = 4\n')
    r = cli("compare", str(p))
    assert r.code == 2 and r.out == "" and str(p) in r.err and "guest.state" in r.err


def test_check_catalogue_passes(cli):
    r = cli("check")
    assert r.code == 0, r.out
    results = json.loads(cli("check", "--format", "json").out)["results"]
    assert results and all(x["matches"] for x in results)


def test_check_failing_expectation_exits_1(cli):
    # x86-tdp's set_spte_gfn finds nothing after tdp_mmu_zap_leafs: the verdict is no-op
    r = cli("check", "ksm-merge", "--arch", "x86-tdp", "--expect", "changes", "--format", "json")
    (res,) = json.loads(r.out)["results"]
    assert r.code == 1 and (res["verdict"], res["expected"], res["matches"]) == \
        ("no-op", "changes", False)


def test_check_user_file_expectations(cli, tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\ntrigger = "cow"\n[expect]\nx86-tdp = "no-op"\n')
    assert cli("check", str(p)).code == 0
    p.write_text('name = "mine"\ntrigger = "cow"\n[expect]\nx86-tdp = "flush-only"\n')
    assert cli("check", str(p)).code == 1


def test_arches_lists_sources(cli):
    r = cli("arches")
    assert r.code == 0 and "arch/x86/kvm/mmu/tdp_mmu.c:set_spte_gfn @ v6.9" in r.out
    doc = json.loads(cli("arches", "--format", "json").out)
    assert {a["id"] for a in doc["arches"]} == set(models())


def test_scenarios_lists_catalogue(cli):
    r = cli("scenarios")
    assert r.code == 0 and "ksm-merge " in r.out and "cow-huge" in r.out


def test_schema_is_json(cli):
    doc = json.loads(cli("schema").out)
    assert doc["properties"]["schema_version"]["const"] == 1
    assert "properties" in json.loads(cli("schema", "--scenario").out)


def test_check_with_nothing_to_check_is_a_usage_error(cli, tmp_path):
    p = tmp_path / "bare.toml"
    p.write_text('name = "bare"\ntrigger = "cow"\n')
    r = cli("check", str(p))
    assert r.code == 2 and "nothing to check" in r.err and r.out == ""


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "kvmspte", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("kvmspte ")


def test_explore_reports_and_fails_on_violation_when_asked(cli):
    r = cli("explore", "writer-zapper", "--arch", "arm64", "--format", "json")
    (res,) = json.loads(r.out)["results"]
    uaf = res["counter_examples"]["use-after-free"]
    assert r.code == 0 and uaf["trace"][-1]["source"]["function"] == "tlb_finish_mmu"
    assert cli("explore", "writer-zapper", "--arch", "arm64", "--fail-on-violation").code == 1
    assert cli("explore", "writer-zapper", "--arch", "x86-tdp", "--fail-on-violation").code == 0
    assert cli("explore", "nosuch").code == 2


def test_matrix_filters_and_exit_status(cli):
    r = cli("matrix", "-e", "^cow-4k$", "--format", "json")
    doc = json.loads(r.out)
    assert r.code == 0 and [row["scenario"] for row in doc["rows"]] == ["cow-4k"]
    assert doc["cells"] == len(models()) and doc["mismatches"] == 0
    assert cli("matrix", "-e", "(").code == 2
    assert cli("matrix", "-e", "zzz").code == 2


def test_matrix_mismatch_exits_1(cli, tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('name = "m"\ntrigger = "cow"\n[expect]\nx86-tdp = "changes"\n')
    r = cli("matrix", str(p), "--arch", "x86-tdp", "--format", "json")
    doc = json.loads(r.out)
    assert r.code == 1 and (doc["cells"], doc["mismatches"]) == (1, 1)
    (cell,) = doc["rows"][0]["cells"]
    assert (cell["verdict"], cell["mismatch"]) == ("no-op", True)


def test_explain_formats(cli):
    # the Markdown is pinned by tests/golden/explain-ksm-merge-arm64.md
    assert cli("explain", "ksm-merge", "--arch", "arm64", "--format", "markdown").code == 0
    doc = json.loads(cli("explain", "ksm-merge", "--arch", "arm64", "--format", "json").out)
    assert doc["verdict"] == "changes" and doc["phases"][0]["phase"] == "setup"
    cited = {s["source"]["function"] for ph in doc["phases"] if ph["phase"].endswith("change_pte")
             for s in ph["steps"] if s["source"]}
    assert {"kvm_set_spte_gfn", "stage2_map_walker_try_leaf"} <= cited
    assert {d["key"]: d["new"]["refcount"] for d in doc["diff"] if d["kind"] == "changed"} == {
        "table L3 @gfn 0x100200": 3}


def test_json_report_validates_against_published_schema(cli):
    import jsonschema

    schema = json.loads(cli("schema").out)
    for args in (("compare", "--format", "json"), ("check", "--format", "json")):
        jsonschema.validate(json.loads(cli(*args).out), schema)


def test_explore_json_validates_against_its_schema(cli):
    import jsonschema

    schema = json.loads(cli("schema", "--explore").out)
    doc = json.loads(cli("explore", "unwrapped-fault", "writer-zapper", "--kernel", "6.9",
                          "--format", "json").out)
    jsonschema.validate(doc, schema)
    res = {(r["race"], r["arch"]): r for r in doc["results"]}
    assert res["writer-zapper", "arm64"]["actors"] == ["writer", "zapper"]
    assert set(res["unwrapped-fault", "x86-tdp"]["counter_examples"]) == {
        "coherence-at-quiescence", "stale-install"}


def test_scenario_schema_accepts_the_catalogue(cli):
    import jsonschema

    from kvmspte.scenarios.loader import builtin_documents

    schema = json.loads(cli("schema", "--scenario").out)
    for _, doc in builtin_documents():
        jsonschema.validate(doc, schema)
