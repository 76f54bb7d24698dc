"""Actors: fixed sequences of atomic steps, each read from the kernel source.

A step runs whole or not at all; its guard says when it may run (a lock it needs is free).
KVM's own notifier handlers run under mmu_lock inside one step, so steps that take mmu_lock
never interleave with each other.  A step marked ``mid`` continues an operation an earlier
step of the same actor began (the actor holds the page-table lock, or sits between clearing a
PTE and setting it): a state where some actor is about to run a ``mid`` step is *inside* an
operation and is never quiescent.

Steps act on a scratch copy of the state (a list laid out as kvmspte.explore.world says) and
must treat every element as immutable (replace, never mutate).
"""

from __future__ import annotations

from kvmspte.records import record, replace
from collections.abc import Callable

from kvmspte.sim import kvm
import sys

from kvmspte.analyses.explore import mmeras
from kvmspte.sim import triggers, vcpu
from kvmspte.analyses.explore.world import (ARCH, FREED, HOST, IN_PROGRESS, KVM, LOCS, NEVER_FREED,
                                   NO_PTL, NONE_PTE, PTL, REFS, REND, RSTART, SEQ, STALE, TARGET)
from kvmspte.sim.host import PAGE_SIZE, HostPte
from kvmspte.sim.release import DEFAULT, Release, at
from kvmspte.sim.source import Source

SRC_PTL = Source("mm/memory.c", "wp_page_copy",
                 via="the PTE is changed under the page-table lock (pte_offset_map_lock); the "
                     "copy is installed only if the PTE is still the one the fault saw "
                     "(pte_same), else the new page is dropped")
SRC_END_PUT = Source("mm/memory.c", "wp_page_copy",
                     via="the old folio's references are dropped after invalidate_range_end")
SRC_ZAP_START = Source("mm/memory.c", "zap_page_range_single",
                       via="MADV_DONTNEED: invalidate_range_start, unmap_single_vma, "
                           "invalidate_range_end, then tlb_finish_mmu")
SRC_ZAP_PTE = Source("mm/memory.c", "zap_pte_range",
                     via="clears the PTE under the PTL; a normal page waits in the mmu_gather "
                         "batch (vm_normal_page gives no page for the zero page)")
SRC_TLB_FINISH = Source("mm/mmu_gather.c", "tlb_finish_mmu",
                        via="frees the gathered pages after invalidate_range_end")
SRC_GUP_FAST = Source("virt/kvm/kvm_main.c", "hva_to_pfn_fast",
                      via="get_user_page_fast_only(addr, FOLL_WRITE) when the caller can map "
                          "writable (every arch fault path passes &writable): read in pre-6.12 "
                          "copies (stored id 27216778931) and the 6.12 kvm_follow_pfn refactor "
                          "diff (stored id 41526086890), FOLL_WRITE only in both. GUP-fast, "
                          "mm/gup.c:gup_pte_range (its v6.9 name; stored ids 1847831, "
                          "28531055783), reads the PTE with ptep_get_lockless and no lock, gives "
                          "up unless pte_access_permitted for write and not special, takes the "
                          "reference, then backs off if the PTE changed meanwhile: one atomic "
                          "step on a present, writable PTE")
SRC_GUP_SLOW = Source("virt/kvm/kvm_main.c", "hva_to_pfn_slow",
                      via="get_user_pages_unlocked: follow_page_pte takes the PTL; a missing "
                          "PTE is faulted in by handle_mm_fault, and for a read fault on "
                          "anonymous memory mm/memory.c:do_anonymous_page maps the shared zero "
                          "page read-only under the PTL (stored id 52398396022, folio era); a "
                          "read fault then tries GUP-fast for write, which fails on a read-only "
                          "PTE, so the pfn is mapped read-only")
SRC_RELEASE = Source("virt/kvm/kvm_main.c", "kvm_release_pfn_clean",
                     via="KVM drops its GUP reference once the mapping is installed")
SRC_KSM_WP = Source("mm/ksm.c", "write_protect_page",
                    via="after ptep_clear_flush under the PTL: if page_mapcount + 1 + swapped != "
                        "page_count (a GUP reference, e.g. KVM's, is outstanding) the old entry "
                        "is put back with set_pte_at and the merge is abandoned; else "
                        "set_pte_at_notify with the entry made clean and read-only; read at the "
                        "v6.10 folio conversion diff (stored id 15428381211), whose '-' side is "
                        "v6.9; no page found mapped (page_vma_mapped_walk fails): skip")
