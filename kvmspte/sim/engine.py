"""The engine: build a starting state through the arch's own fault path, run a
trigger's notifier events through the generic KVM layer, and judge change_pte.

Nothing here knows which architecture it is running; it sees the model only
through the plugin contract (``kvmspte.model.ArchModel``).
"""

from __future__ import annotations

from kvmspte.records import record, field, replace

from kvmspte.sim import memslot, mmeras, triggers, vcpu
from kvmspte.sim.host import HostMM
from kvmspte.sim.kvm import Kvm, Memslot
from kvmspte.plugins.contract import ArchModel, CannotExist, FaultResult
from kvmspte.sim.kvm import GENERIC
from kvmspte.sim.release import DEFAULT, FIRST, REMOVED, Release, at, span
from kvmspte.sim.report import Result, diff_snapshots
from kvmspte.scenarios.definition import Scenario
from kvmspte.sim.source import Source
from kvmspte.sim.trace import FLUSH, HOOK, STEP, Trace

# One memslot of 16 MiB of guest RAM, 2 MiB aligned in both gfn and hva so that
# huge mappings are possible; the gfn under test sits inside the second 2 MiB.
BASE_GFN = 0x100000
NPAGES = 0x1000
BASE_HVA = 0x7F0000000000
BASE_PFN = 0x80000
TARGET_GFN = BASE_GFN + 0x210
HUGE_PAGES = 512

#: The generic lookup the vCPU fault step cites, per era (kvmspte.sim.vcpu.LOOKUP); the
#: v6.9 entry.
SRC_VCPU = at(vcpu.LOOKUP, DEFAULT)


@record
class Run:
    """Everything one run produced; the engine turns it into a Result."""

    scenario: Scenario
    arch: ArchModel
    kvm: Kvm
    host: HostMM
    trace: Trace
    kernel: Release = DEFAULT
    na: str = ""
    na_source: Source | None = None
    absent: str = ""
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    window: list = field(default_factory=list)
    #: the arch's view of the gfn after each phase, for explain: (phase, view)
    states: list = field(default_factory=list)
    views: bool = False

    #: the gfn under test and its neighbour in the same last-level table
    gfn: int = TARGET_GFN
    neighbour_gfn: int = TARGET_GFN + 1


#: the function that publishes the invalid copy of a slot being deleted or moved, at v6.9;
#: at other releases kvmspte.sim.memslot.invalidation names the one of that era
SRC_INVALIDATE_SLOT = memslot.invalidation(DEFAULT)[1]


def make_slot(sc: Scenario) -> Memslot:
    """The memslot as the guest faulted through it (a slot being deleted or moved was
    valid when its pages were mapped; it is marked invalid afterwards)."""
    return Memslot(id=0, base_gfn=BASE_GFN, npages=NPAGES, userspace_addr=BASE_HVA,
                   dirty_logging=sc.dirty_logging, readonly=sc.readonly)


def invalidate_slot(r: "Run") -> None:
    """KVM_MEMSLOT_INVALID: swap in the invalid copy of the slot, as a DELETE (and, in the
    releases read with it, a MOVE) does; cited at the function of the run's release."""
    what, src = memslot.invalidation(r.kernel)
    old = r.kvm.memslots[0]
    r.kvm.memslots[0] = replace(old, invalid=True)
    r.trace.step("kvm", f"memslot {old.id} is being {what}: KVM_MEMSLOT_INVALID set", src)


def fault(run: Run, slot: Memslot, gfn: int) -> FaultResult:
    """A guest access to gfn: a write where the host page is writable and the slot is not
    read-only, else a read; the arch's own fault path builds the mapping."""
    hva = slot.gfn_to_hva(gfn)
    write = run.host.pte(hva).write and not slot.readonly
    run.trace.step("vcpu", f"guest {'write' if write else 'read'} fault on gfn {gfn:#x} "
                           f"(hva {hva:#x})", at(vcpu.LOOKUP, run.kernel))
    return run.arch.fault_in(slot, gfn, run.host, write)


