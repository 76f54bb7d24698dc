"""Listings: the architecture models and the scenario catalogue."""

from __future__ import annotations

import json

from kvmspte.formats.markdown import table as md_table


def arch_rows(models) -> list[dict]:
    return [m.describe() for m in models]


def render_arches(models, fmt: str) -> str:
    rows = arch_rows(models)
    if fmt == "json":
        return json.dumps({"schema_version": 1, "arches": rows}, indent=2) + "\n"
    if fmt == "markdown":
        body = [(f"`{r['id']}`", r["family"], r["release"], r["title"]) for r in rows]
        return "\n".join(md_table(("id", "family", "release", "model"), body)) + "\n"
    out = []
    for r in rows:
        out.append(f"{r['id']}  ({r['family']}, Linux {r['release']})  {r['title']}")
        if r["free_policy"]:
            out.append(f"    table pages      freed: {r['free_policy']}")
        for hook, sources in r["hooks"].items():
            for s in sources:
                via = f"  [{s['via']}]" if s.get("via") else ""
                out.append(f"    {hook:<16} {s['file']}:{s['function']} @ {s['release']}{via}")
        if r.get("fault_retry"):
            fr, s = r["fault_retry"], r["fault_retry"]["source"]
            via = f"  [{s['via']}]" if s.get("via") else ""
            out.append(f"    fault retry      {fr['predicate']} in {s['file']}:{s['function']} "
                       f"@ {s['release']}{via}")
        for finding in r["findings"]:
            out.append(f"    finding: {finding}")
        out.append("")
    return "\n".join(out)


def render_scenarios(scenarios, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"schema_version": 1, "scenarios": [s.to_dict() for s in scenarios]},
                          indent=2) + "\n"
    rows = []
    for s in scenarios:
        flags = "+".join(n for n, on in (("dirty-log", s.dirty_logging), ("ro", s.readonly),
                                          ("invalid", s.invalid), ("mte", s.mte),
                                          ("unwrapped", not s.wrapped)) if on) or "-"
        rows.append((s.name, s.trigger, s.state, "yes" if s.neighbours else "no", flags,
                     s.description))
    headers = ("name", "trigger", "gfn state", "neighbours", "flags", "description")
    if fmt == "markdown":
        return "\n".join(md_table(headers, [(f"`{r[0]}`", *r[1:]) for r in rows])) + "\n"
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]).rstrip()
             for r in [headers, *rows]]
    return "\n".join(lines) + "\n"
