"""Kernel releases and switch points: one release type, one way to say "from release A".

A model (the generic KVM layer, the mm side, or an architecture) declares a small table of
``Switch`` records: each names a behaviour, the first release that has it, the commit that
brought it and the Source of the code read at that release.  Code paths then ask
``switches.active(name, kernel)``; a release never selects an answer, only a code path.
``span`` turns the switch points a run depended on into the release range over which the
modelled code stays the same, which is what every result reports.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from kvmspte.records import record, replace
from collections.abc import Iterable

from kvmspte.sim.source import Source

_RE = re.compile(r"v?(\d{1,2})\.(\d{1,2})(?:\.(\d{1,3}))?")


class ReleaseError(ValueError):
    """A string that is not a kernel release X.Y or X.Y.Z."""


@record(frozen=True, slots=True)
class Release:
    """A mainline release.  2.6.x releases keep their third number (2.6.32); from 3.0 on a
    third number is a stable point release, which selects the same mainline code."""

    major: int
    minor: int
    sub: int = 0

    @classmethod
    def parse(cls, text: str) -> "Release":
        found = _PARSED.get(text)
        if found is None:
            found = _PARSED[text] = cls._parse(text)
        return found

    @classmethod
    def _parse(cls, text: str) -> "Release":
        m = _RE.fullmatch(text.strip())
        if not m:
            raise ReleaseError(f"'{text[:40]}' is not a kernel release (X.Y or X.Y.Z, e.g. 6.9)")
        major, minor, sub = int(m[1]), int(m[2]), int(m[3] or 0)
        if major >= 3 or (major, minor) != (2, 6):
            sub = 0  # a stable point release runs its mainline release's code
        return cls(major, minor, sub)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.sub)

    # the four orderings written out (functools.total_ordering's wrappers cost a call each,
    # and releases are compared at every step a model takes)
    def __lt__(self, other: "Release") -> bool:
        return (self.major, self.minor, self.sub) < (other.major, other.minor, other.sub)

    def __le__(self, other: "Release") -> bool:
        return (self.major, self.minor, self.sub) <= (other.major, other.minor, other.sub)

    def __gt__(self, other: "Release") -> bool:
        return (self.major, self.minor, self.sub) > (other.major, other.minor, other.sub)

    def __ge__(self, other: "Release") -> bool:
        return (self.major, self.minor, self.sub) >= (other.major, other.minor, other.sub)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}" + (f".{self.sub}" if self.sub else "")

    def previous(self) -> "Release":
        """The mainline release just before this one (3.0 follows 2.6.39, 4.0 follows
        3.19, 5.0 follows 4.20, 6.0 follows 5.19)."""
        if (self.major, self.minor) == (2, 6):
            return Release(2, 6, self.sub - 1)
        if self.minor:
            return Release(self.major, self.minor - 1)
        last = {3: Release(2, 6, 39), 4: Release(3, 19), 5: Release(4, 20), 6: Release(5, 19)}
        return last[self.major]


_FIRST = object()


def at(rows, kernel: Release, before=_FIRST):
    """The value of the (first release, value) row in force at ``kernel``: the one with the
    latest first release not after it; for a kernel before every row, ``before`` when given,
    else the earliest row's value.  The one lookup of every era table (citations by era)."""
    best = None
    for since, value in rows:
        if since <= kernel and (best is None or since >= best[0]):
            best = (since, value)
    if best is not None:
        return best[1]
    if before is not _FIRST:
        return before
    return min(rows, key=lambda row: row[0])[1]


#: parsed releases by their text (Source releases are parsed again and again)
_PARSED: dict[str, Release] = {}


def release(text: str) -> Release:
    return Release.parse(text)


#: The release every model defaults to: the last one with .change_pte().
DEFAULT = Release(6, 9)
#: The first release with .change_pte() (KVM on x86 only).
FIRST = Release(2, 6, 32)
#: The release that removed .change_pte(), set_pte_at_notify and every kvm_set_spte_*.
REMOVED = Release(6, 10)
#: Later than every release: where a withheld switch point is moved to.
NEVER = Release(99, 99)


@record(frozen=True, slots=True)
class Switch:
    """A behaviour that starts at ``since`` (and holds until another switch replaces it)."""

    name: str
    since: Release
    commit: str
    what: str
    source: Source

    def to_dict(self) -> dict:
        return {"name": self.name, "since": str(self.since), "commit": self.commit,
                "what": self.what, "source": self.source.to_dict()}


class Switches:
    """A model's table of switch points, looked up by name."""

    def __init__(self, table: Iterable[Switch] = ()) -> None:
        self.table = tuple(table)
        self._by_name = {s.name: s for s in self.table}
        if len(self._by_name) != len(self.table):
            raise ValueError("two switch points share a name")

    def __iter__(self):
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def active(self, name: str, kernel: Release) -> bool:
        """Whether the behaviour ``name`` is in the code at ``kernel``."""
        return kernel >= self._by_name[name].since

    def get(self, name: str) -> Switch:
        return self._by_name[name]

    def releases(self) -> list[Release]:
        return sorted({s.since for s in self.table})

    @contextmanager
    def withheld(self, name: str):
        """Within the block, the switch ``name`` is in no release's code (``active`` is false
        and ``get`` gives it a release after every real one).  ``kvmspte history`` uses it to
        ask which of several switches at one release changed a verdict: run with one held
        back and see whether the earlier verdict comes back."""
        real = self._by_name[name]
        self._by_name[name] = replace(real, since=NEVER)
        try:
            yield
        finally:
            self._by_name[name] = real


@record(frozen=True, slots=True)
class Span:
    """[start, end): the releases over which a set of switch tables selects the same code.
    ``end`` None means open-ended."""

    start: Release
    end: Release | None

    def __str__(self) -> str:
        return f"{self.start}..{self.end}" if self.end else f"{self.start}.."

    def to_dict(self) -> dict:
        return {"from": str(self.start), "to": str(self.end) if self.end else None}


def span(kernel: Release, tables: Iterable[Switches], floor: Release = FIRST,
         edges: Iterable[Release] = (REMOVED,)) -> Span:
    """The release range around ``kernel`` in which none of the tables' switch points (nor
    ``floor`` and ``edges``) fall."""
    points = sorted({r for t in tables for r in t.releases()} | {floor, *edges})
    earlier = [r for r in points if r <= kernel]
    start = earlier[-1] if earlier else kernel
    later = [r for r in points if r > kernel]
    return Span(start, later[0] if later else None)
