"""The generic notifier layer (kvmspte.kvm), against virt/kvm/kvm_main.c @ v6.9
(read at eefb85b3f031, v6.9-rc4; change_pte code as deleted by the v6.9-rc removal diff)."""

from kvmspte.sim.host import HostPte
from kvmspte.sim.kvm import GfnRange, Kvm, Memslot
from kvmspte.sim.release import Release
from kvmspte.sim.source import Source
from kvmspte.sim.trace import Trace
from kvmspte.testing import SLOT

SRC = Source("test", "fake")


class FakeArch:
    """Records calls; returns what the test asks for."""

    hooks = {"unmap_gfn_range": (SRC,), "set_spte_gfn": (SRC,)}

    @classmethod
    def hooks_at(cls, kernel):
        return cls.hooks

    def __init__(self, unmap_ret=False, set_ret=False):
        self.calls = []
        self.unmap_ret, self.set_ret = unmap_ret, set_ret

    def unmap_gfn_range(self, rng: GfnRange) -> bool:
        self.calls.append(("unmap", rng.start, rng.end))
        return self.unmap_ret

    def set_spte_gfn(self, rng: GfnRange) -> bool:
        self.calls.append(("set", rng.start, rng.end, rng.pte.pfn))
        return self.set_ret


def make(slot=SLOT, kernel=None, **kw):
    arch = FakeArch(**kw)
    if kernel is None:
        return Kvm(arch, [slot], Trace()), arch
    return Kvm(arch, [slot], Trace(), Release.parse(kernel)), arch


HVA = SLOT.userspace_addr + 0x210 * 4096
PTE = HostPte(pfn=0xC0000)


def test_range_start_counts_and_unmaps_only_overlapping_slots():
    # kvm_mmu_notifier_invalidate_range_start: mn_active_invalidate_count++ always;
    # kvm_mmu_invalidate_begin (on_lock) only when a memslot overlaps.
    kvm, arch = make()
    kvm.invalidate_range_start(0x1000, 0x2000)
    assert (kvm.mn_active_invalidate_count, kvm.mmu_invalidate_in_progress) == (1, 0)
    assert arch.calls == []
    kvm.invalidate_range_start(HVA, HVA + 4096)
    assert (kvm.mn_active_invalidate_count, kvm.mmu_invalidate_in_progress) == (2, 1)
    assert arch.calls == [("unmap", 0x100210, 0x100211)]
    # kvm_mmu_invalidate_range_add records the gfn range
    assert (kvm.mmu_invalidate_range_start, kvm.mmu_invalidate_range_end) == (0x100210, 0x100211)


def test_unmap_true_return_flushes_remote_tlbs():
    # __kvm_handle_hva_range: flush_on_ret && ret -> kvm_flush_remote_tlbs
    kvm, _ = make(unmap_ret=True)
    kvm.invalidate_range_start(HVA, HVA + 4096)
    assert kvm.remote_flushes == 1


def test_change_pte_dispatches_exactly_one_gfn_inside_an_invalidation():
    # kvm_mmu_notifier_change_pte: [address, address + 1) -> one gfn per slot
    kvm, arch = make(set_ret=True)
    kvm.invalidate_range_start(HVA, HVA + 4096)
    kvm.change_pte(HVA, PTE)
    assert arch.calls[-1] == ("set", 0x100210, 0x100211, 0xC0000)
    assert kvm.remote_flushes == 1  # flush_on_ret for change_pte as well


def test_change_pte_returns_early_when_nothing_is_in_progress_and_warns():
    # kvm_mmu_notifier_change_pte: WARN_ON_ONCE(!mn_active_invalidate_count), then return
    # when mmu_invalidate_in_progress is 0 (the pre-3.7 ordering lands here).
    kvm, arch = make()
    kvm.change_pte(HVA, PTE)
    assert arch.calls == []
    assert [s.kind for s in kvm.trace.steps].count("warn") == 1


def test_change_pte_skips_invalid_memslot_but_unmap_does_not():
    # kvm_change_spte_gfn skips KVM_MEMSLOT_INVALID; __kvm_handle_hva_range checks no flags.
    kvm, arch = make(slot=Memslot(0, 0x100000, 0x1000, 0x7F0000000000, invalid=True))
    kvm.invalidate_range_start(HVA, HVA + 4096)
    kvm.change_pte(HVA, PTE)
    assert arch.calls == [("unmap", 0x100210, 0x100211)]


