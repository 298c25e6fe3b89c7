"""Where two threads lose against one: the whole run, the block kernel alone, the
merging of blocks, and the random-number floor, one thread and two interleaved.

    python benchmarks/threads.py [--paths N] [--rounds R] [--config FILE]

Each round runs every measurement once on one thread and once on two, alternating, so
that the machine's drift hits both alike; figures are medians over rounds. Speed-ups
are one thread's time over two threads'.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from reriskmc.config import load_config
from reriskmc.engine import CHUNK, simulate
from reriskmc.kernels.floor import floor_runner
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=16384)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--config", default=str(BASE))
    a = ap.parse_args(argv)
    config = load_config(a.config)
    packed = pack(config)
    floors = {lanes: floor_runner(packed, 1, lanes) for lanes in (1, 2)}
    for lanes in (1, 2):  # compile (or load) everything first
        simulate(config, CHUNK, 1, threads=lanes, packed=packed)

    times = {key: {1: [], 2: []} for key in ("run", "kernel", "merge", "floor")}
    for r in range(-1, a.rounds):  # round -1 is not counted: a process's first full-size
        # runs touch fresh memory, whose page faults are slow
        for lanes in (1, 2) if r % 2 == 0 else (2, 1):
            st = simulate(config, a.paths, 1, threads=lanes, packed=packed)
            t = time.perf_counter()
            floors[lanes](a.paths)
            floor_s = time.perf_counter() - t
            if r < 0:
                continue
            times["run"][lanes].append(st.elapsed_s)
            times["kernel"][lanes].append(st.kernel_s)
            times["merge"][lanes].append(st.elapsed_s - st.kernel_s)
            times["floor"][lanes].append(floor_s)

    print(f"{a.paths:,} paths of {Path(a.config).name}, medians of {a.rounds} rounds")
    print(f"{'':<32}{'1 thread':>10}{'2 threads':>11}{'speed-up':>10}")
    labels = {
        "run": "run (engine.simulate)",
        "kernel": "  of which the block kernel",
        "merge": "  of which merging blocks",
        "floor": "random-number floor",
    }
    for key, label in labels.items():
        one, two = (statistics.median(times[key][lanes]) for lanes in (1, 2))
        print(f"{label:<32}{one * 1e3:>8.1f}ms{two * 1e3:>9.1f}ms{one / max(two, 1e-12):>10.2f}")


if __name__ == "__main__":
    main()
