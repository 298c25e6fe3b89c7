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

from .._jit import jit, stage
from .layout import (
    EFFECT_SCALE_TO_ONE,
    EFFECT_SET,
    FEEDSTOCK,
    FIXED,
    IDLE,
    LIVE,
    MAGNET,
    PENDING,
    RATE_FLOOR,
    RELEASE_FROM_DATE,
    RELEASE_ON_SHORTFALL,
    RULE_EXTRATERRITORIAL,
    RULE_MILITARY_END_USE,
    STREAM_PATH,
)
from .rng import fill_uniforms, transform
from .tilt import tilt_path, tilt_regime

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
    ``g``-th path of its group (``w.theta``, ``w.qualified``, ``w.waived``, and
    ``w.weight``: its likelihood ratio, 1 unless uniforms are tilted); the point
    values are there already (:func:`fill_fixed`). Its monthly uniforms are drawn a
    month at a time, for the whole group (:func:`draw_month`)."""
    theta, u_path = w.theta, w.u_path
    S, K, nps = pk.dims.S, pk.dims.K, pk.dims.n_path_slots
    th_same = pk.th_same  # -1 where fixed (Packed.th_same)
    fill_uniforms(u_path, nps + 2 + K, STREAM_PATH, path, 1, k0, k1)
    w.weight[g] = tilt_path(pk.tilt_slot, pk.tilt_cum, pk.tilt_dir, u_path)  # 1: none tilted
    for m in range(w.trans.shape[0]):
        for r in range(w.trans.shape[1]):
            for k in range(w.trans.shape[2]):
                w.trans[m, r, k, g] = 0
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
        # a point value an event changed on the group's previous path is restored
        for j in range(pk.eff_event.shape[1]):
            if pk.eff_event[s, j] < 0:
                break
            k = pk.eff_pos[s, j]
            if pk.th_code[s, k] == FIXED:
                theta[s, k, g] = pk.th_fixed[s, k]
        w.waived[s, g] = u_path[nps, 0] < theta[s, pk.f.p_waiver, g]
        for q in range(K):
            w.qualified[s, q, g] = u_path[nps + 1 + q, 0] < theta[s, pk.f.src_p_qual + q, g]
        w.waived_mic[s, g] = u_path[nps + 1 + K, 0] < theta[s, pk.f.p_waiver_mic, g]


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
            w.fired[s, e, g] = -1
    for idx in range(pk.dims.M * pk.dims.C):
        f_live0 = pk.f.live0 + idx
        for g in range(n):
            live0 = _round_half_up(theta[s, f_live0, g])
            lic[s, 0, idx, g] = LIVE if live0 >= 1 else IDLE
            lic[s, 1, idx, g] = live0 if live0 >= 1 else 0


@jit(inline="always")
def _regime_and_events(pk, w, s, t, n):
    """3.1 the regime's step and 3.2 the events, in scenario ``s`` and month ``t``; an
    event that fires records the month in ``w.fired`` (its parameter effects are applied
    by :func:`apply_effects`)."""
    struct, theta, u, ev, policy = pk.struct, w.theta, w.u_month, w.events, w.policy
    R = pk.dims.R
    # 3.1: the first row entry the uniform falls below (rows are cumulative, so the
    # number of entries at or below it)
    if t > 0:
        for g in range(n):
            r0, mi, x = policy[s, 0, g], policy[s, 1, g], u[pk.u.regime, g]
            r = 0
            for q in range(R - 1):
                r += 1 if x >= pk.cum_trans[s, mi, r0, q] else 0
            policy[s, 0, g] = r
    # 3.2
    for e in range(pk.dims.E):
        max_ext = struct[s, pk.i.ev_max_ext + e]
        jump = struct[s, pk.i.ev_jump + e]
        mat = struct[s, pk.i.ev_matrix + e]
        f_ext, f_months = pk.f.ev_p_extend + e, pk.f.ev_extend_months + e
        f_fire = pk.f.ev_p_fire + e
        u_ext, u_fire = pk.u.events + 2 * e, pk.u.events + 2 * e + 1
        i_in = pk.i.ev_in + e * R
        for g in range(n):
            due = (ev[s, 2, e, g] == 0) & (ev[s, 0, e, g] == t)
            extend = due & (ev[s, 1, e, g] < max_ext) & (u[u_ext, g] < theta[s, f_ext, g])
            lapse = due & (not extend)
            allowed = struct[s, i_in + policy[s, 0, g]] != 0
            fire = lapse & allowed & (u[u_fire, g] < theta[s, f_fire, g])
            step = max(1, _round_half_up(theta[s, f_months, g]))
            ev[s, 0, e, g] += step if extend else 0
            ev[s, 1, e, g] += 1 if extend else 0
            ev[s, 2, e, g] = 1 if lapse else ev[s, 2, e, g]
            policy[s, 0, g] = jump if fire & (jump >= 0) else policy[s, 0, g]
            policy[s, 1, g] = mat if fire & (mat >= 0) else policy[s, 1, g]
            w.fired[s, e, g] = t if fire else w.fired[s, e, g]


@jit(inline="always")
def apply_effects(pk, w, s, t, n):
    """3.2: the parameters of scenario ``s`` that the events fired this month change,
    from this month on (on the paths where they fired), and the per-path constants
    derived from them are computed again. A scenario that shares the China stage with
    an earlier one reads that one's events."""
    twin = pk.struct[s, pk.i.twin_china]
    src = s if twin < 0 else twin
    theta = w.theta
    changed = False
    for j in range(pk.eff_event.shape[1]):
        e = pk.eff_event[s, j]
        if e < 0:
            break
        col, value, op = pk.eff_pos[s, j], pk.eff_value[s, j], pk.eff_op[s, j]
        cap = 1.0 if op == EFFECT_SCALE_TO_ONE else math.inf
        for g in range(n):
            hit = w.fired[src, e, g] == t
            old = theta[s, col, g]
            new = value if op == EFFECT_SET else min(old * value, cap)
            theta[s, col, g] = new if hit else old
            changed |= hit
    if changed:
        for g in range(n):
            store_parameters(pk, w, s, g)