SRC_KSM_PUT = Source("mm/ksm.c", "cmp_and_merge_page",
                     via="the scan's reference on the page (the '+ 1' of write_protect_page's "
                         "check) is dropped once the merge attempt is over; not re-read")
SRC_MIGRATE = Source("mm/migrate_device.c", "migrate_vma_insert_page",
                     via="under the PTL, inside __migrate_device_pages' start/end: a present PTE "
                         "must be the zero page (ptep_clear_flush, then set_pte_at_notify); a "
                         "none PTE gets a plain set_pte_at, no notifier; anything else aborts; "
                         "read in a v6.6-v6.9 copy (pte_mkwrite(entry, vma), ptep_get, "
                         "page_add_new_anon_rmap; stored id 40358397687)")


@record(frozen=True)
class Step:
    label: str
    source: Source
    act: Callable
    guard: Callable | None = None
    #: this step continues an operation begun by an earlier step (see module docstring)
    mid: bool = False
    #: further sources the step was read from (e.g. the slow path of a lookup)
    also: tuple[Source, ...] = ()


@record(frozen=True)
class Actor:
    """One actor of a race: its kind (``writer``, ``zapper``, ``vcpu``), its steps, its
    initial local state, and which tracked page it works on."""

    kind: str
    steps: tuple[Step, ...]
    local0: tuple = ()
    page: int = TARGET


class Ctx:
    """What steps need besides the state: the memoised machine, the actors, the arch's
    retry predicate.  Built once per (race, arch)."""

    def __init__(self, machine, actors: tuple[Actor, ...], retry: str) -> None:
        self.m = machine
        self.actors = actors
        self.retry = retry
        self.vcpus = tuple(i for i, a in enumerate(actors) if a.kind == "vcpu")
        self.initial_ptes: tuple[HostPte, ...] = ()


# -- helpers over the scratch state -----------------------------------------------------------
def set_loc(s: list, me: int, val: tuple) -> None:
    locs = list(s[LOCS])
    locs[me] = val
    s[LOCS] = tuple(locs)


def get_page(s: list, pfn: int) -> None:
    if pfn in NEVER_FREED:
        return
    refs = dict(s[REFS])
    refs[pfn] = refs.get(pfn, 0) + 1
    s[REFS] = tuple(sorted(refs.items()))


def put_page(s: list, pfn: int, n: int = 1) -> None:
    """Drop n references; a page whose count reaches zero is freed."""
    if pfn in NEVER_FREED:
        return
    refs = dict(s[REFS])
    refs[pfn] = refs.get(pfn, 0) - n
    if refs[pfn] <= 0:
        refs.pop(pfn)
        s[FREED] = tuple(sorted({*s[FREED], pfn}))
    s[REFS] = tuple(sorted(refs.items()))


def refcount(s, pfn: int) -> int:
    return dict(s[REFS]).get(pfn, 0)


def set_pte(s: list, page: int, pte: HostPte) -> None:
    host = list(s[HOST])
    host[page] = pte
    s[HOST] = tuple(host)


def ptl_free(ctx: Ctx, st, me: int) -> bool:
    return st[PTL] == NO_PTL or st[PTL] == me


def _event(ctx: Ctx, kind: str, page: int, pte: HostPte | None = None) -> triggers.Event:
    hva = ctx.m.hvas[page]
    return triggers.Event(kind, kind, triggers.SRC_NOTIFY, hva,
                          hva + (1 if kind == triggers.CHANGE else PAGE_SIZE), pte)


def notify(ctx: Ctx, s: list, kind: str, page: int, pte: HostPte | None = None) -> None:
    s[ARCH], s[KVM] = ctx.m.notify(s[ARCH], s[KVM], _event(ctx, kind, page, pte))


def start(ctx: Ctx, s: list, me: int) -> None:
    """invalidate_range_start of the actor's page; a vCPU fault on that page that has read
    the sequence and not yet installed is now racing an invalidation."""
    page = ctx.actors[me].page
    notify(ctx, s, triggers.START, page)
    for v in ctx.vcpus:
        seq, pte, why, outcome = s[LOCS][v]
        if seq is not None and not outcome and not why and ctx.actors[v].page == page:
            set_loc(s, v, (seq, pte, "start", outcome))


def end(ctx: Ctx, s: list, me: int) -> None:
    notify(ctx, s, triggers.END, ctx.actors[me].page)


