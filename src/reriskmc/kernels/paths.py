"""The path sampler: regimes, events, licences, supply, stocks, allocation, builds.

One call of :func:`simulate_group` turns (packed parameters, seed key, a group of path
indices) into those paths' monthly trajectories in every scenario. Each path's own
uniforms are drawn first (its stream 0), each month's as the months are run (stream
month + 1), and every scenario runs on the same uniforms: common random numbers, and
the random numbers are drawn once per path rather than once per scenario. The paths
of a group go side by side (``scratch.GROUP``): every step is a loop over the group,
which the compiler turns into vector instructions, and each path's arithmetic is the
same as alone.

The month-by-month rules are specified in ``docs/model.md``; section numbers below
refer to it. ``pk`` is a ``layout.Params`` and ``w`` one thread's ``scratch.Work``;
everything is plain arrays and scalars, and runs as plain Python under
``NUMBA_DISABLE_JIT=1``. Arrays are indexed in full (``w.theta[s, k, g]``), never
sliced into local views inside the loops: a view costs an atomic reference-count
update, and with several threads those updates on the same arrays made two threads no
faster than one.
"""

from __future__ import annotations

import math

from .._jit import jit
from .layout import FIXED, IDLE, LIVE, PENDING, RELEASE_FROM_DATE, RELEASE_ON_SHORTFALL, STREAM_PATH
from .rng import fill_uniforms, transform

EXHAUSTED_T = 1e-9  # stocks at or below this many tonnes count as run out


@jit(inline="always")
def fill_fixed(pk, w):
    """Write the parameters that are the same on every path (point values) into every
    column of ``w.theta``, once per thread: :func:`draw_path` then writes only the drawn
    ones (most parameters of a config are point values)."""
    th_fixed, th_code, theta = pk.th_fixed, pk.th_code, w.theta
    for s in range(th_fixed.shape[0]):
        for k in range(th_fixed.shape[1]):
            if th_code[s, k] == FIXED:
                for g in range(theta.shape[2]):
                    theta[s, k, g] = th_fixed[s, k]


@jit(inline="always")
def draw_path(pk, w, k0, k1, path, g):
    """Draw path ``path``'s own uniforms and per-path parameters into ``w`` as the
    ``g``-th path of its group (``w.theta``, ``w.qualified``, ``w.waived``); the point
    values are there already (:func:`fill_fixed`). Its monthly uniforms are drawn a
    month at a time, for the whole group, by :func:`china_stage`."""
    theta, u_path = w.theta, w.u_path
    S, K, nps = pk.dims.S, pk.dims.K, pk.dims.n_path_slots
    th_same = pk.th_same  # -1 where fixed (Packed.th_same)
    fill_uniforms(u_path, nps + 1 + K, STREAM_PATH, path, 1, k0, k1)
    for s in range(S):
        for k in range(pk.th_fixed.shape[1]):
            same = th_same[s, k]
            if same >= 0:  # drawn as an earlier scenario draws it: the same value
                theta[s, k, g] = theta[same, k, g]
            elif pk.th_code[s, k] != FIXED:
                theta[s, k, g] = transform(
                    pk.th_code[s, k],
                    pk.th_args[s, k, 0],
                    pk.th_args[s, k, 1],
                    pk.th_args[s, k, 2],
                    pk.tables,
                    max(pk.th_table[s, k], 0),
                    u_path[pk.th_slot[s, k], 0],
                )
        w.waived[s, g] = u_path[nps, 0] < theta[s, pk.f.p_waiver, g]
        for q in range(K):
            w.qualified[s, q, g] = u_path[nps + 1 + q, 0] < theta[s, pk.f.src_p_qual + q, g]


@jit(inline="always")
def draw_month(w, k0, k1, path0, n, t):
    """Month ``t``'s uniforms of paths ``path0 .. path0 + n - 1`` into ``w.u_month``,
    float64[n_month_uniforms, G], a draw's paths side by side (``layout.month_slots``)."""
    fill_uniforms(w.u_month, w.u_month.shape[0], t + 1, path0, n, k0, k1)


@jit(inline="always")
def _round_half_up(x):
    return math.floor(x + 0.5)


