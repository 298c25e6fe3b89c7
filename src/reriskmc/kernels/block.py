"""One block of paths, in parallel: sample each path, fold it into partial statistics.

Paths are grouped in fixed chunks of ``chunk`` consecutive path indices (chunk
boundaries are absolute, so the engine's block size does not move them). Thread
``lane`` takes chunks lane, lane + n_lanes, ...; each chunk's float sums go to its own
row of ``partials.f_rec``, integer statistics to the lane's own row of the counts and
sketches. The lanes are Python threads, each running the compiled
:func:`simulate_lane`, which releases the GIL.
"""

from __future__ import annotations

from .._jit import jit, jit_noalias
from .paths import fill_fixed, month_regime, simulate_month, start_group
from .reduce import count_units, fold_group, fold_month, keep_outcomes, start_peaks
from .scratch import GROUP, Partials, Trajectories, work_of


def run_lanes(pool, fn, n_lanes, *args):
    """``fn(*args, lane)`` for every lane: lane 0 in this thread, the others on ``pool``
    (a ``concurrent.futures`` executor with at least ``n_lanes - 1`` workers)."""
    futures = [pool.submit(fn, *args, lane) for lane in range(1, n_lanes)]
    try:
        fn(*args, 0)
    finally:
        for f in futures:
            f.result()


def simulate_block(pool, pk, work, pads, traj, partials, k0, k1, path0, n_paths, chunk, n_lanes):
    """Simulate paths ``path0 .. path0 + n_paths - 1`` and fold them in, on ``n_lanes``
    threads (``pool``: see :func:`run_lanes`).

    pk : ``layout.Params``; work, pads, traj : the threads' ``scratch.Work`` (with its
    lane pads) and ``scratch.Trajectories``; partials : ``scratch.Partials``, whose float
    sums are zeroed here (one row per chunk) and whose counts and sketches are added to
    (not zeroed; the monthly sketches may be uint16, so a block must hold fewer than
    65,536 paths); k0, k1 : uint64 seed key; path0 : a multiple of ``chunk``.

    No two arrays passed in may share memory (see :func:`simulate_lane`).
    """
    run_lanes(pool, simulate_lane, n_lanes, pk, work, pads, traj, partials, k0, k1, path0,
              n_paths, chunk, n_lanes)  # fmt: skip


@jit_noalias
def simulate_lane(pk, work, pads, traj, partials, k0, k1, path0, n_paths, chunk, n_lanes, lane):
    """Thread ``lane``'s share of :func:`simulate_block`: chunks lane, lane + n_lanes, ...

    A function of its own, called once per block and thread, so that it can be compiled
    with its array arguments marked as not sharing memory: LLVM may then keep values in
    registers across stores and vectorise the loops over a group of paths.
    """
    n_chunks = (n_paths + chunk - 1) // chunk
    w = work_of(work, pads, lane)
    fill_fixed(pk, w)
    tr = traj_of(traj, lane)
    acc = lane_partials(partials, lane)  # sliced once: a view costs an atomic refcount update
    batch = tr.codes.shape[0] * tr.codes.shape[4]
    for ci in range(lane, n_chunks, n_lanes):
        f_rec, f_drec = partials.f_rec[ci], partials.f_drec[ci]
        f_rec[:] = 0.0
        f_drec[:] = 0.0
        end = min(n_paths, (ci + 1) * chunk)
        for b0 in range(ci * chunk, end, batch):
            n = min(batch, end - b0)
            for g0 in range(0, n, GROUP):
                ng = min(GROUP, n - g0)
                start_group(pk, w, k0, k1, path0 + b0 + g0, ng)
                start_peaks(tr, ng)
                for t in range(pk.dims.T):
                    simulate_month(pk, w, k0, k1, path0 + b0 + g0, ng, t, tr.rec)
                    fold_month(pk, w, tr, acc, f_rec, f_drec, g0 // GROUP, ng, t)
                    if tr.log.shape[0] > 0:
                        log_month(pk, w, tr, ng, t)
                fold_group(pk, w, tr, acc, ng)
                if acc.o_weight.shape[0] > 0:
                    keep_outcomes(w, tr, acc, b0 + g0, ng)
            count_units(tr.codes, n, acc.h_us)
            count_units(tr.slip_codes, n, acc.h_slip)


@jit(inline="always")
def lane_partials(partials, lane):
    """``partials`` with every count and sketch reduced to thread ``lane``'s row (the
    float sums keep their chunk axis, the paths' outcomes their path axis)."""
    p = partials
    return Partials(p.f_rec, p.f_drec, p.c_behind[lane], p.c_slip[lane], p.c_exh[lane],
                    p.c_reg[lane], p.d_behind[lane], p.d_slip[lane], p.d_exh[lane],
                    p.d_reg[lane], p.h_us[lane], p.h_slip[lane], p.h_peak_us[lane],
                    p.h_peak_slip[lane], p.h_peak_owed[lane], p.o_weight, p.o_peak_slip,
                    p.o_first_slip, p.o_trans)  # fmt: skip


@jit(inline="always")
def traj_of(traj, lane):
    """One lane's ``scratch.Trajectories``."""
    return Trajectories(traj.codes[lane], traj.slip_codes[lane], traj.rec[lane],
                        traj.peak_us[lane], traj.peak_slip[lane], traj.peak_owed[lane],
                        traj.first_behind[lane], traj.first_slip[lane], traj.log[lane],
                        traj.flags[lane])  # fmt: skip


@jit(inline="always")
def log_month(pk, w, tr, n, t):
    """Keep month ``t``'s record, stock flags and regimes of every path (for replaying
    paths alone: ``engine.replay_path``; a run's trajectories have no log)."""
    M = pk.dims.M
    for s in range(pk.dims.S):
        for r in range(tr.rec.shape[1]):
            for g in range(n):
                tr.log[t, s, r, g] = tr.rec[s, r, g]
        for m in range(M):
            for g in range(n):
                tr.flags[t, s, m, g] = w.first_out[s, m, g] >= 0
        for g in range(n):
            tr.flags[t, s, M, g] = month_regime(pk, w, s, g)


@jit(no_cpython_wrapper=True, no_cfunc_wrapper=True)
def stage_arguments(pk, work, pads, traj, partials, lane):
    """What :func:`simulate_lane` derives from its arguments and passes to its stages:
    the thread's work, trajectories and partial statistics, and a chunk's rows of the
    float sums. Compiled, not run: its return type gives the stages' argument types
    (``compile_ahead``)."""
    w = work_of(work, pads, lane)
    tr = traj_of(traj, lane)
    return w, tr, lane_partials(partials, lane), partials.f_rec[lane], partials.f_drec[lane]
