"""The path sampler: regimes, events, licences, supply, stocks, allocation, builds.

One call of :func:`simulate_group` turns (packed parameters, seed key, a group of path
indices) into those paths' monthly trajectories in every scenario. Each path's own
uniforms are drawn first (its stream 0), each month's as the months are run (stream
month + 1), and every scenario runs on the same uniforms: common random numbers, and
the random numbers are drawn once per path rather than once per scenario. The paths
of a group go side by side: every step is a loop over the group, which the compiler
turns into vector instructions, and each path's arithmetic is the same as alone.

The month-by-month rules are specified in ``docs/model.md``; section numbers below
refer to it. Everything here is plain arrays and scalars, and runs as plain Python
under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit
from . import layout as L
from .rng import FIXED, fill_uniforms, transform

IDLE, PENDING, LIVE = 0, 1, 2
#: paths that go through the China stage and through stocks, allocation and builds side
#: by side: the month loops of those stages then run over a group of paths innermost,
#: and LLVM turns those loops into vector instructions (each path's arithmetic is
#: unchanged; the China stage's per-path decisions are selections, not branches). It
#: vectorises them 8 doubles wide and up to 4 deep on AVX-512, so the vector code runs
#: only for groups of 32 or more. Interleaved A/B: 32 paths ran 9% faster than 8; with
#: the tonnes owed stored side by side (allocate_and_build), 32 paths took 1.133 times
#: as long as 64 on one thread and 1.099 on two, and 128 paths 1.074 and 1.047; with
#: the units behind folded per group too, 1.068 and 1.201 on one thread (11 rounds).
#: The block kernel is compiled with its arrays marked as not overlapping
#: (block.simulate_lane), without which LLVM keeps more values in memory. The stock
#: allocation loop (3.7) keeps its branches: LLVM vectorises it as it is (masked), and
#: written without branches it ran 7% slower.
GROUP = 64
EXHAUSTED_T = 1e-9  # stocks at or below this many tonnes count as run out


def make_work(pk, n_lanes=1):
    """Scratch arrays for ``n_lanes`` threads; ``work_of(w, lane)`` gives one lane's tuple,
    which :func:`simulate_group` fills.

    Each array has a leading lane axis, and lanes sit at least 128 bytes apart: small
    per-lane arrays (stocks, flags) written every month would otherwise share cache
    lines between threads, and that false sharing stopped two threads from running any
    faster than one (measured on the path sampler alone).
    """
    arrays, pads = [], []
    for shape, dtype in _work_shapes(pk):
        pad = _lane_pad(shape, dtype)
        arrays.append(np.zeros((n_lanes * pad,) + shape, dtype))
        pads.append(pad)
    return tuple(arrays) + (np.asarray(pads, dtype=np.int64),)


def work_bytes(pk, n_lanes=1):
    """Bytes of :func:`make_work`'s arrays for ``n_lanes`` threads, without making them."""
    return sum(
        n_lanes * _lane_pad(shape, dtype) * int(np.prod(shape)) * np.dtype(dtype).itemsize
        for shape, dtype in _work_shapes(pk)
    )


