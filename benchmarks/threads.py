"""Where two threads lose against one: the whole run, the block kernel alone, the
merging of blocks, and the random-number floor, one thread and two interleaved.

    python benchmarks/threads.py            (environment: N paths, default 16384; ROUNDS, default 9)

Each round runs every measurement once on one thread and once on two, alternating, so
that the machine's drift hits both alike; figures are medians over rounds. Speed-ups
are one thread's time over two threads'. It also prints how much of a thread's
monthly-sketch counts a run of N paths touches (64-byte cache lines holding a nonzero
count), which is what the two cores' shared last-level cache has to hold.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numba
import numpy as np

from reriskmc.config import load_config
from reriskmc.engine import CHUNK, simulate
from reriskmc.kernels.floor import draw_block
from reriskmc.kernels.paths import make_work
from reriskmc.kernels.rng import seed_key
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"


def main():
    n = int(os.environ.get("N", "16384"))
    rounds = int(os.environ.get("ROUNDS", "9"))
    config = load_config(BASE)
    packed = pack(config)
    pk = packed.as_tuple()
    k0, k1 = seed_key(1)
    works = {lanes: make_work(pk, lanes) for lanes in (1, 2)}
    for lanes in (1, 2):  # compile (or load) everything first
        simulate(config, CHUNK, 1, threads=lanes, packed=packed)
        numba.set_num_threads(lanes)
        draw_block(pk, works[lanes], k0, k1, 0, CHUNK, CHUNK, lanes, np.zeros(lanes))

    times = {key: {1: [], 2: []} for key in ("run", "kernel", "merge", "floor")}
    for r in range(-1, rounds):  # round -1 is not counted: a process's first full-size
        # runs touch fresh memory, and page faults cost up to 10 us a page here
        for lanes in (1, 2) if r % 2 == 0 else (2, 1):
            st = simulate(config, n, 1, threads=lanes, packed=packed)
            if r < 0:
                continue
            times["run"][lanes].append(st.elapsed_s)
            times["kernel"][lanes].append(st.kernel_s)
            times["merge"][lanes].append(st.elapsed_s - st.kernel_s)
            numba.set_num_threads(lanes)
            t = time.perf_counter()
            draw_block(pk, works[lanes], k0, k1, 0, n, CHUNK, lanes, np.zeros(lanes))
            times["floor"][lanes].append(time.perf_counter() - t)

    print(f"{n:,} paths of {BASE.name}, medians of {rounds} rounds")
    print(f"{'':<32}{'1 thread':>10}{'2 threads':>11}{'speed-up':>10}")
    labels = {
        "run": "run (engine.simulate)",
        "kernel": "  of which the block kernel",
        "merge": "  of which merging blocks",
        "floor": "random-number floor",
    }
    for key, label in labels.items():
        one, two = (statistics.median(times[key][lanes]) for lanes in (1, 2))
        print(f"{label:<32}{one * 1e3:>8.1f}ms{two * 1e3:>9.1f}ms{one / two:>10.2f}")

    h = st.h_us  # the last run's monthly sketches, all threads merged
    per_line = 64 // 2  # counts per 64-byte line in a thread's uint16 sketch
    pad = (-h.shape[-1]) % per_line
    nonzero = np.concatenate([h > 0, np.zeros(h.shape[:-1] + (pad,), bool)], axis=-1)
    lines = nonzero.reshape(-1, per_line).any(axis=1).sum()
    total = h.size * 2 / 2**20
    print(
        f"monthly sketch: {lines * 64 / 2**20:.1f} MiB of a thread's {total:.1f} MiB of counts "
        f"touched by {n:,} paths (at most; each thread sees its share of the paths)"
    )


if __name__ == "__main__":
    main()
