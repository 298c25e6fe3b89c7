"""What each scenario costs: the kernel and its random-number floor on the base scenario
of configs/base.toml alone, then with its variants added one at a time.

    python benchmarks/scenarios.py          (environment: N paths, default 16384; ROUNDS, default 5)

Each round times the kernel and the floor once for every scenario count, so that the
machine's drift hits all alike; figures are medians over rounds, on the default thread
count. The kernel's cost grows with every scenario (each runs its own stocks,
allocation and builds, and its own China stage unless it shares it); the floor's much
less (a path's random numbers serve every scenario, and a scenario's per-path
parameters are transformed only where it draws them differently from an earlier one).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from pathlib import Path

import numba
import numpy as np

from reriskmc.config import load_config
from reriskmc.engine import CHUNK, default_threads, simulate
from reriskmc.kernels.floor import draw_block
from reriskmc.kernels.paths import make_work
from reriskmc.kernels.rng import seed_key
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"


def main():
    n = int(os.environ.get("N", "16384"))
    rounds = int(os.environ.get("ROUNDS", "5"))
    lanes = default_threads()
    full = load_config(BASE)
    k0, k1 = seed_key(1)
    cases = []
    for k in range(1, len(full.scenarios) + 1):
        config = dataclasses.replace(full, scenarios=full.scenarios[:k])
        packed = pack(config)
        pk = packed.as_tuple()
        work = make_work(pk, lanes)
        simulate(config, CHUNK, 1, threads=lanes, packed=packed)  # compile (or load) first
        numba.set_num_threads(lanes)
        draw_block(pk, work, k0, k1, 0, CHUNK, CHUNK, lanes, np.zeros(lanes))
        cases.append(dict(config=config, packed=packed, pk=pk, work=work, kernel=[], floor=[]))

    for _ in range(rounds):
        for c in cases:
            t = time.perf_counter()
            simulate(c["config"], n, 1, threads=lanes, packed=c["packed"])
            c["kernel"].append(time.perf_counter() - t)
            numba.set_num_threads(lanes)
            t = time.perf_counter()
            draw_block(c["pk"], c["work"], k0, k1, 0, n, CHUNK, lanes, np.zeros(lanes))
            c["floor"].append(time.perf_counter() - t)

    print(f"{n:,} paths of {BASE.name}, {lanes} threads, medians of {rounds} rounds")
    print(f"{'scenarios':<40s} {'kernel ms':>10s} {'floor ms':>9s} {'kernel/floor':>13s}")
    for c in cases:
        kernel, floor = statistics.median(c["kernel"]), statistics.median(c["floor"])
        names = [s.name for s in c["config"].scenarios]
        label = f"{len(names)}: ... {names[-1]}" if len(names) > 1 else f"1: {names[0]}"
        print(f"{label:<40s} {kernel * 1e3:10.1f} {floor * 1e3:9.1f} {kernel / floor:13.2f}")


if __name__ == "__main__":
    main()
