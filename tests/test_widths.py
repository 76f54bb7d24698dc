"""Human output fits the terminal it is drawn on, from 80 columns up, words unbroken.

Both paths: plain (piped, or NO_COLOR) and rich (--color always, forced terminal).
The width comes from COLUMNS, else the terminal, else 80 when piped.
"""

from __future__ import annotations

import re

import pytest

from kvmspte.formats.layout import pieces, wrap

# colour codes and OSC 8 hyperlinks (the citations rich draws as links)
ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")
BOX = re.compile("[\u2500-\u257f]")

COMMANDS = [
    ("compare",),
    ("compare", "cow-huge"),
    ("check",),
    ("check", "ksm-merge", "--expect", "no-op"),   # mismatch verdicts are the widest cells
    ("matrix",),
    ("explain", "ksm-merge", "--arch", "mips"),
    ("explain", "cow-4k", "--arch", "arm64"),
    ("explain", "ksm-merge", "--arch", "ppc-hv-hpt"),
    ("explore",),
    ("history",),
    ("history", "cow-4k", "--arch", "ppc-pr", "--arch", "riscv"),
    ("arches",),
    ("scenarios",),
]
PLAIN_ONLY = ("explore", "history", "arches", "scenarios")   # no rich path


@pytest.fixture
def at(cli, monkeypatch):
    def run(width, *args, rich=False):
        if width is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", str(width))
        r = cli(*args, *(("--color", "always") if rich else ()))
        assert r.code in (0, 1), r.err
        # explore's last line reports its own speed, which no run repeats
        return re.sub(r"[\d,]+ states/s", "N states/s", ANSI.sub("", r.out))
    return run


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def words(text: str) -> set[str]:
    return set(BOX.sub(" ", text).split())


def unbroken(narrow: str, wide: str) -> list[str]:
    """Words of the narrow output that are neither words of the wide one nor comma pieces."""
    known = words(wide)
    known |= {p for w in known for p in pieces(w)}
    known |= {"".join(ps) for w in known for ps in _joins(pieces(w))}
    return sorted(w for w in words(narrow) if w not in known)


def _joins(ps):
    return [ps[i:j] for i in range(len(ps)) for j in range(i + 1, len(ps) + 1)]


PATHS = [pytest.param(args, rich, id=f"{'rich' if rich else 'plain'}-{' '.join(args)}")
         for args in COMMANDS for rich in (False, True)
         if not (rich and args[0] in PLAIN_ONLY)]


@pytest.mark.parametrize("args,rich", PATHS)
@pytest.mark.parametrize("width", [80, 120, 160])
def test_every_line_fits_the_width(at, args, rich, width):
    assert widest(at(width, *args, rich=rich)) <= width


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_piped_output_fits_80_and_is_stable(at, args):
    first = at(None, *args)
    assert widest(first) <= 80
    assert at(None, *args) == first


@pytest.mark.parametrize("args,rich", [p for p in PATHS if p.values[0][0] != "matrix"])
def test_no_word_is_broken(at, args, rich):
    wide = at(1000, *args, rich=rich)
    assert unbroken(at(80, *args, rich=rich), wide) == []


@pytest.mark.parametrize("rich", [False, True], ids=["plain", "rich"])
def test_narrow_matrix_is_compact_with_every_name_whole(at, rich):
    from kvmspte.plugins import registry
    from kvmspte.analyses.matrix import SYMBOLS
    from kvmspte.scenarios.loader import catalogue

    text = at(80, "matrix", rich=rich)
    found = words(text)
    assert set(registry.models()) <= found and set(catalogue()) <= found
    cells = {w for line in text.splitlines() for w in line.split()[2:]
             if line.split() and line.split()[0] in catalogue()}
    assert cells <= {"=", *SYMBOLS.values(), *(s + m for s in SYMBOLS.values() for m in "!?")}
    assert "[expect]" in text  # the legend is not eaten as rich markup


def test_wide_matrix_keeps_the_words(at):
    text = at(1000, "matrix")
    assert "flush-only" in text.split("legend:")[0] and "[expect]" in text


def test_wrap_breaks_only_at_spaces_and_after_commas():
    text = "added leaf (bits=_PAGE_A,_PAGE_B,_PAGE_CCCCCCCCCC present) unbreakable_word_xx"
    for width in range(21, 60):
        lines = wrap(text, width, "- ", "  ")
        assert all(len(ln) <= width for ln in lines), (width, lines)
        assert "".join("".join(lines).split()) == "-" + "".join(text.split())
        assert unbroken("\n".join(lines), text) in ([], ["-"])
    # a word with no comma is never broken: it overflows
    assert wrap("a unbreakable_word_xx", 10) == ["a", "unbreakable_word_xx"]
