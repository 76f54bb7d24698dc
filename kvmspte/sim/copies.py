"""Copies read for releases before v6.9, as data: a model lists in ``ArchModel.copies``, per
file (and function), the stored copy that stands for each era (``Copy``), and ``redate``
turns a v6.9 citation of a step, a hook or a fault result into the citation of the copy of
the era its run falls in (``ArchModel.cite`` and ``hooks_at`` apply it).

Written for the long-term lines 5.15, 6.1 and 6.6: a run there cites a copy of its own era
(release at or before the run) instead of the v6.9 text the model was written from.  A copy's
``since`` is the first release it stands for in the model, never later than what its content
shows; its ``via`` names the stored copy (repository and commit, or stored id) and how its
release was judged.  ``names`` maps a v6.9 function to the function that held the same code
in that era (a rename, or code still inline in its caller).  Behaviour is never chosen here:
the models' switch points (``self.since``) do that; this only says where it was read.
"""

from __future__ import annotations

from kvmspte.records import record, replace
from kvmspte.sim.release import DEFAULT, Release
from kvmspte.sim.source import DEFAULT_RELEASE, Source


@record(frozen=True, slots=True)
class Copy:
    """A stored copy of some files, read for the releases from ``since`` on."""

    since: Release
    files: tuple[str, ...]
    via: str
    #: (v6.9 function, function holding that code in this copy)
    names: tuple[tuple[str, str], ...] = ()
    #: v6.9 functions with no counterpart in this copy (left out of the hook lists)
    absent: tuple[str, ...] = ()
    #: the first release the copy no longer stands for (None: until the next copy)
    until: Release | None = None
    #: the v6.9 functions of ``files`` it was read for (None: every function cited there)
    functions: frozenset[str] | None = None

    def covers(self, file: str, function: str, kernel: Release) -> bool:
        return (file in self.files and self.since <= kernel
                and (self.until is None or kernel < self.until)
                and (self.functions is None or function in self.functions))


def pick(kernel: Release, copies: tuple[Copy, ...], file: str,
         function: str = "") -> Copy | None:
    """The latest copy of ``file`` (read for ``function``, when a copy names its functions)
    whose era has begun at ``kernel``; None: no such copy was read."""
    best = None
    for copy in copies:
        if copy.covers(file, function, kernel) and (best is None or copy.since >= best.since):
            best = copy
    return best


def redate(source: Source, kernel: Release, copies: tuple[Copy, ...]) -> Source:
    """``source`` as read for ``kernel``: a v6.9 citation run at an older release names the
    copy of its era; every other citation (already dated, or no copy read) is kept."""
    if source is None or kernel >= DEFAULT or source.release != DEFAULT_RELEASE:
        return source
    copy = pick(kernel, copies, source.file, source.function)
    if copy is None:
        return source
    function = dict(copy.names).get(source.function, source.function)
    return replace(source, function=function, release=str(copy.since), via=copy.via)


def redate_hooks(hooks: dict[str, tuple[Source, ...]], kernel: Release,
                 copies: tuple[Copy, ...]) -> dict[str, tuple[Source, ...]]:
    """Every hook source of ``hooks`` re-dated for ``kernel`` (``redate``), without the
    functions the era's copy does not have."""
    def absent(s: Source) -> bool:
        copy = (pick(kernel, copies, s.file, s.function) if s.release == DEFAULT_RELEASE
                else None)
        return copy is not None and kernel < DEFAULT and s.function in copy.absent

    return {name: tuple(redate(s, kernel, copies) for s in sources if not absent(s))
            for name, sources in hooks.items()}
