"""CI formats for ``check``: JUnit XML and TAP version 13.

One test case per checked (scenario, architecture) cell.  A failure carries the
expected and the modelled verdict, what change_pte did, and the citation of the
step that decided the verdict.  Both turn a Report into a string and never print.
"""

from __future__ import annotations

import re

from kvmspte.formats.common import what
from kvmspte.formats.interface import Plain
from kvmspte.formats.jsonfmt import dumps

# Characters XML 1.0 cannot carry at all, even escaped (C0 controls but tab, LF, CR;
# surrogates; U+FFFE/U+FFFF).  ElementTree escapes &, <, > and quotes, not these.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text that is valid in an XML 1.0 document: invalid characters become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", text)


def citation(res) -> str:
    """The source that decided the verdict; for 'changes', the arch code change_pte ran."""
    if res.reason_source is not None:
        return str(res.reason_source)
    from kvmspte.sim.trace import FLUSH, HOOK, STEP
    from kvmspte.sim.triggers import CHANGE

    srcs = [str(s.source) for s in res.trace if s.phase.endswith(f":{CHANGE}")
            and s.actor == "arch" and s.kind in (HOOK, STEP, FLUSH) and s.source]
    return ", ".join(dict.fromkeys(srcs))


def case_detail(res) -> dict[str, str]:
    """The fields of one checked cell, as plain strings (shared by JUnit and TAP)."""
    out = {"scenario": res.scenario, "arch": res.arch, "expected": res.expected or "",
           "verdict": res.verdict,
           "reached_arch_hook": "yes" if res.reached_arch_hook else "no",
           "flush": "yes" if res.flush else "no", "what": what(res),
           "source": citation(res)}
    return out


def _detail_text(d: dict[str, str]) -> str:
    return "".join(f"{k}: {v}\n" for k, v in d.items() if v)


def render_junit(report) -> str:
    import xml.etree.ElementTree as ET

    checked = [r for r in report.results if r.expected is not None]
    failed = sum(1 for r in checked if r.matches is False)
    root = ET.Element("testsuites", name="kvmspte check", tests=str(len(checked)),
                      failures=str(failed), errors="0")
    for sc in report.scenarios:
        mine = [r for r in checked if r.scenario == sc.name]
        if not mine:
            continue
        suite = ET.SubElement(root, "testsuite", name=xml_text(sc.name), tests=str(len(mine)),
                              failures=str(sum(1 for r in mine if r.matches is False)),
                              errors="0", skipped="0")
        props = ET.SubElement(suite, "properties")
        for key, val in (("description", sc.description), ("trigger", sc.trigger),
                         ("origin", sc.origin)):
            ET.SubElement(props, "property", name=key, value=xml_text(str(val)))
        for res in mine:
            d = case_detail(res)
            case = ET.SubElement(suite, "testcase", classname=xml_text(f"kvmspte.{sc.name}"),
                                 name=xml_text(res.arch))
            if res.matches is False:
                fail = ET.SubElement(case, "failure", type="verdict-mismatch",
                                     message=xml_text(f"expected {res.expected}, "
                                                      f"got {res.verdict}"))
                fail.text = xml_text(_detail_text(d))
            else:
                out = ET.SubElement(case, "system-out")
                out.text = xml_text(_detail_text(d))
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


def _tap_description(text: str) -> str:
    # '#' starts a TAP directive and a newline ends the line: escape both
    return text.replace("\\", "\\\\").replace("#", "\\#").replace("\n", " ")


def render_tap(report) -> str:
    checked = [r for r in report.results if r.expected is not None]
    lines = ["TAP version 13", f"1..{len(checked)}"]
    for n, res in enumerate(checked, 1):
        ok = "ok" if res.matches else "not ok"
        lines.append(f"{ok} {n} - {_tap_description(f'{res.scenario} {res.arch}: {res.verdict}')}")
        if res.matches is False:
            # a YAML diagnostic block; every value is a JSON string, which is valid YAML
            lines.append("  ---")
            lines += [f"  {k}: {dumps(v, indent=None, ascii_only=False)}"
                      for k, v in case_detail(res).items() if v]
            lines.append("  ...")
    return "\n".join(lines) + "\n"


JUNIT = Plain(render_junit)
TAP = Plain(render_tap)
