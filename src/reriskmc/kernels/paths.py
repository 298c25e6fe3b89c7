"""The path sampler: regimes, events, licences, supply, stocks, allocation, builds.

One call of :func:`simulate_path` turns (packed parameters, seed key, path index) into
that path's monthly trajectories in every scenario. It draws all of the path's
uniforms first (its own stream, then one stream per month) and then runs each scenario
on the same uniforms: common random numbers, and the random numbers are drawn once per
path rather than once per scenario.

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
#: paths that go through stocks, allocation and builds side by side: the month loop of
#: that stage then runs over a group of paths innermost, and LLVM turns those loops
#: into vector instructions (each path's arithmetic is unchanged). It vectorises them
#: 8 doubles wide and 4 deep on AVX-512, so the vector code runs only for groups of 32
#: or more: 32 paths ran 9% faster than 8 (interleaved A/B), and the per-group scratch
#: still fits a core's cache (see supply_for_path). The block kernel is compiled with
#: its arrays marked as not overlapping (block.simulate_lane), without which LLVM keeps
#: more values in memory. The stock allocation loop (3.7) keeps its branches: written
#: without them it ran no faster (not checked: whether that version vectorised).
GROUP = 32
EXHAUSTED_T = 1e-9  # stocks at or below this many tonnes count as run out


def make_work(pk, n_lanes=1):
    """Scratch arrays for ``n_lanes`` threads; ``work_of(w, lane)`` gives one lane's tuple,
    which :func:`simulate_group` fills.

    Each array has a leading lane axis, and lanes sit at least 128 bytes apart: small
    per-lane arrays (stocks, flags) written every month would otherwise share cache
    lines between threads, and that false sharing stopped two threads from running any
    faster than one (measured on the path sampler alone).
    """
    dims = pk[0]
    S, T = int(dims[L.D_S]), int(dims[L.D_T])
    M, C, K = int(dims[L.D_M]), int(dims[L.D_C]), int(dims[L.D_K])
    P, E = int(dims[L.D_P]), int(dims[L.D_E])
    n_theta = pk[3].shape[1]
    n_um = L.month_slots(E, M, C)[3]
    n_up = int(dims[L.D_NPS]) + 1 + K
    G = GROUP
    shapes = (
        ((S, n_theta), np.float64),        # 0 thp: the path's parameter values
        ((1, max(n_up, 1)), np.float64),   # 1 u_path (one row)
        ((T, n_um), np.float64),           # 2 u_month
        ((S, max(K, 1)), np.bool_),        # 3 qualified
        ((S,), np.bool_),                  # 4 waived
        ((3, max(E, 1)), np.int64),        # 5 events: deadline, extensions used, done
        ((2, M * C), np.int64),            # 6 licences: state, month (decision or expiry)
        ((S, M, T), np.float64),           # 7 recycling and imports from China, t/month
        ((S, max(K, 1), T), np.float64),   # 8 each other source's deliveries, t/month
        # -- a group of GROUP paths side by side (last axis: the path in the group)
        ((S, 3, P * M, G), np.float64),    # 9 per unit: t of material, its inverse; t/month scheduled
        ((S, 2, P, G), np.float64),        # 10 rate (units/month), most units a month can build
        ((S, 5, M, G), np.float64),        # 11 buffer, stockpile, buffer cap, release lag, rate
        ((3, M, G), np.float64),           # 12 buffer, stockpile, the month's supply
        ((M, G), np.int64),                # 13 first buffer-shortage month
        ((M, G), np.bool_),                # 14 stocks exhausted ever
        ((5, P * M, G), np.float64),       # 15 wip, requirement, allocation to date, need, allocated
        ((3, P, G), np.float64),           # 16 scheduled, built, want
        ((4, M, G), np.float64),           # 17 the month's demand, DX demand, DX share, DO share
        ((G,), np.float64),                # 18 units built this month
        ((S, M, T, G), np.float64),        # 19 the month's supply of each material, t
    )
    arrays, pads = [], []
    for shape, dtype in shapes:
        lane_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        pad = 1 + -(-128 // lane_bytes)  # lane slots per lane: >= 128 bytes between lanes
        arrays.append(np.zeros((n_lanes * pad,) + shape, dtype))
        pads.append(pad)
    return tuple(arrays) + (np.asarray(pads, dtype=np.int64),)


@jit(inline="always")
def work_of(w, lane):
    """One lane's scratch tuple out of :func:`make_work`'s arrays."""
    pad = w[20]
    return (w[0][lane * pad[0]], w[1][lane * pad[1]], w[2][lane * pad[2]], w[3][lane * pad[3]],
            w[4][lane * pad[4]], w[5][lane * pad[5]], w[6][lane * pad[6]], w[7][lane * pad[7]],
            w[8][lane * pad[8]], w[9][lane * pad[9]], w[10][lane * pad[10]],
            w[11][lane * pad[11]], w[12][lane * pad[12]], w[13][lane * pad[13]],
            w[14][lane * pad[14]], w[15][lane * pad[15]], w[16][lane * pad[16]],
            w[17][lane * pad[17]], w[18][lane * pad[18]], w[19][lane * pad[19]])


@jit(inline="always")
def draw_path(pk, work, k0, k1, path):
    """Draw path ``path``'s uniforms and per-path parameters into ``work``."""
    (dims, off_f, off_i, th_fixed, th_code, th_args, th_table, th_slot, tables, struct,
     cum_trans, sketch) = pk
    thp, u_path, u_month, qualified, waived = work[0], work[1], work[2], work[3], work[4]
    S, T, K = dims[L.D_S], dims[L.D_T], dims[L.D_K]
    nps = dims[L.D_NPS]
    fill_uniforms(u_path, 0, nps + 1 + K, L.STREAM_PATH, path, k0, k1)
    n_um = u_month.shape[1]
    for t in range(T):
        fill_uniforms(u_month, t, n_um, t + 1, path, k0, k1)
    for s in range(S):
        for k in range(th_fixed.shape[1]):
            code = th_code[s, k]
            if code == FIXED:
                thp[s, k] = th_fixed[s, k]
            else:
                thp[s, k] = transform(code, th_args[s, k, 0], th_args[s, k, 1], th_args[s, k, 2],
                                      tables, max(th_table[s, k], 0), u_path[0, th_slot[s, k]])
        waived[s] = u_path[0, nps] < thp[s, off_f[L.F_P_WAIVER]]
        for q in range(K):
            qualified[s, q] = u_path[0, nps + 1 + q] < thp[s, off_f[L.F_SRC_P_QUAL] + q]