@jit(inline="always")
def _start_china(pk, w, s, n):
    """Section 2 for the China stage of scenario ``s``: the regime, matrix and
    concession, the events and the licences at the start of the group's paths."""
    struct, theta, ev, lic, policy = pk.struct, w.theta, w.events, w.licences, w.policy
    r0 = struct[s, pk.i.initial]
    conceded0 = 1 if struct[s, pk.i.conceded0] != 0 else 0
    for g in range(n):
        policy[s, 0, g] = r0
        policy[s, 1, g] = 0
        policy[s, 2, g] = conceded0
    for e in range(pk.dims.E):
        month = struct[s, pk.i.ev_month + e]
        for g in range(n):
            ev[s, 0, e, g] = month
            ev[s, 1, e, g] = 0
            ev[s, 2, e, g] = 0
    for idx in range(pk.dims.M * pk.dims.C):
        f_live0 = pk.f.live0 + idx
        for g in range(n):
            live0 = _round_half_up(theta[s, f_live0, g])
            lic[s, 0, idx, g] = LIVE if live0 >= 1 else IDLE
            lic[s, 1, idx, g] = live0 if live0 >= 1 else 0


@jit(inline="always")
def china_stage(pk, w, k0, k1, path0, n, out_reg):
    """Sections 3.1-3.4 of every scenario for paths ``path0 .. path0 + n - 1`` (the
    first ``n`` of the group, whose parameters :func:`draw_path` drew): regimes, events,
    the linkage and the licences.

    Writes ``w.supply[s, m, t, g]``: each month's recycling plus licensed imports from
    China (tonnes; :func:`supply_stages` adds the other sources later), and
    out_reg[g, s, t], int64[>= n, S, T]: the month's regime.

    Month by month, each month's uniforms drawn for the group and then used by every
    scenario, with the group's paths side by side: each step is a loop over paths that
    runs as vector code, every path's decisions taken by selection rather than by
    branching (each path's arithmetic and comparisons are the same as alone). A scenario
    that shares this stage with an earlier one (its twin, found by ``pack``: the same
    blocks, so on the same random numbers the same result) copies the twin's result.
    """
    struct, supply = pk.struct, w.supply
    M, T, S = pk.dims.M, pk.dims.T, pk.dims.S
    i_twin = pk.i.twin_china
    for s in range(S):
        if struct[s, i_twin] < 0:
            _start_china(pk, w, s, n)
    for t in range(T):
        draw_month(w, k0, k1, path0, n, t)
        for s in range(S):
            if struct[s, i_twin] < 0:
                china_month(pk, w, s, t, n, out_reg)
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
def _regime_and_events(pk, w, s, t, n):
    """3.1 the regime's step and 3.2 the events, in scenario ``s`` and month ``t``."""
    struct, theta, u, ev, policy, cum = (
        pk.struct,
        w.theta,
        w.u_month,
        w.events,
        w.policy,
        pk.cum_trans,
    )
    R, E = pk.dims.R, pk.dims.E
    # 3.1: the first row entry the uniform falls below (rows are cumulative, so the
    # number of entries at or below it)
    if t > 0:
        for g in range(n):
            r0, mi, x = policy[s, 0, g], policy[s, 1, g], u[pk.u.regime, g]
            r = 0
            for q in range(R - 1):
                r += 1 if x >= cum[s, mi, r0, q] else 0
            policy[s, 0, g] = r
    # 3.2
    for e in range(E):
        max_ext = struct[s, pk.i.ev_max_ext + e]
        jump = struct[s, pk.i.ev_jump + e]
        mat = struct[s, pk.i.ev_matrix + e]
        f_ext, f_months = pk.f.ev_p_extend + e, pk.f.ev_extend_months + e
        f_fire = pk.f.ev_p_fire + e
        u_ext, u_fire = pk.u.events + 2 * e, pk.u.events + 2 * e + 1
        for g in range(n):
            due = (ev[s, 2, e, g] == 0) & (ev[s, 0, e, g] == t)
            extend = due & (ev[s, 1, e, g] < max_ext) & (u[u_ext, g] < theta[s, f_ext, g])
            lapse = due & (not extend)
            fire = lapse & (u[u_fire, g] < theta[s, f_fire, g])
            step = max(1, _round_half_up(theta[s, f_months, g]))
            ev[s, 0, e, g] += step if extend else 0
            ev[s, 1, e, g] += 1 if extend else 0
            ev[s, 2, e, g] = 1 if lapse else ev[s, 2, e, g]
            policy[s, 0, g] = jump if fire & (jump >= 0) else policy[s, 0, g]
            policy[s, 1, g] = mat if fire & (mat >= 0) else policy[s, 1, g]


