"""Explore renderers: Mermaid diagrams beside the numbered traces, text escaped for Mermaid."""

from kvmspte.arches.arm64 import Model as Arm64
from kvmspte.analyses.explore.checker import COHERENCE, explore
from kvmspte.analyses.explore.races import RACES
from kvmspte.formats.explorefmt import mermaid, mermaid_text, render_markdown


def test_mermaid_text_has_no_statement_separators_or_markers():
    out = mermaid_text('a; b #c <d> "e" {f}: 5%\nnext')
    for bad in (";", "#", "<", ">", '"', "{", "}", "%", "\n"):
        assert bad not in out


def test_every_counter_example_is_drawn_with_its_numbered_trace():
    out = explore(RACES["writer-zapper"], Arm64)
    md = render_markdown([out])
    assert md.count("```mermaid") == len(out.examples) == 2
    v = out.examples[COHERENCE]
    diagram = mermaid(out, v)
    assert diagram[1] == "sequenceDiagram"
    arrows = [line for line in diagram if "->>" in line]
    assert len(arrows) == len(v.path)                  # one message per step
    assert {"participant writer as writer", "participant zapper as zapper"} <= {
        line.strip() for line in diagram}
    assert diagram[-2].strip().startswith("Note over")  # the violating state
    for line in arrows:
        assert ";" not in line.split(":", 1)[1]
    assert f"{len(v.path)}. " in md and "Violating state: quiescent, PTL free" in md