@jit(inline="always")
def _round_half_up(x):
    return int(math.floor(x + 0.5))


@jit(inline="always")
def _sample_row(cum_trans, s, mi, r0, u):
    """The next regime from row ``r0`` of scenario ``s``'s matrix ``mi``."""
    n = cum_trans.shape[3]
    r = 0
    while r < n - 1 and u >= cum_trans[s, mi, r0, r]:
        r += 1
    return r


@jit(inline="always")
def china_supply(pk, work, s, g, out_reg):
    """Sections 3.1-3.4 of scenario ``s`` on the path drawn into ``work``, the ``g``-th of
    its group: regimes, events, the linkage and the licences.

    Writes work[7][s], float64[S, M, T]: each month's recycling plus licensed imports
    from China (tonnes), and out_reg[g, s, :], int64[G, S, T]: the month's regime.
    """
    (dims, off_f, off_i, th_fixed, th_code, th_args, th_table, th_slot, tables, struct,
     cum_trans, sketch) = pk
    thp, u_month, waived, ev, lic, china = work[0], work[2], work[4], work[5], work[6], work[7]
    R, C, M = dims[L.D_R], dims[L.D_C], dims[L.D_M]
    E, T = dims[L.D_E], dims[L.D_T]
    # the month's uniforms: regime step, events (2 each), concession, licences (3 each);
    # the same offsets as layout.month_slots
    u_ev = 1
    u_conc = 1 + 2 * E
    u_lic = u_conc + 1
    f_flow, f_lag, f_term = off_f[L.F_FLOW], off_f[L.F_LAG], off_f[L.F_TERM]
    f_pa, f_pac, f_prv = off_f[L.F_P_APPROVE], off_f[L.F_P_APPROVE_CONC], off_f[L.F_P_REVOKE]

    # -- 2. state at the start of the path
    r = struct[s, off_i[L.I_INITIAL]]
    mi = 0
    conceded = struct[s, off_i[L.I_CONCEDED0]] != 0
    opens_fast = struct[s, off_i[L.I_OPENS_FAST]] != 0
    for e in range(E):
        ev[0, e] = struct[s, off_i[L.I_EV_MONTH] + e]
        ev[1, e] = 0
        ev[2, e] = 0
    for idx in range(M * C):
        live0 = _round_half_up(thp[s, off_f[L.F_LIVE0] + idx])
        if live0 >= 1:
            lic[0, idx] = LIVE
            lic[1, idx] = live0
        else:
            lic[0, idx] = IDLE
            lic[1, idx] = 0
    dfars_month = struct[s, off_i[L.I_DFARS_MONTH]]
    no_waiver = not waived[s]

    for t in range(T):
        # -- 3.1 regime
        if t > 0:
            r = _sample_row(cum_trans, s, mi, r, u_month[t, 0])
        # -- 3.2 events
        for e in range(E):
            if ev[2, e] == 0 and ev[0, e] == t:
                if (ev[1, e] < struct[s, off_i[L.I_EV_MAX_EXT] + e]
                        and u_month[t, u_ev + 2 * e] < thp[s, off_f[L.F_EV_P_EXTEND] + e]):
                    ev[0, e] += max(1, _round_half_up(thp[s, off_f[L.F_EV_EXTEND_MONTHS] + e]))
                    ev[1, e] += 1
                else:
                    ev[2, e] = 1
                    if u_month[t, u_ev + 2 * e + 1] < thp[s, off_f[L.F_EV_P_FIRE] + e]:
                        jump = struct[s, off_i[L.I_EV_JUMP] + e]
                        if jump >= 0:
                            r = jump
                        mat = struct[s, off_i[L.I_EV_MATRIX] + e]
                        if mat >= 0:
                            mi = mat
        # -- 3.3 linkage
        if (not conceded and struct[s, off_i[L.I_TALKS] + r] != 0
                and u_month[t, u_conc] < thp[s, off_f[L.F_P_CONCESSION]]):
            conceded = True
        # -- 3.4 licences, plus recycling (the first part of 3.5)
        for m in range(M):
            supply = thp[s, off_f[L.F_RECYCLING] + m]
            china_ok = not (struct[s, off_i[L.I_DFARS_APPLIES] + m] != 0 and t >= dfars_month and no_waiver)
            for c in range(C):
                idx = m * C + c
                ur = u_lic + 3 * idx
                state = lic[0, idx]
                if state == LIVE and lic[1, idx] <= t:
                    state = IDLE
                if state == LIVE and u_month[t, ur] < thp[s, f_prv + idx * R + r]:
                    state = IDLE
                if state == PENDING and lic[1, idx] <= t:
                    p_ok = thp[s, (f_pac if conceded else f_pa) + idx * R + r]
                    if u_month[t, ur + 1] < p_ok:
                        state = LIVE
                        lic[1, idx] = t + max(1, _round_half_up(thp[s, f_term + idx]))
                    else:
                        state = IDLE
                if state == IDLE:
                    lag = thp[s, f_lag + idx]
                    whole = math.floor(lag)
                    n = int(whole) + (1 if u_month[t, ur + 2] < lag - whole else 0)
                    state = PENDING
                    lic[1, idx] = t + max(1, n)
                lic[0, idx] = state
                if state == LIVE and china_ok:
                    is_open = (struct[s, off_i[L.I_CH_FAST] + c] == 0
                               or struct[s, off_i[L.I_FAST_TRACK] + m] != 0
                               or struct[s, off_i[L.I_CH_OPEN] + c * R + r] != 0
                               or (conceded and opens_fast))
                    flow = thp[s, f_flow + idx]
                    supply += flow if is_open else flow * thp[s, off_f[L.F_LEAKAGE] + m]
            china[s, m, t] = supply
        out_reg[g, s, t] = r


