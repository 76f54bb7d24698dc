"""Primary-MM triggers expand into their mm caller's notifier sequence (see /notes in
each test); sources: mm/ksm.c, mm/memory.c, kernel/events/uprobes.c, mm/migrate_device.c,
include/linux/mmu_notifier.h @ v6.9."""

from kvmspte.sim import triggers as t
from kvmspte.sim.host import HostMM

HVA = 0x7F0000000000 + 0x210 * 4096


def host(thp=False, trigger="ksm-replace-page"):
    return HostMM(0x7F0000000000, 0x1000, 0x80000, thp=thp, pte=t.initial_pte(trigger, 0))


def kinds(events):
    return [e.kind for e in events]


def test_every_trigger_is_one_page_start_clear_change_set_end():
    # Each caller opens a one-page range, clears+flushes the PTE, then set_pte_at_notify
    # (which calls the notifier before writing the PTE), then closes the range.
    for name in t.TRIGGERS:
        ev = t.expand(name, host(trigger=name), HVA)
        assert kinds(ev) == [t.START, t.MM, t.CHANGE, t.MM, t.END], name
        assert (ev[0].start, ev[0].end) == (HVA, HVA + 4096)


def test_new_ptes_match_the_callers():
    new = {n: next(e.pte for e in t.expand(n, host(trigger=n), HVA) if e.kind == t.CHANGE)
           for n in t.TRIGGERS}
    # write_protect_page: same pfn, read-only, clean
    assert (new["ksm-write-protect"].pfn, new["ksm-write-protect"].write,
            new["ksm-write-protect"].dirty) == (0x80210, False, False)
    # replace_page: mk_pte(kpage, vm_page_prot) -> read-only KSM page
    assert (new["ksm-replace-page"].pfn, new["ksm-replace-page"].write) == (t.KSM_PFN, False)
    # wp_page_copy: maybe_mkwrite(pte_mkdirty(...)) on a VM_WRITE vma
    assert (new["cow"].write, new["cow"].dirty) == (True, True)
    # __replace_page: mk_pte(new_page, vm_page_prot) of a text vma: read-only, executable
    assert (new["uprobe"].write, new["uprobe"].exec) == (False, True)
    # migrate_vma_insert_page: a device-private swap entry, not a present PTE
    assert new["migrate-device-zero"].present is False


def test_unwrapped_replays_change_pte_without_invalidation():
    # before 6bdb913f0a70 (v3.7) set_pte_at_notify had no surrounding start/end
    ev = t.expand("cow", host(trigger="cow"), HVA, wrapped=False)
    assert t.START not in kinds(ev) and t.END not in kinds(ev) and t.CHANGE in kinds(ev)


def test_thp_is_split_under_its_own_2m_invalidation_first():
    ev = t.expand("cow", host(thp=True, trigger="cow"), HVA)
    assert kinds(ev)[:3] == [t.START, t.MM, t.END]
    assert (ev[0].start, ev[0].end) == (0x7F0000200000, 0x7F0000400000)


def test_migrate_device_zero_starts_from_the_shared_zero_page():
    # migrate_vma_insert_page only notifies when the old PTE maps the zero pfn
    h = host(trigger="migrate-device-zero")
    assert h.pte(HVA).pfn == t.ZERO_PFN == h.pte(HVA + 4096).pfn
    assert h.pte(HVA).special == "zero" and not h.pte(HVA).write


# -- memory tags: generic host behaviour, driven by what the architecture declares -----------
from kvmspte.sim.host import HostArch  # noqa: E402
from kvmspte.sim.source import Source  # noqa: E402

COPIES = HostArch(copy_keeps_tags=Source("arch/x/mm/copypage.c", "copy_highpage"),
                  compare_refuses_tagged=Source("arch/x/kernel/mte.c", "memcmp_pages"))


def tagged_host(arch):
    h = HostMM(0x7F0000000000, 0x1000, 0x80000, thp=False, pte=t.initial_pte("cow", 0),
               arch=arch)
    h.tag(0x80210)
    return h


def test_cow_copy_is_tagged_only_where_the_arch_copies_tags():
    """mm/memory.c:__wp_page_copy_user copies the page before the invalidation; with an
    arch whose copy_user_highpage copies tags (arm64 copypage.c:copy_highpage) the new
    page is tagged and the copy is an event citing the arch's copy; otherwise not."""
    ev = t.expand("cow", tagged_host(COPIES), HVA)
    assert ev[0].kind == t.MM and ev[0].source.function == "copy_highpage"
    assert next(e.pte for e in ev if e.kind == t.CHANGE).tagged is True
    ev = t.expand("cow", tagged_host(HostArch()), HVA)
    assert kinds(ev) == [t.START, t.MM, t.CHANGE, t.MM, t.END]
    assert next(e.pte for e in ev if e.kind == t.CHANGE).tagged is False


