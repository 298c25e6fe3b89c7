"""Where the kernel spends its time, per path of configs/base.toml, on one thread.

    python benchmarks/profile_kernel.py [--paths N]

numba code has no line profiler, so each stage is timed on its own, compiled into a
loop over paths: the sampler as a growing pipeline (drawing the random numbers; then
the China stage of every scenario that computes it; then the other sources and the
parameters stored for the last stage; then stocks, allocation and builds, a group of
paths at a time: each stage's time is a difference of two timings; the China stage
and the last one run a group of paths side by side), and the folds of paths into
statistics (the units behind in two parts: a group's sums, counts and buckets, then a
batch's sketch increments). Stages timed alone run on hot caches, so the engine's own
time per path is higher (see the README). This is the profile behind
the performance notes in the README.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

from reriskmc._jit import jit_noalias

from reriskmc.config import load_config
from reriskmc.engine import SKETCH_BATCH, replay_path
from reriskmc.kernels import layout as L
from reriskmc.kernels.paths import (
    GROUP,
    allocate_and_build,
    china_stage,
    draw_month,
    draw_path,
    fill_fixed,
    make_work,
    supply_stages,
    work_of,
)
from reriskmc.kernels.reduce import N_BUCKETS, accumulate_group, accumulate_units_group, count_units
from reriskmc.kernels.rng import seed_key
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"


def _timed(fn, n, repeats=3):
    fn(2)
    return min(_once(fn, n) for _ in range(repeats)) / n * 1e6


def _once(fn, n):
    t = time.perf_counter()
    fn(n)
    return time.perf_counter() - t


@jit_noalias(cache=False)
def _pipeline(k, stages, pk, w, k0, k1, out_us, out_owed, out_exh, out_reg):
    """The first ``stages`` stages of the sampler, for paths 0 .. k - 1, in groups."""
    dims = pk[0]
    fill_fixed(pk, w)
    for i0 in range(0, k, GROUP):
        n = min(GROUP, k - i0)
        if stages == 1:
            for g in range(n):
                draw_path(pk, w, k0, k1, i0 + g, g)
            for t in range(dims[L.D_T]):
                draw_month(w, k0, k1, i0, n, t)
        elif stages == 2:
            for g in range(n):
                draw_path(pk, w, k0, k1, i0 + g, g)
            china_stage(pk, w, k0, k1, i0, n, out_reg)
        else:
            supply_stages(pk, w, k0, k1, i0, n, out_reg)
        if stages == 4:
            for s in range(dims[L.D_S]):
                allocate_and_build(pk, w, s, n, out_us, out_owed, s, out_exh)


@jit_noalias(cache=False)
def _fold_loop(k, owed, reg, f_owed, c_reg, h_peak_owed, peak):
    for i0 in range(0, k, GROUP):
        for s in range(reg.shape[1]):  # the engine's layout: one scenario at a time
            accumulate_group(
                1e9, owed, reg, min(GROUP, k - i0), s, f_owed, c_reg, h_peak_owed, peak
            )


@njit
def _units_loop(k, part, us, f_us, c_behind, h_us, h_peak, codes, peak):
    """part 0: the group fold of units behind (every scenario of every group of a
    batch); part 1: the batch's sketch increments."""
    n_groups, S = us.shape[0], us.shape[1]
    batch = n_groups * GROUP
    for i in range(k // batch + 1):
        if part == 0:
            for q in range(n_groups):
                for s in range(S):
                    accumulate_units_group(
                        0.5, 1e6, us[q, s], GROUP, s, f_us, c_behind, h_peak, codes, q * GROUP, peak
                    )
        else:
            if i % 200 == 199:
                h_us[:] = 0  # uint16 counts
            count_units(codes, batch, h_us)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=3000)
    n = ap.parse_args().paths
    numba.set_num_threads(1)
    config = load_config(BASE)
    packed = pack(config)
    pk = packed.as_tuple()
    S, P, M, T, R = (int(pk[0][i]) for i in (L.D_S, L.D_P, L.D_M, L.D_T, L.D_R))
    k0, k1 = seed_key(1)
    w = work_of(make_work(pk, 1), 0)
    out = (
        np.zeros((S, P * T, GROUP)),
        np.zeros((S, T * P * M, GROUP)),
        np.zeros((S, M, T), np.int64),
        np.zeros((GROUP, S, T), np.int64),
    )
    upto = [
        _timed(lambda k, st=st: _pipeline(k, st, pk, w, k0, k1, *out), n) for st in (1, 2, 3, 4)
    ]
    n_china = int((packed.struct[:, packed.off_i[L.I_TWIN_CHINA]] < 0).sum())
    n_src = int((packed.struct[:, packed.off_i[L.I_TWIN_SOURCES]] < 0).sum())

    batch = SKETCH_BATCH
    trajs = [replay_path(config, 1, i) for i in range(batch)]
    us = np.stack([t["units_short"] for t in trajs], axis=-1)  # (S, P, T, batch)
    # by group of paths, one scenario at a time: [group, s, 0, p * T + t, g]
    us = np.ascontiguousarray(
        us.reshape(S, P * T, batch // GROUP, GROUP).transpose(2, 0, 1, 3)[:, :, None]
    )
    owed = np.stack([t["shortfall_t"] for t in trajs[:GROUP]], axis=-1)  # (S, P, M, T, GROUP)
    # scenario 0's, standing in for each in turn, at [0, (t * P + p) * M + m, g]
    owed = np.ascontiguousarray(owed[:1].transpose(0, 3, 1, 2, 4).reshape(1, T * P * M, GROUP))
    reg = np.stack([t["regime"] for t in trajs[:GROUP]])
    acc = (
        np.zeros((2, S, T * P * M)),
        np.zeros((S, R, T), np.int64),
        np.zeros((S, P, M, N_BUCKETS), np.int32),
        np.zeros((P * M, GROUP)),
    )
    units = (
        np.zeros((2, S, P * T)),
        np.zeros((S, P, T), np.int64),
        np.zeros((S, P, T, N_BUCKETS), np.uint16),
        np.zeros((S, P, N_BUCKETS), np.int32),
        np.zeros((S, P, T, batch), np.uint16),
        np.zeros((P, GROUP)),
    )

    rows = [
        ("sampler, all scenarios (simulate_group)", upto[3]),
        ("  random numbers and parameter draws (draw_path, draw_month)", upto[0]),
        (
            f"  China stage, 3.1-3.4 ({n_china} of {S} scenarios; the rest share it; "
            f"{GROUP} paths side by side)",
            upto[1] - upto[0],
        ),
        (f"  other sources, 3.5 ({n_src} of {S} scenarios), parameters", upto[2] - upto[1]),
        (
            f"  stocks, demand, allocation, builds, 3.5-3.9 ({GROUP} paths side by side)",
            upto[3] - upto[2],
        ),
        (
            "statistics per path (accumulate_group)",
            _timed(lambda k: _fold_loop(k, owed, reg, *acc), n),
        ),
        (
            "units behind: sums, counts, buckets (accumulate_units_group)",
            _timed(lambda k: _units_loop(k, 0, us, *units), n),
        ),
        (
            f"units behind: monthly sketches, {batch} paths at a time (count_units)",
            _timed(lambda k: _units_loop(k, 1, us, *units), n),
        ),
    ]
    print(f"configs/base.toml: {S} scenarios x {T} months, one thread, {n} paths")
    for name, us_per_path in rows:
        print(f"{name:<66} {us_per_path:8.1f} us/path")


if __name__ == "__main__":
    sys.exit(main())