@jit(inline="always")
def _barred(pk, w, s, m, t, g):
    """Whether Chinese-origin supply of material ``m`` is barred in month ``t`` on the
    ``g``-th path (the DFARS rules, less the path's waivers)."""
    made = (pk.struct[s, pk.i.made_in_china + m] != 0) & (not w.waived_mic[s, g])
    mined = (
        (pk.struct[s, pk.i.dfars_applies + m] != 0)
        & (t >= pk.struct[s, pk.i.dfars_month])
        & (not w.waived[s, g])
    )
    return made | mined


@stage
def china_month(pk, w, s, t, n):
    """Month ``t`` of sections 3.1-3.4 in scenario ``s`` for the group's first ``n``
    paths: the regime, events (and their effects), linkage and licences. Writes
    ``w.china[s, m, g]``: the month's Chinese-origin licensed supply that is not barred,
    tonnes (plus a magnet's recycling).

    The group's paths go side by side: each step is a loop over paths that runs as
    vector code, every path's decisions taken by selection rather than by branching
    (each path's arithmetic and comparisons are the same as alone)."""
    struct, theta, u = pk.struct, w.theta, w.u_month
    lic, policy, supply = w.licences, w.policy, w.china
    R, C, M = pk.dims.R, pk.dims.C, pk.dims.M
    f_flow, f_lag, f_term = pk.f.flow, pk.f.lag, pk.f.term
    f_pa, f_pac, f_prv = pk.f.p_approve, pk.f.p_approve_conc, pk.f.p_revoke
    i_talks, i_open = pk.i.talks, pk.i.ch_open

    _regime_and_events(pk, w, s, t, n)
    apply_effects(pk, w, s, t, n)
    # -- 3.3 linkage
    f_conc, u_conc = pk.f.p_concession, pk.u.concession
    for g in range(n):
        talks = struct[s, i_talks + policy[s, 0, g]] != 0
        offer = talks & (u[u_conc, g] < theta[s, f_conc, g])
        policy[s, 2, g] = 1 if offer else policy[s, 2, g]
    # -- 3.4 licences (and a magnet's recycling, the first part of its direct supply)
    opens_fast = struct[s, pk.i.opens_fast] != 0
    for m in range(M):
        f_leak = pk.f.leakage + m
        fast_track = struct[s, pk.i.fast_track + m] != 0
        magnet = struct[s, pk.i.kind + m] == MAGNET
        for g in range(n):
            supply[s, m, g] = theta[s, pk.f.recycling + m, g] if magnet else 0.0
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
                # imports under a live licence, unless the DFARS rules bar them
                flows = (st == LIVE) & (not _barred(pk, w, s, m, t, g))
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
    ``g``-th path of the group: each source's first month of output and inverse ramp
    (``w.src_*``), and the programmes' and materials' values (``w.per_pm``,
    ``w.per_p``, ``w.per_m``). Computed once per path (and again when an event changes
    a parameter): the month loop then multiplies instead of dividing.
    """
    theta, f = w.theta, pk.f
    for k in range(pk.dims.K):
        w.src_first[s, k, g] = (
            pk.struct[s, pk.i.src_start + k]
            + theta[s, f.src_slip + k, g]
            + theta[s, f.src_qual_months + k, g]
        )
        ramp_months = theta[s, f.src_ramp + k, g]
        w.src_inv_ramp[s, k, g] = 1.0 / ramp_months if ramp_months > 0.0 else -1.0
    M = pk.dims.M
    per_pm, per_m = w.per_pm, w.per_m
    for p in range(pk.dims.P):
        w.per_p[s, 0, p, g] = 1.0 + theta[s, f.catch_up + p, g]
        for m in range(M):
            j = p * M + m
            kg = theta[s, f.kg + j, g] / 1000.0
            per_pm[s, 0, j, g] = kg
            per_pm[s, 1, j, g] = 1.0 / kg if kg > 0.0 else 0.0
    for m in range(M):
        per_m[s, 0, m, g] = theta[s, f.buffer0 + m, g]
        per_m[s, 1, m, g] = theta[s, f.stock0 + m, g]
        per_m[s, 2, m, g] = theta[s, f.buffer_cap + m, g]
        per_m[s, 3, m, g] = theta[s, f.release_lag + m, g]
        per_m[s, 4, m, g] = theta[s, f.release_rate + m, g]


@jit(inline="always")
def no_kg(pk, s, j):
    """Whether programme-material pair ``j`` of scenario ``s`` uses none of the material
    on any path (kg per unit a point value of zero that no event sets): nothing is
    wanted, owed or allocated, so the month loop skips it (its tonnes owed are 0)."""
    return pk.struct[s, pk.i.kg_used + j] == 0


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
def _scheduled(theta, cols, weight, s, j, t, g):
    """A schedule's value in month ``t`` (linear between its nodes, flat outside)."""
    a = theta[s, cols[s, j, t, 0], g]
    return a + weight[s, j, t] * (theta[s, cols[s, j, t, 1], g] - a)