def test_ksm_triggers_declare_that_they_follow_a_comparison():
    """mm/ksm.c:cmp_and_merge_page: write_protect_page and replace_page run only for a page
    whose tree search compared equal; CoW, uprobes and device migration compare nothing."""
    after = {n for n, tr in t.TRIGGERS.items() if tr.after_compare is not None}
    assert after == {"ksm-write-protect", "ksm-replace-page"}
    h = tagged_host(COPIES)
    assert h.compare_refuses(0x80210).function == "memcmp_pages"
    assert h.compare_refuses(0x80211) is None
    assert tagged_host(HostArch()).compare_refuses(0x80210) is None
    # write_protect_page keeps the page, so its tag state
    h2 = HostMM(0x7F0000000000, 0x1000, 0x80000, thp=False)
    h2.tag(0x80210)
    new = next(e.pte for e in t.expand("ksm-write-protect", h2, HVA) if e.kind == t.CHANGE)
    assert new.tagged is True


# -- the mm side across releases (kvmspte.triggers.MM_SWITCHES) -----------------------------
def _kinds(events):
    return [(e.kind, e.action) for e in events]


def test_before_3_7_no_bracket_and_the_pte_is_written_before_change_pte():
    """6bdb913f0a70 (v3.7) bracketed every set_pte_at_notify caller; Xiao Guangrong's swap
    (<503358FF.3030009@linux.vnet.ibm.com>, merged for 3.7) made it notify first.  At 3.6
    the KSM replace_page is: clear, write the PTE, change_pte; no start/end."""
    from kvmspte.sim.release import Release
    from kvmspte.sim.triggers import CHANGE, END, START, expand

    old = _kinds(expand("ksm-replace-page", host(), HVA, wrapped=False, kernel=Release(3, 6)))
    assert (START, "") not in old and (END, "") not in old
    assert old.index(("mm", "set")) < old.index((CHANGE, ""))
    new = _kinds(expand("ksm-replace-page", host(), HVA, kernel=Release(3, 7)))
    assert new[0] == (START, "") and new[-1] == (END, "")
    assert new.index((CHANGE, "")) < new.index(("mm", "set"))


def test_triggers_that_do_not_exist_yet_are_n_a():
    """uprobes arrived in v3.5 (__replace_page, stored copy 4709739392); device migration's
    migrate_vma_insert_page in v4.14 (8315ada7f095); THP in v2.6.38 (71e3aac0724f)."""
    from kvmspte.arches.x86_shadow import Model
    from kvmspte.sim.engine import run
    from kvmspte.sim.release import Release
    from kvmspte.scenarios.loader import catalogue

    cat = catalogue()
    for name, before, since in (("uprobe-4k", "3.4", "3.5"), ("migrate-zero", "4.13", "4.14"),
                                ("cow-huge", "2.6.37", "2.6.38")):
        assert run(cat[name], Model, kernel=Release.parse(before)).verdict == "n/a", name
        assert run(cat[name], Model, kernel=Release.parse(since)).verdict != "n/a", name


def test_unwrapped_scenario_is_a_labelled_what_if_only_from_3_7():
    """wrapped = false replays what every caller did before 6bdb913f0a70 (v3.7); from v3.7
    on it is a what-if, and the result says so."""
    from kvmspte.arches.x86_shadow import Model
    from kvmspte.sim.engine import run
    from kvmspte.sim.release import Release
    from kvmspte.scenarios.loader import catalogue

    sc = catalogue()["ksm-merge-unwrapped"]
    assert run(sc, Model, kernel=Release(3, 6)).what_if == ""
    assert "6bdb913f0a70" in run(sc, Model, kernel=Release(6, 9)).what_if


def test_absent_outside_the_callbacks_lifetime_and_span():
    """.change_pte() arrived with 3da0dd433dc3 (v2.6.32) and was removed by f3b65bbaed7c
    (v6.10); each result reports the release range of the code it ran."""
    from kvmspte.arches.x86_shadow import Model
    from kvmspte.sim.engine import run
    from kvmspte.sim.release import Release
    from kvmspte.scenarios.loader import catalogue

    sc = catalogue()["ksm-merge"]
    assert run(sc, Model, kernel=Release(2, 6, 31)).verdict == "absent"
    assert run(sc, Model, kernel=Release(6, 10)).verdict == "absent"
    res = run(sc, Model, kernel=Release(6, 9))
    assert res.span.start <= Release(6, 9) < res.span.end == Release(6, 10)
