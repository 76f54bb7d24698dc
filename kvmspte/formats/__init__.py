"""Output formats: one object per (command, format) turning a command's data into a string."""

from __future__ import annotations

FORMATS = ("table", "json", "markdown")
#: for `check` only: one test case per checked (scenario, arch) cell
CHECK_FORMATS = (*FORMATS, "junit", "tap")

_REPORT = {"table": "text:REPORT", "json": "jsonfmt:REPORT", "markdown": "markdown:REPORT"}

#: (command, format) -> "module:object" under kvmspte.formats, imported only when used
REGISTRY: dict[tuple[str, str], str] = {
    **{("compare", f): t for f, t in _REPORT.items()},
    **{("check", f): t for f, t in _REPORT.items()},
    ("check", "junit"): "ci:JUNIT",
    ("check", "tap"): "ci:TAP",
    ("matrix", "table"): "matrixfmt:TABLE",
    ("matrix", "json"): "jsonfmt:DOCUMENT",
    ("matrix", "markdown"): "matrixfmt:MARKDOWN",
    ("explain", "table"): "explainfmt:TABLE",
    ("explain", "json"): "jsonfmt:DOCUMENT",
    ("explain", "markdown"): "explainfmt:MARKDOWN",
    ("explore", "table"): "explorefmt:TABLE",
    ("explore", "json"): "explorefmt:JSON",
    ("explore", "markdown"): "explorefmt:MARKDOWN",
    ("history", "table"): "historyfmt:TABLE",
    ("history", "json"): "historyfmt:JSON",
    ("history", "markdown"): "historyfmt:MARKDOWN",
    ("arches", "table"): "listfmt:ARCHES_TABLE",
    ("arches", "json"): "jsonfmt:DOCUMENT",
    ("arches", "markdown"): "listfmt:ARCHES_MARKDOWN",
    ("scenarios", "table"): "listfmt:SCENARIOS_TABLE",
    ("scenarios", "json"): "listfmt:SCENARIOS_JSON",
    ("scenarios", "markdown"): "listfmt:SCENARIOS_MARKDOWN",
    ("schema", "json"): "jsonfmt:DOCUMENT",
}


def get(command: str, fmt: str):
    """The format object of (command, fmt): it has render(data, *, color, width) -> str."""
    import importlib

    module, _, name = REGISTRY[command, fmt].partition(":")
    return getattr(importlib.import_module(f"kvmspte.formats.{module}"), name)


def render(command: str, fmt: str, data, *, color: bool = False,
           width: int | None = None) -> str:
    if width is None and fmt in ("table",):
        from kvmspte.formats.layout import output_width

        width = output_width()
    return get(command, fmt).render(data, color=color, width=width)