def test_range_end_bumps_sequence_then_drops_counts():
    # kvm_mmu_invalidate_end: mmu_invalidate_seq++, mmu_invalidate_in_progress--
    kvm, _ = make()
    kvm.invalidate_range_start(HVA, HVA + 4096)
    kvm.invalidate_range_end(HVA, HVA + 4096)
    assert (kvm.mmu_invalidate_seq, kvm.mmu_invalidate_in_progress,
            kvm.mn_active_invalidate_count) == (1, 0, 0)
    assert not [s for s in kvm.trace.steps if s.kind == "warn"]


def test_range_end_without_start_warns():
    # kvm_mmu_notifier_invalidate_range_end: WARN_ON_ONCE when the count is already 0
    kvm, _ = make()
    kvm.invalidate_range_end(0x1000, 0x2000)
    assert kvm.mn_active_invalidate_count == 0
    assert any(s.kind == "warn" for s in kvm.trace.steps)


def test_retry_gfn_inside_range_or_after_sequence_moved():
    # include/linux/kvm_host.h: mmu_invalidate_retry_gfn
    kvm, _ = make()
    kvm.invalidate_range_start(HVA, HVA + 4096)
    assert kvm.invalidate_retry(0, 0x100210)
    assert not kvm.invalidate_retry(0, 0x100300)
    kvm.invalidate_range_end(HVA, HVA + 4096)
    assert kvm.invalidate_retry(0, 0x100300)   # sequence moved
    assert not kvm.invalidate_retry(1, 0x100210)


# -- the generic layer across releases (kvmspte.kvm.GENERIC) --------------------------------
HVA = SLOT.userspace_addr + 0x210 * 0x1000
PTE = HostPte(pfn=0xC0000, write=False)


def test_before_5_15_change_pte_reaches_the_hook_with_nothing_in_progress():
    """071064f14d87 (v5.15) added the early return; before it (here 5.14, and the
    unbracketed 2.6.32-3.6 callers) change_pte walks the memslots whatever the count."""
    kvm, arch = make(kernel="5.14")
    kvm.change_pte(HVA, PTE)
    assert arch.calls == [("set", 0x100210, 0x100211, 0xC0000)]
    kvm, arch = make(kernel="5.15")
    kvm.change_pte(HVA, PTE)
    assert arch.calls == []


def test_seq_bumped_by_change_pte_until_5_13():
    """c13fda237f08 (v5.13) removed the mmu_notifier_seq bump from change_pte
    (its diff's base, stored id 1864000324, shows the 5.12 form with the bump)."""
    for kernel, bumps in (("2.6.32", 1), ("5.12", 1), ("5.13", 0)):
        kvm, _ = make(kernel=kernel)
        kvm.invalidate_range_start(HVA, HVA + 0x1000)
        kvm.change_pte(HVA, PTE)
        assert kvm.mmu_invalidate_seq == bumps, kernel


def test_flush_on_return_from_5_0():
    """748c0e312fce and its companion (v5.0): generic change_pte flushes when the arch
    handler returns non-zero; before, the return was void and never flushed."""
    for kernel, flushes in (("4.20", 0), ("5.0", 1)):
        kvm, _ = make(kernel=kernel, set_ret=True)
        kvm.change_pte(HVA, PTE)
        assert kvm.remote_flushes == flushes, kernel


def test_invalid_memslot_skipped_from_6_4():
    """2230f9e1171a (v6.4, Cc stable v3.9+): kvm_change_spte_gfn skips a
    KVM_MEMSLOT_INVALID slot; before it the arch hook ran on the slot being deleted."""
    from kvmspte.records import replace
    bad = replace(SLOT, invalid=True)
    for kernel, calls in (("6.3", 1), ("6.4", 0)):
        kvm, arch = make(bad, kernel=kernel)
        kvm.invalidate_range_start(HVA, HVA + 0x1000)
        arch.calls.clear()
        kvm.change_pte(HVA, PTE)
        assert len(arch.calls) == calls, kernel


def test_active_invalidate_count_only_from_5_15():
    """52ac8b358b0c (v5.15) added mn_active_invalidate_count; 5.13-5.14 warn on
    mmu_notifier_count instead (c13fda237f08)."""
    kvm, _ = make(kernel="5.14")
    kvm.change_pte(HVA, PTE)
    assert kvm.mn_active_invalidate_count == 0
    assert [(s.source.function, s.source.release) for s in kvm.trace.steps
            if s.kind == "warn"] == [("kvm_mmu_notifier_change_pte", "v5.13")]
    kvm, _ = make(kernel="5.12")
    kvm.change_pte(HVA, PTE)
    assert not [s for s in kvm.trace.steps if s.kind == "warn"]


