"""Start-up benchmark: whole processes against the bare interpreter.

Targets (medians, one machine, one run): --version <= 5x `python -c pass`,
`compare --format json` <= 8x, `compare` (table) <= 10x.  The table is timed
both as a pipe sees it (plain text) and forced through rich (--color always).
Run: .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
KVMSPTE = str(BIN / "kvmspte")

CASES = [
    ("python -c pass", [sys.executable, "-c", "pass"], None),
    ("kvmspte --version", [KVMSPTE, "--version"], 5.0),
    ("kvmspte compare --format json", [KVMSPTE, "compare", "--format", "json"], 8.0),
    ("kvmspte compare (piped table)", [KVMSPTE, "compare"], 10.0),
    ("kvmspte compare --color always", [KVMSPTE, "compare", "--color", "always"], 10.0),
]


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    env = {**os.environ, "NO_COLOR": ""}
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    for _, cmd, _ in CASES:  # warm the page cache
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = None
    failed = 0
    print(f"{'command':<34} {'median ms':>10} {'ratio':>7} {'target':>7}")
    for name, cmd, target in CASES:
        sec = median_seconds(cmd, args.runs)
        base = base or sec
        ratio = sec / base
        verdict = "" if target is None else ("ok" if ratio <= target else "OVER")
        failed += verdict == "OVER"
        tgt = "" if target is None else f"<={target:g}x"
        print(f"{name:<34} {sec * 1000:>10.1f} {ratio:>6.2f}x {tgt:>7} {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