def host_changed(ctx: Ctx, s: list, page: int, before: HostPte, me: int) -> None:
    """After actor me's step changed the primary PTE of page (another page, cleared, or made
    read-only), any other vCPU that looked the old one up and has not installed yet holds a
    stale pfn."""
    after = s[HOST][page]
    if (before.present, before.pfn) == (after.present, after.pfn) and \
            not (before.write and not after.write):
        return
    for v in ctx.vcpus:
        seq, pte, why, outcome = s[LOCS][v]
        if v != me and pte is not None and not outcome and not why and ctx.actors[v].page == page:
            set_loc(s, v, (seq, pte, "pte", outcome))


# -- mm writer ---------------------------------------------------------------------------------


def writer(trigger: str, wrapped: bool, kernel: Release = DEFAULT) -> Actor:
    """The trigger's mm caller at the gfn's page: start, clear+flush under the PTL,
    set_pte_at_notify (change_pte, then the new PTE), unlock, end, and what it releases;
    each step cites the function of ``kernel`` (kvmspte.analyses.explore.mmeras)."""
    src = triggers.TRIGGERS[trigger].source
    new = _new_pte(trigger)

    def lock_clear(ctx: Ctx, s: list, me: int) -> None:
        old_pfn, _ = s[LOCS][me]
        s[PTL] = me
        cur = s[HOST][TARGET]
        if trigger == "migrate-device-zero" and not cur.present and not cur.special:
            set_loc(s, me, (old_pfn, "plain"))       # pte_none: a plain set_pte_at follows
            return
        if not cur.present or cur.pfn != old_pfn:
            set_loc(s, me, (old_pfn, True))          # pte_same fails / page no longer mapped
            return
        set_pte(s, TARGET, NONE_PTE)                 # ptep_clear_flush
        if trigger == "ksm-write-protect" and refcount(s, old_pfn) != 1 + 1:
            set_pte(s, TARGET, cur)                  # an extra reference: put it back, give up
            set_loc(s, me, (old_pfn, True))

    def change(ctx: Ctx, s: list, me: int) -> None:
        old_pfn, skipped = s[LOCS][me]
        if skipped == "plain":
            set_pte(s, TARGET, new)                  # set_pte_at: no change_pte
            return
        if skipped:
            return
        pte = replace(ctx.initial_ptes[TARGET], write=False, dirty=False) \
            if trigger == "ksm-write-protect" else new
        notify(ctx, s, triggers.CHANGE, TARGET, pte)
        set_pte(s, TARGET, pte)
        if pte.present and trigger != "ksm-write-protect":
            get_page(s, pte.pfn)

    clear_label, set_label, clear_src, set_src, tail = _writer_shape(trigger)
    steps = [
        Step("invalidate_range_start", src, start),
        Step(clear_label, clear_src, lock_clear, ptl_free),
        Step(set_label, set_src, change, mid=True),
        Step("drop the PTL", SRC_PTL if trigger == "cow" else clear_src, _unlock, mid=True),
        Step("invalidate_range_end", src, end),
        *tail,
    ]
    if not wrapped:
        steps = [s for s in steps if not s.label.startswith("invalidate_range")]
    return Actor("writer", at_release(steps, kernel), (None, False))


def at_release(steps, kernel: Release) -> tuple[Step, ...]:
    """The steps with each v6.9 mm citation replaced by the code of ``kernel``."""
    return tuple(replace(st, source=mmeras.cite(MM_ERAS, st.source, kernel),
                         also=tuple(mmeras.cite(MM_ERAS, a, kernel) for a in st.also))
                 for st in steps)


def _unlock(ctx: Ctx, s: list, me: int) -> None:
    s[PTL] = NO_PTL


def _release_cow(ctx: Ctx, s: list, me: int) -> None:
    old_pfn, skipped = s[LOCS][me]
    put_page(s, old_pfn, 1 if skipped else 2)    # the caller's hold (+ its mapping)


def _release_ksm(ctx: Ctx, s: list, me: int) -> None:
    put_page(s, s[LOCS][me][0], 1)