@stage
def _demand(pk, w, s, n, t):
    """3.5: each programme's schedule, want and request of each material; the month's
    demand per material, all and DX only, summed in programme order."""
    struct, per_pm, per_p, demand, theta = pk.struct, w.per_pm, w.per_p, w.demand, w.theta
    pm, prog = w.pm, w.prog
    M = pk.dims.M
    for m in range(M):
        for g in range(n):
            demand[0, m, g] = 0.0
            demand[1, m, g] = 0.0
    for p in range(pk.dims.P):
        on = struct[s, pk.i.prog_start + p] <= t <= struct[s, pk.i.prog_end + p]
        for g in range(n):
            rate = _scheduled(theta, pk.rate_cols, pk.rate_w, s, p, t, g) / 12.0
            w.rate[p, g] = rate if on else 0.0
            prog[s, 2, p, g] = max(0.0, min(prog[s, 0, p, g] + w.rate[p, g] - prog[s, 1, p, g],
                                             rate * per_p[s, 0, p, g]))  # fmt: skip
        if on:
            for g in range(n):
                rate = w.rate[p, g]
                prog[s, 0, p, g] += rate
                # the rate slip is measured in: this month's, if it schedules any
                w.inv_ref[s, p, g] = 1.0 / rate if rate > RATE_FLOOR else w.inv_ref[s, p, g]
            for m in range(M):
                if no_kg(pk, s, p * M + m):
                    continue
                for g in range(n):
                    pm[s, 1, p * M + m, g] += w.rate[p, g] * per_pm[s, 0, p * M + m, g]
        is_dx = struct[s, pk.i.priority + p] == 0
        for m in range(M):
            j = p * M + m
            if no_kg(pk, s, j):
                continue  # unused: nothing wanted, so nothing owed or allocated
            for g in range(n):
                d = max(0.0, prog[s, 2, p, g] * per_pm[s, 0, j, g] - pm[s, 0, j, g])
                w.month_pm[0, j, g] = d
                demand[0, m, g] += d
            if is_dx:
                for g in range(n):
                    demand[1, m, g] += w.month_pm[0, j, g]


