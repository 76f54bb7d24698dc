"""Row data shared by the text, rich and markdown renderers."""

from __future__ import annotations

HEADERS = ("arch", "verdict", "hook", "flush", "what change_pte did")


def scenario_line(sc) -> str:
    flags = [n for n, on in (("dirty-logging", sc.dirty_logging), ("read-only", sc.readonly),
                             ("invalid", sc.invalid)) if on]
    parts = [f"trigger {sc.trigger}", f"gfn {sc.state}",
             "neighbours mapped" if sc.neighbours else "no neighbours",
             f"memslot {'+'.join(flags) if flags else 'plain'}"]
    if sc.mte:
        parts.append("MTE")
    if not sc.wrapped:
        parts.append("unwrapped (pre-3.7 ordering)")
    return f"{sc.name}: " + ", ".join(parts)


def what(res) -> str:
    if res.verdict == "changes":
        return "; ".join(c.summary() for c in res.diff)
    return res.reason


def hook_flush(res) -> tuple[str, str]:
    """The hook and flush cells: yes or no, '-' where nothing ran (n/a, error)."""
    if res.verdict in ("n/a", "error"):
        return "-", "-"
    return "yes" if res.reached_arch_hook else "no", "yes" if res.flush else "no"


def rows(report) -> list[tuple[str, ...]]:
    out = []
    for r in report.results:
        verdict = r.verdict
        if r.expected is not None and not r.matches:
            verdict = f"{r.verdict} (expected {r.expected})"
        out.append((r.arch, verdict, *hook_flush(r), what(r)))
    return out


def by_scenario(report):
    """(scenario, its rows) in report order."""
    for sc in report.scenarios:
        sub = type(report)(report.command, [sc], [r for r in report.results
                                                   if r.scenario == sc.name])
        if sub.results:
            yield sc, rows(sub)