def _writer_shape(trigger: str) -> tuple:
    """The writer's labels, sources and closing steps for its trigger:
    (clear label, set label, clear source, set source, tail steps)."""
    if trigger == "ksm-write-protect":
        return ("take the PTL; ptep_clear_flush; page-count check",
                "set_pte_at_notify: change_pte, then the PTE made read-only and clean",
                SRC_KSM_WP, SRC_KSM_WP,
                [Step("drop KSM's page reference", SRC_KSM_PUT, _release_ksm)])
    if trigger == "migrate-device-zero":
        return ("take the PTL; ptep_clear_flush of the zero page",
                "set_pte_at_notify: change_pte, then the device-private entry",
                SRC_MIGRATE, SRC_MIGRATE, [])
    return ("take the PTL; ptep_clear_flush",
            "set_pte_at_notify: change_pte, then set the new PTE",
            SRC_PTL, triggers.SRC_NOTIFY,
            [Step("release the old page", SRC_END_PUT, _release_cow)])


def _new_pte(trigger: str) -> HostPte:
    if trigger == "cow":
        return HostPte(pfn=triggers.COW_PFN, write=True, dirty=True, young=True)
    if trigger == "migrate-device-zero":
        return HostPte(pfn=triggers.DEVICE_PFN, present=False, write=True, dirty=False,
                       young=False, special="device-private")
    pfns = {"ksm-replace-page": triggers.KSM_PFN, "uprobe": triggers.UPROBE_PFN}
    return HostPte(pfn=pfns.get(trigger, 0), write=False, dirty=False, young=False)


# -- mm zapper ---------------------------------------------------------------------------------
def zapper(page: int = TARGET, kernel: Release = DEFAULT) -> Actor:
    """MADV_DONTNEED of one page: start, clear the PTE (a normal page kept in the gather
    batch), end, then tlb_finish_mmu frees what it gathered (cited as at ``kernel``)."""

    def clear(ctx: Ctx, s: list, me: int) -> None:
        pte = s[HOST][page]
        gathered = pte.pfn if pte.present and pte.pfn not in NEVER_FREED else None
        set_loc(s, me, (gathered,))
        set_pte(s, page, NONE_PTE)

    def finish(ctx: Ctx, s: list, me: int) -> None:
        (pfn,) = s[LOCS][me]
        if pfn is not None:
            put_page(s, pfn)

    return Actor("zapper", at_release((
        Step("invalidate_range_start", SRC_ZAP_START, start),
        Step("take the PTL; clear the PTE; drop the PTL", SRC_ZAP_PTE, clear, ptl_free),
        Step("invalidate_range_end", SRC_ZAP_START, end),
        Step("tlb_finish_mmu: free the gathered page", SRC_TLB_FINISH, finish),
    ), kernel), (None,), page)


# -- vCPU fault ----------------------------------------------------------------------------------
def gup_fast_ok(st) -> bool:
    """hva_to_pfn_fast succeeds without the PTL only on a present, writable PTE."""
    pte = st[HOST][TARGET]
    return pte.present and pte.write


#: hva_to_pfn's two ways of taking the page, per era; the v6.9 entry is the one read in full.
GUP = (*vcpu.GUP, (DEFAULT, (SRC_GUP_FAST, SRC_GUP_SLOW)))
RELEASE = (*vcpu.RELEASE, (DEFAULT, SRC_RELEASE))
#: What a fault path without a retry check is cited as when no fault path is named: the
#: explorer's deliberately broken fault (no kernel release has it).
SRC_NO_CHECK = Source("-", "no retry check", via="a fault path built without any retry check "
                                                 "(a what-if, not a release's code)")


#: the sequence read's label where the counter had its older name (the explore formats place
#: a step on KVM's lifeline by the current name)
SEQ_LABELS = {"mmu_notifier_seq": "read mmu_notifier_seq (mmu_invalidate_seq from v6.1)"}


@record(frozen=True)
class FaultCites:
    """What each step of a vCPU fault cites at one release, and which retry behaviour
    (kvmspte.sim.kvm.RETRY_*, or None: no check) its install step has."""

    begin: Step | None
    #: the sequence counter's name at the release ("" where the path reads none)
    seq_name: str
    lookup: tuple[Source, Source]
    check: str
    behaviour: str | None
    install: Source
    release: Source


def fault_cites(retry: str | None, source: Source | None, kernel: Release) -> FaultCites:
    """The sources of a vCPU fault at ``kernel``: the era's sequence counter and retry
    predicate (kvmspte.sim.vcpu), the arch's call site ``source`` only where it was read at
    or before ``kernel``.  A fault with no retry check (``retry`` None) snapshots no
    sequence and cites only its own fault path (``source``)."""
    lookup, release = at(GUP, kernel), at(RELEASE, kernel)
    if retry is None:
        path = source or SRC_NO_CHECK
        return FaultCites(None, "", lookup, "NO retry check", None, path, release)
    called, behaviour, predicate = vcpu.retry_at(retry, kernel)
    seq = at(vcpu.SEQ, kernel)
    site = source if source is not None and Release.parse(source.release) <= kernel \
        else predicate
    name = seq.function.split(": ")[-1]
    label = SEQ_LABELS.get(name, f"read {name}")
    return FaultCites(Step(label, seq, _read_seq), name, lookup,
                      f"take mmu_lock; {called}", behaviour, site, release)