def test_range_tracking_from_5_12_and_the_empty_range_warning_from_6_8():
    """4a42d848db44 (v5.12) records the range being invalidated; the 6.8 gfn conversion
    (stored id 38670898028) adds the warning when an invalidation ends with none added."""
    kvm, _ = make(kernel="5.11")
    kvm.invalidate_range_start(HVA, HVA + 0x1000)
    assert kvm.mmu_invalidate_range_start is None
    kvm, _ = make(kernel="5.12")
    kvm.invalidate_range_start(HVA, HVA + 0x1000)
    assert (kvm.mmu_invalidate_range_start, kvm.mmu_invalidate_range_end) == (0x100210, 0x100211)
    for kernel, warns in (("6.7", 0), ("6.8", 1)):
        kvm, _ = make(kernel=kernel)
        kvm._invalidate_begin()                         # counted, but no range added
        kvm._invalidate_end()
        got = [s for s in kvm.trace.steps
               if s.kind == "warn" and s.source.function == "kvm_mmu_invalidate_end"]
        assert len(got) == warns, kernel


def test_memslot_walk_and_counter_names_cite_their_release():
    """3039bcc74498 (v5.13) moved the memslot walk into generic __kvm_handle_hva_range;
    20ec3ebd707c (v6.1) renamed mmu_notifier_count to mmu_invalidate_in_progress.  At 5.12
    the walk is the arch's, reached from kvm_mmu_notifier_invalidate_range_start as read in
    4a42d848db44 (stored id 32066049549)."""
    kvm, _ = make(kernel="5.12")
    kvm.invalidate_range_start(HVA, HVA + 0x1000)
    cited = {(s.source.function, s.source.release) for s in kvm.trace.steps
             if s.text.startswith(("memslot 0 overlaps", "call handler"))}
    assert cited == {("kvm_mmu_notifier_invalidate_range_start", "v5.12")}
    assert any("mmu_notifier_count -> 1" in s.text for s in kvm.trace.steps)
    kvm, _ = make(kernel="6.1")
    kvm.invalidate_range_start(HVA, HVA + 0x1000)
    assert any("mmu_invalidate_in_progress -> 1" in s.text for s in kvm.trace.steps)


# -- every generic citation names a function of the run's release, read no later -----------
def _releases():
    # the release list of /work/late_citations.py: 2.6.32..2.6.39, 3.0..3.19, 4.0..4.20,
    # 5.0..5.19, 6.0..6.10
    out = [Release(2, 6, m) for m in range(32, 40)]
    for major, last in ((3, 19), (4, 20), (5, 19), (6, 10)):
        out += [Release(major, m) for m in range(last + 1)]
    return out


#: [first, last] release of generic functions that did not exist throughout, as read:
#: __kvm_handle_hva_range and kvm_inc/dec_notifier_count from 3039bcc74498's series (5.13;
#: 5.14.2 tree, stored id 46358545474), renamed kvm_mmu_invalidate_begin/end by 20ec3ebd707c
#: (6.1; stored id 37319166717), kvm_change_spte_gfn from 2230f9e1171a (6.4; stored id
#: 29198123374), kvm_mmu_invalidate_range_add from the 6.8 conversion (stored id 38670898028);
#: the memslot steps of kvmspte.sim.memslot: kvm_set_memslot from the 5.7 helper split (stored
#: id 19961860862), kvm_invalidate_memslot from the 5.17 memslot trees (stored id 1291887927),
#: check_memory_region_flags with KVM_MEM_READONLY (4d8b81abc47b, 3.7)
LIFETIME = {"kvm_set_memslot": (Release(5, 7), None),
            "kvm_invalidate_memslot": (Release(5, 17), None),
            "check_memory_region_flags": (Release(3, 7), None),
            "__kvm_handle_hva_range": (Release(5, 13), None),
            "kvm_inc_notifier_count": (Release(5, 13), Release(6, 0)),
            "kvm_dec_notifier_count": (Release(5, 13), Release(6, 0)),
            "kvm_mmu_invalidate_begin": (Release(6, 1), None),
            "kvm_mmu_invalidate_end": (Release(6, 1), None),
            "kvm_change_spte_gfn": (Release(6, 4), None),
            "kvm_mmu_invalidate_range_add": (Release(6, 8), None)}


