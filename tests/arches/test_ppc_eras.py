"""The PowerPC models at the long-term releases 5.15, 6.1 and 6.6: a v6.9 citation is re-dated
to the latest stored copy no later than the run that was read for it and shows the same
behaviour (arches/ppc_eras.py, through kvmspte/sim/copies.py); every other one stays in read_later."""

from __future__ import annotations

import pytest

from kvmspte.arches import ppc_eras as eras
from kvmspte.sim.copies import pick
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


def test_a_function_without_an_early_enough_copy_stays_later(monkeypatch):
    # kvmppc_mmu_invalidate_pte was read in the 5.10.198 tree only; without that copy a 5.15
    # PR run lists it again (the mechanism hides nothing that was not read)
    file = "arch/powerpc/kvm/book3s_64_mmu_host.c"
    kept = tuple(c for c in eras.COPIES if c.via != eras.SAME + eras.R11S)
    monkeypatch.setattr(registry.models()["ppc-pr"], "copies", kept)
    assert (file, "kvmppc_mmu_invalidate_pte") in _arch_later("ppc-pr", "5.15")


def _copy_for(file: str, function: str, kernel: str):
    return pick(Release.parse(kernel), eras.COPIES, eras.KVM + file, function)


def test_copies_later_than_the_run_do_not_count():
    # the fusaty/freax tree is of the 6.7 merge window: no 6.6 run cites it
    assert _copy_for("book3s_mmu_hpte.c", "kvmppc_mmu_hpte_cache_map", "6.6").via.endswith(
        eras.R11S)
    assert _copy_for("book3s_mmu_hpte.c", "kvmppc_mmu_hpte_cache_map", "6.7").via.endswith(
        eras.LATE)
    # the v5.13-rc copy still had the hash-MMU loop bug: the fixed form is what is cited
    assert _copy_for("book3s_64_mmu_hv.c", "kvm_unmap_gfn_range_hv", "5.15").via.endswith(
        eras.FIXED)
    # kali-linex (Makefile 6.4.0, possibly the 6.5 merge window) counts from 6.5 only
    assert _copy_for("book3s_mmu_hpte.c", "invalidate_pte", "6.4").via.endswith(eras.R11S)
    assert _copy_for("book3s_mmu_hpte.c", "invalidate_pte", "6.6").via.endswith(eras.KALI)


def _cited(res, file, function):
    return [s.source for s in res.trace
            if s.source and (s.source.file, s.source.function) == (file, function)]


def test_5_15_and_6_1_hpt_runs_cite_the_copy_of_their_era():
    for kernel, release, copy in (("5.15", "v5.13", eras.EARLY), ("6.1", "v6.0", eras.TDX)):
        res = run(catalogue()["ksm-merge"], registry.models()["ppc-hv-hpt"],
                  kernel=Release.parse(kernel))
        [src, *_] = _cited(res, "arch/powerpc/kvm/book3s_64_mmu_hv.c", "kvm_set_spte_gfn_hv")
        assert (src.release, src.via) == (release, eras.SAME + copy)


def test_6_1_e500_hooks_cite_the_v5_13_conversion_diff():
    res = run(catalogue()["ksm-merge"], registry.models()["ppc-e500"],
              kernel=Release.parse("6.1"))
    [src, *_] = _cited(res, "arch/powerpc/kvm/e500_mmu_host.c", "kvm_e500_mmu_unmap_gfn")
    assert src.release == "v5.13" and "stored copy 2132829017" in src.via


def test_6_6_hooks_cite_a_copy_from_before_6_6():
    hooks = registry.models()["ppc-hv-radix"].hooks_at(Release.parse("6.6"))
    [inst] = [s for s in hooks["fault_in"] if s.function == "kvmppc_book3s_instantiate_page"]
    assert (inst.release, inst.via) == ("v5.13", eras.SAME + eras.EARLY)


@pytest.mark.parametrize("model_id", PPC)
def test_fault_result_sources_are_re_dated(model_id):
    # FaultResult.source becomes the result's reason_source without going through cite()
    model = registry.models()[model_id]
    m = model(Trace(), kernel=Release.parse("5.15"))
    res = m.fault_in(SLOT, 0x100210, HostMM(0x7F0000000000, 0x1000, 0x80000, thp=False),
                     write=True)
    assert Release.parse(res.source.release) <= Release.parse("5.15"), res.source
    assert res.source.via.startswith(eras.SAME)


def test_v6_9_runs_and_runs_before_every_copy_are_unchanged():
    for model_id in PPC:
        model = registry.models()[model_id]
        assert model.hooks_at(Release.parse("6.9")) == model.hooks
        res = run(catalogue()["ksm-merge"], model, kernel=Release.parse("5.4"))
        assert not any(s.source.via.startswith(eras.SAME) for s in res.trace if s.source)