@jit(inline="always")
def _source_output(pk, w, s, k, t, g):
    """What source ``k`` can deliver in month ``t`` on the ``g``-th path, t (3.6)."""
    theta, f = w.theta, pk.f
    first = w.src_first[s, k, g]
    inv_ramp = w.src_inv_ramp[s, k, g]
    ramp = 1.0 if inv_ramp < 0.0 else min(1.0, (t - first + 1.0) * inv_ramp)
    out = (
        _scheduled(theta, pk.cap_cols, pk.cap_w, s, k, t, g)
        / 12.0
        * theta[s, f.src_yield + k, g]
        * theta[s, f.src_share + k, g]
    )
    return out * ramp if w.qualified[s, k, g] & (t >= first) else 0.0


@stage
def _direct_supply(pk, w, s, t, n):
    """3.6.1-2: the direct supply of every magnet (``w.stocks[s, 2]``) and the
    feedstock pools (``w.pools``: non-Chinese, Chinese-origin) from recycling, licences
    (``w.china``, this scenario's or its twin's) and the sources that are not makers."""
    struct, stocks, pools = pk.struct, w.stocks, w.pools
    twin = struct[s, pk.i.twin_china]
    src = s if twin < 0 else twin
    for m in range(pk.dims.M):
        magnet = struct[s, pk.i.kind + m] == MAGNET
        for g in range(n):
            v = w.china[src, m, g]
            stocks[s, 2, m, g] = v if magnet else 0.0
            pools[0, m, g] = 0.0 if magnet else w.theta[s, pk.f.recycling + m, g]
            pools[1, m, g] = 0.0 if magnet else v
    for k in range(pk.dims.K):
        mk = struct[s, pk.i.src_material + k]
        if _makes(pk, s, mk):
            continue  # a maker: it produces to order (_makers)
        chinese = struct[s, pk.i.src_chinese + k] != 0
        magnet = struct[s, pk.i.kind + mk] == MAGNET
        for g in range(n):  # by selection, so that the loop runs as vector code
            out = _source_output(pk, w, s, k, t, g)
            out = 0.0 if chinese & _barred(pk, w, s, mk, t, g) else out
            if magnet:
                stocks[s, 2, mk, g] += out
            elif chinese:
                pools[1, mk, g] += out
            else:
                pools[0, mk, g] += out


@jit(inline="always")
def _makes(pk, s, m):
    """Whether material ``m``'s sources are makers: it is made from feedstock."""
    return pk.struct[s, pk.i.makes + m] != 0


@stage
def _makers(pk, w, s, t, n):
    """3.6.3-4: each magnet made from feedstock is ordered from its makers (the month's
    need and the contractors' inventory refill, less its direct supply), who make it in
    config order up to their capacity and the feedstock they may use; then each
    feedstock's inventory keeps what is left of its non-Chinese pool."""
    struct, theta, stocks, pools, order = pk.struct, w.theta, w.stocks, w.pools, w.order
    M = pk.dims.M
    f_rule = pk.f.rules
    for m in range(M):
        if struct[s, pk.i.kind + m] != MAGNET or not _makes(pk, s, m):
            continue
        for g in range(n):
            refill = max(0.0, w.per_m[s, 2, m, g] - stocks[s, 0, m, g])
            order[0, g] = max(0.0, w.demand[0, m, g] + refill - stocks[s, 2, m, g])
        for k in range(pk.dims.K):
            if struct[s, pk.i.src_material + k] != m:
                continue
            abroad = struct[s, pk.i.src_abroad + k] != 0
            chinese = struct[s, pk.i.src_chinese + k] != 0
            for g in range(n):
                extra = theta[s, f_rule + RULE_EXTRATERRITORIAL, g] != 0.0
                military = theta[s, f_rule + RULE_MILITARY_END_USE, g] != 0.0
                out = _source_output(pk, w, s, k, t, g)
                out = 0.0 if chinese & _barred(pk, w, s, m, t, g) else out  # made in China
                order[1, g] = min(order[0, g], out)
                order[3, g] = order[1, g]
                order[2, g] = 0.0 if military | (abroad & extra) else 1.0
            _make(pk, w, s, m, t, n)
            for g in range(n):
                order[0, g] -= order[1, g]
                stocks[s, 2, m, g] += order[1, g]
    for f in range(M):
        if struct[s, pk.i.kind + f] != FEEDSTOCK:
            continue
        for g in range(n):
            buffer = stocks[s, 0, f, g]
            cap = w.per_m[s, 2, f, g]
            stocks[s, 0, f, g] = buffer if buffer >= cap else min(cap, buffer + pools[0, f, g])


