"""Per-path statistics folded into mergeable partial sums, counts and sketches.

Float sums (for means and standard errors) are accumulated per *chunk* of paths in
path order and merged by the engine in chunk order, so their rounding does not depend
on thread count or block size. Counts and histograms are integers, so any order gives
the same result; they are accumulated per thread.

A group's month is folded in while it is still in the core's cache: each scenario's
*month record* (``scratch.Trajectories.rec``: rows of values, the group's paths side by
side; the rows are laid out by ``layout.RecordRows``) goes into the chunk's sums at the
month's offset, and the units behind into the monthly sketch codes, the peaks and the
"behind at least once" counts. Quantiles come from the sketches of ``kernels/sketch.py``.
"""

from __future__ import annotations

from .._jit import jit
from .paths import month_regime
from .simd import add_tile8, add_tile8_diff
from .sketch import bucket

#: paths whose values :func:`add_sums` adds in one pass: one 64-byte cache line of a
#: group's side-by-side layout, and one vector of add_tile8
SUM_PATHS = 8


@jit(inline="always")
def add_sums(sums, s, f0, values, v, E, n):
    """Add the first ``n`` paths of ``values[v, :E]`` (the paths side by side) to
    scenario ``s``'s sums and sums of squares ``sums[:, s, f0 : f0 + E]``, float64[2, S, F].

    Each sum gets the paths' values added one at a time in path order, as if the paths
    were folded one after another, so its rounding does not depend on the group size.
    The paths are taken SUM_PATHS at a time, and in a full pass eight sums at a time
    (add_tile8: a tile of 8 x 8 values transposed in registers, then one vector addition
    per path); the scalar loop below, left for the rest, adds to each sum in a chain of
    dependent additions that LLVM may not reorder without fastmath.
    """
    for g0 in range(0, n, SUM_PATHS):
        g1 = min(n, g0 + SUM_PATHS)
        e_tiles = E - E % 8 if g1 - g0 == 8 else 0
        for e0 in range(0, e_tiles, 8):
            add_tile8(sums, s, f0 + e0, values, v, e0, g0)  # the loop below, 8 sums at once
        for e in range(e_tiles, E):
            total = sums[0, s, f0 + e]
            squares = sums[1, s, f0 + e]
            for g in range(g0, g1):
                x = values[v, e, g]
                total += x
                squares += x * x
            sums[0, s, f0 + e] = total
            sums[1, s, f0 + e] = squares


@jit(inline="always")
def add_diff_sums(sums, s, f0, values, v, b, E, n):
    """:func:`add_sums` of the paired differences ``values[v] - values[b]``: each path's
    value in scenario slot ``v`` less its own value in slot ``b`` (the base)."""
    for g0 in range(0, n, SUM_PATHS):
        g1 = min(n, g0 + SUM_PATHS)
        e_tiles = E - E % 8 if g1 - g0 == 8 else 0
        for e0 in range(0, e_tiles, 8):
            add_tile8_diff(sums, s, f0 + e0, values, v, b, e0, g0)
        for e in range(e_tiles, E):
            total = sums[0, s, f0 + e]
            squares = sums[1, s, f0 + e]
            for g in range(g0, g1):
                x = values[v, e, g] - values[b, e, g]
                total += x
                squares += x * x
            sums[0, s, f0 + e] = total
            sums[1, s, f0 + e] = squares


@jit(inline="always")
def start_peaks(traj, n):
    """No peak yet: the group's paths start at zero units behind and zero tonnes owed."""
    peak_us, peak_owed = traj.peak_us, traj.peak_owed
    for s in range(peak_us.shape[0]):
        for p in range(peak_us.shape[1]):
            for g in range(n):
                peak_us[s, p, g] = 0.0
        for j in range(peak_owed.shape[1]):
            for g in range(n):
                peak_owed[s, j, g] = 0.0


@jit(inline="always")
def fold_month(pk, w, traj, f_rec, c_behind, c_reg, col, n, t):
    """Fold month ``t`` of every scenario of the group's first ``n`` paths: its record
    ``traj.rec`` into the chunk's sums ``f_rec`` (float64[2, S, T * R], the month at
    ``t * R``), the units behind into the sketch codes (columns ``col ..`` of
    ``traj.codes``), the peaks and ``c_behind`` int64[S, P, T] (paths behind at least
    once by month t), and the month's regimes into ``c_reg`` int64[S, R, T]."""
    rec, codes, peak_us, peak_owed = traj.rec, traj.codes, traj.peak_us, traj.peak_owed
    R = pk.r.total
    P, PM = pk.dims.P, pk.dims.P * pk.dims.M
    r_units, r_owed = pk.r.units, pk.r.owed
    inv_floor = 1.0 / pk.floors.units
    tol = pk.floors.behind_units
    for s in range(pk.dims.S):
        add_sums(f_rec, s, t * R, rec, s, R, n)
        for p in range(P):
            behind = 0
            for g in range(n):
                v = rec[s, r_units + p, g]
                codes[s, p, t, col + g] = bucket(v, inv_floor)
                peak_us[s, p, g] = max(peak_us[s, p, g], v)  # the path's peak so far
                behind += peak_us[s, p, g] > tol  # behind at least once by month t
            c_behind[s, p, t] += behind
        for j in range(PM):
            for g in range(n):
                peak_owed[s, j, g] = max(peak_owed[s, j, g], rec[s, r_owed + j, g])
        for g in range(n):
            c_reg[s, month_regime(pk, w, s, g), t] += 1


@jit(inline="always")
def fold_peaks(pk, traj, h_peak_us, h_peak_owed, n):
    """Each path's peaks over the horizon into the peak sketches h_peak_us int32[S, P, B]
    and h_peak_owed int32[S, P, M, B]."""
    inv_floor_units = 1.0 / pk.floors.units
    inv_floor_t = 1.0 / pk.floors.tonnes
    M = pk.dims.M
    for s in range(pk.dims.S):
        for p in range(pk.dims.P):
            for g in range(n):
                h_peak_us[s, p, bucket(traj.peak_us[s, p, g], inv_floor_units)] += 1
            for m in range(M):
                for g in range(n):
                    b = bucket(traj.peak_owed[s, p * M + m, g], inv_floor_t)
                    h_peak_owed[s, p, m, b] += 1


@jit(inline="always")
def count_units(codes, n, h_us):
    """Add a batch's monthly bucket codes (uint16[S, P, T, >= n], from
    :func:`fold_month`) to the monthly sketches h_us, uint16 or int32 [S, P, T, B] (the
    caller empties uint16 counts before they can overflow).

    A batch at a time, row by row: the monthly sketches of all (scenario, programme,
    month) rows are far larger than the CPU caches, and one path at a time nearly every
    increment missed the cache. Each row's counts are fetched once per batch. Most rows
    are mostly zeros: those are counted in a register, with no increment in memory.
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
