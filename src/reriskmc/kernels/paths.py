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

#: stocks have run out when a need of more than this many tonnes is left uncovered
EXHAUSTED_T = 1e-9


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
def china_month(pk, w, s, t, n):
    """Month ``t`` of sections 3.1-3.4 in scenario ``s`` for the group's first ``n``
    paths: the regime, events, linkage and licences. Writes ``w.china[s, m, g]``: the
    month's recycling plus licensed imports from China, tonnes.

    The group's paths go side by side: each step is a loop over paths that runs as
    vector code, every path's decisions taken by selection rather than by branching
    (each path's arithmetic and comparisons are the same as alone)."""
    struct, theta, u = pk.struct, w.theta, w.u_month
    waived, lic, policy, supply = w.waived, w.licences, w.policy, w.china
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
            supply[s, m, g] = theta[s, f_recycling, g]
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
                v = supply[s, m, g]
                supply[s, m, g] = v + add if flows else v


@jit(inline="always")
def store_parameters(pk, w, s, g):
    """The per-path constants of scenario ``s`` that the month loop reads, for the
    ``g``-th path of the group: each source's output at full ramp, first month of
    output and inverse ramp (``w.src_*``), and the programmes' and materials' values
    (``w.per_pm``, ``w.per_p``, ``w.per_m``).

    Computed once per path: the month loop then multiplies instead of dividing (a
    division costs about ten multiplications, and numba may not turn x / 1000 into
    x * 0.001 without fastmath).
    """
    theta, f = w.theta, pk.f
    for k in range(pk.dims.K):
        w.src_out[s, k, g] = (
            theta[s, f.src_capacity + k, g]
            / 12.0
            * theta[s, f.src_yield + k, g]
            * theta[s, f.src_share + k, g]
        )
        w.src_first[s, k, g] = (
            pk.struct[s, pk.i.src_start + k]
            + theta[s, f.src_slip + k, g]
            + theta[s, f.src_qual_months + k, g]
        )
        ramp_months = theta[s, f.src_ramp + k, g]
        w.src_inv_ramp[s, k, g] = 1.0 / ramp_months if ramp_months > 0.0 else -1.0
    M = pk.dims.M
    per_pm, per_p, per_m = w.per_pm, w.per_p, w.per_m
    for p in range(pk.dims.P):
        rate = theta[s, f.units_per_year + p, g] / 12.0
        per_p[s, 0, p, g] = rate
        per_p[s, 1, p, g] = rate * (1.0 + theta[s, f.catch_up + p, g])
        per_p[s, 2, p, g] = 1.0 / rate if rate > 0.0 else 0.0
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
            stocks[s, 0, m, g] = per_m[s, 0, m, g]
            stocks[s, 1, m, g] = per_m[s, 1, m, g]
            w.first_short[s, m, g] = -1
            w.first_out[s, m, g] = -1
    for p in range(pk.dims.P):
        for g in range(n):
            prog[s, 0, p, g] = 0.0
            prog[s, 1, p, g] = 0.0
            w.inv_ref[s, p, g] = 0.0
    for j in range(pk.dims.P * pk.dims.M):
        for g in range(n):
            pm[s, 0, j, g] = 0.0
            pm[s, 1, j, g] = 0.0
            pm[s, 2, j, g] = 0.0


@jit(inline="always")
def month_supply(pk, w, s, t, n):
    """3.5: the month's supply of each material in scenario ``s``, ``w.stocks[s, 2]``:
    recycling and China (``w.china``, from :func:`china_month` or the scenario's twin),
    then the other sources in order."""
    stocks, china = w.stocks, w.china
    src = s if pk.struct[s, pk.i.twin_china] < 0 else pk.struct[s, pk.i.twin_china]
    for m in range(pk.dims.M):
        for g in range(n):
            stocks[s, 2, m, g] = china[src, m, g]
    for k in range(pk.dims.K):
        mk = pk.struct[s, pk.i.src_material + k]
        for g in range(n):  # by selection, so that the loop runs as vector code
            first = w.src_first[s, k, g]
            inv_ramp = w.src_inv_ramp[s, k, g]
            ramp = 1.0 if inv_ramp < 0.0 else min(1.0, (t - first + 1.0) * inv_ramp)
            on = w.qualified[s, k, g] & (t >= first)
            v = stocks[s, 2, mk, g]
            stocks[s, 2, mk, g] = v + w.src_out[s, k, g] * ramp if on else v


