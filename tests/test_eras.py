"""kvmspte/sim/copies.py: a v6.9 citation is re-dated to the copy read for the run's era."""

from __future__ import annotations

from kvmspte.sim.copies import Copy, pick, redate, redate_hooks
from kvmspte.sim.release import Release
from kvmspte.sim.source import Source

R = Release.parse
F = "arch/x/kvm/mmu.c"
COPIES = (Copy(R("5.15"), (F,), "copy A", names=(("new_name", "old_name"),),
               absent=("later_fn",), until=R("6.2")),
          Copy(R("6.6"), (F,), "copy B"))


def test_the_copy_of_the_era_is_picked_and_bounded():
    assert pick(R("5.10"), COPIES, F) is None
    assert pick(R("6.1"), COPIES, F).via == "copy A"
    assert pick(R("6.3"), COPIES, F) is None          # after until, before the next copy
    assert pick(R("6.8"), COPIES, F).via == "copy B"
    assert pick(R("6.1"), COPIES, "arch/y.c") is None


def test_redate_renames_and_keeps_what_is_already_dated():
    src = Source(F, "new_name")
    got = redate(src, R("6.1"), COPIES)
    assert (got.function, got.release, got.via) == ("old_name", "v5.15", "copy A")
    assert redate(src, R("6.9"), COPIES) is src
    dated = Source(F, "new_name", "v5.13", "older")
    assert redate(dated, R("6.1"), COPIES) is dated
    assert redate(src, R("6.3"), COPIES) is src


def test_hook_lists_drop_functions_the_copy_lacks():
    hooks = {"h": (Source(F, "new_name"), Source(F, "later_fn"))}
    assert [s.function for s in redate_hooks(hooks, R("6.1"), COPIES)["h"]] == ["old_name"]
    assert [s.function for s in redate_hooks(hooks, R("6.6"), COPIES)["h"]] == [
        "new_name", "later_fn"]
    assert redate_hooks(hooks, R("6.9"), COPIES) == hooks