def build_state(run: Run, slot: Memslot) -> None:
    """Fault in the gfn under test and, if asked, a neighbour in the same last-level table."""
    sc = run.scenario
    size = HUGE_PAGES if sc.state == "mapped-huge" else 1
    if sc.state != "unmapped":
        got = fault(run, slot, TARGET_GFN)
        if sc.state == "mapped-huge" and got.pages < HUGE_PAGES:
            run.na, run.na_source = f"no 2 MiB mapping can exist here: {got.why}", got.source
            return
        size = got.pages
    if sc.neighbours:
        fault(run, slot, (TARGET_GFN - TARGET_GFN % size) + size)
    check_host_page(run, slot)
    if not run.na:
        check_comparison(run, slot)


#: at v6.9; a run cites the function of its release (kvmspte.sim.mmeras)
SRC_WP_PAGE = triggers.SRC_WP_PAGE


def check_host_page(run: Run, slot: Memslot) -> None:
    """The trigger acts on the host page at the gfn's hva; if the fault path itself
    replaced that page (a write lookup breaking CoW), the trigger's start cannot exist."""
    hva = slot.gfn_to_hva(TARGET_GFN)
    for where, old, new, why in run.host.replaced:
        if where == hva:
            run.na = (f"the fault path replaced the host page at gfn {TARGET_GFN:#x} "
                      f"(pfn {old.pfn:#x} -> private copy {new.pfn:#x}: {why}), so the "
                      f"{run.scenario.trigger} trigger's starting page no longer exists")
            run.na_source = mmeras.cite(SRC_WP_PAGE, run.kernel)


def check_comparison(run: Run, slot: Memslot) -> None:
    """A trigger that runs only for a page the mm found identical to another (KSM) cannot
    start where the architecture's page comparison refuses the page at the gfn's hva."""
    trig = triggers.TRIGGERS[run.scenario.trigger]
    if trig.after_compare is None:
        return
    pfn = run.host.pte(slot.gfn_to_hva(TARGET_GFN)).pfn
    refused = run.host.compare_refuses(pfn)
    if refused is None:
        return
    run.trace.step("mm", f"{trig.name} runs only after KSM's comparisons matched the page",
                   mmeras.cite(trig.after_compare, run.kernel))
    run.na = (f"the host page at gfn {TARGET_GFN:#x} (pfn {pfn:#x}) is tagged and "
              f"{refused.function} reports a tagged page as different from every other "
              f"page, so KSM never matches it and never reaches {trig.source.function}")
    run.na_source = refused


def execute(run: Run, slot: Memslot) -> None:
    hva = slot.gfn_to_hva(TARGET_GFN)
    bracketed = triggers.MM_SWITCHES.active("bracketed", run.kernel)
    events = triggers.expand(run.scenario.trigger, run.host, hva,
                             wrapped=run.scenario.wrapped and bracketed, kernel=run.kernel)
    for n, ev in enumerate(events, 1):
        run.trace.phase = f"{n}:{ev.kind}"
        apply(run, ev)
        if run.views:
            run.states.append((run.trace.phase, run.arch.view(TARGET_GFN)))


# -- the public API: a scenario's world, events applied to it, snapshots of it -----------------
def setup(sc: Scenario, model: type[ArchModel], trace: Trace | None = None,
          kernel: Release = DEFAULT) -> Run:
    """A scenario's world before its trigger: the arch model, the generic KVM layer with the
    memslot, the host, and the starting mappings built through the arch's own fault path.
    Raises CannotExist when that starting state cannot exist on the arch."""
    r = start(sc, model, kernel, trace)
    check_slot_flags(sc, model, kernel)
    build_state(r, r.kvm.memslots[0])
    if r.na:
        raise CannotExist(r.na, r.na_source or Source("-", "-"))
    return r


def apply(run: Run, ev: triggers.Event) -> None:
    """One event of a trigger: a notifier call through the generic KVM layer, or a change of
    the primary MMU, cited as the mm code of the run's release (kvmspte.sim.mmeras)."""
    run.trace.event("mm", ev.text, mmeras.cite(ev.source, run.kernel))
    if ev.kind == triggers.CHANGE:
        run.before = snapshot(run)
        mark = run.trace.mark()
        apply_notifier(run.kvm, ev)
        run.window = run.trace.since(mark)
        run.after = snapshot(run)
    elif ev.kind in (triggers.START, triggers.END):
        apply_notifier(run.kvm, ev)
    else:
        apply_mm(run.host, ev)


