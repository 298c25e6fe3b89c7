"""A line-level profile of stocks, allocation and builds (``paths.allocate_and_build``),
by ablation: numba code has no line profiler, so each statement of interest is taken
out in turn and the loop timed without it.

    python benchmarks/ablate_month_loop.py     (about a minute: it compiles each variant)

One group of paths of ``configs/base.toml`` has its supply stages run once; then every
variant runs the month loop of all scenarios on that group, 40 times over, on one
thread, with the variants interleaved over nine rounds (medians). A variant's saving
is roughly what its statement costs: taking a statement out also changes what the
rest computes, so treat the figures as a guide, not an exact split. A variant whose
statement is no longer in the source stops the script (update the table below).
"""

from __future__ import annotations

import inspect
import statistics
import time
from pathlib import Path

import numba
import numpy as np

from reriskmc._jit import jit_noalias
from reriskmc.config import load_config
from reriskmc.kernels import layout as L
from reriskmc.kernels import paths
from reriskmc.kernels.rng import seed_key
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"

#: (name, statement taken out): each must occur once in allocate_and_build
STATEMENTS = [
    ("record: tonnes owed", "out_owed[slot, t * PM + j, g] = max(0.0, pm[1, j, g] - pm[2, j, g])"),
    ("record: stocks exhausted", "exhausted += exh_ever[m, g]"),
    (
        "record: units behind",
        "out_us[slot, p * T + t, g] = max(0.0, prog[0, p, g] - prog[1, p, g])",
    ),
    ("3.6 requirement to date", "pm[1, p * M + m, g] += par_pm[s, 2, p * M + m, g]"),
    ("3.6 DX demand per material", "per_m[1, m, g] += pm[3, j, g]"),
    ("3.8 Leontief minimum", "built[g] = min(built[g], (pm[0, j, g] + a) * par_pm[s, 1, j, g])"),
    (
        "3.8 work in progress",
        "pm[0, j, g] = max(0.0, pm[0, j, g] + a - built[g] * par_pm[s, 0, j, g])",
    ),
]
ALLOCATION = ("        # -- 3.7 allocation and stocks", "        # -- 3.8 build")


def _variants(src):
    out = {"as it is": src}
    for name, stmt in STATEMENTS:
        assert src.count(stmt) == 1, f"not in allocate_and_build any more: {stmt}"
        out["without " + name] = src.replace(stmt, "pass")
    start, end = (src.index(marker) for marker in ALLOCATION)
    out["without 3.7 (every share 1)"] = (
        src[:start]
        + (
            "        for m in range(M):\n"
            "            for g in range(n):\n"
            "                per_m[2, m, g] = 1.0\n"
            "                per_m[3, m, g] = 1.0\n"
        )
        + src[end:]
    )
    return out


def _compile(src):
    """A month-loop runner around one variant of allocate_and_build."""
    ns = dict(paths.__dict__)
    ns["numba"] = numba
    code = src.replace("def allocate_and_build(", "def variant(").replace(
        '@jit(inline="always")', '@numba.njit(inline="always", nogil=True, error_model="numpy")'
    )
    exec(code, ns)
    runner = {"variant": ns["variant"], "jit_noalias": jit_noalias}
    exec(
        "@jit_noalias(cache=False)\n"
        "def run(k, pk, w, n, n_scenarios, us, owed, exh):\n"
        "    for _ in range(k):\n"
        "        for s in range(n_scenarios):\n"
        "            variant(pk, w, s, n, us, owed, s, exh)\n",
        runner,
    )
    return runner["run"]


def main():
    numba.set_num_threads(1)
    pk = pack(load_config(BASE)).as_tuple()
    S, P, M, T = (int(pk[0][i]) for i in (L.D_S, L.D_P, L.D_M, L.D_T))
    G = paths.GROUP
    k0, k1 = seed_key(1)
    w = paths.work_of(paths.make_work(pk, 1), 0)
    us, owed = np.zeros((S, P * T, G)), np.zeros((S, T * P * M, G))
    exh, reg = np.zeros((S, M, T), np.int64), np.zeros((G, S, T), np.int64)
    supply = _supply_stages()
    supply(pk, w, k0, k1, G, reg)
    runners = {
        name: _compile(src)
        for name, src in _variants(inspect.getsource(paths.allocate_and_build)).items()
    }
    for run in runners.values():
        run(1, pk, w, G, S, us, owed, exh)
    k, times = 40, {name: [] for name in runners}
    for r in range(9):
        for name in list(runners) if r % 2 == 0 else list(runners)[::-1]:
            t = time.perf_counter()
            runners[name](k, pk, w, G, S, us, owed, exh)
            times[name].append((time.perf_counter() - t) / (k * G) * 1e6)
    base = statistics.median(times["as it is"])
    print(
        f"{BASE.name}: stocks, allocation and builds of all {S} scenarios, one thread, "
        f"one group of {G} paths on hot caches (medians of 9 rounds)"
    )
    for name, values in times.items():
        m = statistics.median(values)
        print(
            f"{name:<40} {m:6.2f} us/path" + ("" if name == "as it is" else f"  ({m - base:+.2f})")
        )


def _supply_stages():
    @jit_noalias(cache=False)
    def supply(pk, w, k0, k1, n, reg):
        paths.fill_fixed(pk, w)
        paths.supply_stages(pk, w, k0, k1, 0, n, reg)

    return supply


if __name__ == "__main__":
    main()
