"""One block of paths, in parallel: sample each path, fold it into partial statistics.

Paths are grouped in fixed chunks of ``chunk`` consecutive path indices (chunk
boundaries are absolute, so the engine's block size does not move them). Thread
``lane`` takes chunks lane, lane + n_lanes, ...; each chunk's float sums go to its own
row of ``out_f_*``, integer statistics to the lane's own row of ``out_c_*``/``out_h_*``.
"""

from __future__ import annotations

from .._jit import jit_noalias, pjit, prange
from .paths import GROUP, allocate_and_build, fill_fixed, supply_stages, work_of
from .reduce import accumulate_group, accumulate_units_group, count_units


@pjit
def simulate_block(
    pk,
    work,
    traj,
    k0,
    k1,
    path0,
    n_paths,
    chunk,
    n_lanes,
    out_f_us,
    out_f_owed,
    out_c_behind,
    out_c_exh,
    out_c_reg,
    out_h_us,
    out_h_peak_us,
    out_h_peak_owed,
):
    """Simulate paths ``path0 .. path0 + n_paths - 1`` and fold them in.

    pk : packed tuple; work, traj : per-lane scratch (``paths.make_work``, engine; traj[0]
    holds a batch of paths' monthly sketch buckets of units behind side by side,
    uint16[n_lanes, S, P, T, batch], batch dividing ``chunk``; for a group, one
    scenario's owed tonnes, traj[1] [n_lanes, 1, T * P * M, GROUP], and units behind,
    traj[2] [n_lanes, 1, P * T, GROUP]; traj[3] the group's regimes, [n_lanes, GROUP, S, T]
    (see ``paths.simulate_group``); traj[4] float64[n_lanes, >= P * M, GROUP] scratch);
    k0, k1 : uint64 seed key; path0 : a multiple of ``chunk``.
    out_f_us : float64[n_chunks, 2, S, P * T], out_f_owed : float64[n_chunks, 2, S, T * P * M]
    (sums and sums of squares; zeroed here, one row per chunk); out_c_* and out_h_* : [n_lanes, ...] integer
    accumulators, added to (not zeroed); out_h_us may be uint16, so a block must hold
    fewer than 65,536 paths.

    No two arrays passed in may share memory (see :func:`simulate_lane`).
    """
    for lane in prange(n_lanes):
        simulate_lane(
            pk,
            work,
            traj,
            k0,
            k1,
            path0,
            n_paths,
            chunk,
            n_lanes,
            lane,
            out_f_us,
            out_f_owed,
            out_c_behind,
            out_c_exh,
            out_c_reg,
            out_h_us,
            out_h_peak_us,
            out_h_peak_owed,
        )


@jit_noalias
def simulate_lane(
    pk,
    work,
    traj,
    k0,
    k1,
    path0,
    n_paths,
    chunk,
    n_lanes,
    lane,
    out_f_us,
    out_f_owed,
    out_c_behind,
    out_c_exh,
    out_c_reg,
    out_h_us,
    out_h_peak_us,
    out_h_peak_owed,
):
    """Thread ``lane``'s share of :func:`simulate_block`: chunks lane, lane + n_lanes, ...

    A function of its own, called once per block and thread, so that it can be compiled
    with its array arguments marked as not sharing memory: LLVM may then keep values in
    registers across stores and vectorise the loops over a group of paths.
    """
    sk = pk[11]
    inv_floor_units = 1.0 / sk[0]
    inv_floor_t = 1.0 / sk[1]
    tol = sk[2]
    n_chunks = (n_paths + chunk - 1) // chunk
    w = work_of(work, lane)
    fill_fixed(pk, w)
    codes, owed, us, reg, peak = (
        traj[0][lane],
        traj[1][lane],
        traj[2][lane],
        traj[3][lane],
        traj[4][lane],
    )
    batch = codes.shape[3]
    S = codes.shape[0]
    # this lane's accumulators, sliced once (a view costs an atomic refcount update)
    c_behind, c_exh, c_reg = out_c_behind[lane], out_c_exh[lane], out_c_reg[lane]
    h_us, h_peak_us, h_peak_owed = out_h_us[lane], out_h_peak_us[lane], out_h_peak_owed[lane]
    for ci in range(lane, n_chunks, n_lanes):
        f_us = out_f_us[ci]
        f_owed = out_f_owed[ci]
        f_us[:] = 0.0
        f_owed[:] = 0.0
        end = min(n_paths, (ci + 1) * chunk)
        for b0 in range(ci * chunk, end, batch):
            n = min(batch, end - b0)
            for g0 in range(0, n, GROUP):
                ng = min(GROUP, n - g0)
                # paths.simulate_group, with each scenario folded in before the next one
                # overwrites its owed tonnes: one scenario's (0.3 MB for 32 paths of
                # base.toml, 0.7 MB for 64) stay in the core's own cache, all six (2 MB
                # for 32) did not
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
