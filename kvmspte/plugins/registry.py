"""The architecture-model registry.

Built-in models and third-party plugins register the same way: an id mapped to
"module:Class".  The built-ins are listed below in the shape of an entry-point
group; plugins come from the installed ``kvmspte.arches.v1`` entry points.  A
broken plugin gives a warning and is skipped; it never takes the tool down.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings

GROUP = "kvmspte.arches.v1"

BUILTIN: dict[str, str] = {
    "x86-tdp": "kvmspte.arches.x86_tdp:Model",
    "x86-shadow": "kvmspte.arches.x86_shadow:Model",
    "mips": "kvmspte.arches.mips:Model",
    "ppc-hv-radix": "kvmspte.arches.ppc_hv_radix:Model",
    "ppc-hv-hpt": "kvmspte.arches.ppc_hv_hpt:Model",
    "ppc-pr": "kvmspte.arches.ppc_pr:Model",
    "ppc-e500": "kvmspte.arches.ppc_e500:Model",
    "arm64": "kvmspte.arches.arm64:Model",
    "riscv": "kvmspte.arches.riscv:Model",
    "loongarch": "kvmspte.arches.loongarch:Model",
}


class PluginWarning(UserWarning):
    pass


def _load(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _plugin_targets() -> dict[str, str]:
    """The kvmspte.arches.v1 entry points of every installed distribution.

    Reads each ``*.dist-info/entry_points.txt`` on sys.path directly (first found
    wins, as importlib.metadata does) instead of importing importlib.metadata,
    which alone costs more start-up time than the rest of ``compare``.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                for arch_id, target in _group(os.path.join(entry or ".", name)).items():
                    found.setdefault(arch_id, target)
    return {k: v for k, v in found.items() if k not in BUILTIN}


def _group(dist: str) -> dict[str, str]:
    try:
        with open(os.path.join(dist, "entry_points.txt"), encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    out, inside = {}, False
    for line in (ln.strip() for ln in lines):
        if line.startswith("["):
            inside = line == f"[{GROUP}]"
        elif inside and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out


_MODELS: dict[str, type] | None = None


def _valid(cls, arch_id: str) -> str:
    """Why a loaded object cannot serve as a model, or '' when it can."""
    from kvmspte.plugins.contract import HOOK_NAMES, ArchModel

    if not (isinstance(cls, type) and issubclass(cls, ArchModel)):
        return "is not an ArchModel subclass"
    if getattr(cls, "id", None) != arch_id:
        return f"declares id {getattr(cls, 'id', None)!r}"
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", arch_id):
        return "has an id that is not 1-64 lower-case letters, digits, '.', '_' or '-'"
    missing = [h for h in HOOK_NAMES if h not in getattr(cls, "hooks", {})]
    return f"cites no source for hooks {missing}" if missing else ""


def models() -> dict[str, type]:
    """Every usable model, built-ins first in their listed order, then plugins by id."""
    global _MODELS
    if _MODELS is None:
        found: dict[str, type] = {}
        targets = list(BUILTIN.items()) + sorted(_plugin_targets().items())
        for arch_id, target in targets:
            try:
                cls = _load(target)
            except Exception as exc:
                warnings.warn(f"architecture plugin {arch_id!r} ({target}) failed to load: "
                              f"{type(exc).__name__}: {exc}; skipped", PluginWarning, stacklevel=2)
                continue
            problem = _valid(cls, arch_id)
            if problem:
                warnings.warn(f"architecture plugin {arch_id!r} ({target}) {problem}; skipped",
                              PluginWarning, stacklevel=2)
                continue
            found[arch_id] = cls
        _MODELS = found
    return _MODELS


def reset() -> None:
    """Forget loaded models (tests install fake plugins)."""
    global _MODELS
    _MODELS = None


def get(arch_id: str) -> type:
    table = models()
    if arch_id not in table:
        from kvmspte.errors import shown
        from kvmspte.util import suggest

        raise KeyError(f"unknown architecture '{shown(arch_id)}'{suggest(arch_id, table)}; "
                       f"known: {', '.join(table)}")
    return table[arch_id]


def load_reporting() -> dict[str, type]:
    """models(), with the warnings of a broken plugin printed as one plain line each on
    stderr; the process's warning hooks are left as they were."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        found = models()
    for w in caught:
        if issubclass(w.category, PluginWarning):
            print(f"kvmspte: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return found
