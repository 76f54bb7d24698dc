"""The trace of one run: every step with the source it was read from."""

from __future__ import annotations

from kvmspte.records import record

from kvmspte.sim.source import Source

STEP, HOOK, FLUSH, WARN, EVENT = "step", "hook", "flush", "warn", "event"


@record(frozen=True, slots=True)
class Step:
    phase: str          # "setup", or the name of the notifier event being run
    actor: str          # "mm", "kvm", "arch" or "vcpu"
    kind: str           # STEP, HOOK (an arch hook was entered), FLUSH, WARN, EVENT
    text: str
    source: Source | None

    def to_dict(self) -> dict:
        return {
            "phase": self.phase,
            "actor": self.actor,
            "kind": self.kind,
            "text": self.text,
            "source": self.source.to_dict() if self.source else None,
        }


class Trace:
    """Collects steps; models and the generic layer write to it, the engine reads it."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.phase = "setup"

    def _add(self, actor: str, kind: str, text: str, source: Source | None) -> None:
        self.steps.append(Step(self.phase, actor, kind, text, source))

    def step(self, actor: str, text: str, source: Source | None = None) -> None:
        self._add(actor, STEP, text, source)

    def event(self, actor: str, text: str, source: Source | None = None) -> None:
        self._add(actor, EVENT, text, source)

    def hook(self, text: str, source: Source) -> None:
        """An architecture hook was entered."""
        self._add("arch", HOOK, text, source)

    def flush(self, actor: str, text: str, source: Source | None) -> None:
        """A TLB flush was requested (remote or local, by generic code or the arch)."""
        self._add(actor, FLUSH, text, source)

    def warn(self, text: str, source: Source | None) -> None:
        """A WARN_ON/WARN_ON_ONCE the kernel would have fired."""
        self._add("kvm", WARN, text, source)

    def mark(self) -> int:
        return len(self.steps)

    def since(self, mark: int) -> list[Step]:
        return self.steps[mark:]
