"""Matrix throughput: scenario x architecture cells per second in one process.

Target: the full built-in matrix at >= 2,000 cells/s on this machine, and the same for
``kvmspte history`` over the whole catalogue: scenarios x architectures x every switch-point
release (each cell one run; the extra runs that single out a switch point are timed too,
not counted).
Run: .venv/bin/python bench/matrix.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from kvmspte.analyses import history as hs
from kvmspte.analyses import matrix as mx
from kvmspte.plugins.registry import models
from kvmspte.scenarios.loader import catalogue

TARGET = 2000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    scenarios, arch_models = list(catalogue().values()), list(models().values())
    mx.build(scenarios, arch_models)  # warm imports and caches
    rates = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        m = mx.build(scenarios, arch_models)
        rates.append(m.cells / (time.perf_counter() - t0))
    med = statistics.median(rates)
    print(f"matrix: {m.cells} cells ({len(scenarios)} scenarios x {len(arch_models)} arches); "
          f"median {med:,.0f} cells/s over {args.repeat} runs (min {min(rates):,.0f}, "
          f"max {max(rates):,.0f}); target >= {TARGET:,.0f}: "
          f"{'ok' if med >= TARGET else 'BELOW TARGET'}")
    hist = history_rate(scenarios, arch_models, max(1, args.repeat // 3))
    return 0 if min(med, hist) >= TARGET else 1


def history_rate(scenarios: list, arch_models: list, repeat: int) -> float:
    """Cells/s of the history of every scenario: scenario x arch x switch-point release."""
    points = len(hs.switch_points(arch_models))
    cells = len(scenarios) * len(arch_models) * points
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for sc in scenarios:
            hs.build(sc, arch_models)
        rates.append(cells / (time.perf_counter() - t0))
    med = statistics.median(rates)
    print(f"history: {cells} cells ({len(scenarios)} scenarios x {len(arch_models)} arches x "
          f"{points} switch points); median {med:,.0f} cells/s over {repeat} runs (min "
          f"{min(rates):,.0f}, max {max(rates):,.0f}); target >= {TARGET:,.0f}: "
          f"{'ok' if med >= TARGET else 'BELOW TARGET'}")
    return med


if __name__ == "__main__":
    sys.exit(main())
