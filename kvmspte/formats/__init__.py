"""Renderers: small objects that turn a Report into a string and never print."""

from __future__ import annotations

FORMATS = ("table", "json", "markdown")
#: for `check` only: one test case per checked (scenario, arch) cell
CHECK_FORMATS = (*FORMATS, "junit", "tap")


def render(fmt: str, report, *, color: bool = False, width: int | None = None) -> str:
    if fmt == "json":
        from kvmspte.formats.jsonfmt import render_json

        return render_json(report)
    if fmt == "junit":
        from kvmspte.formats.ci import render_junit

        return render_junit(report)
    if fmt == "tap":
        from kvmspte.formats.ci import render_tap

        return render_tap(report)
    if fmt == "markdown":
        from kvmspte.formats.markdown import render_markdown

        return render_markdown(report)
    from kvmspte.formats.layout import output_width

    width = width or output_width()
    if color:
        from kvmspte.formats.rich_table import render_rich

        return render_rich(report, width=width)
    from kvmspte.formats.text import render_text

    return render_text(report, width=width)