@jit(inline="always")
def other_supply(pk, work, s, g):
    """Section 3.5 of scenario ``s`` on the path drawn into ``work``, the ``g``-th of its
    group: what each non-Chinese source delivers.

    Writes work[8][s], float64[S, K, T], in tonnes a month.
    """
    (dims, off_f, off_i, th_fixed, th_code, th_args, th_table, th_slot, tables, struct,
     cum_trans, sketch) = pk
    thp, qualified, src = work[0], work[3], work[8]
    K, T = dims[L.D_K], dims[L.D_T]
    for k in range(K):
        output = (thp[s, off_f[L.F_SRC_CAPACITY] + k] / 12.0 * thp[s, off_f[L.F_SRC_YIELD] + k]
                  * thp[s, off_f[L.F_SRC_SHARE] + k])
        first = (struct[s, off_i[L.I_SRC_START] + k] + thp[s, off_f[L.F_SRC_SLIP] + k]
                 + thp[s, off_f[L.F_SRC_QUAL_MONTHS] + k])
        ramp_months = thp[s, off_f[L.F_SRC_RAMP] + k]
        inv_ramp = 1.0 / ramp_months if ramp_months > 0.0 else -1.0
        for t in range(T):
            if qualified[s, k] and t >= first:
                ramp = 1.0 if inv_ramp < 0.0 else min(1.0, (t - first + 1.0) * inv_ramp)
                src[s, k, t] = output * ramp
            else:
                src[s, k, t] = 0.0


