"""Report data: one Result per (scenario, architecture), as plain data.

Renderers (kvmspte.formats) turn these into strings; nothing here prints.
"""

from __future__ import annotations

from kvmspte.records import record, field

from kvmspte import envelope
from kvmspte.sim.release import Release, ReleaseError
from kvmspte.sim.source import Source
from kvmspte.sim.trace import Step

@record(frozen=True, slots=True)
class Change:
    """One secondary-MMU structure that differs across change_pte."""

    key: str
    old: dict | None
    new: dict | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        return "removed" if self.new is None else "changed"

    def summary(self) -> str:
        if self.kind == "added":
            return f"added {self.key} ({_fmt(self.new)})"
        if self.kind == "removed":
            return f"removed {self.key} ({_fmt(self.old)})"
        keys = [k for k in {**self.old, **self.new} if self.old.get(k) != self.new.get(k)]
        old = {k: self.old[k] for k in keys if k in self.old}
        new = {k: self.new[k] for k in keys if k in self.new}
        return f"{self.key}: {_fmt(old)} -> {_fmt(new)}"

    def to_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "old": self.old, "new": self.new}


def _fmt(d: dict | None) -> str:
    if not d:
        return ""
    parts = []
    for k, v in d.items():
        if isinstance(v, bool):
            parts.append(k if v else f"!{k}")
        elif isinstance(v, list):
            parts.append(",".join(map(str, v)))
        else:
            parts.append(f"{k}={v}")
    return " ".join(parts)


def read_later(kernel: str, sources) -> list[Source]:
    """The distinct sources, in order, that were read at a release later than ``kernel``:
    the model holds that code unchanged back to the release it runs, with no copy of that
    release read (what a reader of an older or long-term release should know)."""
    try:
        at = Release.parse(kernel)
    except ReleaseError:
        return []
    out: list[Source] = []
    for src in sources:
        if src is None or src in out:
            continue
        try:
            if Release.parse(src.release) > at:
                out.append(src)
        except ReleaseError:
            continue
    return out


def diff_snapshots(before: dict, after: dict) -> list[Change]:
    keys = sorted(set(before) | set(after))
    return [Change(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


@record
class Result:
    arch: str
    family: str
    release: str
    scenario: str
    gfn: int
    verdict: str = ""
    reason: str = ""
    reason_source: Source | None = None
    reached_arch_hook: bool = False
    flush: bool = False
    flushes: list[str] = field(default_factory=list)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    diff: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    trace: list[Step] = field(default_factory=list)
    states: list = field(default_factory=list)
    expected: str | None = None
    #: the release range of the code modelled (kvmspte.release.Span), and a what-if label
    span: object = None
    what_if: str = ""
    #: 'Type: message' when the model raised (verdict "error"); the exception itself
    #: stays out of the report and only feeds --debug
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def matches(self) -> bool | None:
        return None if self.expected is None else self.expected == self.verdict

    def read_later(self) -> list[Source]:
        """The cited sources of this run read at a release later than the one it models."""
        return read_later(self.release, [self.reason_source, *(s.source for s in self.trace)])

    def to_dict(self, *, trace: bool = True) -> dict:
        out = {
            "arch": self.arch,
            "family": self.family,
            "release": self.release,
            "scenario": self.scenario,
            "gfn": hex(self.gfn),
            "verdict": self.verdict,
            "expected": self.expected,
            "matches": self.matches,
            "reason": self.reason,
            "reason_source": self.reason_source.to_dict() if self.reason_source else None,
            "reached_arch_hook": self.reached_arch_hook,
            "flush": self.flush,
            "flushes": self.flushes,
            "before": self.before,
            "after": self.after,
            "diff": [c.to_dict() for c in self.diff],
            "warnings": self.warnings,
            "span": self.span.to_dict() if self.span is not None else None,
            "what_if": self.what_if,
            "read_later": [s.to_dict() for s in self.read_later()],
        }
        if self.error is not None:
            out["error"] = self.error
        if trace:
            out["trace"] = [s.to_dict() for s in self.trace]
        return out


@record
class Report:
    """The results of one command: scenarios x architectures."""

    command: str
    scenarios: list = field(default_factory=list)     # Scenario objects, in order
    results: list[Result] = field(default_factory=list)
    kernel: str = "v6.9"                               # the release asked for

    def failures(self) -> list[tuple[str, BaseException | None]]:
        """(one-line message, exception) of every result whose model raised."""
        from kvmspte.errors import model_failure

        return [(model_failure(r.arch, r.scenario, r.exception or Exception(r.error)),
                 r.exception) for r in self.results if r.error is not None]

    def to_dict(self, *, trace: bool = True) -> dict:
        return envelope(self.command, kernel=self.kernel,
                        scenarios=[s.to_dict() for s in self.scenarios],
                        results=[r.to_dict(trace=trace) for r in self.results])
