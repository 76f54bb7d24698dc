"""Explorer throughput: every built-in race on every architecture, and the largest race alone.

Targets: all races on all architectures exhaustive in under 10 s in total, and at least
25,000 states/s on the largest race (the two-vCPU race), on this machine.
Run: .venv/bin/python bench/explore.py
"""

from __future__ import annotations

import sys
import time

from kvmspte.analyses.explore.checker import explore
from kvmspte.analyses.explore.races import RACES
from kvmspte.plugins.registry import models

LARGEST = "vcpus-writer-zapper"


def main() -> int:
    t0 = time.perf_counter()
    states = unfinished = 0
    per_race: dict[str, list] = {}
    for race in RACES.values():
        for model in models().values():
            out = explore(race, model)
            states += out.states
            unfinished += not out.finished
            per_race.setdefault(race.name, []).append(out)
    secs = time.perf_counter() - t0
    total_ok = secs <= 10 and not unfinished
    print(f"explore: {len(RACES)} races x {len(models())} arches, {states} states in "
          f"{secs:.2f} s ({states / secs:,.0f} states/s); unfinished: {unfinished}; "
          f"target <= 10 s: {'ok' if total_ok else 'MISSED'}")
    big = [o for o in per_race[LARGEST] if not o.na]
    big_states, big_secs = sum(o.states for o in big), sum(o.seconds for o in big)
    rate = big_states / big_secs
    print(f"{LARGEST}: {big_states} states over {len(big)} arches in {big_secs:.2f} s "
          f"({rate:,.0f} states/s; largest single run "
          f"{max(o.states for o in big)} states); target >= 25,000 states/s: "
          f"{'ok' if rate >= 25_000 else 'MISSED'}")
    full = explore(RACES[LARGEST], models()["arm64"], symmetry=False)
    print(f"{LARGEST} on arm64 without symmetry reduction: {full.states} states in "
          f"{full.seconds:.2f} s ({full.states / full.seconds:,.0f} states/s)")
    return 0 if total_ok and rate >= 25_000 else 1


if __name__ == "__main__":
    sys.exit(main())
