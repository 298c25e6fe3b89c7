"""One block of paths, in parallel: sample each path, fold it into partial statistics.

Paths are grouped in fixed chunks of ``chunk`` consecutive path indices (chunk
boundaries are absolute, so the engine's block size does not move them). Thread
``lane`` takes chunks lane, lane + n_lanes, ...; each chunk's float sums go to its own
row of ``partials.f_*``, integer statistics to the lane's own row of the counts and
sketches. The lanes are Python threads, each running the compiled
:func:`simulate_lane`, which releases the GIL.
"""

from __future__ import annotations

from .._jit import jit_noalias
from .paths import allocate_and_build, fill_fixed, supply_stages
from .reduce import accumulate_group, accumulate_units_group, count_units
from .scratch import GROUP, work_of


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
    run_lanes(
        pool,
        simulate_lane,
        n_lanes,
        pk,
        work,
        pads,
        traj,
        partials,
        k0,
        k1,
        path0,
        n_paths,
        chunk,
        n_lanes,
    )


@jit_noalias
def simulate_lane(pk, work, pads, traj, partials, k0, k1, path0, n_paths, chunk, n_lanes, lane):
    """Thread ``lane``'s share of :func:`simulate_block`: chunks lane, lane + n_lanes, ...

    A function of its own, called once per block and thread, so that it can be compiled
    with its array arguments marked as not sharing memory: LLVM may then keep values in
    registers across stores and vectorise the loops over a group of paths.
    """
    inv_floor_units = 1.0 / pk.floors.units
    inv_floor_t = 1.0 / pk.floors.tonnes
    tol = pk.floors.behind_units
    n_chunks = (n_paths + chunk - 1) // chunk
    w = work_of(work, pads, lane)
    fill_fixed(pk, w)
    codes, owed, us, reg, peak = (
        traj.codes[lane],
        traj.owed[lane],
        traj.units[lane],
        traj.regime[lane],
        traj.peak[lane],
    )
    batch = codes.shape[3]
    S = codes.shape[0]
    # this lane's accumulators, sliced once (a view costs an atomic refcount update)
    c_behind, c_exh, c_reg = partials.c_behind[lane], partials.c_exh[lane], partials.c_reg[lane]
    h_us, h_peak_us = partials.h_us[lane], partials.h_peak_us[lane]
    h_peak_owed = partials.h_peak_owed[lane]
    for ci in range(lane, n_chunks, n_lanes):
        f_us = partials.f_us[ci]
        f_owed = partials.f_owed[ci]
        f_us[:] = 0.0
        f_owed[:] = 0.0
        end = min(n_paths, (ci + 1) * chunk)
        for b0 in range(ci * chunk, end, batch):
            n = min(batch, end - b0)
            for g0 in range(0, n, GROUP):
                ng = min(GROUP, n - g0)
                # paths.simulate_group, with each scenario folded in before the next one
                # overwrites its owed tonnes: one scenario's stay in the core's own cache,
                # all of them do not
                supply_stages(pk, w, k0, k1, path0 + b0 + g0, ng, reg)
                for s in range(S):
                    allocate_and_build(pk, w, s, ng, us, owed, 0, c_exh)
                    accumulate_group(
                        inv_floor_t, owed, reg, ng, s, f_owed, c_reg, h_peak_owed, peak
                    )
                    accumulate_units_group(
                        tol, inv_floor_units, us, ng, s, f_us, c_behind, h_peak_us, codes, g0, peak
                    )
            count_units(codes, n, h_us)
