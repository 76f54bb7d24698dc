"""The PowerPC models at the long-term releases 5.15, 6.1 and 6.6: a v6.9 citation is re-dated
to the gfn-callback era (v5.13) only where a stored copy of its file no later than the run was
read and shows the same behaviour (arches/ppc_eras.py); every other one stays in read_later."""

from __future__ import annotations

import pytest

from kvmspte.arches import ppc_eras as eras
from kvmspte.plugins import registry
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim.engine import run
from kvmspte.sim.host import HostMM
from kvmspte.sim.release import Release
from kvmspte.sim.trace import Trace
from kvmspte.testing import SLOT

PPC = ("ppc-hv-hpt", "ppc-hv-radix", "ppc-pr", "ppc-e500")
LTS = ("5.15", "6.1", "6.6")


def _arch_later(model_id: str, kernel: str) -> set[tuple[str, str]]:
    at, model = Release.parse(kernel), registry.models()[model_id]
    out = set()
    for sc in catalogue().values():
        out |= {(s.file, s.function) for s in run(sc, model, kernel=at).read_later()
                if s.file.startswith("arch/powerpc/")}
    return out


@pytest.mark.parametrize("kernel", LTS)
@pytest.mark.parametrize("model_id", PPC)
def test_lts_runs_read_nothing_arch_side_later(model_id, kernel):
    # every catalogue scenario: each arch/powerpc citation has a copy no later than the run
    assert _arch_later(model_id, kernel) == set()


def test_a_function_without_an_early_enough_copy_stays_later():
    # kvmppc_mmu_invalidate_pte was read in the 5.10.198 tree only; drop that copy and a 5.15
    # PR run lists it again (the mechanism hides nothing that was not read)
    file = "arch/powerpc/kvm/book3s_64_mmu_host.c"
    saved = eras.COPIES[file]
    try:
        eras.COPIES[file] = tuple(c for c in saved if c[0] is not eras.R11S)
        assert (file, "kvmppc_mmu_invalidate_pte") in _arch_later("ppc-pr", "5.15")
    finally:
        eras.COPIES[file] = saved


def test_copies_later_than_the_run_are_named_but_do_not_count():
    assert eras.LATE.release > Release.parse("6.6")  # a 6.7-merge-window tree
    assert eras.covering("arch/powerpc/kvm/book3s_mmu_hpte.c", "kvmppc_mmu_hpte_cache_map",
                         Release.parse("6.6")) == (eras.R11S,)
    # the v5.13-rc copy still had the hash-MMU loop bug: it is not counted for that function
    assert eras.EARLY not in eras.covering("arch/powerpc/kvm/book3s_64_mmu_hv.c",
                                           "kvm_unmap_gfn_range_hv", Release.parse("5.15"))


def _cited(res, file, function):
    return [s.source for s in res.trace
            if s.source and (s.source.file, s.source.function) == (file, function)]


def test_5_15_hpt_unmap_cites_the_v5_13_era_and_names_the_copies():
    res = run(catalogue()["ksm-merge"], registry.models()["ppc-hv-hpt"],
              kernel=Release.parse("5.15"))
    [src, *_] = _cited(res, "arch/powerpc/kvm/book3s_64_mmu_hv.c", "kvm_set_spte_gfn_hv")
    assert src.release == "v5.13"
    assert "sean-jc/linux 7323582f" in src.via and "intel/tdx 98ba09b4" in src.via
    assert "fusaty/freax d02cfbb5" in src.via  # read, but after 5.15: named as "also in"
    assert src.via.index("fusaty") > src.via.index("also in")


def test_6_1_e500_cites_the_v5_13_copies():
    res = run(catalogue()["ksm-merge"], registry.models()["ppc-e500"],
              kernel=Release.parse("6.1"))
    [src, *_] = _cited(res, "arch/powerpc/kvm/e500_mmu_host.c", "kvm_e500_mmu_unmap_gfn")
    assert src.release == "v5.13" and "sean-jc/linux 7323582f" in src.via
    assert "stored copy 2132829017" in src.via
    assert res.reason_source is None or res.reason_source.release != "v6.9" or \
        not res.reason_source.file.startswith("arch/powerpc/")


def test_6_6_hooks_cite_a_copy_from_before_6_6():
    hooks = registry.models()["ppc-hv-radix"].hooks_at(Release.parse("6.6"))
    [inst] = [s for s in hooks["fault_in"] if s.function == "kvmppc_book3s_instantiate_page"]
    assert inst.release == "v5.13"
    assert inst.via.startswith("same behaviour read in sean-jc/linux 7323582f")
    assert "also in fusaty/freax d02cfbb5" in inst.via  # the later copy, named, not counted


@pytest.mark.parametrize("model_id", PPC)
def test_fault_result_sources_are_re_dated(model_id):
    # FaultResult.source becomes the result's reason_source without going through cite()
    model = registry.models()[model_id]
    m = model(Trace(), kernel=Release.parse("5.15"))
    res = m.fault_in(SLOT, 0x100210, HostMM(0x7F0000000000, 0x1000, 0x80000, thp=False),
                     write=True)
    assert res.source.release == "v5.13", res.source
    assert "same behaviour read in" in res.source.via


def test_v6_9_and_pre_gfn_runs_are_unchanged():
    for model_id in PPC:
        model = registry.models()[model_id]
        assert model.hooks_at(Release.parse("6.9")) == model.hooks
        res = run(catalogue()["ksm-merge"], model, kernel=Release.parse("5.12"))
        assert all(s.source.release != "v5.13" or "same behaviour read in" not in s.source.via
                   for s in res.trace if s.source)
