"""The console entry point: ``kvmspte --version`` answers before anything is imported, every
other invocation runs the click group of kvmspte.commands (also reachable here as ``cli``)."""

from __future__ import annotations

import sys

from kvmspte import __version__
from kvmspte.errors import EXIT_OK


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):  # the fast path: nothing else to import
        print(f"kvmspte {__version__}")
        sys.exit(EXIT_OK)
    fast = _fast_compare(args)
    if fast is not None:
        from kvmspte.errors import guarded
        from kvmspte.frontend import compare_run

        sys.exit(guarded(lambda: compare_run(**fast)))
    from kvmspte.commands import cli
    from kvmspte.errors import run_cli

    sys.exit(run_cli(cli, args or ["--help"]))


#: the options of `compare` the fast path takes, and the values each accepts (None: any)
_FAST = {"--format": ("table", "json", "markdown"), "--color": ("auto", "always", "never"),
         "--arch": None}


def _fast_compare(args: list[str]) -> dict | None:
    """``compare [NAME] [--format F] [--color C] [--arch ID]...`` parsed without click,
    whose import costs more than the rest of the run; None for anything else (other forms,
    --kernel, --help, every mistake), which click then parses with its own messages."""
    if not args or args[0] != "compare":
        return None
    out: dict = {"scenario": "ksm-merge", "arches": [], "fmt": "table", "color": "auto"}
    seen, words, rest = set(), 0, args[1:]
    while rest:
        opt = rest.pop(0)
        if opt in _FAST:
            if not rest or rest[0].startswith("-") or (opt != "--arch" and opt in seen):
                return None
            value = rest.pop(0)
            if _FAST[opt] is not None and value not in _FAST[opt]:
                return None
            seen.add(opt)
            if opt == "--arch":
                out["arches"].append(value)
            else:
                out["fmt" if opt == "--format" else "color"] = value
        elif opt.startswith("-") or words:
            return None
        else:
            out["scenario"], words = opt, 1
    out["arches"] = tuple(out["arches"])
    return out


def __getattr__(name: str):
    if name == "cli":  # the click group, for the docs and the tests
        from kvmspte.commands import cli

        return cli
    raise AttributeError(name)
