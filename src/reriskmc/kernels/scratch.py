"""Every array the block kernel works in, made in one place, and what they weigh.

Three kinds, each a named tuple the kernels read by name:

- :class:`Work`: one thread's scratch for simulating a group of paths
  (``kernels/paths.py``);
- :class:`Trajectories`: one thread's buffers between simulating a group and folding
  it into statistics (``kernels/reduce.py``);
- :class:`Partials`: the block's partial statistics (float sums one row per chunk of
  paths; counts and sketches one row per thread).

:func:`allocate` makes them and :func:`nbytes` counts the same shapes without making
them, for the memory estimate of a run.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .._jit import jit
from .sketch import N_BUCKETS

#: paths that go through the China stage and through stocks, allocation and builds side
#: by side: the loops of those stages then run over a group of paths innermost, and
#: LLVM turns them into vector instructions, 8 doubles wide and up to 4 deep on
#: AVX-512, so the vector code runs only for groups of 32 or more; 64 runs faster than
#: 32 or 128 (docs/performance.md)
GROUP = 64
#: paths per chunk: the unit of float summation order (part of the reproducibility
#: contract: changing it changes the last bits of means)
CHUNK = 512
#: paths whose monthly sketches are updated together (a multiple of GROUP that divides
#: CHUNK): each sketch row is then fetched into the cache once per batch. Their bucket
#: codes are kept a group at a time, a month's codes of all rows side by side
#: (``Trajectories.codes``), so that a month's fold writes one contiguous block
SKETCH_BATCH = 256
#: the threads' monthly sketches count in uint16, so a block must hold fewer paths than
#: a uint16 can count
MAX_BLOCK = 64 * 1024 - CHUNK
DEFAULT_BLOCK = 64 * CHUNK

#: one thread's scratch; "G" is the group of paths side by side, last axis
Work = namedtuple("Work", [
    "theta",        # float64[S, n_theta, G]: each path's parameter values
    "u_path",       # float64[n_path_uniforms, 1]: one path's own uniforms
    "u_month",      # float64[n_month_uniforms, G]: one month's uniforms
    "qualified",    # bool[S, K, G]: each source qualified for military use
    "waived",       # bool[S, G]: a waiver of the DFARS rule on dfars.materials
    "waived_mic",   # bool[S, G]: a waiver of the DFARS rule on magnets made in China
    "events",       # int64[S, 3, E, G]: deadline, extensions used, done
    "fired",        # int64[S, E, G]: the month each event fired (-1: not yet)
    "licences",     # int64[S, 2, M * C, G]: state, month (of decision or expiry)
    "policy",       # int64[S, 3, G]: regime, transition matrix, conceded
    "china",        # float64[S, M, G]: the month's licensed Chinese supply (+ a magnet's recycling)
    "src_first",    # float64[S, K, G]: each source's first month of output
    "src_inv_ramp", # float64[S, K, G]: 1 / its ramp in months (-1: none)
    "per_pm",       # float64[S, 2, P * M, G]: t per unit, its inverse
    "per_p",        # float64[S, 1, P, G]: 1 + catch_up
    "per_m",        # float64[S, 5, M, G]: buffer, stockpile, buffer cap, release lag, rate
    "stocks",       # float64[S, 3, M, G]: buffer, stockpile, the month's supply
    "first_short",  # int64[S, M, G]: first buffer-shortage month (-1: none yet)
    "first_out",    # int64[S, M, G]: the first month stocks ran out (-1: not yet)
    "pm",           # float64[S, 3, P * M, G]: wip, required to date, allocated to date
    "month_pm",     # float64[2, P * M, G]: the month's need and allocation (any scenario)
    "prog",         # float64[S, 3, P, G]: scheduled, built, want
    "inv_ref",      # float64[S, P, G]: 1 / the rate slip is measured in (0: none yet)
    "rate",         # float64[P, G]: the month's scheduled rate (any scenario)
    "pools",        # float64[2, M, G]: the month's feedstock, non-Chinese and Chinese-origin
    "order",        # float64[4, G]: what is left of a magnet's order to its makers; what
                    # one maker makes; whether it may use Chinese-origin feedstock (1/0);
                    # what it wants
    "demand",       # float64[4, M, G]: the month's demand, DX demand, DX share, DO share
    "built",        # float64[G]: units built this month
    "weight",       # float64[G]: each path's likelihood ratio (importance sampling; else 1)
    "trans",        # int32[n_matrices, R, R, G]: the base's regime transitions, by matrix
])  # fmt: skip

#: one thread's buffers between simulating a group's month and folding it in
Trajectories = namedtuple("Trajectories", [
    "codes",       # uint16[SKETCH_BATCH // G, T, S, P, G]: a batch's monthly buckets, units behind
    "slip_codes",  # uint16[SKETCH_BATCH // G, T, S, P, G]: the same of slip in months
    "rec",         # float64[S, R, G]: each scenario's month record (layout.RecordRows)
    "peak_us",     # uint16[S, P, G]: the sketch bucket of each path's peak units behind so far
    "peak_slip",   # uint16[S, P, G]: the sketch bucket of each path's peak slip so far
    "peak_owed",   # float64[S, P * M, G]: each path's peak tonnes owed so far
    "first_behind",  # int16[S, P, G]: the first month the path was behind (-1: not yet)
    "first_slip",  # int16[S, P, K, G]: the first month its slip passed threshold k (-1: not yet)
    "log",         # float64[T or 0, S, R, G]: every month's record, when replaying paths
    "flags",       # int64[T or 0, S, M + 1, G]: stocks run out, and the regime, likewise
])  # fmt: skip

#: a block's partial statistics: float sums per chunk, counts and sketches per thread.
#: "At least once by month t" is kept as the histogram of each path's first month
#: (index T: never), c_*, and of the months where a scenario and the base start to
#: disagree (+1) or agree again (-1), d_* (for the paired standard errors of the
#: differences of probabilities): the statistics are their running sums over months
Partials = namedtuple("Partials", [
    "f_rec",        # float64[n_chunks, 2, S, T * R]: sums and sums of squares of the records
    "f_drec",       # float64[n_chunks, 2, S, T * R]: the same of scenario minus base, per path
    "c_behind",     # int64[lanes, S, P, T + 1]: the first month behind
    "c_slip",       # int64[lanes, S, P, K, T + 1]: the first month past slip threshold k
    "c_exh",        # int64[lanes, S, M, T + 1]: the first month stocks ran out
    "c_reg",        # int64[lanes, S, R, T]: paths in each regime
    "d_behind",     # int64[lanes, S, P, T + 1]
    "d_slip",       # int64[lanes, S, P, K, T + 1]
    "d_exh",        # int64[lanes, S, M, T + 1]
    "d_reg",        # int64[lanes, S, R, T]: paths in regime r in exactly one of the two
    "h_us",         # uint16[lanes, S, P, T, B]: monthly sketches of units behind
    "h_slip",       # uint16[lanes, S, P, T, B]: monthly sketches of slip in months
    "h_peak_us",    # int32[lanes, S, P, B]: sketches of each path's peak units behind
    "h_peak_slip",  # int32[lanes, S, P, B]: sketches of each path's peak slip
    "h_peak_owed",  # int32[lanes, S, P, M, B]: sketches of each path's peak tonnes owed
    # each path's own outcomes, by its place in the block (no rows unless asked for:
    # importance sampling weights them, tail.py)
    "o_weight",     # float64[n_out]: its likelihood ratio
    "o_peak_slip",  # uint16[n_out, S, P]: the sketch bucket of its peak slip
    "o_first_slip", # int16[n_out, S, P, K]: its first month past slip threshold k (-1: never)
    "o_trans",      # int16[n_out, n_matrices, R, R]: the base's regime transitions
])  # fmt: skip


def _work_shapes(packed) -> Work:
    d = packed.dims
    S, M, C, K, P, E = d.S, d.M, d.C, d.K, d.P, d.E
    G, f8, i8, b1 = GROUP, np.float64, np.int64, np.bool_
    K1, E1 = max(K, 1), max(E, 1)
    return Work(
        theta=((S, packed.th_fixed.shape[1], G), f8),
        u_path=((max(packed.n_path_uniforms, 1), 1), f8),
        u_month=((packed.month_slots.total, G), f8),
        qualified=((S, K1, G), b1),
        waived=((S, G), b1),
        waived_mic=((S, G), b1),
        events=((S, 3, E1, G), i8),
        fired=((S, E1, G), i8),
        licences=((S, 2, M * C, G), i8),
        policy=((S, 3, G), i8),
        china=((S, M, G), f8),
        src_first=((S, K1, G), f8),
        src_inv_ramp=((S, K1, G), f8),
        per_pm=((S, 2, P * M, G), f8),
        per_p=((S, 1, P, G), f8),
        per_m=((S, 5, M, G), f8),
        stocks=((S, 3, M, G), f8),
        first_short=((S, M, G), i8),
        first_out=((S, M, G), i8),
        pm=((S, 3, P * M, G), f8),
        month_pm=((2, P * M, G), f8),
        prog=((S, 3, P, G), f8),
        inv_ref=((S, P, G), f8),
        rate=((P, G), f8),
        pools=((2, M, G), f8),
        order=((4, G), f8),
        demand=((4, M, G), f8),
        built=((G,), f8),
        weight=((G,), f8),
        trans=((packed.cum_trans.shape[1], d.R, d.R, G), np.int32),
    )


def _trajectory_shapes(packed, log: bool = False) -> Trajectories:
    d = packed.dims
    S, T, M, P = d.S, d.T, d.M, d.P
    R, T_log = packed.record_rows.total, (T if log else 0)
    return Trajectories(
        codes=((SKETCH_BATCH // GROUP, T, S, P, GROUP), np.uint16),
        slip_codes=((SKETCH_BATCH // GROUP, T, S, P, GROUP), np.uint16),
        rec=((S, R, GROUP), np.float64),
        peak_us=((S, P, GROUP), np.uint16),
        peak_slip=((S, P, GROUP), np.uint16),
        peak_owed=((S, P * M, GROUP), np.float64),
        first_behind=((S, P, GROUP), np.int16),
        first_slip=((S, P, len(packed.slip_thresholds), GROUP), np.int16),
        log=((T_log, S, R, GROUP), np.float64),
        flags=((T_log, S, M + 1, GROUP), np.int64),
    )


def _partial_shapes(packed, n_lanes: int, n_chunks: int, n_out: int = 0) -> Partials:
    d = packed.dims
    S, T, M, P, R = d.S, d.T, d.M, d.P, d.R
    K, B, L = len(packed.slip_thresholds), N_BUCKETS, n_lanes
    sums = ((n_chunks, 2, S, T * packed.record_rows.total), np.float64)
    i8 = np.int64
    return Partials(
        f_rec=sums,
        f_drec=sums,
        c_behind=((L, S, P, T + 1), i8),
        c_slip=((L, S, P, K, T + 1), i8),
        c_exh=((L, S, M, T + 1), i8),
        c_reg=((L, S, R, T), i8),
        d_behind=((L, S, P, T + 1), i8),
        d_slip=((L, S, P, K, T + 1), i8),
        d_exh=((L, S, M, T + 1), i8),
        d_reg=((L, S, R, T), i8),
        h_us=((L, S, P, T, B), np.uint16),
        h_slip=((L, S, P, T, B), np.uint16),
        h_peak_us=((L, S, P, B), np.int32),
        h_peak_slip=((L, S, P, B), np.int32),
        h_peak_owed=((L, S, P, M, B), np.int32),
        o_weight=((n_out,), np.float64),
        o_peak_slip=((n_out, S, P), np.uint16),
        o_first_slip=((n_out, S, P, K), np.int16),
        o_trans=((n_out, packed.cum_trans.shape[1], R, R), np.int16),
    )


def _lane_pad(shape, dtype) -> int:
    """Lane slots per lane: at least 128 bytes between lanes. Small per-lane arrays
    written every month would otherwise share cache lines between threads (false
    sharing), which stopped two threads from running any faster than one."""
    lane_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return 1 + -(-128 // lane_bytes)


def _bytes(shape, dtype) -> int:
    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def n_chunks(block_paths: int) -> int:
    return -(-block_paths // CHUNK)


def allocate(packed, n_lanes: int, block_paths: int, log: bool = False, outcomes: bool = False):
    """The arrays of a run on ``n_lanes`` threads in blocks of ``block_paths`` paths.

    Returns (work, pads, trajectories, partials): ``work`` a :class:`Work` of arrays
    with a leading lane axis (lane ``l``'s arrays at ``pads * l``, see :func:`work_of`),
    ``pads`` int64[n fields], ``trajectories`` a :class:`Trajectories` with a leading
    lane axis (``log``: with room for every month's record, for replaying paths),
    ``partials`` a :class:`Partials` (counts zeroed; float sums are zeroed by the kernel;
    ``outcomes``: with a row of each path's own outcomes, ``o_*``, per path of a block).
    """
    shapes = _work_shapes(packed)
    pads = np.asarray([_lane_pad(s, t) for s, t in shapes], dtype=np.int64)
    work = Work(*(np.zeros((n_lanes * pad,) + s, t) for (s, t), pad in zip(shapes, pads)))
    # zeros: the record's padding rows are never written, and fold into zero sums
    traj = Trajectories(*(np.zeros((n_lanes,) + s, t) for s, t in _trajectory_shapes(packed, log)))
    n_out = block_paths if outcomes else 0
    shapes = _partial_shapes(packed, n_lanes, n_chunks(block_paths), n_out)
    partials = Partials(*(np.zeros(s, t) for s, t in shapes))
    return work, pads, traj, partials


def nbytes(packed, n_lanes: int, block_paths: int) -> int:
    """Bytes of :func:`allocate`'s arrays, without making them."""
    work = sum(n_lanes * _lane_pad(s, t) * _bytes(s, t) for s, t in _work_shapes(packed))
    traj = sum(n_lanes * _bytes(s, t) for s, t in _trajectory_shapes(packed))
    partials = sum(_bytes(s, t) for s, t in _partial_shapes(packed, n_lanes, n_chunks(block_paths)))
    return work + traj + partials


def make_work(packed, n_lanes: int = 1):
    """Only the :class:`Work` arrays and their pads (for the random-number floor)."""
    shapes = _work_shapes(packed)
    pads = np.asarray([_lane_pad(s, t) for s, t in shapes], dtype=np.int64)
    return Work(*(np.zeros((n_lanes * pad,) + s, t) for (s, t), pad in zip(shapes, pads))), pads


@jit(inline="always")
def work_of(w, pads, lane):
    """One lane's :class:`Work` out of :func:`allocate`'s lane-stacked arrays."""
    return Work(
        w.theta[lane * pads[0]],
        w.u_path[lane * pads[1]],
        w.u_month[lane * pads[2]],
        w.qualified[lane * pads[3]],
        w.waived[lane * pads[4]],
        w.waived_mic[lane * pads[5]],
        w.events[lane * pads[6]],
        w.fired[lane * pads[7]],
        w.licences[lane * pads[8]],
        w.policy[lane * pads[9]],
        w.china[lane * pads[10]],
        w.src_first[lane * pads[11]],
        w.src_inv_ramp[lane * pads[12]],
        w.per_pm[lane * pads[13]],
        w.per_p[lane * pads[14]],
        w.per_m[lane * pads[15]],
        w.stocks[lane * pads[16]],
        w.first_short[lane * pads[17]],
        w.first_out[lane * pads[18]],
        w.pm[lane * pads[19]],
        w.month_pm[lane * pads[20]],
        w.prog[lane * pads[21]],
        w.inv_ref[lane * pads[22]],
        w.rate[lane * pads[23]],
        w.pools[lane * pads[24]],
        w.order[lane * pads[25]],
        w.demand[lane * pads[26]],
        w.built[lane * pads[27]],
        w.weight[lane * pads[28]],
        w.trans[lane * pads[29]],
    )
