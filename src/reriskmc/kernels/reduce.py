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

from .._jit import jit, stage
from .layout import SLIP_TOLERANCE
from .paths import china_stage_of, no_kg
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
    """No peak yet and no first month yet: the group's paths start at zero units behind,
    zero slip and zero tonnes owed."""
    for s in range(traj.peak_us.shape[0]):
        for p in range(traj.peak_us.shape[1]):
            for g in range(n):
                traj.peak_us[s, p, g] = 0
                traj.peak_slip[s, p, g] = 0
                traj.first_behind[s, p, g] = -1
            for k in range(traj.first_slip.shape[2]):
                for g in range(n):
                    traj.first_slip[s, p, k, g] = -1
        for j in range(traj.peak_owed.shape[1]):
            for g in range(n):
                traj.peak_owed[s, j, g] = 0.0


@stage(noalias=False)
def fold_month(pk, w, traj, acc, f_rec, f_drec, q, n, t):
    """Fold month ``t`` of every scenario of the group's first ``n`` paths into the
    partial statistics: the record ``traj.rec`` into the chunk's sums ``f_rec``
    (float64[2, S, T * R], the month at ``t * R``) and, for every scenario but the base,
    its paired differences from the base into ``f_drec``; the units behind and the slip
    into the sketch codes (of the batch's ``q``-th group), the peaks and the first months behind
    and past each slip threshold; the month's regimes (``acc``: this thread's counts,
    ``scratch.Partials`` without the lane axis)."""
    rec, R = traj.rec, pk.r.total
    for s in range(pk.dims.S):
        add_sums(f_rec, s, t * R, rec, s, R, n)
        if s > 0:
            add_diff_sums(f_drec, s, t * R, rec, s, 0, R, n)
        _fold_units(pk, traj, s, q, n, t)
        _fold_slip(pk, traj, s, q, n, t)
        for j in range(pk.dims.P * pk.dims.M):
            if no_kg(pk, s, j):  # owes nothing: its peak stays 0
                continue
            for g in range(n):
                v = rec[s, pk.r.owed + j, g]
                traj.peak_owed[s, j, g] = max(traj.peak_owed[s, j, g], v)
        _fold_regimes(pk, w, acc, s, n, t)


@jit(inline="always")
def _fold_regimes(pk, w, acc, s, n, t):
    """The month's regimes of scenario ``s``: the paths in each, and those in a regime
    in exactly one of the scenario and the base. Counted a regime at a time (a vector
    of comparisons, where an increment per path waits on the previous one's store);
    a scenario that shares the base's China stage has the base's regimes."""
    c, c0 = china_stage_of(pk, s), china_stage_of(pk, 0)
    for r in range(pk.dims.R):
        count = 0
        for g in range(n):
            count += 1 if w.policy[c, 0, g] == r else 0
        acc.c_reg[s, r, t] += count
    if c == c0:
        return
    for g in range(n):
        r = w.policy[c, 0, g]
        r0 = w.policy[c0, 0, g]
        if r != r0:
            acc.d_reg[s, r, t] += 1
            acc.d_reg[s, r0, t] += 1


@jit(inline="always")
def _fold_units(pk, traj, s, q, n, t):
    """Units behind: sketch codes, the peak's code, and the first month behind.

    The peak is kept as its sketch bucket: buckets are monotone in the value, so the
    largest bucket so far is the bucket of the peak so far, in a quarter of the bytes.
    The first month past a level is the first month whose value passes it (the peak
    passes it then too)."""
    inv_floor = 1.0 / pk.floors.units
    tol = pk.floors.behind_units
    for p in range(pk.dims.P):
        for g in range(n):
            v = traj.rec[s, pk.r.units + p, g]
            b = bucket(v, inv_floor)
            traj.codes[q, t, s, p, g] = b
            traj.peak_us[s, p, g] = max(traj.peak_us[s, p, g], b)
            first = traj.first_behind[s, p, g]
            traj.first_behind[s, p, g] = t if (first < 0) & (v > tol) else first


@jit(inline="always")
def _fold_slip(pk, traj, s, q, n, t):
    """Slip in months: sketch codes, the peak's code, and the first month past each
    threshold (as in :func:`_fold_units`)."""
    inv_floor = 1.0 / pk.floors.months
    thresholds = pk.slip_thresholds
    for p in range(pk.dims.P):
        for g in range(n):
            b = bucket(traj.rec[s, pk.r.slip + p, g], inv_floor)
            traj.slip_codes[q, t, s, p, g] = b
            traj.peak_slip[s, p, g] = max(traj.peak_slip[s, p, g], b)
        for k in range(thresholds.shape[0]):
            limit = thresholds[k] + SLIP_TOLERANCE
            for g in range(n):
                first = traj.first_slip[s, p, k, g]
                past = traj.rec[s, pk.r.slip + p, g] > limit
                traj.first_slip[s, p, k, g] = t if (first < 0) & past else first