def _absent(function, kernel):
    first, last = LIFETIME.get(function, (Release(2, 6, 32), None))
    return kernel < first or (last is not None and kernel > last)


#: kvm-actor steps emitted by kvmspte/sim/engine.py that this sweep leaves out: none since the
#: memslot invalidation cites its era (kvmspte.sim.memslot.INVALIDATE_ERAS)
ENGINE_ONLY: set[str] = set()


def test_no_generic_step_cites_a_later_release_or_an_absent_function():
    """For every release at which KVM's generic layer runs, every catalogue scenario on the
    shadow-rmap and a stage-2 model: each kvm-actor step (steps, warnings, flushes) cites a
    release no later than the run's, and a function that exists at it (LIFETIME).  The function names per era are the ones read in the
    copies of kvmspte.sim.kvm.ERAS (e.g. kvm_inc_notifier_count 5.13-6.0)."""
    from kvmspte.plugins import registry
    from kvmspte.scenarios.loader import catalogue
    from kvmspte.sim.engine import run

    models = registry.models()
    late = set()
    for kernel in _releases():
        for name, sc in catalogue().items():
            for arch in ("x86-shadow", "arm64"):
                res = run(sc, models[arch], kernel=kernel)
                for s in res.trace:
                    if s.actor != "kvm" or s.source is None:
                        continue
                    if s.source.function in ENGINE_ONLY:
                        continue
                    if Release.parse(s.source.release) > kernel or \
                            _absent(s.source.function, kernel):
                        late.add((str(kernel), s.source.function, s.source.release))
    assert not late, sorted(late)[:10]


def _run(kernel, unmap_ret=False):
    kvm, arch = make(kernel=kernel, unmap_ret=unmap_ret, set_ret=True)
    kvm.invalidate_range_start(HVA, HVA + 0x1000)
    kvm.change_pte(HVA, PTE)
    kvm.invalidate_range_end(HVA, HVA + 0x1000)
    return kvm.trace.steps


def _cite(steps, start):
    return [(s.source.function, s.source.release) for s in steps if s.text.startswith(start)]


def test_before_5_13_the_callbacks_lock_and_count_themselves():
    # virt/kvm/kvm_main.c @ v5.12, read in 4a42d848db44 (stored id 32066049549): range_start
    # takes mmu_lock, bumps mmu_notifier_count and records the range inline, then calls the
    # arch's kvm_unmap_hva_range; range_end bumps the seq and drops the count inline.
    # __kvm_handle_hva_range does not exist before 3039bcc74498 (v5.13).
    steps = _run("5.12")
    assert _cite(steps, "take mmu_lock")[0] == ("kvm_mmu_notifier_invalidate_range_start",
                                                "v5.12")
    assert _cite(steps, "mmu_notifier_count -> 1") == [
        ("kvm_mmu_notifier_invalidate_range_start", "v5.12")]
    assert _cite(steps, "invalidation range") == [
        ("kvm_mmu_notifier_invalidate_range_start", "v5.12")]
    assert _cite(steps, "mmu_notifier_seq -> 2, mmu_notifier_count -> 0") == [
        ("kvm_mmu_notifier_invalidate_range_end", "v5.4")]
    assert not any(s.source.function.startswith(("__kvm_handle_hva_range", "kvm_mmu_invalidate"))
                   for s in steps if s.source)
    # the hook names of the hva era: kvm_unmap_hva_range / kvm_set_spte_hva
    hooks = [s.text for s in steps if s.kind == "hook"]
    assert hooks[0].startswith("kvm_unmap_hva_range(hva ") and \
        hooks[1].startswith("kvm_set_spte_hva(hva ")