@jit(inline="always")
def _make(pk, w, s, m, t, n):
    """One maker's production of magnet ``m``, for the group's paths: it wants
    ``w.order[3]`` tonnes and makes (into ``w.order[1]``) what each feedstock it needs
    allows (Chinese-origin only where ``w.order[2]`` is 1); takes the feedstock it uses
    from the pools and the inventory, and marks a feedstock whose stocks could not
    cover the need as run out."""
    M, theta, pools, stocks, order = pk.dims.M, w.theta, w.pools, w.stocks, w.order
    for f in range(M):
        col = pk.f.feed + m * M + f
        if pk.th_code[s, col] == FIXED and pk.th_fixed[s, col] <= 0.0:
            continue  # a feedstock it never needs
        for g in range(n):
            a = theta[s, col, g]
            want = order[3, g]
            avail = order[2, g] * pools[1, f, g] + pools[0, f, g] + stocks[s, 0, f, g]
            short = (a > 0.0) & ((want - avail / a) * a > EXHAUSTED_T)
            w.first_out[s, f, g] = t if short & (w.first_out[s, f, g] < 0) else w.first_out[s, f, g]
            order[1, g] = min(order[1, g], avail / a) if a > 0.0 else order[1, g]
    for g in range(n):
        order[1, g] = max(order[1, g], 0.0)
    for f in range(M):
        col = pk.f.feed + m * M + f
        if pk.th_code[s, col] == FIXED and pk.th_fixed[s, col] <= 0.0:
            continue
        for g in range(n):
            a = theta[s, col, g]
            take = order[1, g] * a if a > 0.0 else 0.0
            used = min(take, order[2, g] * pools[1, f, g])
            pools[1, f, g] -= used
            take -= used
            used = min(take, pools[0, f, g])
            pools[0, f, g] -= used
            take -= used
            stocks[s, 0, f, g] = max(0.0, stocks[s, 0, f, g] - take)


@stage
def _allocate(pk, w, s, n, t):
    """3.7: stocks cover what supply does not, the stockpile releases when its rule
    allows, and DPAS shares the available amount (DX first, pro rata within a class).
    Writes the DX and DO shares to ``w.demand[2:4]``, and the first month stocks have
    run out to ``w.first_out``."""
    stocks, per_m, demand = w.stocks, w.per_m, w.demand
    first_short, first_out = w.first_short, w.first_out
    for m in range(pk.dims.M):
        if pk.struct[s, pk.i.kind + m] != MAGNET:
            continue  # a feedstock goes to its makers (3.6), not to programmes
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


@stage
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
            if no_kg(pk, s, j):
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
            if no_kg(pk, s, j):
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


@stage
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
    twin's month instead of computing its own, and applies its own events' effects.
    """
    draw_month(w, k0, k1, path0, n, t)
    if t > 0:  # month 0 draws a regime uniform it does not use
        tilt_regime(pk, w, n)
    for s in range(pk.dims.S):
        if pk.struct[s, pk.i.twin_china] < 0:
            china_month(pk, w, s, t, n)
    for s in range(pk.dims.S):
        if pk.struct[s, pk.i.twin_china] >= 0:
            apply_effects(pk, w, s, t, n)
        _demand(pk, w, s, n, t)
        _direct_supply(pk, w, s, t, n)
        _makers(pk, w, s, t, n)
        _allocate(pk, w, s, n, t)
        _build_and_record(pk, w, s, n, rec)


@jit(inline="always")
def month_regime(pk, w, s, g):
    """Scenario ``s``'s regime in the current month on the ``g``-th path (its twin's,
    if it shares the China stage)."""
    return w.policy[china_stage_of(pk, s), 0, g]


@jit(inline="always")
def china_stage_of(pk, s):
    """The scenario whose China stage scenario ``s`` uses: its twin's, or its own."""
    twin = pk.struct[s, pk.i.twin_china]
    return s if twin < 0 else twin