@jit(inline="always")
def _first_month(counts, differ, i, first, first0, T):
    """One path's first month ``first`` (-1: never, counted at T) into the histogram
    ``counts[i]``, and, against the base's ``first0``, the months its "at least once
    by then" starts and stops differing from the base's into ``differ[i]``."""
    f = first if first >= 0 else T
    f0 = first0 if first0 >= 0 else T
    counts[i + (f,)] += 1
    if f != f0:
        differ[i + (min(f, f0),)] += 1
        differ[i + (max(f, f0),)] -= 1


@stage
def fold_group(pk, w, traj, acc, n):
    """At the end of the horizon: each path's peaks into the peak sketches
    (``acc.h_peak_us``, ``h_peak_slip``: int32[S, P, B]; ``h_peak_owed``: int32[S, P, M,
    B]) and its first months (behind, past each slip threshold, stocks run out) into the
    histograms ``acc.c_*`` and ``acc.d_*``."""
    inv_floor_t = 1.0 / pk.floors.tonnes
    M, T = pk.dims.M, pk.dims.T
    for s in range(pk.dims.S):
        for p in range(pk.dims.P):
            for g in range(n):
                acc.h_peak_us[s, p, traj.peak_us[s, p, g]] += 1
                acc.h_peak_slip[s, p, traj.peak_slip[s, p, g]] += 1
                _first_month(acc.c_behind, acc.d_behind, (s, p), traj.first_behind[s, p, g],
                             traj.first_behind[0, p, g], T)  # fmt: skip
                for k in range(traj.first_slip.shape[2]):
                    _first_month(acc.c_slip, acc.d_slip, (s, p, k), traj.first_slip[s, p, k, g],
                                 traj.first_slip[0, p, k, g], T)  # fmt: skip
            for m in range(M):
                for g in range(n):
                    b = bucket(traj.peak_owed[s, p * M + m, g], inv_floor_t)
                    acc.h_peak_owed[s, p, m, b] += 1
        for m in range(M):
            for g in range(n):
                _first_month(acc.c_exh, acc.d_exh, (s, m), w.first_out[s, m, g],
                             w.first_out[0, m, g], T)  # fmt: skip


@jit(inline="always")
def keep_outcomes(w, traj, acc, row0, n):
    """The group's paths' own outcomes into rows ``row0 ..`` of ``acc.o_*``: each path's
    weight, peak slip bucket, first months past the slip thresholds and the base's
    regime transitions."""
    for g in range(n):
        acc.o_weight[row0 + g] = w.weight[g]
    nm, R = w.trans.shape[0], w.trans.shape[1]
    for g in range(n):
        for m in range(nm):
            for r in range(R):
                for k in range(R):
                    acc.o_trans[row0 + g, m, r, k] = w.trans[m, r, k, g]
    S, P, K = traj.peak_slip.shape[0], traj.peak_slip.shape[1], traj.first_slip.shape[2]
    for g in range(n):
        for s in range(S):
            for p in range(P):
                acc.o_peak_slip[row0 + g, s, p] = traj.peak_slip[s, p, g]
                for k in range(K):
                    acc.o_first_slip[row0 + g, s, p, k] = traj.first_slip[s, p, k, g]


@jit(inline="always")
def count_units(codes, n, h_us):
    """Add a batch's monthly bucket codes (uint16[Q, T, S, P, G], the batch's first
    ``n`` paths a group of G at a time, from :func:`fold_month`) to the monthly sketches
    h_us, uint16 or int32 [S, P, T, B] (the caller empties uint16 counts before they
    can overflow).

    A batch at a time, row by row: the monthly sketches of all (scenario, programme,
    month) rows are far larger than the CPU caches, and one path at a time nearly every
    increment missed the cache. Each row's counts are fetched once per batch, and the
    codes are read in the order they were written. Most rows are mostly zeros: those
    are counted in a register, with no increment in memory.
    """
    Q, T, S, P, G = codes.shape
    for t in range(T):
        for s in range(S):
            for p in range(P):
                zeros = 0
                for q in range(Q):
                    for g in range(min(G, n - q * G)):
                        b = codes[q, t, s, p, g]
                        if b == 0:
                            zeros += 1
                        else:
                            h_us[s, p, t, b] += 1
                h_us[s, p, t, 0] += zeros
