"""The data of the listings: the architecture models (``kvmspte arches``)."""

from __future__ import annotations

from kvmspte import envelope


def arch_rows(models, kernel=None) -> list[dict]:
    from kvmspte.sim.engine import absent_reason

    rows = []
    for m in models:
        row = m.describe(kernel)
        if kernel is not None:
            gone = absent_reason(m, kernel)
            row["absent"] = gone[0] if gone else None
        rows.append(row)
    return rows


def arches_doc(models, kernel=None) -> dict:
    """The arches document; with a --kernel, it names the release and what is absent there."""
    rows = arch_rows(models, kernel)
    if kernel is not None:
        return envelope(None, kernel=str(kernel), arches=rows)
    return envelope(None, arches=rows)