@jit(inline="always")
def _demand(pk, w, s, n, t):
    """3.6: each programme's schedule, want and request of each material; the month's
    demand per material, all and DX only, summed in programme order."""
    struct, per_pm, per_p, demand = pk.struct, w.per_pm, w.per_p, w.demand
    pm, prog = w.pm, w.prog
    M = pk.dims.M
    for m in range(M):
        for g in range(n):
            demand[0, m, g] = 0.0
            demand[1, m, g] = 0.0
    for p in range(pk.dims.P):
        if struct[s, pk.i.prog_start + p] <= t <= struct[s, pk.i.prog_end + p]:
            for g in range(n):
                prog[s, 0, p, g] += per_p[s, 0, p, g]
                # the rate slip is measured in: this month's, if it schedules any
                inv = per_p[s, 2, p, g]
                w.inv_ref[s, p, g] = inv if inv > 0.0 else w.inv_ref[s, p, g]
            for m in range(M):
                if _no_kg(pk, s, p * M + m):
                    continue
                for g in range(n):
                    pm[s, 1, p * M + m, g] += per_pm[s, 2, p * M + m, g]
        for g in range(n):
            prog[s, 2, p, g] = max(0.0, min(prog[s, 0, p, g] - prog[s, 1, p, g], per_p[s, 1, p, g]))
        is_dx = struct[s, pk.i.priority + p] == 0
        for m in range(M):
            j = p * M + m
            if _no_kg(pk, s, j):
                continue  # unused: nothing wanted, so nothing owed or allocated
            for g in range(n):
                d = max(0.0, prog[s, 2, p, g] * per_pm[s, 0, j, g] - pm[s, 0, j, g])
                w.month_pm[0, j, g] = d
                demand[0, m, g] += d
            if is_dx:
                for g in range(n):
                    demand[1, m, g] += w.month_pm[0, j, g]


@jit(inline="always")
def _allocate(pk, w, s, n, t):
    """3.7: stocks cover what supply does not, the stockpile releases when its rule
    allows, and DPAS shares the available amount (DX first, pro rata within a class).
    Writes the DX and DO shares to ``w.demand[2:4]``, and the first month stocks have
    run out to ``w.first_out``."""
    stocks, per_m, demand = w.stocks, w.per_m, w.demand
    first_short, first_out = w.first_short, w.first_out
    for m in range(pk.dims.M):
        rule = pk.struct[s, pk.i.release_rule + m]
        release_month = pk.struct[s, pk.i.release_month + m]
        for g in range(n):
            need = demand[0, m, g]
            avail = stocks[s, 2, m, g]
            buffer = stocks[s, 0, m, g]
            stockpile = stocks[s, 1, m, g]
            uncovered = 0.0
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
                    if first_short[s, m, g] < 0:
                        first_short[s, m, g] = t
                    if rule == RELEASE_ON_SHORTFALL:
                        authorised = t >= first_short[s, m, g] + per_m[s, 3, m, g]
                    elif rule == RELEASE_FROM_DATE:
                        authorised = t >= release_month
                    else:
                        authorised = False
                    if authorised:
                        draw = min(stockpile, per_m[s, 4, m, g], gap)
                        stockpile -= draw
                        avail += draw
                        gap -= draw
                uncovered = gap
            stocks[s, 0, m, g] = buffer
            stocks[s, 1, m, g] = stockpile
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
            if uncovered > EXHAUSTED_T and first_out[s, m, g] < 0:
                first_out[s, m, g] = t  # 3.7.4: stocks failed to cover a need