@jit(inline="always")
def china_month(pk, w, s, t, n, out_reg):
    """Month ``t`` of sections 3.1-3.4 in scenario ``s`` for the group's first ``n``
    paths (see :func:`china_stage`)."""
    struct, theta, u = pk.struct, w.theta, w.u_month
    waived, lic, policy, supply = w.waived, w.licences, w.policy, w.supply
    R, C, M = pk.dims.R, pk.dims.C, pk.dims.M
    f_flow, f_lag, f_term = pk.f.flow, pk.f.lag, pk.f.term
    f_pa, f_pac, f_prv = pk.f.p_approve, pk.f.p_approve_conc, pk.f.p_revoke
    i_talks, i_open = pk.i.talks, pk.i.ch_open

    _regime_and_events(pk, w, s, t, n)
    # -- 3.3 linkage
    f_conc, u_conc = pk.f.p_concession, pk.u.concession
    for g in range(n):
        talks = struct[s, i_talks + policy[s, 0, g]] != 0
        offer = talks & (u[u_conc, g] < theta[s, f_conc, g])
        policy[s, 2, g] = 1 if offer else policy[s, 2, g]
    # -- 3.4 licences, plus recycling (the first part of 3.5)
    opens_fast = struct[s, pk.i.opens_fast] != 0
    dfars_now = t >= struct[s, pk.i.dfars_month]
    for m in range(M):
        f_recycling = pk.f.recycling + m
        f_leak = pk.f.leakage + m
        dfars = dfars_now & (struct[s, pk.i.dfars_applies + m] != 0)
        fast_track = struct[s, pk.i.fast_track + m] != 0
        for g in range(n):
            supply[s, m, t, g] = theta[s, f_recycling, g]
        for c in range(C):
            idx = m * C + c
            ur = pk.u.licences + 3 * idx
            always_open = (struct[s, pk.i.ch_fast + c] == 0) | fast_track
            for g in range(n):
                r = policy[s, 0, g]
                conceded = policy[s, 2, g] != 0
                st = lic[s, 0, idx, g]
                month = lic[s, 1, idx, g]
                # a live licence ends at expiry, or is revoked
                ends = (st == LIVE) & ((month <= t) | (u[ur, g] < theta[s, f_prv + idx * R + r, g]))
                st = IDLE if ends else st
                # a pending application is decided
                decided = (st == PENDING) & (month <= t)
                p_ok = theta[s, (f_pac if conceded else f_pa) + idx * R + r, g]
                approved = decided & (u[ur + 1, g] < p_ok)
                st = LIVE if approved else (IDLE if decided else st)
                term = t + max(1, _round_half_up(theta[s, f_term + idx, g]))
                month = term if approved else month
                # with no licence, apply again: the decision comes after the lag
                lag = theta[s, f_lag + idx, g]
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
                flow = theta[s, f_flow + idx, g]
                add = flow if is_open else flow * theta[s, f_leak, g]
                v = supply[s, m, t, g]
                supply[s, m, t, g] = v + add if flows else v
    for g in range(n):
        out_reg[g, s, t] = policy[s, 0, g]


@jit(inline="always")
def other_supply(pk, w, s, g):
    """Section 3.5 of scenario ``s`` on the ``g``-th path of the group: what each
    non-Chinese source delivers, ``w.src[s, k, t]`` in tonnes a month."""
    struct, theta, f, src = pk.struct, w.theta, pk.f, w.src
    for k in range(pk.dims.K):
        output = (
            theta[s, f.src_capacity + k, g]
            / 12.0
            * theta[s, f.src_yield + k, g]
            * theta[s, f.src_share + k, g]
        )
        first = (
            struct[s, pk.i.src_start + k]
            + theta[s, f.src_slip + k, g]
            + theta[s, f.src_qual_months + k, g]
        )
        ramp_months = theta[s, f.src_ramp + k, g]
        inv_ramp = 1.0 / ramp_months if ramp_months > 0.0 else -1.0
        for t in range(pk.dims.T):
            if w.qualified[s, k, g] and t >= first:
                ramp = 1.0 if inv_ramp < 0.0 else min(1.0, (t - first + 1.0) * inv_ramp)
                src[s, k, t] = output * ramp
            else:
                src[s, k, t] = 0.0