def _lane_pad(shape, dtype):
    """Lane slots per lane: at least 128 bytes between lanes."""
    lane_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return 1 + -(-128 // lane_bytes)


def _work_shapes(pk):
    """One lane's scratch arrays: (shape, dtype) in the order work_of returns them."""
    dims = pk[0]
    S, T = int(dims[L.D_S]), int(dims[L.D_T])
    M, C, K = int(dims[L.D_M]), int(dims[L.D_C]), int(dims[L.D_K])
    P, E = int(dims[L.D_P]), int(dims[L.D_E])
    n_theta = pk[3].shape[1]
    n_um = L.month_slots(E, M, C)[3]
    n_up = int(dims[L.D_NPS]) + 1 + K
    G = GROUP
    shapes = (
        # -- a group of GROUP paths side by side (last axis: the path in the group)
        ((S, n_theta, G), np.float64),  # 0 thg: each path's parameter values
        ((max(n_up, 1), 1), np.float64),  # 1 u_path: the path's own uniforms (one column)
        ((n_um, G), np.float64),  # 2 u_month: one month's uniforms
        ((S, max(K, 1), G), np.bool_),  # 3 qualified
        ((S, G), np.bool_),  # 4 waived
        ((S, 3, max(E, 1), G), np.int64),  # 5 events: deadline, extensions used, done
        ((S, 2, M * C, G), np.int64),  # 6 licences: state, month (decision or expiry)
        ((S, 3, G), np.int64),  # 7 regime, transition matrix, conceded
        # -- one path
        ((S, max(K, 1), T), np.float64),  # 8 each other source's deliveries, t/month
        # -- a group again
        ((S, 3, P * M, G), np.float64),  # 9 per unit: t of material, its inverse; t/month scheduled
        ((S, 2, P, G), np.float64),  # 10 rate (units/month), most units a month can build
        ((S, 5, M, G), np.float64),  # 11 buffer, stockpile, buffer cap, release lag, rate
        ((3, M, G), np.float64),  # 12 buffer, stockpile, the month's supply
        ((M, G), np.int64),  # 13 first buffer-shortage month
        ((M, G), np.bool_),  # 14 stocks exhausted ever
        ((5, P * M, G), np.float64),  # 15 wip, requirement, allocation to date, need, allocated
        ((3, P, G), np.float64),  # 16 scheduled, built, want
        ((4, M, G), np.float64),  # 17 the month's demand, DX demand, DX share, DO share
        ((G,), np.float64),  # 18 units built this month
        ((S, M, T, G), np.float64),  # 19 the month's supply of each material, t
    )
    return shapes


@jit(inline="always")
def work_of(w, lane):
    """One lane's scratch tuple out of :func:`make_work`'s arrays."""
    pad = w[20]
    return (
        w[0][lane * pad[0]],
        w[1][lane * pad[1]],
        w[2][lane * pad[2]],
        w[3][lane * pad[3]],
        w[4][lane * pad[4]],
        w[5][lane * pad[5]],
        w[6][lane * pad[6]],
        w[7][lane * pad[7]],
        w[8][lane * pad[8]],
        w[9][lane * pad[9]],
        w[10][lane * pad[10]],
        w[11][lane * pad[11]],
        w[12][lane * pad[12]],
        w[13][lane * pad[13]],
        w[14][lane * pad[14]],
        w[15][lane * pad[15]],
        w[16][lane * pad[16]],
        w[17][lane * pad[17]],
        w[18][lane * pad[18]],
        w[19][lane * pad[19]],
    )


@jit(inline="always")
def fill_fixed(pk, work):
    """Write the parameters that are the same on every path (point values) into every
    column of work[0], once per thread: :func:`draw_path` then writes only the drawn
    ones (in ``base.toml`` most of the 291 per scenario are point values)."""
    th_fixed, th_code, thg = pk[3], pk[4], work[0]
    for s in range(th_fixed.shape[0]):
        for k in range(th_fixed.shape[1]):
            if th_code[s, k] == FIXED:
                for g in range(thg.shape[2]):
                    thg[s, k, g] = th_fixed[s, k]


@jit(inline="always")
def draw_path(pk, work, k0, k1, path, g):
    """Draw path ``path``'s own uniforms and per-path parameters into ``work``, as the
    ``g``-th path of its group (work[0], work[3], work[4]); the parameters that are point
    values are there already (:func:`fill_fixed`). Its monthly uniforms are drawn a month
    at a time, for the whole group, by :func:`china_stage`."""
    (
        dims,
        off_f,
        off_i,
        th_fixed,
        th_code,
        th_args,
        th_table,
        th_slot,
        tables,
        struct,
        cum_trans,
        sketch,
        th_same,
    ) = pk
    thg, u_path, qualified, waived = work[0], work[1], work[3], work[4]
    S, K = dims[L.D_S], dims[L.D_K]
    nps = dims[L.D_NPS]
    fill_uniforms(u_path, nps + 1 + K, L.STREAM_PATH, path, 1, k0, k1)
    for s in range(S):
        for k in range(th_fixed.shape[1]):
            code = th_code[s, k]
            same = th_same[s, k]  # -1 where fixed (Packed.th_same)
            if same >= 0:  # drawn as an earlier scenario draws it: the same value
                thg[s, k, g] = thg[same, k, g]
            elif code != FIXED:
                thg[s, k, g] = transform(
                    code,
                    th_args[s, k, 0],
                    th_args[s, k, 1],
                    th_args[s, k, 2],
                    tables,
                    max(th_table[s, k], 0),
                    u_path[th_slot[s, k], 0],
                )
        waived[s, g] = u_path[nps, 0] < thg[s, off_f[L.F_P_WAIVER], g]
        for q in range(K):
            qualified[s, q, g] = u_path[nps + 1 + q, 0] < thg[s, off_f[L.F_SRC_P_QUAL] + q, g]


@jit(inline="always")
def draw_month(work, k0, k1, path0, n, t):
    """Month ``t``'s uniforms of paths ``path0 .. path0 + n - 1`` into work[2], float64[n_um, G]:
    a draw's paths side by side. Slots: regime step, events (2 each), concession,
    licences (3 per material and channel); layout.month_slots."""
    u_month = work[2]
    fill_uniforms(u_month, u_month.shape[0], t + 1, path0, n, k0, k1)


@jit(inline="always")
def _round_half_up(x):
    return int(math.floor(x + 0.5))


@jit(inline="always")
def china_stage(pk, work, k0, k1, path0, n, out_reg):
    """Sections 3.1-3.4 of every scenario for paths ``path0 .. path0 + n - 1`` (the
    first ``n`` of the group, whose parameters :func:`draw_path` drew): regimes, events,
    the linkage and the licences.

    Writes work[19][s, m, t, g]: each month's recycling plus licensed imports from China
    (tonnes; :func:`other_supply` adds the other sources later), and out_reg[g, s, t],
    int64[>= n, S, T]: the month's regime.

    Month by month, each month's uniforms drawn for the group and then used by every
    scenario, with the group's paths side by side: each step is a loop over paths that
    runs as vector code, every path's decisions taken by selection rather than by
    branching (each path's arithmetic and comparisons are the same as alone). A scenario
    that shares this stage with an earlier one (its twin, found by ``pack``: the same
    blocks, so on the same random numbers the same result) copies the twin's result.
    """
    (
        dims,
        off_f,
        off_i,
        th_fixed,
        th_code,
        th_args,
        th_table,
        th_slot,
        tables,
        struct,
        cum_trans,
        sketch,
        th_same,
    ) = pk
    thg, ev, lic, state, supply = work[0], work[5], work[6], work[7], work[19]
    C, M = dims[L.D_C], dims[L.D_M]
    E, T, S = dims[L.D_E], dims[L.D_T], dims[L.D_S]
    i_twin = off_i[L.I_TWIN_CHINA]

    # -- 2. state at the start of the path
    for s in range(S):
        if struct[s, i_twin] >= 0:
            continue
        r0 = struct[s, off_i[L.I_INITIAL]]
        conceded0 = 1 if struct[s, off_i[L.I_CONCEDED0]] != 0 else 0
        for g in range(n):
            state[s, 0, g] = r0
            state[s, 1, g] = 0
            state[s, 2, g] = conceded0
        for e in range(E):
            month = struct[s, off_i[L.I_EV_MONTH] + e]
            for g in range(n):
                ev[s, 0, e, g] = month
                ev[s, 1, e, g] = 0
                ev[s, 2, e, g] = 0
        for idx in range(M * C):
            f_live0 = off_f[L.F_LIVE0] + idx
            for g in range(n):
                live0 = _round_half_up(thg[s, f_live0, g])
                lic[s, 0, idx, g] = LIVE if live0 >= 1 else IDLE
                lic[s, 1, idx, g] = live0 if live0 >= 1 else 0

    for t in range(T):
        draw_month(work, k0, k1, path0, n, t)
        for s in range(S):
            if struct[s, i_twin] < 0:
                china_month(pk, work, s, t, n, out_reg)

    for s in range(S):
        twin = struct[s, i_twin]
        if twin >= 0:
            for g in range(n):
                for t in range(T):
                    out_reg[g, s, t] = out_reg[g, twin, t]
            for m in range(M):
                for t in range(T):
                    for g in range(n):
                        supply[s, m, t, g] = supply[twin, m, t, g]


@jit(inline="always")
def china_month(pk, work, s, t, n, out_reg):
    """Month ``t`` of sections 3.1-3.4 in scenario ``s`` for the group's first ``n``
    paths (see :func:`china_stage`)."""
    (
        dims,
        off_f,
        off_i,
        th_fixed,
        th_code,
        th_args,
        th_table,
        th_slot,
        tables,
        struct,
        cum_trans,
        sketch,
        th_same,
    ) = pk
    thg, u, waived, ev, lic, state, supply = (
        work[0],
        work[2],
        work[4],
        work[5],
        work[6],
        work[7],
        work[19],
    )
    R, C, M, E = dims[L.D_R], dims[L.D_C], dims[L.D_M], dims[L.D_E]
    # the month's uniforms: regime step, events (2 each), concession, licences (3 each);
    # the same offsets as layout.month_slots
    u_ev = 1
    u_conc = 1 + 2 * E
    u_lic = u_conc + 1
    f_flow, f_lag, f_term = off_f[L.F_FLOW], off_f[L.F_LAG], off_f[L.F_TERM]
    f_pa, f_pac, f_prv = off_f[L.F_P_APPROVE], off_f[L.F_P_APPROVE_CONC], off_f[L.F_P_REVOKE]
    i_talks, i_open = off_i[L.I_TALKS], off_i[L.I_CH_OPEN]

    # -- 3.1 regime: the first row entry the uniform falls below (rows are cumulative,
    # so the number of entries at or below it)
    if t > 0:
        for g in range(n):
            r0, mi, x = state[s, 0, g], state[s, 1, g], u[0, g]
            r = 0
            for q in range(R - 1):
                r += 1 if x >= cum_trans[s, mi, r0, q] else 0
            state[s, 0, g] = r
    # -- 3.2 events
    for e in range(E):
        max_ext = struct[s, off_i[L.I_EV_MAX_EXT] + e]
        jump = struct[s, off_i[L.I_EV_JUMP] + e]
        mat = struct[s, off_i[L.I_EV_MATRIX] + e]
        f_ext, f_months = off_f[L.F_EV_P_EXTEND] + e, off_f[L.F_EV_EXTEND_MONTHS] + e
        f_fire = off_f[L.F_EV_P_FIRE] + e
        for g in range(n):
            due = (ev[s, 2, e, g] == 0) & (ev[s, 0, e, g] == t)
            extend = due & (ev[s, 1, e, g] < max_ext) & (u[u_ev + 2 * e, g] < thg[s, f_ext, g])
            lapse = due & (not extend)
            fire = lapse & (u[u_ev + 2 * e + 1, g] < thg[s, f_fire, g])
            step = max(1, _round_half_up(thg[s, f_months, g]))
            ev[s, 0, e, g] += step if extend else 0
            ev[s, 1, e, g] += 1 if extend else 0
            ev[s, 2, e, g] = 1 if lapse else ev[s, 2, e, g]
            state[s, 0, g] = jump if fire & (jump >= 0) else state[s, 0, g]
            state[s, 1, g] = mat if fire & (mat >= 0) else state[s, 1, g]
    # -- 3.3 linkage
    f_conc = off_f[L.F_P_CONCESSION]
    for g in range(n):
        talks = struct[s, i_talks + state[s, 0, g]] != 0
        offer = talks & (u[u_conc, g] < thg[s, f_conc, g])
        state[s, 2, g] = 1 if offer else state[s, 2, g]
    # -- 3.4 licences, plus recycling (the first part of 3.5)
    opens_fast = struct[s, off_i[L.I_OPENS_FAST]] != 0
    dfars_now = t >= struct[s, off_i[L.I_DFARS_MONTH]]
    for m in range(M):
        f_recycling = off_f[L.F_RECYCLING] + m
        f_leak = off_f[L.F_LEAKAGE] + m
        dfars = dfars_now & (struct[s, off_i[L.I_DFARS_APPLIES] + m] != 0)
        fast_track = struct[s, off_i[L.I_FAST_TRACK] + m] != 0
        for g in range(n):
            supply[s, m, t, g] = thg[s, f_recycling, g]
        for c in range(C):
            idx = m * C + c
            ur = u_lic + 3 * idx
            always_open = (struct[s, off_i[L.I_CH_FAST] + c] == 0) | fast_track
            for g in range(n):
                r = state[s, 0, g]
                conceded = state[s, 2, g] != 0
                st = lic[s, 0, idx, g]
                month = lic[s, 1, idx, g]
                # a live licence ends at expiry, or is revoked
                ends = (st == LIVE) & ((month <= t) | (u[ur, g] < thg[s, f_prv + idx * R + r, g]))
                st = IDLE if ends else st
                # a pending application is decided
                decided = (st == PENDING) & (month <= t)
                p_ok = thg[s, (f_pac if conceded else f_pa) + idx * R + r, g]
                approved = decided & (u[ur + 1, g] < p_ok)
                st = LIVE if approved else (IDLE if decided else st)
                term = t + max(1, _round_half_up(thg[s, f_term + idx, g]))
                month = term if approved else month
                # with no licence, apply again: the decision comes after the lag
                lag = thg[s, f_lag + idx, g]
                whole = math.floor(lag)
                lag_n = int(whole) + (1 if u[ur + 2, g] < lag - whole else 0)
                applies = st == IDLE
                month = t + max(1, lag_n) if applies else month
                st = PENDING if applies else st
                lic[s, 0, idx, g] = st
                lic[s, 1, idx, g] = month
                # imports under a live licence, unless DFARS bars China (and no waiver)
                flows = (st == LIVE) & ((not dfars) | waived[s, g])
                is_open = (
                    always_open | (struct[s, i_open + c * R + r] != 0) | (conceded & opens_fast)
                )
                flow = thg[s, f_flow + idx, g]
                add = flow if is_open else flow * thg[s, f_leak, g]
                v = supply[s, m, t, g]
                supply[s, m, t, g] = v + add if flows else v
    for g in range(n):
        out_reg[g, s, t] = state[s, 0, g]


@jit(inline="always")
def other_supply(pk, work, s, g):
    """Section 3.5 of scenario ``s`` on the ``g``-th path of the group: what each
    non-Chinese source delivers.

    Writes work[8][s], float64[S, K, T], in tonnes a month.
    """
    (
        dims,
        off_f,
        off_i,
        th_fixed,
        th_code,
        th_args,
        th_table,
        th_slot,
        tables,
        struct,
        cum_trans,
        sketch,
        th_same,
    ) = pk
    thg, qualified, src = work[0], work[3], work[8]
    K, T = dims[L.D_K], dims[L.D_T]
    for k in range(K):
        output = (
            thg[s, off_f[L.F_SRC_CAPACITY] + k, g]
            / 12.0
            * thg[s, off_f[L.F_SRC_YIELD] + k, g]
            * thg[s, off_f[L.F_SRC_SHARE] + k, g]
        )
        first = (
            struct[s, off_i[L.I_SRC_START] + k]
            + thg[s, off_f[L.F_SRC_SLIP] + k, g]
            + thg[s, off_f[L.F_SRC_QUAL_MONTHS] + k, g]
        )
        ramp_months = thg[s, off_f[L.F_SRC_RAMP] + k, g]
        inv_ramp = 1.0 / ramp_months if ramp_months > 0.0 else -1.0
        for t in range(T):
            if qualified[s, k, g] and t >= first:
                ramp = 1.0 if inv_ramp < 0.0 else min(1.0, (t - first + 1.0) * inv_ramp)
                src[s, k, t] = output * ramp
            else:
                src[s, k, t] = 0.0


@jit(inline="always")
def store_parameters(pk, work, s, g):
    """The parameters of scenario ``s`` that stocks, allocation and builds read, for the
    ``g``-th path of the group (work[9], work[10], work[11]).

    Per-path constants, computed once: the month loop then multiplies instead of
    dividing (a division costs about ten multiplications, and numba may not turn
    x / 1000 into x * 0.001 without fastmath).
    """
    dims, off_f, thg = pk[0], pk[1], work[0]
    par_pm, par_p, par_m = work[9], work[10], work[11]
    M, P = dims[L.D_M], dims[L.D_P]
    f_kg, f_upy, f_cu = off_f[L.F_KG], off_f[L.F_UNITS_PER_YEAR], off_f[L.F_CATCH_UP]
    for p in range(P):
        rate = thg[s, f_upy + p, g] / 12.0
        par_p[s, 0, p, g] = rate
        par_p[s, 1, p, g] = rate * (1.0 + thg[s, f_cu + p, g])
        for m in range(M):
            j = p * M + m
            kg = thg[s, f_kg + j, g] / 1000.0
            par_pm[s, 0, j, g] = kg
            par_pm[s, 1, j, g] = 1.0 / kg if kg > 0.0 else 0.0
            par_pm[s, 2, j, g] = rate * kg
    for m in range(M):
        par_m[s, 0, m, g] = thg[s, off_f[L.F_BUFFER0] + m, g]
        par_m[s, 1, m, g] = thg[s, off_f[L.F_STOCK0] + m, g]
        par_m[s, 2, m, g] = thg[s, off_f[L.F_BUFFER_CAP] + m, g]
        par_m[s, 3, m, g] = thg[s, off_f[L.F_RELEASE_LAG] + m, g]
        par_m[s, 4, m, g] = thg[s, off_f[L.F_RELEASE_RATE] + m, g]


@jit(inline="always")
def _no_kg(th_code, th_fixed, s, k):
    """Whether kg per unit ``k`` of scenario ``s`` is a point value of zero: a
    programme-material pair that uses none of the material, where nothing is wanted,
    owed or allocated, so that the month loop skips it (its tonnes owed are 0)."""
    return th_code[s, k] == FIXED and th_fixed[s, k] == 0.0


@jit(inline="always")
def allocate_and_build(pk, work, s, n, out_us, out_owed, slot, out_exh):
    """Sections 3.5 (the month's supply) to 3.9 of scenario ``s`` for the first ``n``
    paths of the group, from what :func:`china_stage`, :func:`other_supply` and
    :func:`store_parameters` wrote: stocks, demand, allocation and builds.

    Writes, for each path g < n of the group, out_us[slot, :, g] and out_owed[slot, :, g]
    (see :func:`simulate_group`; ``slot`` is ``s`` there, and 0 where the engine folds
    each scenario in before the next overwrites it), and adds to out_exh[s, m, t] the
    number of the group's paths whose stocks of material m have run out by month t.
    The paths share nothing; they go through the months side by side, each path's
    arithmetic as if it were alone, the innermost loops running over paths (see GROUP).
    """
    (
        dims,
        off_f,
        off_i,
        th_fixed,
        th_code,
        th_args,
        th_table,
        th_slot,
        tables,
        struct,
        cum_trans,
        sketch,
        th_same,
    ) = pk
    supply, par_pm, par_p, par_m = work[19], work[9], work[10], work[11]
    stocks, first_short, exh_ever, pm, prog, per_m, built = (
        work[12],
        work[13],
        work[14],
        work[15],
        work[16],
        work[17],
        work[18],
    )
    M, P, T = dims[L.D_M], dims[L.D_P], dims[L.D_T]
    i_prio, i_ps, i_pe = off_i[L.I_PRIORITY], off_i[L.I_PROG_START], off_i[L.I_PROG_END]
    f_kg = off_f[L.F_KG]
    PM = P * M

    for m in range(M):
        for g in range(n):
            stocks[0, m, g] = par_m[s, 0, m, g]
            stocks[1, m, g] = par_m[s, 1, m, g]
            first_short[m, g] = -1
            exh_ever[m, g] = False
    for p in range(P):
        for g in range(n):
            prog[0, p, g] = 0.0
            prog[1, p, g] = 0.0
    for j in range(PM):
        for g in range(n):
            pm[0, j, g] = 0.0
            pm[1, j, g] = 0.0
            pm[2, j, g] = 0.0

    for t in range(T):
        # -- 3.5 the month's supply (see supply_stages)
        for m in range(M):
            for g in range(n):
                stocks[2, m, g] = supply[s, m, t, g]
        # -- 3.6 demand, summed per material in programme order (all and DX only)
        for m in range(M):
            for g in range(n):
                per_m[0, m, g] = 0.0
                per_m[1, m, g] = 0.0
        for p in range(P):
            if struct[s, i_ps + p] <= t <= struct[s, i_pe + p]:
                for g in range(n):
                    prog[0, p, g] += par_p[s, 0, p, g]
                for m in range(M):
                    if _no_kg(th_code, th_fixed, s, f_kg + p * M + m):
                        continue
                    for g in range(n):
                        pm[1, p * M + m, g] += par_pm[s, 2, p * M + m, g]
            for g in range(n):
                prog[2, p, g] = max(0.0, min(prog[0, p, g] - prog[1, p, g], par_p[s, 1, p, g]))
            is_dx = struct[s, i_prio + p] == 0
            for m in range(M):
                j = p * M + m
                if _no_kg(th_code, th_fixed, s, f_kg + j):
                    continue  # unused: nothing wanted, so nothing owed or allocated
                for g in range(n):
                    d = max(0.0, prog[2, p, g] * par_pm[s, 0, j, g] - pm[0, j, g])
                    pm[3, j, g] = d
                    per_m[0, m, g] += d
                if is_dx:
                    for g in range(n):
                        per_m[1, m, g] += pm[3, j, g]
        # -- 3.7 allocation and stocks
        for m in range(M):
            rule = struct[s, off_i[L.I_RELEASE_RULE] + m]
            release_month = struct[s, off_i[L.I_RELEASE_MONTH] + m]
            exhausted = 0
            for g in range(n):
                demand = per_m[0, m, g]
                avail = stocks[2, m, g]
                buffer = stocks[0, m, g]
                stockpile = stocks[1, m, g]
                if avail >= demand:
                    cap = par_m[s, 2, m, g]
                    if buffer < cap:
                        buffer = min(cap, buffer + avail - demand)
                    avail = demand
                else:
                    gap = demand - avail
                    draw = min(buffer, gap)
                    buffer -= draw
                    gap -= draw
                    avail += draw
                    if gap > 0.0:
                        if first_short[m, g] < 0:
                            first_short[m, g] = t
                        if rule == L.RELEASE_ON_SHORTFALL:
                            authorised = t >= first_short[m, g] + par_m[s, 3, m, g]
                        elif rule == L.RELEASE_FROM_DATE:
                            authorised = t >= release_month
                        else:
                            authorised = False
                        if authorised:
                            draw = min(stockpile, par_m[s, 4, m, g], gap)
                            stockpile -= draw
                            avail += draw
                stocks[0, m, g] = buffer
                stocks[1, m, g] = stockpile
                # DPAS: DX first, then DO; pro rata within a class
                dx = per_m[1, m, g]
                do = demand - dx
                if dx <= avail:
                    share_dx = 1.0
                    left = avail - dx
                    share_do = 1.0 if do <= left else left / do
                else:
                    share_dx = avail / dx
                    share_do = 0.0
                per_m[2, m, g] = share_dx
                per_m[3, m, g] = share_do
                if buffer + stockpile <= EXHAUSTED_T:
                    exh_ever[m, g] = True
                exhausted += exh_ever[m, g]
            out_exh[s, m, t] += exhausted
        # -- 3.8 build (Leontief) and 3.9 record
        for p in range(P):
            share = 2 if struct[s, i_prio + p] == 0 else 3
            for g in range(n):
                built[g] = prog[2, p, g]
            for m in range(M):
                j = p * M + m
                if _no_kg(th_code, th_fixed, s, f_kg + j):
                    continue
                for g in range(n):
                    a = pm[3, j, g] * per_m[share, m, g]
                    pm[4, j, g] = a
                    if par_pm[s, 0, j, g] > 0.0:
                        built[g] = min(built[g], (pm[0, j, g] + a) * par_pm[s, 1, j, g])
            for g in range(n):
                prog[1, p, g] += built[g]
            for m in range(M):
                j = p * M + m
                if _no_kg(th_code, th_fixed, s, f_kg + j):
                    for g in range(n):
                        out_owed[slot, t * PM + j, g] = 0.0
                    continue
                for g in range(n):
                    a = pm[4, j, g]
                    pm[0, j, g] = max(0.0, pm[0, j, g] + a - built[g] * par_pm[s, 0, j, g])
                    pm[2, j, g] += a
                    out_owed[slot, t * PM + j, g] = max(0.0, pm[1, j, g] - pm[2, j, g])
            for g in range(n):
                out_us[slot, p * T + t, g] = max(0.0, prog[0, p, g] - prog[1, p, g])


@jit(inline="always")
def supply_stages(pk, work, k0, k1, path0, n, out_reg):
    """Draw paths ``path0 .. path0 + n - 1`` into ``work`` (which :func:`fill_fixed` has
    prepared) as the first ``n`` of a group and run their supply stages in every scenario: work[19][s, m, t, g] becomes the
    month's supply of each material (3.1-3.5), and the parameters the rest of the month
    loop reads are stored (:func:`store_parameters`).

    A scenario that changes nothing upstream of a supply stage shares that stage with an
    earlier scenario (its *twin*, found by ``pack``): on the same path's random numbers
    the stage's result is the same, so it is copied, not recomputed.
    """
    for g in range(n):
        draw_path(pk, work, k0, k1, path0 + g, g)
    china_stage(pk, work, k0, k1, path0, n, out_reg)
    dims, off_i, struct = pk[0], pk[2], pk[9]
    K, T = dims[L.D_K], dims[L.D_T]
    src, supply = work[8], work[19]
    i_src_mat = off_i[L.I_SRC_MATERIAL]
    for g in range(n):
        for s in range(dims[L.D_S]):
            twin = struct[s, off_i[L.I_TWIN_SOURCES]]
            if twin < 0:
                other_supply(pk, work, s, g)
            else:
                for k in range(K):
                    for t in range(T):
                        src[s, k, t] = src[twin, k, t]
            # 3.5 the month's supply: recycling and China (china_stage), then the other
            # sources in order. Only this sum goes to the grouped stage: the per-source
            # deliveries stay per path, which keeps a thread's scratch within its
            # core's cache
            for k in range(K):
                mk = struct[s, i_src_mat + k]
                for t in range(T):
                    supply[s, mk, t, g] += src[s, k, t]
            store_parameters(pk, work, s, g)


@jit(inline="always")
def simulate_group(pk, work, k0, k1, path0, n, out_us, out_owed, out_exh, out_reg):
    """All scenarios of paths ``path0 .. path0 + n - 1`` (n <= GROUP), side by side.

    pk : the packed tuple (``Packed.as_tuple()``); work : from :func:`make_work`;
    k0, k1 : uint64 seed key.
    Writes, in place, for the g-th path of the group:
    out_us : float64[S, P * T, >= n] units behind schedule at the end of each month, at
    [s, p * T + t, g]: the group's paths side by side (reduce.accumulate_units_group
    folds them);
    out_owed : float64[S, T * P * M, >= n] material owed (requirement minus allocation
    to date), t, at [s, (t * P + p) * M + m, g]: the group's paths side by side, so that
    the month loop writes them as vector stores (written path by path, a path's
    months contiguous, they were scattered stores: a quarter of the month loop's time)
    and reduce.accumulate_group folds them for the whole group;
    out_exh : int64[S, M, T], added to: the group's paths whose stocks have run out at
    least once by the end of the month (for one path, its flags);
    out_reg : int64[>= n, S, T] the month's regime.

    Arrays are indexed in full (``thg[s, k, g]``), never sliced into local views: a view
    costs an atomic reference-count update, and with several threads those updates on
    the same arrays made two threads no faster than one (measured).
    """
    fill_fixed(pk, work)
    supply_stages(pk, work, k0, k1, path0, n, out_reg)
    for s in range(pk[0][L.D_S]):
        allocate_and_build(pk, work, s, n, out_us, out_owed, s, out_exh)