@jit(inline="always")
def _build_and_record(pk, w, s, n, rec):
    """3.8 Leontief builds and 3.9 the month's record ``rec[s]`` (rows ``pk.r``): units
    behind, slip in months and share of the schedule missed per programme, tonnes owed
    per programme and material."""
    per_pm, pm, prog, demand, built = w.per_pm, w.pm, w.prog, w.demand, w.built
    M = pk.dims.M
    r_units, r_slip, r_share, r_owed = pk.r.units, pk.r.slip, pk.r.share, pk.r.owed
    for p in range(pk.dims.P):
        share = 2 if pk.struct[s, pk.i.priority + p] == 0 else 3
        for g in range(n):
            built[g] = prog[s, 2, p, g]
        for m in range(M):
            j = p * M + m
            if _no_kg(pk, s, j):
                continue
            for g in range(n):
                a = w.month_pm[0, j, g] * demand[share, m, g]
                w.month_pm[1, j, g] = a
                if per_pm[s, 0, j, g] > 0.0:
                    built[g] = min(built[g], (pm[s, 0, j, g] + a) * per_pm[s, 1, j, g])
        for g in range(n):
            prog[s, 1, p, g] += built[g]
        for m in range(M):
            j = p * M + m
            if _no_kg(pk, s, j):
                for g in range(n):
                    rec[s, r_owed + j, g] = 0.0
                continue
            for g in range(n):
                a = w.month_pm[1, j, g]
                pm[s, 0, j, g] = max(0.0, pm[s, 0, j, g] + a - built[g] * per_pm[s, 0, j, g])
                pm[s, 2, j, g] += a
                rec[s, r_owed + j, g] = max(0.0, pm[s, 1, j, g] - pm[s, 2, j, g])
        for g in range(n):
            scheduled = prog[s, 0, p, g]
            short = max(0.0, scheduled - prog[s, 1, p, g])
            rec[s, r_units + p, g] = short
            rec[s, r_slip + p, g] = short * w.inv_ref[s, p, g]  # 0 before any schedule
            rec[s, r_share + p, g] = short / scheduled if scheduled > 0.0 else 0.0


@jit(inline="always")
def start_group(pk, w, k0, k1, path0, n):
    """Draw paths ``path0 .. path0 + n - 1`` into ``w`` (which :func:`fill_fixed` has
    prepared) as the first ``n`` of a group, and set every scenario's state at the start
    (section 2)."""
    for g in range(n):
        draw_path(pk, w, k0, k1, path0 + g, g)
    for s in range(pk.dims.S):
        if pk.struct[s, pk.i.twin_china] < 0:
            _start_china(pk, w, s, n)
        for g in range(n):
            store_parameters(pk, w, s, g)
        _start_stocks_and_schedule(pk, w, s, n)


@jit(inline="always")
def simulate_month(pk, w, k0, k1, path0, n, t, rec):
    """Month ``t`` of every scenario for the group's first ``n`` paths: the month's
    uniforms are drawn once for the group and used by every scenario (common random
    numbers). Writes each scenario's month record ``rec[s, row, g]`` (float64[S, R, G]:
    see ``layout.RecordRows``) and the first month each material's stocks run out
    (``w.first_out``).

    A scenario that shares the China stage with an earlier one (its *twin*, found by
    ``pack``: the same inputs, so on the same random numbers the same result) reads the
    twin's month instead of computing its own.
    """
    draw_month(w, k0, k1, path0, n, t)
    for s in range(pk.dims.S):
        if pk.struct[s, pk.i.twin_china] < 0:
            china_month(pk, w, s, t, n)
    for s in range(pk.dims.S):
        month_supply(pk, w, s, t, n)
        _demand(pk, w, s, n, t)
        _allocate(pk, w, s, n, t)
        _build_and_record(pk, w, s, n, rec)


@jit(inline="always")
def month_regime(pk, w, s, g):
    """Scenario ``s``'s regime in the current month on the ``g``-th path (its twin's,
    if it shares the China stage)."""
    twin = pk.struct[s, pk.i.twin_china]
    return w.policy[s if twin < 0 else twin, 0, g]
