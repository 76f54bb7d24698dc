"""Small helpers shared by the registry, the scenario loader and the CLI."""

from __future__ import annotations


def suggest(word: str, choices) -> str:
    """' (did you mean: a, b?)' for the names in choices close to word, or ''."""
    import difflib

    if len(word) > 200:  # difflib is quadratic; nothing that long is a typo of a name
        return ""
    near = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    return f" (did you mean: {', '.join(near)}?)" if near else ""
