"""Explorer throughput: every built-in race on every architecture, states per second.

Target: all of them finish within 10 seconds in total on this machine.
Run: .venv/bin/python bench/explore.py
"""

from __future__ import annotations

import sys
import time

from kvmspte.explore.checker import explore
from kvmspte.explore.races import RACES
from kvmspte.registry import models


def main() -> int:
    t0 = time.perf_counter()
    states = 0
    unfinished = 0
    for race in RACES.values():
        for model in models().values():
            out = explore(race, model)
            states += out.states
            unfinished += not out.finished
    secs = time.perf_counter() - t0
    print(f"explore: {len(RACES)} races x {len(models())} arches, {states} states in "
          f"{secs:.2f} s ({states / secs:,.0f} states/s); unfinished: {unfinished}; "
          f"target <= 10 s: {'ok' if secs <= 10 and not unfinished else 'MISSED'}")
    return 0 if secs <= 10 and not unfinished else 1


if __name__ == "__main__":
    sys.exit(main())
