"""kvmspte history: verdict ranges computed by running the models at every switch point."""

import json

import pytest

from kvmspte.analyses import history
from kvmspte.plugins.registry import models
from kvmspte.sim.release import FIRST, REMOVED, Release
from kvmspte.scenarios.loader import catalogue

from tests import test_exit_codes
from tests.test_exit_codes import one_error_line

boom = test_exit_codes.boom  # the fixture: a plugin whose set_spte_gfn raises


@pytest.fixture(scope="module")
def ksm():
    return history.build(catalogue()["ksm-merge"], list(models().values()))


def test_ranges_are_contiguous_and_cover_every_point(ksm):
    """3da0dd433dc3 (v2.6.32) added .change_pte(), f3b65bbaed7c (v6.10) removed it: every
    arch's ranges run from v2.6.31 to an open end, each ending where the next starts, and
    together hold every switch point once."""
    assert ksm.points[0] == history.BEFORE and ksm.points[-1] == REMOVED
    assert ksm.points == sorted(set(ksm.points))
    for a in ksm.arches:
        assert a.ranges[0].start == history.BEFORE and a.ranges[-1].end is None
        for left, right in zip(a.ranges, a.ranges[1:]):
            assert left.end == right.start and left.verdict != right.verdict
            assert right.changed_by is not None
        assert [p for r in a.ranges for p in r.points] == ksm.points
        assert a.ranges[0].changed_by is None


def test_absent_before_the_callback_and_after_its_removal(ksm):
    """Before 3da0dd433dc3 (v2.6.32) KVM had no .change_pte(); f3b65bbaed7c deleted it in
    v6.10: every arch is absent at v2.6.31 and from v6.10 on, the last change named as the
    removal."""
    for a in ksm.arches:
        assert a.ranges[0].verdict == "absent" and a.ranges[0].start == history.BEFORE
        last = a.ranges[-1]
        assert last.verdict == "absent" and last.start == REMOVED
        assert last.changed_by.switch.commit == "f3b65bbaed7c"
        assert last.changed_by.table == "generic"


def test_x86_shadow_changes_at_the_bracketing(ksm):
    """6bdb913f0a70 (v3.7) bracketed every set_pte_at_notify() caller with
    invalidate_range_start/end: before it change_pte found the live SPTE and repointed it
    (changes), after it the rmaps are empty (no-op).  The switch named is the mm table's
    'bracketed', singled out by withholding it (notify-first shares v3.7)."""
    (shadow,) = [a for a in ksm.arches if a.arch == "x86-shadow"]
    (at37,) = [r for r in shadow.ranges if r.start == Release(3, 7)]
    before = shadow.ranges[shadow.ranges.index(at37) - 1]
    assert before.verdict == "changes" and at37.verdict == "no-op"
    c = at37.changed_by
    assert (c.table, c.switch.name, c.switch.commit) == ("mm", "bracketed", "6bdb913f0a70")
    from kvmspte.analyses.runs import attempt
    from kvmspte.sim.triggers import MM_SWITCHES

    model = models()["x86-shadow"]
    assert len([sw for _, t in history.tables(model) for sw in t
                if sw.since == Release(3, 7)]) > 1     # singled out by withholding each
    with MM_SWITCHES.withheld("bracketed"):
        assert attempt(catalogue()["ksm-merge"], model, kernel=Release(3, 7)).verdict == "changes"


def test_v6_9_agrees_with_compare(ksm, cli):
    """At v6.9, the last release before f3b65bbaed7c, each arch's range holds the verdict
    `kvmspte compare --kernel 6.9` prints."""
    doc = json.loads(cli("compare", "--kernel", "6.9", "--format", "json").out)
    want = {r["arch"]: r["verdict"] for r in doc["results"]}
    for a in ksm.arches:
        (r,) = [r for r in a.ranges if r.start <= Release(6, 9) and
                (r.end is None or Release(6, 9) < r.end)]
        assert r.verdict == want[a.arch], a.arch


def test_switch_points_are_the_union_of_the_tables():
    """Every switch point of GENERIC, the mm table (6bdb913f0a70 among them) and each model's
    switches and arrival is run, plus the edges."""
    from kvmspte.sim.kvm import GENERIC
    from kvmspte.sim.triggers import MM_SWITCHES

    ms = list(models().values())
    pts = set(history.switch_points(ms))
    assert {history.BEFORE, FIRST, REMOVED} <= pts
    assert set(GENERIC.releases()) | set(MM_SWITCHES.releases()) <= pts
    for m in ms:
        assert set(m.switches.releases()) <= pts
        assert m.arrived is None or m.arrived.since in pts


def test_withheld_restores_the_switch():
    """Switches.withheld, used to single out 6bdb913f0a70, leaves the table as it was."""
    from kvmspte.sim.triggers import MM_SWITCHES

    with MM_SWITCHES.withheld("bracketed"):
        assert not MM_SWITCHES.active("bracketed", Release(6, 9))
    assert MM_SWITCHES.active("bracketed", Release(3, 7))
    assert MM_SWITCHES.get("bracketed").since == Release(3, 7)


def test_cli_table_fits_80_columns_and_json_validates(cli):
    """The table (piped) fits 80 columns; the JSON validates against `kvmspte schema
    --history` and names 6bdb913f0a70 for x86-shadow."""
    import jsonschema

    r = cli("history")
    assert r.code == 0 and r.err == ""
    assert all(len(ln) <= 80 for ln in r.out.splitlines())
    assert "\x1b" not in r.out  # the table itself is pinned by the README's history block
    schema = json.loads(cli("schema", "--history").out)
    for args in (("history", "--format", "json"), ("history", "cow-4k", "--arch", "arm64",
                                                   "--format", "json")):
        doc = json.loads(cli(*args).out)
        jsonschema.validate(doc, schema)
        assert doc["command"] == "history"
    assert bracketed(json.loads(cli("history", "--format", "json").out))
    md = cli("history", "--format", "markdown").out
    assert "```mermaid\ngantt" in md and "dateFormat X" in md


def test_cli_bad_input_exits_2(cli):
    """Unknown scenario or arch: one line, exit 2, through the helpers compare uses (no
    commit involved: input validation, kvmspte/cli.py resolve_scenarios, select_models)."""
    from tests.conftest import one_line_exit_2

    one_line_exit_2(cli("history", "no-such-scenario"), "no-such-scenario")
    one_line_exit_2(cli("history", "--arch", "no-such-arch"), "no-such-arch")


def test_cli_model_raising_exits_3(boom, cli):
    """A model that raises (at every release from its 1d8dd6b3f12b arrival, v5.10) is shown
    as 'error' ranges, the others still run, one line, exit 3."""
    r = cli("history", "--format", "json")
    doc = json.loads(r.out)
    (bad,) = [a for a in doc["arches"] if a["arch"] == "boom"]
    assert r.code == 3 and "error" in {x["verdict"] for x in bad["ranges"]}
    assert bracketed(doc)
    one_error_line(r.err, "'boom'", "RuntimeError: boom in set_spte_gfn")


def bracketed(doc: dict) -> bool:
    """x86-shadow's verdict changes at v3.7, by the mm table's 6bdb913f0a70."""
    (shadow,) = [a for a in doc["arches"] if a["arch"] == "x86-shadow"]
    (at37,) = [x for x in shadow["ranges"] if x["from"] == "v3.7"]
    c = at37["changed_by"]
    return (c["table"], c["name"], c["commit"]) == ("mm", "bracketed", "6bdb913f0a70")
