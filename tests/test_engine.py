"""The engine derives verdicts from snapshots; it names no architecture."""

import ast
from pathlib import Path

import pytest

from kvmspte.arches.x86_tdp import Model as Tdp
from kvmspte.sim.engine import run
from kvmspte.sim.report import diff_snapshots
from kvmspte.plugins.registry import models
from kvmspte.scenarios.definition import Scenario

ENGINE_FILES = ["sim/engine.py", "sim/kvm.py", "sim/triggers.py", "sim/report.py",
                "analyses/runs.py", "analyses/matrix.py", "sim/pagetable.py",
                "plugins/contract.py", "sim/host.py",
                *(f"formats/{p.name}" for p in (Path(__file__).parent.parent / "kvmspte" /
                                                 "formats").glob("*.py"))]


def test_engine_layer_names_no_architecture():
    ids = {"x86", "tdp", "arm64", "mips", "riscv", "loongarch", "ppc", "e500", "powerpc"}
    root = Path(__file__).parent.parent / "kvmspte"
    for name in ENGINE_FILES:
        tree = ast.parse((root / name).read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        strings = {n.value.lower() for n in ast.walk(tree)
                   if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not any(i in s for i in ids for s in strings if len(s) < 40), name
        assert not names & ids, name


def test_diff_reports_added_removed_changed():
    d = diff_snapshots({"a": {"x": 1}, "b": {"x": 1}}, {"b": {"x": 2}, "c": {"x": 3}})
    assert [(c.key, c.kind) for c in d] == [("a", "removed"), ("b", "changed"), ("c", "added")]


class Tampering(Tdp):
    """A model whose set_spte_gfn leaves a mark: the engine must report it as a change."""

    id = "tamper"

    def set_spte_gfn(self, rng):
        from kvmspte.sim.pagetable import Leaf, MemoryCache

        self.pt.install(rng.start, 0, Leaf(rng.pte.pfn, True, False, False), MemoryCache(4))
        return False


def test_verdict_changes_comes_from_the_tables():
    res = run(Scenario("s", "", "ksm-replace-page"), Tampering)
    assert res.verdict == "changes"
    assert [c.kind for c in res.diff] == ["added"]
    assert res.diff[0].key == "leaf 4K @gfn 0x100210"


class Flusher(Tdp):
    id = "flusher"

    def set_spte_gfn(self, rng):
        return True


def test_true_return_from_hook_gives_flush_only():
    # __kvm_handle_hva_range: flush_on_ret for change_pte -> kvm_flush_remote_tlbs
    res = run(Scenario("s", "", "ksm-replace-page"), Flusher)
    assert (res.verdict, res.flush, res.reached_arch_hook) == ("flush-only", True, True)


def test_runs_are_deterministic():
    sc = Scenario("s", "", "cow", state="mapped-huge")
    a, b = run(sc, Tdp), run(sc, Tdp)
    assert a.to_dict() == b.to_dict()


@pytest.mark.parametrize("arch_id", list(models()))
def test_read_only_memslots_exist_only_where_the_arch_selects_them(arch_id):
    # virt/kvm/kvm_main.c:check_memory_region_flags @ v6.9 accepts KVM_MEM_READONLY only with
    # CONFIG_HAVE_KVM_READONLY_MEM; 8886640dade4 selects it for arm64, loongarch, mips, riscv
    # and x86, not powerpc.
    model = models()[arch_id]
    res = run(Scenario("ro", "", "ksm-replace-page", readonly=True), model)
    if model.family == "powerpc":
        assert model.readonly_mem is None
        assert res.verdict == "n/a"
        assert res.reason_source.function == "check_memory_region_flags"
    else:
        assert model.readonly_mem.file == f"arch/{model.family}/kvm/Kconfig"
        assert res.verdict != "n/a"


def test_only_arm64_declares_mte_page_rules_and_others_ignore_the_option():
    """The mte option reaches every model, but only arm64 tags pages (mmu.c:sanitise_mte_tags)
    and declares memcmp_pages / copy_highpage (arch/arm64/kernel/mte.c, mm/copypage.c
    @ v6.9); every other model gives the same result with and without it."""
    from kvmspte.scenarios.loader import catalogue

    cat = catalogue()
    pairs = [("ksm-merge-mte", "ksm-merge"), ("ksm-merge-mte-unmapped", "ksm-merge-unmapped"),
             ("cow-4k-mte", "cow-4k")]
    for arch_id, model in models().items():
        declared = model.describe()["host_mm"]
        assert bool(declared) is (arch_id == "arm64"), arch_id
        if arch_id == "arm64":
            continue
        for mte, plain in pairs:
            a, b = run(cat[mte], model), run(cat[plain], model)
            assert (a.verdict, a.reached_arch_hook, a.flush, a.diff) == \
                (b.verdict, b.reached_arch_hook, b.flush, b.diff), (arch_id, mte)