def test_change_pte_before_5_13_takes_the_lock_itself():
    # virt/kvm/kvm_main.c @ v4.19 (stored id 5281045917, a v4.19 copy with added comments):
    # kvm_mmu_notifier_change_pte takes mmu_lock, bumps mmu_notifier_seq and calls the arch's
    # kvm_set_spte_hva, which walks the memslots.
    steps = _run("4.19")
    assert _cite(steps, "take mmu_lock")[1] == ("kvm_mmu_notifier_change_pte", "v4.19")
    assert _cite(steps, "mmu_notifier_seq -> 1") == [("kvm_mmu_notifier_change_pte", "v4.19")]
    walk = [s.text for s in steps if s.text.startswith("memslot 0 overlaps")]
    assert walk[-1] == "memslot 0 overlaps (the walk is the arch's, in kvm_set_spte_hva)"
    # 2.6.32: Izik Eidus' patch (stored id 28752436576), the form 3da0dd433dc3 merged
    steps = _run("2.6.32")
    assert _cite(steps, "mmu_notifier_seq -> 1") == [("kvm_mmu_notifier_change_pte", "v2.6.32")]
    assert [s.text for s in steps if s.kind == "hook"][0].startswith("kvm_unmap_hva(hva ")


def test_5_13_to_6_0_count_in_kvm_inc_notifier_count():
    # virt/kvm/kvm_main.c @ v5.14.2 (Kingdo777/linux-5.14.2-faascale-host @ 201a9ba6fc59,
    # stored id 46358545474) and, for v6.0, the removed lines of the 6.1 rename diff
    # 20ec3ebd707c (stored id 37319166717): __kvm_handle_hva_range calls the on_lock helpers
    # kvm_inc_notifier_count / kvm_dec_notifier_count; the counter is mmu_notifier_count.
    for kernel in ("5.13", "6.0"):
        steps = _run(kernel)
        begin = [s for s in steps if s.text.startswith("mmu_notifier_count -> 1")]
        assert [(s.source.function, s.source.release) for s in begin] == [
            ("kvm_inc_notifier_count", "v5.13")], kernel
        assert _cite(steps, "mmu_notifier_seq -> 1, mmu_notifier_count -> 0") == [
            ("kvm_dec_notifier_count", "v5.13")], kernel
        assert not any("kvm_mmu_invalidate" in s.source.function or "mmu_invalidate" in s.text
                       for s in steps if s.source), kernel
    # 5.13/5.14: range_start locks before the walk (the on_lock path had no lock elision)
    steps = _run("5.13")
    assert _cite(steps, "take mmu_lock")[0] == ("__kvm_handle_hva_range", "v5.13")


def test_from_6_1_the_renamed_helpers():
    # the added lines of 20ec3ebd707c (stored id 37319166717): kvm_mmu_invalidate_begin/end
    # and mmu_invalidate_in_progress; the range is still set in begin until the v6.8 split
    # into kvm_mmu_invalidate_range_add (stored id 38670898028).
    steps = _run("6.1")
    assert _cite(steps, "mmu_invalidate_in_progress -> 1") == [("kvm_mmu_invalidate_begin",
                                                                 "v6.1")]
    assert _cite(steps, "invalidation range") == [("kvm_mmu_invalidate_begin", "v6.1")]
    steps = _run("6.8")
    assert _cite(steps, "invalidation range") == [("kvm_mmu_invalidate_range_add", "v6.8")]


def test_flush_cites_the_release_read():
    # kvm_flush_remote_tlbs has been in virt/kvm/kvm_main.c throughout; the step cites the
    # copy of its era: called by range_start in the 2.6.32 tree (stored id 428910408) and
    # the v5.4 copy (stored id 47602487221), by __kvm_handle_hva_range in the 5.14.2 copy.
    for kernel, release in (("3.6", "v2.6.32"), ("5.12", "v5.4"), ("5.14", "v5.13"),
                            ("6.0", "v5.15"), ("6.9", "v6.9")):
        steps = _run(kernel, unmap_ret=True)
        got = {s.source.release for s in steps if s.kind == "flush"}
        assert got == {release}, kernel


def test_unpaired_end_wraps_the_active_count_until_6_9():
    # virt/kvm/kvm_main.c:kvm_mmu_notifier_invalidate_range_end @ v5.15, read in 52ac8b358b0c
    # (stored id 39187053392): the unsigned mn_active_invalidate_count is decremented with no
    # check; d489ec956583 (stored id 37515556723, kvm-x86-generic-6.9 pull 20415237102) adds
    # the WARN and leaves it at 0.
    for kernel, count, warns in (("5.15", (1 << 64) - 1, 0), ("6.8", (1 << 64) - 1, 0),
                                 ("6.9", 0, 1)):
        kvm, _ = make(kernel=kernel)
        kvm.invalidate_range_end(0x1000, 0x2000)
        assert kvm.mn_active_invalidate_count == count, kernel
        assert [s.kind for s in kvm.trace.steps].count("warn") == warns, kernel
