"""The composite action.yml: it parses, and its check step does what it says when run
as GitHub runs it (bash -eo pipefail, inputs in the environment).  Needs PyYAML, which
is not a dependency of kvmspte: the tests skip without it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml  # a test dependency (pyproject): the action is always parsed, never skipped

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def step(name: str) -> dict:
    return next(s for s in ACTION["runs"]["steps"] if s.get("name") == name
                or s.get("id") == name or s.get("uses", "").startswith(name))


def test_action_shape():
    assert ACTION["runs"]["using"] == "composite"
    assert {"scenarios", "arches", "kernel", "python-version"} <= set(ACTION["inputs"])
    install = step("Install kvmspte from the action's checkout")
    assert install["env"]["KVMSPTE_SRC"] == "${{ github.action_path }}"
    assert "pip install" in install["run"]
    upload = step("actions/upload-artifact")
    assert upload["if"] == "always()" and "${{ inputs.report }}" in upload["with"]["path"]
    # inputs reach scripts through the environment only (no ${{ }} pasted into a script)
    for s in ACTION["runs"]["steps"]:
        assert "${{" not in s.get("run", ""), s.get("name")


def run_check(tmp_path, **inputs) -> tuple[str, dict, str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    env["GITHUB_OUTPUT"] = str(tmp_path / "output")
    for key in ("scenarios", "arches", "expect", "kernel"):
        env[f"KVMSPTE_{key.upper()}"] = inputs.get(key, "")
    env["KVMSPTE_REPORT"] = "kvmspte-report.json"
    script = tmp_path / "check.sh"
    script.write_text(step("check")["run"], encoding="utf-8")
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                   cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    out = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    return (tmp_path / "summary.md").read_text(encoding="utf-8"), out, env["KVMSPTE_REPORT"]


def test_check_step_on_the_catalogue(tmp_path):
    summary, out, report = run_check(tmp_path, arches="x86-tdp, arm64")
    assert out["exit-code"] == "0"
    results = json.loads((tmp_path / report).read_text())["results"]
    assert {r["arch"] for r in results} == {"x86-tdp", "arm64"}
    assert results and all(r["matches"] for r in results) and summary.strip()
    cases = ET.parse(tmp_path / out["junit"]).getroot().iter("testcase")
    assert len(list(cases)) == len(results)


def test_check_step_with_a_failing_file_glob(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "wrong.toml").write_text(
        'name = "wrong"\ntrigger = "cow"\n[expect]\nx86-tdp = "flush-only"\n')
    summary, out, report = run_check(tmp_path, scenarios="mine/*.toml")
    assert out["exit-code"] == "1"
    assert "| `wrong` | `x86-tdp` | flush-only | no-op |" in summary


def test_kernel_input_is_passed_through_only_when_set(tmp_path):
    summary, out, _ = run_check(tmp_path, kernel="v6.6")
    assert out["exit-code"] == "2" and "could not run" in summary


def readme_yaml_blocks() -> list:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Using `check` in CI")
    section = text[start:text.index("\n## ", start + 1)]
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_readme_ci_snippets_parse_and_use_real_inputs():
    workflow, shell_steps = readme_yaml_blocks()
    steps = workflow["jobs"]["kvmspte"]["steps"]
    action = next(s for s in steps if s.get("uses", "").startswith("OWNER/kvmspte@"))
    assert set(action["with"]) <= set(ACTION["inputs"])
    runs = [s["run"] for s in shell_steps["steps"] if "run" in s]
    assert runs[0] == "python -m pip install ./.kvmspte"  # from a checkout, not an index
    assert runs[-1].startswith("kvmspte check ")
