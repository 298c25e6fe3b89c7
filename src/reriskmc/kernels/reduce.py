"""Per-path statistics folded into mergeable partial sums, counts and sketches.

Float sums (for means and standard errors) are accumulated per *chunk* of paths in
path order and merged by the engine in chunk order, so their rounding does not depend
on thread count or block size. Counts and histograms are integers, so any order gives
the same result; they are accumulated per thread.

Quantiles come from a log-bucket sketch: bucket 0 holds values at or below a floor;
above it each octave (factor of two) is split into ``SUB`` equal buckets, so a bucket's
midpoint is within a relative ``1 / (2 * SUB)`` of every value in it (0.78% for
SUB = 64). See :func:`bucket_bounds`.
"""
from __future__ import annotations

import math

import numpy as np

from .._jit import jit

SUB = 64  # buckets per octave
OCTAVES = 44  # range above the floor: 2**44 (1.7e13) times the floor
N_BUCKETS = 1 + SUB * OCTAVES


@jit(inline="always")
def bucket(v, inv_floor):
    """The sketch bucket of value ``v`` (>= 0) for a sketch with floor ``1 / inv_floor``."""
    x = v * inv_floor
    if x <= 1.0:
        return 0
    mant, e = math.frexp(x)  # x = mant * 2**e, mant in [0.5, 1)
    b = 1 + (e - 1) * SUB + int((2.0 * mant - 1.0) * SUB)
    return min(b, N_BUCKETS - 1)


def bucket_bounds(floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper value bounds of every bucket (bucket 0 is [0, floor])."""
    b = np.arange(1, N_BUCKETS)
    e = (b - 1) // SUB
    j = (b - 1) % SUB
    lo = floor * np.ldexp(1.0 + j / SUB, e)
    hi = floor * np.ldexp(1.0 + (j + 1) / SUB, e)
    return np.concatenate([[0.0], lo]), np.concatenate([[floor], hi])


@jit(inline="always")
def accumulate_month_sketches(us_batch, n, inv_floor_units, h_us):
    """Fold a batch of paths' monthly units behind into the monthly sketches.

    us_batch : float64[S, P, T, >= n] (the first ``n`` paths are used);
    h_us : uint16 or int32 [S, P, T, B], updated in place (the caller empties uint16
    counts before they can overflow).

    Done a batch at a time, row by row, with the batch's paths side by side in memory:
    the sketches of all (scenario, programme, month) rows are far larger than the CPU
    caches, and one path at a time nearly every increment missed the cache (measured:
    the engine spent a third of its time here).
    """
    S, P, T = us_batch.shape[0], us_batch.shape[1], us_batch.shape[2]
    for s in range(S):
        for p in range(P):
            for t in range(T):
                for i in range(n):
                    h_us[s, p, t, bucket(us_batch[s, p, t, i], inv_floor_units)] += 1


@jit(inline="always")
def accumulate_path(tol, inv_floor_units, inv_floor_t, us, col, owed, exh, reg,
                    f_us, f_owed, c_behind, c_exh, c_reg, h_peak_us, h_peak_owed):
    """Fold one path's trajectories into the partial statistics (all updated in place),
    except the monthly sketches (:func:`accumulate_month_sketches`).

    Inputs: us float64[S, P, T, n_cols] units behind, in column ``col``; owed
    float64[S, P, M, T] tonnes owed;
    exh bool[S, M, T]; reg int64[S, T]; tol: units behind that count as behind.
    Chunk partials: f_us float64[S, P, T, 2] and f_owed float64[S, P, M, T, 2] (sum and
    sum of squares). Thread partials: c_behind int64[S, P, T] (paths behind at least once
    by month t), c_exh int64[S, M, T], c_reg int64[S, R, T], h_peak_us int32[S, P, B],
    h_peak_owed int32[S, P, M, B].
    """
    S, P, T = us.shape[0], us.shape[1], us.shape[2]
    M = owed.shape[2]
    for s in range(S):
        for p in range(P):
            ever = False
            peak = 0.0
            for t in range(T):
                v = us[s, p, t, col]
                f_us[s, p, t, 0] += v
                f_us[s, p, t, 1] += v * v
                if v > tol:
                    ever = True
                if ever:
                    c_behind[s, p, t] += 1
                if v > peak:
                    peak = v
            h_peak_us[s, p, bucket(peak, inv_floor_units)] += 1
            for m in range(M):
                peak = 0.0
                for t in range(T):
                    v = owed[s, p, m, t]
                    f_owed[s, p, m, t, 0] += v
                    f_owed[s, p, m, t, 1] += v * v
                    if v > peak:
                        peak = v
                h_peak_owed[s, p, m, bucket(peak, inv_floor_t)] += 1
        for m in range(M):
            for t in range(T):
                if exh[s, m, t]:
                    c_exh[s, m, t] += 1
        for t in range(T):
            c_reg[s, reg[s, t], t] += 1