@jit(inline="always")
def store_parameters(pk, work, s, g):
    """The parameters of scenario ``s`` that stocks, allocation and builds read, for the
    path drawn into ``work``, the ``g``-th of its group (work[9], work[10], work[11]).

    Per-path constants, computed once: the month loop then multiplies instead of
    dividing (a division costs about ten multiplications, and numba may not turn
    x / 1000 into x * 0.001 without fastmath).
    """
    dims, off_f, thp = pk[0], pk[1], work[0]
    par_pm, par_p, par_m = work[9], work[10], work[11]
    M, P = dims[L.D_M], dims[L.D_P]
    f_kg, f_upy, f_cu = off_f[L.F_KG], off_f[L.F_UNITS_PER_YEAR], off_f[L.F_CATCH_UP]
    for p in range(P):
        rate = thp[s, f_upy + p] / 12.0
        par_p[s, 0, p, g] = rate
        par_p[s, 1, p, g] = rate * (1.0 + thp[s, f_cu + p])
        for m in range(M):
            j = p * M + m
            kg = thp[s, f_kg + j] / 1000.0
            par_pm[s, 0, j, g] = kg
            par_pm[s, 1, j, g] = 1.0 / kg if kg > 0.0 else 0.0
            par_pm[s, 2, j, g] = rate * kg
    for m in range(M):
        par_m[s, 0, m, g] = thp[s, off_f[L.F_BUFFER0] + m]
        par_m[s, 1, m, g] = thp[s, off_f[L.F_STOCK0] + m]
        par_m[s, 2, m, g] = thp[s, off_f[L.F_BUFFER_CAP] + m]
        par_m[s, 3, m, g] = thp[s, off_f[L.F_RELEASE_LAG] + m]
        par_m[s, 4, m, g] = thp[s, off_f[L.F_RELEASE_RATE] + m]


@jit(inline="always")
def allocate_and_build(pk, work, s, n, out_us, col, out_owed, out_exh, slot):
    """Sections 3.5 (the month's supply) to 3.9 of scenario ``s`` for the first ``n``
    paths of the group, from what :func:`china_supply`, :func:`other_supply` and
    :func:`store_parameters` wrote: stocks, demand, allocation and builds.

    Writes, for each path g < n of the group: out_us[s, :, :, col + g], out_owed[g, slot, :]
    and out_exh[g, slot, :, :] (see :func:`simulate_group`; ``slot`` is ``s`` there, and 0
    where the engine folds each scenario in before the next overwrites it). The paths share nothing; they
    go through the months side by side, each path's arithmetic as if it were alone, the
    innermost loops running over paths (see GROUP).
    """
    (dims, off_f, off_i, th_fixed, th_code, th_args, th_table, th_slot, tables, struct,
     cum_trans, sketch) = pk
    supply, par_pm, par_p, par_m = work[19], work[9], work[10], work[11]
    stocks, first_short, exh_ever, pm, prog, per_m, built = (
        work[12], work[13], work[14], work[15], work[16], work[17], work[18])
    M, P, T = dims[L.D_M], dims[L.D_P], dims[L.D_T]
    i_prio, i_ps, i_pe = off_i[L.I_PRIORITY], off_i[L.I_PROG_START], off_i[L.I_PROG_END]
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
        # -- 3.5 the month's supply (see supply_for_path)
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
                    for g in range(n):
                        pm[1, p * M + m, g] += par_pm[s, 2, p * M + m, g]
            for g in range(n):
                prog[2, p, g] = max(0.0, min(prog[0, p, g] - prog[1, p, g], par_p[s, 1, p, g]))
            is_dx = struct[s, i_prio + p] == 0
            for m in range(M):
                j = p * M + m
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
                out_exh[g, slot, m, t] = exh_ever[m, g]
        # -- 3.8 build (Leontief) and 3.9 record
        for p in range(P):
            share = 2 if struct[s, i_prio + p] == 0 else 3
            for g in range(n):
                built[g] = prog[2, p, g]
            for m in range(M):
                j = p * M + m
                for g in range(n):
                    a = pm[3, j, g] * per_m[share, m, g]
                    pm[4, j, g] = a
                    if par_pm[s, 0, j, g] > 0.0:
                        built[g] = min(built[g], (pm[0, j, g] + a) * par_pm[s, 1, j, g])
            for g in range(n):
                prog[1, p, g] += built[g]
            for m in range(M):
                j = p * M + m
                for g in range(n):
                    a = pm[4, j, g]
                    pm[0, j, g] = max(0.0, pm[0, j, g] + a - built[g] * par_pm[s, 0, j, g])
                    pm[2, j, g] += a
                    out_owed[g, slot, t * PM + j] = max(0.0, pm[1, j, g] - pm[2, j, g])
            for g in range(n):
                out_us[s, p, t, col + g] = max(0.0, prog[0, p, g] - prog[1, p, g])