def _read_seq(ctx: Ctx, s: list, me: int) -> None:
    set_loc(s, me, (s[KVM][SEQ], None, "", ""))


def _fault_begins(cites: FaultCites) -> Step:
    """A fault path without a retry check reads no sequence; the explorer still notes where
    the fault began (the sequence at that point) to tell an invalidation that began after
    it."""
    return cites.begin or Step("the guest fault enters the fault path (it takes no sequence "
                               "snapshot)", cites.install, _read_seq)


def vcpu_fault(retry: str | None, source: Source | None = None,
               kernel: Release = DEFAULT) -> Actor:
    """A guest read fault on the gfn at ``kernel``: read the sequence, look the pfn up
    (GUP-fast without any lock when the PTE is writable, else the slow path under the PTL),
    then under mmu_lock make the arch's retry check (``retry``: kvmspte.kvm.RETRY_VM or
    RETRY_GFN as at v6.9, cited and behaving as that era's predicate; None: no check, as in
    a fault path that has none) and install through the arch's fault path.
    Local state: (sequence read, pte looked up, why it went stale, outcome)."""
    cites = fault_cites(retry, source, kernel)
    return Actor("vcpu", (
        _fault_begins(cites),
        Step("look up the host pfn (GUP-fast if the PTE is writable, else under the PTL)",
             cites.lookup[0], _lookup, _lookup_guard, also=(cites.lookup[1],)),
        Step(f"{cites.check}; install via the arch fault path", cites.install,
             _installer(cites.behaviour, cites.seq_name)),
        Step("release the GUP reference", cites.release, _release_ref),
    ), (None, None, "", ""))


def _lookup_guard(ctx: Ctx, st, me: int) -> bool:
    return gup_fast_ok(st) or st[PTL] == NO_PTL


def _lookup(ctx: Ctx, s: list, me: int) -> None:
    pte = s[HOST][TARGET]
    if not pte.present:           # the host faults the page in: the zero page, read-only
        pte = HostPte(pfn=triggers.ZERO_PFN, write=False, dirty=False, young=True,
                      special="zero")
        set_pte(s, TARGET, pte)
    get_page(s, pte.pfn)
    seq = s[LOCS][me][0]
    set_loc(s, me, (seq, pte, "", ""))


def _must_retry(behaviour: str | None, ctx: Ctx, k, seq: int) -> bool:
    if behaviour == kvm.RETRY_VM:
        return kvm.retry_vm(k[IN_PROGRESS], k[SEQ], seq)
    if behaviour == kvm.RETRY_GFN:
        return kvm.retry_gfn(k[IN_PROGRESS], k[RSTART], k[REND], k[SEQ], seq,
                             ctx.m.gfns[TARGET])
    return False


def _installer(behaviour: str | None, seq_name: str) -> Callable:
    began = f"it read {seq_name}" if seq_name else "its fault began at sequence"

    def install(ctx: Ctx, s: list, me: int) -> None:
        seq, pte, why, _ = s[LOCS][me]
        if _must_retry(behaviour, ctx, s[KVM], seq):
            set_loc(s, me, (seq, pte, why, "retry"))
            return
        if why and not s[STALE]:
            after = (f"an invalidation began after {began} {seq}" if why == "start" else
                     "the primary PTE changed after its lookup, with no invalidation to "
                     "tell it")
            s[STALE] = f"a vCPU installed pfn {pte.pfn:#x} although {after}"
        s[ARCH], outcome = ctx.m.fault(s[ARCH], ctx.m.gfns[TARGET], pte)
        set_loc(s, me, (seq, pte, why, outcome))
    return install


def _release_ref(ctx: Ctx, s: list, me: int) -> None:
    put_page(s, s[LOCS][me][1].pfn)


#: v6.9 mm Source -> what it stands for in earlier releases (kvmspte.analyses.explore.mmeras)
MM_ERAS = mmeras.eras(sys.modules[__name__])