@jit(inline="always")
def store_parameters(pk, w, s, g):
    """The parameters of scenario ``s`` that stocks, allocation and builds read, for the
    ``g``-th path of the group (``w.per_pm``, ``w.per_p``, ``w.per_m``).

    Per-path constants, computed once: the month loop then multiplies instead of
    dividing (a division costs about ten multiplications, and numba may not turn
    x / 1000 into x * 0.001 without fastmath).
    """
    theta, f, per_pm, per_p, per_m = w.theta, pk.f, w.per_pm, w.per_p, w.per_m
    M = pk.dims.M
    for p in range(pk.dims.P):
        rate = theta[s, f.units_per_year + p, g] / 12.0
        per_p[s, 0, p, g] = rate
        per_p[s, 1, p, g] = rate * (1.0 + theta[s, f.catch_up + p, g])
        for m in range(M):
            j = p * M + m
            kg = theta[s, f.kg + j, g] / 1000.0
            per_pm[s, 0, j, g] = kg
            per_pm[s, 1, j, g] = 1.0 / kg if kg > 0.0 else 0.0
            per_pm[s, 2, j, g] = rate * kg
    for m in range(M):
        per_m[s, 0, m, g] = theta[s, f.buffer0 + m, g]
        per_m[s, 1, m, g] = theta[s, f.stock0 + m, g]
        per_m[s, 2, m, g] = theta[s, f.buffer_cap + m, g]
        per_m[s, 3, m, g] = theta[s, f.release_lag + m, g]
        per_m[s, 4, m, g] = theta[s, f.release_rate + m, g]


@jit(inline="always")
def _no_kg(pk, s, j):
    """Whether kg per unit ``j`` (programme-material pair) of scenario ``s`` is a point
    value of zero: a pair that uses none of the material, where nothing is wanted, owed
    or allocated, so that the month loop skips it (its tonnes owed are 0)."""
    k = pk.f.kg + j
    return pk.th_code[s, k] == FIXED and pk.th_fixed[s, k] == 0.0


@jit(inline="always")
def _start_stocks_and_schedule(pk, w, s, n):
    """Section 2 for stocks, allocation and builds: full stocks, nothing scheduled,
    built, required or allocated yet."""
    stocks, per_m, prog, pm = w.stocks, w.per_m, w.prog, w.pm
    for m in range(pk.dims.M):
        for g in range(n):
            stocks[0, m, g] = per_m[s, 0, m, g]
            stocks[1, m, g] = per_m[s, 1, m, g]
            w.first_short[m, g] = -1
            w.exh_ever[m, g] = False
    for p in range(pk.dims.P):
        for g in range(n):
            prog[0, p, g] = 0.0
            prog[1, p, g] = 0.0
    for j in range(pk.dims.P * pk.dims.M):
        for g in range(n):
            pm[0, j, g] = 0.0
            pm[1, j, g] = 0.0
            pm[2, j, g] = 0.0


@jit(inline="always")
def _demand(pk, w, s, n, t):
    """3.6: each programme's schedule, want and request of each material; the month's
    demand per material, all and DX only, summed in programme order."""
    struct, per_pm, per_p, pm, prog, demand = pk.struct, w.per_pm, w.per_p, w.pm, w.prog, w.demand
    M = pk.dims.M
    for m in range(M):
        for g in range(n):
            demand[0, m, g] = 0.0
            demand[1, m, g] = 0.0
    for p in range(pk.dims.P):
        if struct[s, pk.i.prog_start + p] <= t <= struct[s, pk.i.prog_end + p]:
            for g in range(n):
                prog[0, p, g] += per_p[s, 0, p, g]
            for m in range(M):
                if _no_kg(pk, s, p * M + m):
                    continue
                for g in range(n):
                    pm[1, p * M + m, g] += per_pm[s, 2, p * M + m, g]
        for g in range(n):
            prog[2, p, g] = max(0.0, min(prog[0, p, g] - prog[1, p, g], per_p[s, 1, p, g]))
        is_dx = struct[s, pk.i.priority + p] == 0
        for m in range(M):
            j = p * M + m
            if _no_kg(pk, s, j):
                continue  # unused: nothing wanted, so nothing owed or allocated
            for g in range(n):
                d = max(0.0, prog[2, p, g] * per_pm[s, 0, j, g] - pm[0, j, g])
                pm[3, j, g] = d
                demand[0, m, g] += d
            if is_dx:
                for g in range(n):
                    demand[1, m, g] += pm[3, j, g]