@jit(inline="always")
def supply_for_path(pk, work, k0, k1, path, g, out_reg):
    """Draw path ``path`` into ``work`` and run its supply stages in every scenario, as
    the ``g``-th path of the group; store the parameters the rest of the month loop
    reads (:func:`store_parameters`).

    A scenario that changes nothing upstream of a supply stage shares that stage with an
    earlier scenario (its *twin*, found by ``pack``): on the same path's random numbers
    the stage's result is the same, so it is copied, not recomputed.
    """
    draw_path(pk, work, k0, k1, path)
    dims, off_i, struct = pk[0], pk[2], pk[9]
    M, K, T = dims[L.D_M], dims[L.D_K], dims[L.D_T]
    china, src, supply = work[7], work[8], work[19]
    i_src_mat = off_i[L.I_SRC_MATERIAL]
    for s in range(dims[L.D_S]):
        twin = struct[s, off_i[L.I_TWIN_CHINA]]
        if twin < 0:
            china_supply(pk, work, s, g, out_reg)
        else:
            for t in range(T):
                out_reg[g, s, t] = out_reg[g, twin, t]
            for m in range(M):
                for t in range(T):
                    china[s, m, t] = china[twin, m, t]
        twin = struct[s, off_i[L.I_TWIN_SOURCES]]
        if twin < 0:
            other_supply(pk, work, s, g)
        else:
            for k in range(K):
                for t in range(T):
                    src[s, k, t] = src[twin, k, t]
        # 3.5 the month's supply: recycling and China, then the other sources in order.
        # Only this sum goes to the grouped stage: the per-source deliveries stay
        # per path, which keeps a thread's scratch within its core's cache
        for m in range(M):
            for t in range(T):
                supply[s, m, t, g] = china[s, m, t]
        for k in range(K):
            mk = struct[s, i_src_mat + k]
            for t in range(T):
                supply[s, mk, t, g] += src[s, k, t]
        store_parameters(pk, work, s, g)


@jit(inline="always")
def simulate_group(pk, work, k0, k1, path0, n, out_us, col, out_owed, out_exh, out_reg):
    """All scenarios of paths ``path0 .. path0 + n - 1`` (n <= GROUP), side by side.

    pk : the packed tuple (``Packed.as_tuple()``); work : from :func:`make_work`;
    k0, k1 : uint64 seed key.
    Writes, in place, for the g-th path of the group:
    out_us : float64[S, P, T, n_cols] units behind schedule at the end of each month, in
    column ``col + g`` (the engine keeps a batch of paths side by side, see
    reduce.accumulate_units);
    out_owed : float64[>= n, S, T * P * M] material owed (requirement minus allocation
    to date), t, at [g, s, (t * P + p) * M + m]: month-major and flat, so that
    reduce.accumulate_path sums whole rows in vector instructions;
    out_exh : bool[>= n, S, M, T] stocks exhausted at least once by the end of the month;
    out_reg : int64[>= n, S, T] the month's regime.

    Arrays are indexed in full (``thp[s, k]``), never sliced into local views: a view
    costs an atomic reference-count update, and with several threads those updates on
    the same arrays made two threads no faster than one (measured).
    """
    for g in range(n):
        supply_for_path(pk, work, k0, k1, path0 + g, g, out_reg)
    for s in range(pk[0][L.D_S]):
        allocate_and_build(pk, work, s, n, out_us, col, out_owed, out_exh, s)
