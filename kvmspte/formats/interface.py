"""What a format is: an object whose render(data, *, color, width) returns the whole output."""

from __future__ import annotations

from kvmspte.formats.layout import PIPE_WIDTH


class Format:
    """One command's output in one format.  Never prints; returns the whole text."""

    def render(self, data, *, color: bool = False, width: int | None = None) -> str:
        raise NotImplementedError


class Plain(Format):
    """A format that depends on neither colour nor width (Markdown, XML, TAP)."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def render(self, data, *, color: bool = False, width: int | None = None) -> str:
        return self.fn(data)


class Terminal(Format):
    """Human output laid out for a width: ``plain(data, width)``, or with colour
    ``rich(data, width)`` (rich is imported only there)."""

    def __init__(self, plain, rich=None) -> None:
        self.plain, self.rich = plain, rich

    def render(self, data, *, color: bool = False, width: int | None = None) -> str:
        draw = self.rich if color and self.rich is not None else self.plain
        return draw(data, width or PIPE_WIDTH)
