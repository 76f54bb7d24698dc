"""Citations read at a later release than the one modelled are listed with every result
(``read_later``): a reader of a long-term release (5.15, 6.1, 6.6) sees which steps the model
holds unchanged back to their release from a newer copy, instead of taking a v6.9 citation
for a reading of their own tree."""

from __future__ import annotations

import json

import pytest

from kvmspte.plugins import registry
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.engine import run
from kvmspte.sim.release import Release


def _cited(res):
    return [s.source for s in res.trace if s.source] + [res.reason_source] * bool(res.reason_source)


@pytest.mark.parametrize("kernel", ["3.7", "5.15", "6.1", "6.6", "6.9"])
def test_read_later_is_exactly_the_citations_newer_than_the_run(kernel):
    at = Release.parse(kernel)
    for model in registry.models().values():
        res = run(catalogue()["ksm-merge"], model, kernel=at)
        later = {s for s in _cited(res) if Release.parse(s.release) > at}
        assert set(res.read_later()) == later, model.id
        assert len(res.read_later()) == len(later)  # each listed once


def test_v6_9_runs_read_nothing_later():
    # the models were read at v6.9 (or earlier): at their own release nothing is newer
    for model in registry.models().values():
        for sc in catalogue().values():
            assert run(sc, model).read_later() == [], (model.id, sc.name)


def test_explain_json_and_text_list_them(cli):
    # ppc-e500 at 3.7: its host-mapping helpers were read at v6.9 (the long-term releases'
    # mm and arch citations are all dated, see test_long_term_runs_read_no_mm_file_later)
    arch, at = "ppc-e500", "3.7"
    doc = json.loads(cli("explain", "ksm-merge", "--arch", arch, "--kernel", at,
                         "--format", "json").out)
    assert doc["read_later"] and all(
        Release.parse(s["release"]) > Release.parse(at) for s in doc["read_later"])
    text = cli("explain", "ksm-merge", "--arch", arch, "--kernel", at).out
    last = text.split(f"## Read at a later release than v{at}")[1]
    for s in doc["read_later"]:
        assert f"{s['file']}:{s['function']} @ {s['release']}" in last
    report = json.loads(cli("compare", "--arch", arch, "--kernel", at,
                            "--format", "json").out)
    first = [r for r in report["results"] if r["scenario"] == "ksm-merge"][0]
    assert first["read_later"] == doc["read_later"]


@pytest.mark.parametrize("kernel", ["5.15", "6.1", "6.6"])
@pytest.mark.parametrize("arch", ["x86-tdp", "x86-shadow", "arm64", "mips"])
def test_long_term_runs_read_no_arch_file_later(arch, kernel):
    # every arch-side citation of these four models at a long-term release names a copy of
    # that era (kvmspte/sim/copies.py tables); generic virt/kvm, mm/, include/linux, kernel/
    # citations are the generic models' to re-date
    at = Release.parse(kernel)
    model = registry.models()[arch]
    for sc in catalogue().values():
        res = run(sc, model, kernel=at)
        assert not [s for s in res.read_later() if s.file.startswith("arch/")], sc.name
    hooks = model.hooks_at(at)
    assert all(Release.parse(s.release) <= at for v in hooks.values() for s in v
               if s.file.startswith("arch/"))
