"""check --format junit|tap: one test case per checked (scenario, arch) cell."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

WRONG = '''name = "deliberately-wrong"
description = "odd characters: <&>\\" ' # \\u0001 \\u00e9 ]]> --"
trigger = "ksm-replace-page"
[expect]
x86-tdp = "no-op"
mips = "no-op"
arm64 = "flush-only"
'''


def _wrong(tmp_path):
    p = tmp_path / "wrong.toml"
    p.write_text(WRONG, encoding="utf-8")
    return str(p)


def test_junit_one_testcase_per_checked_cell(cli):
    r = cli("check", "--format", "junit")
    assert r.code == 0
    root = ET.fromstring(r.out)
    cases = root.findall("./testsuite/testcase")
    table = cli("check", "--format", "json")
    import json

    results = json.loads(table.out)["results"]
    assert len(cases) == len(results) == int(root.get("tests"))
    assert {(c.get("classname"), c.get("name")) for c in cases} == \
        {(f"kvmspte.{x['scenario']}", x["arch"]) for x in results}
    assert root.get("failures") == "0" and not root.findall(".//failure")


def test_junit_failures_carry_verdicts_and_citation(cli, tmp_path):
    r = cli("check", _wrong(tmp_path), "--format", "junit")
    assert r.code == 1
    root = ET.fromstring(r.out)  # valid XML despite the description
    (suite,) = root.findall("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert "<&>" in props["description"] and "]]>" in props["description"]
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"x86-tdp", "mips", "arm64"}
    assert cases["x86-tdp"].find("failure") is None
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    assert failed == {"mips", "arm64"} and root.get("failures") == "2"
    fail = cases["mips"].find("failure")
    fields = dict(line.split(": ", 1) for line in fail.text.splitlines())
    assert fields["expected"] == "no-op" and fields["verdict"] == "changes"
    assert "arch/mips/kvm/mmu.c:kvm_set_spte_gfn @ v6.9" in fields["source"]


def _tap(text: str):
    lines = text.splitlines()
    plan = re.fullmatch(r"1\.\.(\d+)", lines[1])
    points = [re.match(r"(not ok|ok) (\d+) - (.*)", ln) for ln in lines
              if re.match(r"(not )?ok \d+", ln)]
    return lines, int(plan.group(1)), points


def test_tap_13_plan_matches_points(cli, tmp_path):
    r = cli("check", "--format", "tap")
    lines, n, points = _tap(r.out)
    assert r.code == 0 and lines[0] == "TAP version 13"
    assert n == len(points) > 0 and all(p.group(1) == "ok" for p in points)
    assert [int(p.group(2)) for p in points] == list(range(1, n + 1))

    r = cli("check", _wrong(tmp_path), "--format", "tap")
    lines, n, points = _tap(r.out)
    assert r.code == 1 and lines[0] == "TAP version 13" and n == len(points) == 3
    assert sorted(p.group(1) for p in points) == ["not ok", "not ok", "ok"]
    # the failing points carry a YAML block with the verdicts
    assert r.out.count("\n  ---\n") == 2 and r.out.count("\n  ...\n") == 2
    assert '  expected: "flush-only"' in r.out


def test_junit_escapes_characters_xml_cannot_carry():
    from kvmspte.formats.ci import xml_text

    assert xml_text("a\x00b\x1bc\td\n") == "a\ufffdb\ufffdc\td\n"