def apply_notifier(k: Kvm, ev: triggers.Event) -> None:
    """A notifier event (start, change_pte, end) as kvm_main.c handles it."""
    if ev.kind == triggers.CHANGE:
        k.change_pte(ev.start, ev.pte)
    elif ev.kind == triggers.START:
        k.invalidate_range_start(ev.start, ev.end)
    elif ev.kind == triggers.END:
        k.invalidate_range_end(ev.start, ev.end)
    else:
        raise ValueError(f"not a notifier event: {ev.kind}")


def snapshot(run: Run) -> dict:
    """Every secondary-MMU structure of the run's arch, as plain data."""
    return run.arch.snapshot()


def apply_mm(host: HostMM, ev: triggers.Event) -> None:
    if ev.action == "split-pmd":
        host.split_pmd(ev.start)
    elif ev.action == "set":
        host.set_pte(ev.start, ev.pte)


#: the flag check at v6.9; kvmspte.sim.memslot.FLAGS_ERAS has the one of each release
SRC_FLAGS = memslot.era(memslot.FLAGS_ERAS, DEFAULT)


def check_slot_flags(sc: Scenario, model: type[ArchModel], kernel: Release = DEFAULT) -> None:
    """The memslot's flags at ``kernel``: a read-only slot exists only once KVM_MEM_READONLY
    does and the arch accepts it (check_memory_region_flags), a slot flagged
    KVM_MEMSLOT_INVALID only once a deletion publishes one."""
    why = memslot.readonly_refusal(model.readonly_mem, kernel) if sc.readonly else None
    if why is None and sc.invalid:
        why = memslot.invalid_refusal(kernel)
    if why is not None:
        raise CannotExist(*why)


def start(sc: Scenario, model: type[ArchModel], kernel: Release = DEFAULT,
          trace: Trace | None = None) -> Run:
    trace = trace if trace is not None else Trace()
    arch = model(trace, {"mte": sc.mte}, kernel)
    slot = make_slot(sc)
    host = HostMM(BASE_HVA, NPAGES, BASE_PFN, thp=sc.state == "mapped-huge",
                  pte=triggers.initial_pte(sc.trigger, 0), arch=model.host_arch)
    return Run(sc, arch, Kvm(arch, [slot], trace, kernel), host, trace, kernel)


SRC_ARRIVE = Source("virt/kvm/kvm_main.c", "kvm_mmu_notifier_change_pte", "v2.6.32",
                    via="3da0dd433dc3 'KVM: add support for change_pte mmu notifiers' (x86 "
                        "only); Izik Eidus' patches, stored ids 17218753334, 28752436576")
SRC_REMOVED = Source("virt/kvm/kvm_main.c", "kvm_mmu_notifier_change_pte", "v6.10",
                     via="deleted with every kvm_set_spte_gfn by f3b65bbaed7c 'KVM: delete "
                         ".change_pte MMU notifier callback' "
                         "<20240405115815.3226315-2-pbonzini@redhat.com>")


def absent_reason(model: type[ArchModel], kernel: Release) -> tuple[str, Source] | None:
    """Why no .change_pte() reaches the model's code at ``kernel``, or None."""
    if kernel >= REMOVED:
        return (f"{REMOVED} removed .change_pte(), set_pte_at_notify and every "
                f"kvm_set_spte_gfn", SRC_REMOVED)
    if kernel < FIRST:
        return f"KVM has no .change_pte() before {FIRST} (3da0dd433dc3)", SRC_ARRIVE
    came = model.arrived
    if came is not None and kernel < came.since:
        return (f"no .change_pte() reaches {model.id} before {came.since}"
                f"{' (' + came.commit + ')' if came.commit else ''}", came.source)
    return None


