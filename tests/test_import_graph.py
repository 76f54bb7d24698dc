"""The package's import graph, function-level imports included, has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sources() -> dict[str, Path]:
    """Module name -> file, for kvmspte/ and arches/ (installed as kvmspte.arches)."""
    import kvmspte

    pkg = Path(kvmspte.__file__).resolve().parent
    out = {}
    for base, prefix in ((pkg, "kvmspte"), (pkg / "arches", "kvmspte.arches"),
                         (ROOT / "arches", "kvmspte.arches")):
        if not base.is_dir():
            continue
        for path in base.rglob("*.py"):
            rel = path.relative_to(base).with_suffix("")
            if rel.parts and rel.parts[0] == "arches" and prefix == "kvmspte":
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            out.setdefault(".".join([prefix, *parts]), path)
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = here[:len(here) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = _sources()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_graph_sees_function_level_imports():
    g = graph()
    assert "kvmspte.cli" in g and g["kvmspte.cli"], "the graph must find the CLI's imports"


def test_no_import_cycle():
    assert cycles(graph()) == []


if __name__ == "__main__":
    for c in cycles(graph()):
        print(" <-> ".join(c))
