"""Start-up benchmark: the installed wheel against the bare interpreter of the same environment.

Builds the wheel from the tracked sources and installs it, not editable, into a fresh virtual
environment (as tests/run_installed.py does), or uses an environment given with --venv that
has kvmspte installed.  Every command runs from outside the source tree, and the baseline is
that environment's own ``python -c pass``, so both pay the same interpreter and site start-up.

Targets (medians): --version <= 4x, `compare --format json` <= 6x, `compare` (table) <= 10x.
The table is timed both as a pipe sees it (plain text) and forced through rich.
Run: python3 bench/startup.py [--runs N] [--venv DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = [("--version", ["--version"], 4.0),
           ("compare --format json", ["compare", "--format", "json"], 6.0),
           ("compare (piped table)", ["compare"], 10.0),
           ("compare --color always", ["compare", "--color", "always"], 10.0)]


def cases(bin_dir: Path) -> list[tuple[str, list[str], float | None]]:
    script = str(bin_dir / "kvmspte")
    return [("python -c pass", [str(bin_dir / "python"), "-c", "pass"], None),
            *((f"kvmspte {name}", [script, *args], t) for name, args, t in TARGETS)]


def median_seconds(cmd: list[str], runs: int, cwd: str) -> float:
    times = []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["NO_COLOR"] = ""
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=env, cwd=cwd)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(bin_dir: Path, runs: int) -> int:
    with tempfile.TemporaryDirectory(prefix="kvmspte-bench-") as cwd:
        table = cases(bin_dir)
        for _, cmd, _ in table:  # warm the page cache and the bytecode caches
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
        base, failed = None, 0
        print(f"{'command':<34} {'median ms':>10} {'ratio':>7} {'target':>7}")
        for name, cmd, target in table:
            sec = median_seconds(cmd, runs, cwd)
            base = base or sec
            ratio = sec / base
            verdict = "" if target is None else ("ok" if ratio <= target else "OVER")
            failed += verdict == "OVER"
            tgt = "" if target is None else f"<={target:g}x"
            print(f"{name:<34} {sec * 1000:>10.1f} {ratio:>6.2f}x {tgt:>7} {verdict}")
    return 1 if failed else 0


def _installer():
    spec = importlib.util.spec_from_file_location("run_installed",
                                                  ROOT / "tests" / "run_installed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.install


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--venv", type=Path, help="an environment with kvmspte installed "
                                               "(default: build and install the wheel)")
    args = ap.parse_args()
    if args.venv:
        return measure(args.venv / "bin", args.runs)
    with tempfile.TemporaryDirectory(prefix="kvmspte-wheel-") as tmp:
        py = _installer()(Path(tmp))
        if py is None:
            print("startup: could not build and install the wheel", file=sys.stderr)
            return 3
        return measure(py.parent, args.runs)


if __name__ == "__main__":
    sys.exit(main())