def check_release(r: Run) -> None:
    """A trigger or a starting state that does not exist yet at the release is n/a."""
    later = triggers.exists_at(r.scenario.trigger, r.kernel)
    if later is not None:
        r.na = (f"the {r.scenario.trigger} trigger's mm caller does not exist before "
                f"{later.since}: {later.what}")
        r.na_source = later.source
    elif r.scenario.state == "mapped-huge" and not triggers.MM_SWITCHES.active("thp", r.kernel):
        thp = triggers.MM_SWITCHES.get("thp")
        r.na, r.na_source = f"no anonymous huge mapping before {thp.since}: {thp.what}", thp.source


def code_span(model: type[ArchModel], kernel: Release):
    """The release range over which the modelled code (generic, mm, arch) stays the same."""
    came = [model.arrived.since] if model.arrived is not None else []
    return span(kernel, [GENERIC, triggers.MM_SWITCHES, model.switches],
                edges=[REMOVED, *came, *memslot.edges(model.readonly_mem)])


def run(sc: Scenario, model: type[ArchModel], *, views: bool = False,
        kernel: Release = DEFAULT) -> Result:
    """Run one scenario on one model at ``kernel``; ``views`` also records the gfn's walk
    after every phase (for explain)."""
    r = start(sc, model, kernel)
    r.views = views
    slot = r.kvm.memslots[0]
    gone = absent_reason(model, kernel)
    if gone is not None:
        r.absent, r.na_source = gone
        return judge(r)
    check_release(r)
    try:
        if not r.na:
            check_slot_flags(sc, model, kernel)
            build_state(r, slot)
    except CannotExist as exc:
        r.na, r.na_source = exc.reason, exc.source
    if not r.na:
        if sc.invalid:
            invalidate_slot(r)
        slot = r.kvm.memslots[0]
        if r.views:
            r.states.append(("setup", r.arch.view(TARGET_GFN)))
        execute(r, slot)
    return judge(r)


def judge(r: Run) -> Result:
    model = type(r.arch)
    res = Result(arch=model.id, family=model.family, release=str(r.kernel),
                 scenario=r.scenario.name, gfn=TARGET_GFN, trace=r.trace.steps,
                 states=r.states, warnings=[s.text for s in r.trace.steps if s.kind == "warn"])
    res.span = code_span(model, r.kernel)
    res.what_if = what_if(r)
    if r.absent:
        res.verdict, res.reason, res.reason_source = "absent", r.absent, r.na_source
        return res
    if r.na:
        res.verdict, res.reason = "n/a", r.na
        res.reason_source = r.na_source
        return res
    flushes = [s for s in r.window if s.kind == FLUSH]
    res.reached_arch_hook = any(s.kind == HOOK for s in r.window)
    res.flush = bool(flushes)
    res.flushes = [s.text for s in flushes]
    res.before, res.after = r.before, r.after
    res.diff = diff_snapshots(r.before, r.after)
    if res.diff:
        res.verdict = "changes"
    else:
        res.verdict = "flush-only" if flushes else "no-op"
    res.reason, res.reason_source = reason(res, r.window)
    return res


def what_if(r: Run) -> str:
    """Non-empty where the scenario departs from what the release's mm did."""
    if not r.scenario.wrapped and triggers.MM_SWITCHES.active("bracketed", r.kernel):
        return ("wrapped = false: change_pte without the invalidate_range_start/end that "
                "every caller has had since v3.7 (6bdb913f0a70)")
    return ""


def reason(res: Result, window: list) -> tuple[str, Source | None]:
    """One sentence saying why, taken from the last decisive step of the change_pte window."""
    if not window:
        return "no change_pte event ran", None
    if not res.reached_arch_hook:
        last = [s for s in window if s.actor == "kvm" and s.kind == STEP][-1]
        return f"generic code returned first: {last.text}", last.source
    if res.verdict == "changes":
        return "; ".join(c.summary() for c in res.diff), None
    arch_steps = [s for s in window if s.actor == "arch" and s.kind in (STEP, FLUSH)]
    last = arch_steps[-1] if arch_steps else [s for s in window if s.kind == HOOK][-1]
    if res.verdict == "flush-only":
        flush = [s for s in window if s.kind == FLUSH][0]
        return f"tables unchanged; flush requested: {flush.text}", flush.source
    return f"hook ran, tables unchanged: {last.text}", last.source