@jit(inline="always")
def _allocate(pk, w, s, n, t, out_exh):
    """3.7: stocks cover what supply does not, the stockpile releases when its rule
    allows, and DPAS shares the available amount (DX first, pro rata within a class).
    Writes the DX and DO shares to ``w.demand[2:4]``; adds the paths whose stocks have
    run out to ``out_exh[s, m, t]``."""
    stocks, per_m, demand, first_short, exh_ever = (
        w.stocks,
        w.per_m,
        w.demand,
        w.first_short,
        w.exh_ever,
    )
    for m in range(pk.dims.M):
        rule = pk.struct[s, pk.i.release_rule + m]
        release_month = pk.struct[s, pk.i.release_month + m]
        exhausted = 0
        for g in range(n):
            need = demand[0, m, g]
            avail = stocks[2, m, g]
            buffer = stocks[0, m, g]
            stockpile = stocks[1, m, g]
            if avail >= need:
                cap = per_m[s, 2, m, g]
                if buffer < cap:
                    buffer = min(cap, buffer + avail - need)
                avail = need
            else:
                gap = need - avail
                draw = min(buffer, gap)
                buffer -= draw
                gap -= draw
                avail += draw
                if gap > 0.0:
                    if first_short[m, g] < 0:
                        first_short[m, g] = t
                    if rule == RELEASE_ON_SHORTFALL:
                        authorised = t >= first_short[m, g] + per_m[s, 3, m, g]
                    elif rule == RELEASE_FROM_DATE:
                        authorised = t >= release_month
                    else:
                        authorised = False
                    if authorised:
                        draw = min(stockpile, per_m[s, 4, m, g], gap)
                        stockpile -= draw
                        avail += draw
            stocks[0, m, g] = buffer
            stocks[1, m, g] = stockpile
            # DPAS: DX first, then DO; pro rata within a class
            dx = demand[1, m, g]
            do = need - dx
            if dx <= avail:
                share_dx = 1.0
                left = avail - dx
                share_do = 1.0 if do <= left else left / do
            else:
                share_dx = avail / dx
                share_do = 0.0
            demand[2, m, g] = share_dx
            demand[3, m, g] = share_do
            if buffer + stockpile <= EXHAUSTED_T:
                exh_ever[m, g] = True
            exhausted += exh_ever[m, g]
        out_exh[s, m, t] += exhausted


@jit(inline="always")
def _build_and_record(pk, w, s, n, t, out_us, out_owed, slot):
    """3.8 Leontief builds and 3.9 the record: units behind and tonnes owed."""
    per_pm, pm, prog, demand, built = w.per_pm, w.pm, w.prog, w.demand, w.built
    M, T = pk.dims.M, pk.dims.T
    PM = pk.dims.P * M
    for p in range(pk.dims.P):
        share = 2 if pk.struct[s, pk.i.priority + p] == 0 else 3
        for g in range(n):
            built[g] = prog[2, p, g]
        for m in range(M):
            j = p * M + m
            if _no_kg(pk, s, j):
                continue
            for g in range(n):
                a = pm[3, j, g] * demand[share, m, g]
                pm[4, j, g] = a
                if per_pm[s, 0, j, g] > 0.0:
                    built[g] = min(built[g], (pm[0, j, g] + a) * per_pm[s, 1, j, g])
        for g in range(n):
            prog[1, p, g] += built[g]
        for m in range(M):
            j = p * M + m
            if _no_kg(pk, s, j):
                for g in range(n):
                    out_owed[slot, t * PM + j, g] = 0.0
                continue
            for g in range(n):
                a = pm[4, j, g]
                pm[0, j, g] = max(0.0, pm[0, j, g] + a - built[g] * per_pm[s, 0, j, g])
                pm[2, j, g] += a
                out_owed[slot, t * PM + j, g] = max(0.0, pm[1, j, g] - pm[2, j, g])
        for g in range(n):
            out_us[slot, p * T + t, g] = max(0.0, prog[0, p, g] - prog[1, p, g])


