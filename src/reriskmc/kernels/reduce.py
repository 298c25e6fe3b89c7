"""Per-path statistics folded into mergeable partial sums, counts and sketches.

Float sums (for means and standard errors) are accumulated per *chunk* of paths in
path order and merged by the engine in chunk order, so their rounding does not depend
on thread count or block size. Counts and histograms are integers, so any order gives
the same result; they are accumulated per thread.

Quantiles come from the log-bucket sketches of ``kernels/sketch.py``.
"""

from __future__ import annotations

from .._jit import jit
from .simd import add_tile8
from .sketch import bucket

#: paths whose values :func:`add_sums` adds in one pass: one 64-byte cache line of a
#: group's side-by-side layout, and one vector of add_tile8
SUM_PATHS = 8


@jit(inline="always")
def add_sums(sums, s, values, n):
    """Add the first ``n`` paths of a group to scenario ``s``'s sums and sums of squares:
    sums float64[2, S, E] += values float64[1, E, >= n] (and its squares), the paths
    side by side.

    Each sum gets the paths' values added one at a time in path order, as if the paths
    were folded one after another, so its rounding does not depend on the group size.
    The paths are taken SUM_PATHS at a time, and in a full pass eight sums at a time
    (add_tile8: a tile of 8 x 8 values transposed in registers, then one vector
    addition per path). The scalar loop below, left for the rest, adds to each sum in a
    chain of dependent additions that LLVM may not reorder without fastmath; for the
    tonnes owed it took 11% of the engine's time (5.7 us a path in profile_kernel,
    against 2.5 through add_tile8).
    """
    E = values.shape[1]
    for g0 in range(0, n, SUM_PATHS):
        g1 = min(n, g0 + SUM_PATHS)
        e_tiles = E - E % 8 if g1 - g0 == 8 else 0
        for e0 in range(0, e_tiles, 8):
            add_tile8(sums, s, values, e0, g0)  # the loop below, 8 sums at once
        for e in range(e_tiles, E):
            total = sums[0, s, e]
            squares = sums[1, s, e]
            for g in range(g0, g1):
                v = values[0, e, g]
                total += v
                squares += v * v
            sums[0, s, e] = total
            sums[1, s, e] = squares


@jit(inline="always")
def accumulate_units_group(
    tol, inv_floor_units, us, n, s, f_us, c_behind, h_peak_us, codes, col, peak
):
    """Fold scenario ``s`` of the first ``n`` paths of a group's units behind schedule
    into the partial statistics, and record each path-month's sketch bucket for
    :func:`count_units`.

    us : float64[1, P * T, >= n] the scenario's monthly units behind, at
    [0, p * T + t, g], the group's paths side by side; tol : units behind that count as
    behind.
    Updated in place: f_us float64[2, S, P * T] (the chunk's sum and sum of squares),
    c_behind int64[S, P, T] (paths behind at least once by month t), h_peak_us
    int32[S, P, B] (sketch of each path's peak); codes uint16[S, P, T, >= col + n]: the
    buckets, in columns col .. col + n - 1. peak float64[>= P, >= n]: scratch.

    The units behind are folded while the group's values are still in the core's own
    cache, with the paths innermost. Only the bucket codes (2 bytes a path-month, where
    the values take 8) wait for the batch's sketch increments. The sums get the paths added in path
    order (:func:`add_sums`).
    """
    P, T = c_behind.shape[1], c_behind.shape[2]
    add_sums(f_us, s, us, n)
    for p in range(P):
        for g in range(n):
            peak[p, g] = 0.0
        for t in range(T):
            behind = 0
            for g in range(n):
                v = us[0, p * T + t, g]
                codes[s, p, t, col + g] = bucket(v, inv_floor_units)
                peak[p, g] = max(peak[p, g], v)  # the path's peak so far
                behind += peak[p, g] > tol  # behind at least once by month t
            c_behind[s, p, t] += behind
        for g in range(n):
            h_peak_us[s, p, bucket(peak[p, g], inv_floor_units)] += 1


@jit(inline="always")
def count_units(codes, n, h_us):
    """Add a batch's monthly bucket codes (uint16[S, P, T, >= n], from
    :func:`accumulate_units_group`) to the monthly sketches h_us, uint16 or int32
    [S, P, T, B] (the caller empties uint16 counts before they can overflow).

    A batch at a time, row by row: the monthly sketches of all (scenario, programme,
    month) rows are far larger than the CPU caches, and one path at a time nearly every
    increment missed the cache (measured: the engine spent a third of its time there).
    Each row's counts are fetched once per batch. Most rows are mostly zeros: those are
    counted in a register, with no increment in memory.
    """
    S, P, T = codes.shape[0], codes.shape[1], codes.shape[2]
    for s in range(S):
        for p in range(P):
            for t in range(T):
                zeros = 0
                for i in range(n):
                    b = codes[s, p, t, i]
                    if b == 0:
                        zeros += 1
                    else:
                        h_us[s, p, t, b] += 1
                h_us[s, p, t, 0] += zeros


@jit(inline="always")
def accumulate_group(inv_floor_t, owed, reg, n, s, f_owed, c_reg, h_peak_owed, peak):
    """Fold scenario ``s`` of the first ``n`` paths of a group into the partial
    statistics (in place).

    Inputs: owed float64[1, T * P * M, >= n] the scenario's tonnes owed, at
    [0, (t * P + p) * M + m, g], the group's paths side by side; reg int64[>= n, S, T].
    f_owed float64[2, S, T * P * M]: the chunk's sum and sum of squares; c_reg
    int64[S, R, T];
    h_peak_owed int32[S, P, M, B]; peak float64[>= P * M, >= n]: scratch.

    The sums get the paths added in path order (:func:`add_sums`). Each
    (programme, material)'s peak is a maximum over months, taken with the paths
    innermost as vector instructions.
    """
    E = owed.shape[1]
    P, M = h_peak_owed.shape[1], h_peak_owed.shape[2]
    PM = P * M
    T = E // PM
    add_sums(f_owed, s, owed, n)
    for j in range(PM):
        for g in range(n):
            peak[j, g] = 0.0
    for t in range(T):
        for j in range(PM):
            for g in range(n):
                peak[j, g] = max(peak[j, g], owed[0, t * PM + j, g])
    for p in range(P):
        for m in range(M):
            for g in range(n):
                h_peak_owed[s, p, m, bucket(peak[p * M + m, g], inv_floor_t)] += 1
    for g in range(n):
        for t in range(T):
            c_reg[s, reg[g, s, t], t] += 1