@jit(inline="always")
def allocate_and_build(pk, w, s, n, out_us, out_owed, slot, out_exh):
    """Sections 3.5 (the month's supply) to 3.9 of scenario ``s`` for the first ``n``
    paths of the group, from what :func:`china_stage`, :func:`other_supply` and
    :func:`store_parameters` wrote: stocks, demand, allocation and builds.

    Writes, for each path g < n of the group, out_us[slot, :, g] and out_owed[slot, :, g]
    (see :func:`simulate_group`; ``slot`` is ``s`` there, and 0 where the engine folds
    each scenario in before the next overwrites it), and adds to out_exh[s, m, t] the
    number of the group's paths whose stocks of material m have run out by month t.
    The paths share nothing; they go through the months side by side, each path's
    arithmetic as if it were alone, the innermost loops running over paths.
    """
    _start_stocks_and_schedule(pk, w, s, n)
    for t in range(pk.dims.T):
        for m in range(pk.dims.M):  # 3.5: the month's supply (supply_stages)
            for g in range(n):
                w.stocks[2, m, g] = w.supply[s, m, t, g]
        _demand(pk, w, s, n, t)
        _allocate(pk, w, s, n, t, out_exh)
        _build_and_record(pk, w, s, n, t, out_us, out_owed, slot)


@jit(inline="always")
def supply_stages(pk, w, k0, k1, path0, n, out_reg):
    """Draw paths ``path0 .. path0 + n - 1`` into ``w`` (which :func:`fill_fixed` has
    prepared) as the first ``n`` of a group and run their supply stages in every
    scenario: ``w.supply[s, m, t, g]`` becomes the month's supply of each material
    (3.1-3.5), and the parameters the rest of the month loop reads are stored
    (:func:`store_parameters`).

    A scenario that changes nothing upstream of a supply stage shares that stage with an
    earlier scenario (its *twin*, found by ``pack``): on the same path's random numbers
    the stage's result is the same, so it is copied, not recomputed.
    """
    for g in range(n):
        draw_path(pk, w, k0, k1, path0 + g, g)
    china_stage(pk, w, k0, k1, path0, n, out_reg)
    struct, src, supply = pk.struct, w.src, w.supply
    K, T = pk.dims.K, pk.dims.T
    for g in range(n):
        for s in range(pk.dims.S):
            twin = struct[s, pk.i.twin_sources]
            if twin < 0:
                other_supply(pk, w, s, g)
            else:
                for k in range(K):
                    for t in range(T):
                        src[s, k, t] = src[twin, k, t]
            # 3.5 the month's supply: recycling and China (china_stage), then the other
            # sources in order. Only this sum goes to the grouped stage: the per-source
            # deliveries stay per path, which keeps a thread's scratch within its
            # core's cache
            for k in range(K):
                mk = struct[s, pk.i.src_material + k]
                for t in range(T):
                    supply[s, mk, t, g] += src[s, k, t]
            store_parameters(pk, w, s, g)


@jit(inline="always")
def simulate_group(pk, w, k0, k1, path0, n, out_us, out_owed, out_exh, out_reg):
    """All scenarios of paths ``path0 .. path0 + n - 1`` (n <= GROUP), side by side.

    pk : ``layout.Params``; w : one thread's ``scratch.Work``; k0, k1 : uint64 seed key.
    Writes, in place, for the g-th path of the group:
    out_us : float64[S, P * T, >= n] units behind schedule at the end of each month, at
    [s, p * T + t, g]: the group's paths side by side (reduce.accumulate_units_group
    folds them);
    out_owed : float64[S, T * P * M, >= n] material owed (requirement minus allocation
    to date), t, at [s, (t * P + p) * M + m, g]: the group's paths side by side, so that
    the month loop writes them as vector stores and reduce.accumulate_group folds them
    for the whole group;
    out_exh : int64[S, M, T], added to: the group's paths whose stocks have run out at
    least once by the end of the month (for one path, its flags);
    out_reg : int64[>= n, S, T] the month's regime.
    """
    fill_fixed(pk, w)
    supply_stages(pk, w, k0, k1, path0, n, out_reg)
    for s in range(pk.dims.S):
        allocate_and_build(pk, w, s, n, out_us, out_owed, s, out_exh)
