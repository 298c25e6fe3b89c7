"""Closed forms of docs/model.md checked against the compiled engine.

Each case is a tiny config whose statistics have an exact answer, worked out below
from the model's month-by-month rules. Stochastic cases run a few thousand to 20,000
paths at a fixed seed and require every measured value to lie within 4 Monte Carlo
standard errors of the exact one (|z| < 4); deterministic cases must agree to 1e-9.
Probabilities use the standard error of the *exact* probability, sqrt(p (1 - p) / n)
(so a measured 0 against a small exact p is not a false pass); means use the engine's
own standard error (sample sd / sqrt(n)).

All z-scores go to the ``zscores`` recorder (tests/stats/conftest.py): they are printed
in the terminal summary and written to JSON; ``python tests/stats/ztable.py`` prints
the full table.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from reriskmc.config import load_config
from reriskmc.engine import replay_path, simulate
from reriskmc.results import build_dataset

Z_MAX = 4.0
QUANTILE_REL = 1.0 / 128.0  # the sketch's documented relative accuracy

HEAD = """
[run]
title = "{name}"
start = "2025-01"
months = {months}
behind_tolerance_units = 1e-6
quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]

[regimes]
names = ["only"]
initial = "only"
[regimes.transition]
only = [1.0]
"""


def month(i: int) -> str:
    """The date of month index ``i`` (month 0 is 2025-01)."""
    return f"{2025 + i // 12}-{i % 12 + 1:02d}"


def run_case(tmp_path, name: str, body: str, *, months: int, n: int, seed: int, head: str = HEAD):
    path = tmp_path / f"{name}.toml"
    path.write_text(head.format(name=name, months=months) + body, encoding="utf-8")
    cfg = load_config(path)
    stats_ = simulate(cfg, n, seed)
    return cfg, build_dataset(cfg, stats_, seed)


def p_se(p, n: int):
    p = np.asarray(p, float)
    return np.sqrt(p * (1.0 - p) / n)


def assert_small(z, what: str) -> None:
    z = np.asarray(z, float)
    worst = np.nanmax(np.abs(z)) if z.size else 0.0
    assert np.all(np.abs(z) < Z_MAX), (
        f"{what}: max |z| = {worst:.2f} at {np.unravel_index(np.argmax(np.abs(z)), z.shape)}"
    )


def assert_exact(measured, expected, what: str, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(measured, expected, rtol=1e-9, atol=atol, err_msg=what)


SHOW = (0, 1, 2, 5, 11, 23, 35)


# =========================================================================== a
# A live military licence, revoked with probability q each month, never approved again:
# the first month without supply is geometric, so P(behind by month t) = 1 - (1-q)^(t+1)
# and E[units short at t] = sum_{j<=t} P(behind by j) (one unit a month, no catch-up).
Q_REVOKE = 0.05
CASE_A = f"""
[channels.military]
p_approve = 0.0
p_revoke = {Q_REVOKE}
live_at_start_months = 1000.0
lag_months = 1.0

[materials.ndfeb]
buffer_t = 0.0
[materials.ndfeb.licence.military]
flow_t = 1.0

[programmes.x]
units_per_year = 12.0
[programmes.x.kg_per_unit]
ndfeb = 1000.0
"""


def case_a_expected(T: int):
    t = np.arange(T)
    p = 1.0 - (1.0 - Q_REVOKE) ** (t + 1)
    return p, np.cumsum(p)


def test_a__revocation_gives_a_geometric_time_to_first_shortfall(tmp_path, zscores):
    T, n, seed = 36, 20_000, 101
    _, ds = run_case(tmp_path, "a", CASE_A, months=T, n=n, seed=seed)
    p, us = case_a_expected(T)
    z1 = zscores.add_series(
        "a: P(behind by t), revoke q=0.05",
        p,
        ds.p_shortfall.values[0, 0],
        p_se(p, n),
        n_paths=n,
        seed=seed,
        show_at=SHOW,
    )
    z2 = zscores.add_series(
        "a: E[units short at t]",
        us,
        ds.units_short_mean.values[0, 0],
        ds.units_short_mean_se.values[0, 0],
        n_paths=n,
        seed=seed,
        show_at=(0, 11, 35),
    )
    assert_small(z1, "P(behind)")
    assert_small(z2, "units short")
    # one tonne per unit: tonnes owed equal units behind, path by path
    assert_exact(
        ds.shortfall_t_mean.values[0, 0, 0], ds.units_short_mean.values[0, 0], "owed = short"
    )


# =========================================================================== b
# Fixed approval probability a, lag exactly 1, an idle licence at the start and a term
# longer than the horizon: decisions come in months 1, 2, ..., the first live month K
# is 1 + Geometric(a) failures, P(K > j) = (1-a)^j (j >= 1), P(K > 0) = 1. The flow
# covers every programme and nothing is stored (buffer cap 0), so a programme scheduled
# from month s has fallen behind (at month s, for good) iff K > s; and with no catch-up
# E[units short at t] = sum_{j=s}^{t} P(K > j) (its uncovered months).
A_APPROVE = 0.3
STARTS = (0, 1, 2, 3, 5, 8)


def case_b_body(p_approve: str) -> str:
    body = f"""
[channels.military]
p_approve = {p_approve}
lag_months = 1.0
term_months = 1000.0

[materials.ndfeb]
buffer_t = 0.0
[materials.ndfeb.licence.military]
flow_t = {float(len(STARTS))}
"""
    for s in STARTS:
        body += f"""
[programmes.from_{s}]
start = "{month(s)}"
units_per_year = 12.0
[programmes.from_{s}.kg_per_unit]
ndfeb = 1000.0
"""
    return body


def _check_case_b(ds, p_not_live, label: str, n: int, seed: int, zscores):
    """p_not_live[j] = P(K > j): compare p_shortfall and units_short_mean of every
    programme with the closed forms."""
    T = len(p_not_live)
    t = np.arange(T)
    zs = []
    for i, s in enumerate(STARTS):
        before = t < s
        assert_exact(
            ds.p_shortfall.values[0, i, before], 0.0, f"{label} from_{s}: behind before start"
        )
        assert_exact(
            ds.units_short_mean.values[0, i, before], 0.0, f"{label} from_{s}: short before start"
        )
        p = np.full(T - s, p_not_live[s])
        zs.append(
            zscores.add_series(
                f"{label}: P(behind), start s={s}",
                p,
                ds.p_shortfall.values[0, i, s:],
                p_se(p, n),
                n_paths=n,
                seed=seed,
                show_at=(T - s - 1,),
            )
        )
        us = np.cumsum(p_not_live[s:])
        zs.append(
            zscores.add_series(
                f"{label}: E[units short], start s={s}",
                us,
                ds.units_short_mean.values[0, i, s:],
                ds.units_short_mean_se.values[0, i, s:],
                n_paths=n,
                seed=seed,
                show_at=(T - s - 1,) if s in (0, 3) else (),
            )
        )
    assert_small(np.concatenate(zs), label)


def test_b__fixed_approval_lag_one_first_approval_is_geometric(tmp_path, zscores):
    T, n, seed = 24, 20_000, 202
    _, ds = run_case(tmp_path, "b", case_b_body(str(A_APPROVE)), months=T, n=n, seed=seed)
    j = np.arange(T)
    p_not_live = np.where(j == 0, 1.0, (1.0 - A_APPROVE) ** j)
    _check_case_b(ds, p_not_live, "b: approve a=0.3, lag 1", n, seed, zscores)


# =========================================================================== c
# Approval probability 1, integer lag L, term T: decided at L, live L..L+T-1, expires,
# re-applies the same month, decided L months later: live T months out of every T + L.
# With the licence the only supply (exactly the demand) and no catch-up, units short at
# t is the number of uncovered months up to t, the same on every path.
def case_c_body(lag: float, term: float) -> str:
    return f"""
[channels.military]
p_approve = 1.0
lag_months = {lag}
term_months = {term}

[materials.ndfeb]
buffer_t = 0.0
[materials.ndfeb.licence.military]
flow_t = 1.0

[programmes.x]
units_per_year = 12.0
[programmes.x.kg_per_unit]
ndfeb = 1000.0
"""


@pytest.mark.parametrize(
    "L,term_written,TERM", [(2, 3.0, 3), (1, 2.5, 3), (3, 1.0, 1), (1, 4.4, 4)]
)
def test_c__renewal_cycle_is_live_T_months_of_every_T_plus_L(
    tmp_path, zscores, L, term_written, TERM
):
    # (the term is rounded half up: 2.5 -> 3, 4.4 -> 4)
    T, n, seed = 24, 1000, 303
    _, ds = run_case(tmp_path, "c", case_c_body(float(L), term_written), months=T, n=n, seed=seed)
    t = np.arange(T)
    live = (t >= L) & ((t - L) % (TERM + L) < TERM)
    us = np.cumsum(~live).astype(float)
    measured = ds.units_short_mean.values[0, 0]
    zscores.add_series(
        f"c: units short, lag {L} term {term_written:g} (determ.)",
        us,
        measured,
        0.0,
        n_paths=n,
        seed=seed,
        show_at=(0, 4, 9, 23),
    )
    assert_exact(measured, us, "units short")
    assert np.all(ds.units_short_mean_se.values[0, 0] < 1e-6)
    assert_exact(ds.p_shortfall.values[0, 0], 1.0, "behind from month 0")
    # the covered months, read back from the increments of the mean: T of every T + L
    covered = 1.0 - np.diff(np.concatenate([[0.0], measured]))
    cycles = covered[L : L + 4 * (TERM + L)]
    zscores.add(
        f"c: share of covered months, lag {L} term {term_written:g}",
        TERM / (TERM + L),
        cycles.mean(),
        0.0,
        n_paths=n,
        seed=seed,
    )
    assert cycles.mean() == pytest.approx(TERM / (TERM + L), abs=1e-9)
    # every path has the same value: each quantile is it, within the sketch's accuracy
    q = ds.units_short_quantile.values[0, 0]  # (month, quantile)
    assert np.all(np.abs(q - us[:, None]) <= QUANTILE_REL * us[:, None] + 1e-6)


def p_live_stochastic_lag(lag: float, term: int, T: int) -> np.ndarray:
    """Exact P(live at t) for approval 1: applications at 0 and at each expiry; each
    lag is floor(lag) or floor(lag) + 1 (the latter with the fractional part), >= 1."""
    lo = math.floor(lag)
    frac = lag - lo
    lags: dict[int, float] = {}
    for value, prob in ((lo, 1.0 - frac), (lo + 1, frac)):
        if prob > 0:
            lags[max(1, value)] = lags.get(max(1, value), 0.0) + prob
    p_app = np.zeros(T + 1)
    p_app[0] = 1.0
    p_live = np.zeros(T)
    for a in range(T):
        for d_lag, pl in lags.items():
            d = a + d_lag
            w = p_app[a] * pl
            p_live[d : min(d + term, T)] += w
            if d + term <= T:
                p_app[d + term] += w
    return p_live


def test_c2__stochastically_rounded_lag_renewal(tmp_path, zscores):
    LAG, TERM, T, n, seed = 1.5, 3, 36, 20_000, 304
    _, ds = run_case(tmp_path, "c2", case_c_body(LAG, float(TERM)), months=T, n=n, seed=seed)
    p_live = p_live_stochastic_lag(LAG, TERM, T)
    # the exact law reaches the renewal-reward limit T / (T + E[lag]) in the long run
    assert abs(p_live_stochastic_lag(LAG, TERM, 600)[-200:].mean() - TERM / (TERM + LAG)) < 1e-3
    us = np.cumsum(1.0 - p_live)
    z = zscores.add_series(
        "c2: E[units short], lag 1.5 (stoch.) term 3",
        us,
        ds.units_short_mean.values[0, 0],
        ds.units_short_mean_se.values[0, 0],
        n_paths=n,
        seed=seed,
        show_at=(3, 5, 11, 23, 35),
    )
    assert_small(z, "c2")
    assert_exact(ds.p_shortfall.values[0, 0], 1.0, "behind from month 0")


# =========================================================================== d
# Stocks with no supply. Buffer B (plus stockpile), demand d = 2 t/month: the programme
# falls behind in the first month the stock cannot cover, floor(B/d) (B/d not whole) or
# B/d (whole), and that is the month the stocks run out (they fail to cover a need,
# 3.7.4), also where a stockpile is left but may not yet be released. Deterministic.
CASE_D = """
[channels.military]

[materials.a]
buffer_t = 7.5

[materials.b]
buffer_t = 8.0

[materials.c]
buffer_t = 3.0
[materials.c.stockpile]
stockpile_t = 5.0
release = "from_date"
release_date = "2025-01"
release_t_per_month = 100.0

[materials.e]
buffer_t = 2.0
[materials.e.stockpile]
stockpile_t = 10.0
release = "on_shortfall"
release_lag_months = 2.0
release_t_per_month = 100.0

[materials.f]
buffer_t = 2.0
[materials.f.stockpile]
stockpile_t = 10.0
release = "on_shortfall"
release_lag_months = 0.5
release_t_per_month = 100.0

[materials.g]
recycling_t = 3.0
buffer_t = 0.0
buffer_cap_t = 2.5

[programmes.xa]
units_per_year = 12.0
kg_per_unit = {a = 2000.0}
[programmes.xb]
units_per_year = 12.0
kg_per_unit = {b = 2000.0}
[programmes.xc]
units_per_year = 12.0
kg_per_unit = {c = 2000.0}
[programmes.xe]
units_per_year = 12.0
kg_per_unit = {e = 2000.0}
[programmes.xf]
units_per_year = 12.0
kg_per_unit = {f = 2000.0}
[programmes.xg1]
units_per_year = 12.0
kg_per_unit = {g = 2000.0}
[programmes.xg2]
start = "2025-05"
units_per_year = 12.0
kg_per_unit = {g = 2000.0}
"""


def test_d__stock_depletion_at_a_known_rate(tmp_path, zscores):
    T, n, seed, d = 12, 500, 404, 2.0
    _, ds = run_case(tmp_path, "d", CASE_D, months=T, n=n, seed=seed)
    t = np.arange(T)
    # (total stock, month exhausted, month behind, units short per month)
    expect = {}
    for name, total in (("a", 7.5), ("b", 8.0), ("c", 8.0)):
        behind = math.floor(total / d) if total % d else int(total / d)
        expect[name] = (behind, behind, np.maximum(0.0, t + 1 - total / d))
    # e: the buffer covers month 0; months 1-2 are short (release authorised from
    # first shortage + 2 = month 3); the stockpile covers months 3-7
    expect["e"] = (1, 1, np.array([0, 1, 2, 2, 2, 2, 2, 2, 3, 4, 5, 6], float))
    # f: the same with a release lag of 0.5 (real-valued): authorised from month 2
    expect["f"] = (1, 1, np.array([0, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6], float))
    for i, name in enumerate(("a", "b", "c", "e", "f")):
        exhausted, behind, us = expect[name]
        zscores.add(
            f"d: month stock {name} exhausted",
            exhausted,
            int(np.argmax(ds.p_stock_exhausted.values[0, i] > 0.5)),
            0.0,
            n_paths=n,
            seed=seed,
        )
        zscores.add(
            f"d: month programme on {name} behind",
            behind,
            int(np.argmax(ds.p_shortfall.values[0, i] > 0.5)),
            0.0,
            n_paths=n,
            seed=seed,
        )
        assert_exact(
            ds.p_stock_exhausted.values[0, i], (t >= exhausted).astype(float), f"{name}: exhausted"
        )
        assert_exact(ds.p_shortfall.values[0, i], (t >= behind).astype(float), f"{name}: behind")
        assert_exact(ds.units_short_mean.values[0, i], us, f"{name}: units short")
        assert_exact(ds.shortfall_t_mean.values[0, i, i], d * us, f"{name}: tonnes owed")
        q = ds.units_short_quantile.values[0, i]
        assert np.all(np.abs(q - us[:, None]) <= QUANTILE_REL * us[:, None] + 1e-6), name
    # g: supply 3 t/month, one programme (2 t/month) from month 0 and one from month 4:
    # the surplus fills the buffer to its cap 2.5 (1, 2, 2.5, 2.5), which then covers
    # the 1 t/month gap for months 4-5 and half of month 6; from month 6 both DO
    # programmes share the supply pro rata: 0.125 units short each in month 6, then
    # 0.25 more a month
    us_g = np.where(t < 6, 0.0, 0.125 + 0.25 * (t - 6))
    zscores.add(
        "d: month stock g (capped buffer) exhausted",
        6,
        int(np.argmax(ds.p_stock_exhausted.values[0, 5] > 0.5)),
        0.0,
        n_paths=n,
        seed=seed,
    )
    assert_exact(ds.p_stock_exhausted.values[0, 5], (t >= 6).astype(float), "g: exhausted")
    for i in (5, 6):
        assert_exact(
            ds.p_shortfall.values[0, i], (t >= 6).astype(float), f"g: programme {i} behind"
        )
        assert_exact(ds.units_short_mean.values[0, i], us_g, f"g: programme {i} units short")
    zscores.add(
        "d: units short of xa at month 11",
        12 - 3.75,
        ds.units_short_mean.values[0, 0, 11],
        0.0,
        n_paths=n,
        seed=seed,
    )


# Supply accounting (3.4 leakage, 3.5 ramps, recycling): demand 2 t/month and
# supply = 0.5 recycling + a green licence (approval 1, lag 1) whose flow 4 t reaches
# military users at leakage 0.25, + a source of 12 t/yr at yield 0.5 starting in month 3
# with a 2-month ramp: supply = 0.5, 1.5, 1.5, 1.75, 2, 2, ... Deterministic.
CASE_SUPPLY = """
[channels.green]
fast = true
p_approve = 1.0
lag_months = 1.0
term_months = 1000.0

[materials.m]
fast_track = false
leakage = 0.25
recycling_t = 0.5
[materials.m.licence.green]
flow_t = 4.0

[sources.plant]
material = "m"
capacity_t_per_year = 12.0
start = "2025-04"
ramp_months = 2.0
yield = 0.5

[programmes.x]
units_per_year = 12.0
kg_per_unit = {m = 2000.0}
"""


def test_d2__supply_from_leakage_recycling_and_a_ramping_source(tmp_path, zscores):
    T, n, seed = 8, 200, 405
    _, ds = run_case(tmp_path, "d2", CASE_SUPPLY, months=T, n=n, seed=seed)
    supply = np.array([0.5, 1.5, 1.5, 1.75, 2.0, 2.0, 2.0, 2.0])
    owed = np.cumsum(2.0 - supply)
    zscores.add_series(
        "d2: tonnes owed (deterministic)",
        owed,
        ds.shortfall_t_mean.values[0, 0, 0],
        0.0,
        n_paths=n,
        seed=seed,
        show_at=(0, 3, 7),
    )
    assert_exact(ds.shortfall_t_mean.values[0, 0, 0], owed, "owed")
    assert_exact(ds.units_short_mean.values[0, 0], owed / 2.0, "units short")


# Allocation and build rules (3.6-3.8), deterministic:
# - catch-up: no supply in months 0-2, then 2 t/month against 1 t/month demand and
#   catch_up 0.5: the backlog 1, 2, 3 shrinks by 0.5 a month to 0 in month 8;
# - DPAS: supply 1.5 t/month, a DX programme and two DO programmes of 1 t/month each:
#   DX gets 1, each DO 0.25 (pro rata), so each DO falls 0.75 units behind a month;
# - Leontief kits: 1 t/unit of a (supply 1) and of b (supply 0.5): 0.5 units a month
#   are built, half a unit's worth of a waits in the kit, so the programme asks only
#   0.5 t of a from month 1: units short 0.5 (t+1), a owed 0.5 t, b owed 0.5 (t+1).
CASE_RULES = """
[channels.military]

[materials.c]
[materials.d]
recycling_t = 1.5
[materials.a]
recycling_t = 1.0
[materials.b]
recycling_t = 0.5

[sources.late]
material = "c"
capacity_t_per_year = 24.0
start = "2025-04"

[programmes.catchup]
units_per_year = 12.0
catch_up = 0.5
kg_per_unit = {c = 1000.0}
[programmes.dx]
priority = "DX"
units_per_year = 12.0
kg_per_unit = {d = 1000.0}
[programmes.do1]
priority = "DO"
units_per_year = 12.0
kg_per_unit = {d = 1000.0}
[programmes.do2]
units_per_year = 12.0
kg_per_unit = {d = 1000.0}
[programmes.kit]
units_per_year = 12.0
kg_per_unit = {a = 1000.0, b = 1000.0}
"""


def test_d3__catch_up_priorities_and_kits(tmp_path, zscores):
    T, n, seed = 12, 200, 406
    _, ds = run_case(tmp_path, "d3", CASE_RULES, months=T, n=n, seed=seed)
    t = np.arange(T)
    us = ds.units_short_mean.values[0]
    owed = ds.shortfall_t_mean.values[0]  # (programme, material, month); materials c, d, a, b
    expect = {
        "catch-up backlog": (us[0], np.array([1, 2, 3, 2.5, 2, 1.5, 1, 0.5, 0, 0, 0, 0], float)),
        "DX programme": (us[1], np.zeros(T)),
        "DO programme 1": (us[2], 0.75 * (t + 1)),
        "DO programme 2": (us[3], 0.75 * (t + 1)),
        "kit: units short": (us[4], 0.5 * (t + 1)),
        "kit: a owed": (owed[4, 2], 0.5 * t),
        "kit: b owed": (owed[4, 3], 0.5 * (t + 1)),
    }
    for label, (measured, expected) in expect.items():
        zscores.add_series(
            f"d3: {label} (deterministic)",
            expected,
            measured,
            0.0,
            n_paths=n,
            seed=seed,
            show_at=(T - 1,) if label != "catch-up backlog" else (3, 8),
        )
        assert_exact(measured, expected, label)


# =========================================================================== e
# Two regimes, P = [[1-a, a], [b, 1-b]]: the month-t regime law is e_0 P^t, converging
# to (b, a) / (a + b). A scenario starts from the other regime.
A_TR, B_TR = 0.1, 0.3
HEAD_TWO = f"""
[run]
title = "{{name}}"
start = "2025-01"
months = {{months}}
behind_tolerance_units = 1e-6

[regimes]
names = ["calm", "storm"]
initial = "calm"
[regimes.transition]
calm = [{1 - A_TR!r}, {A_TR!r}]
storm = [{B_TR!r}, {1 - B_TR!r}]
"""
CASE_E = """
[channels.military]
[materials.m]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}

[scenarios.from_storm]
description = "start in the other regime"
regimes.initial = "storm"
"""


def regime_law(P: np.ndarray, start: int, T: int) -> np.ndarray:
    out = np.empty((T, P.shape[0]))
    v = np.eye(P.shape[0])[start]
    for t in range(T):
        out[t] = v
        v = v @ P
    return out


def test_e__two_state_chain_follows_its_t_step_law(tmp_path, zscores):
    T, n, seed = 36, 20_000, 505
    _, ds = run_case(tmp_path, "e", CASE_E, months=T, n=n, seed=seed, head=HEAD_TWO)
    P = np.array([[1 - A_TR, A_TR], [B_TR, 1 - B_TR]])
    stationary = np.array([B_TR, A_TR]) / (A_TR + B_TR)
    zs = []
    for s, start in enumerate((0, 1)):
        law = regime_law(P, start, T)
        measured = ds.p_regime.values[s]  # (regime, month)
        assert_exact(measured.sum(axis=0), 1.0, "shares sum to 1")
        assert_exact(measured[:, 0], np.eye(2)[start], "month 0 is the initial regime")
        zs.append(
            zscores.add_series(
                f"e: P(calm at t), start {('calm', 'storm')[start]}",
                law[1:, 0],
                measured[0, 1:],
                p_se(law[1:, 0], n),
                n_paths=n,
                seed=seed,
                show_at=(0, 4, 10, 34),
            )
        )
        zs.append(
            [
                zscores.add(
                    f"e: stationary P(calm)={stationary[0]:.2f}, start {start}, last month",
                    stationary[0],
                    measured[0, -1],
                    p_se(stationary[0], n),
                    n_paths=n,
                    seed=seed,
                )
            ]
        )
    assert_small(np.concatenate(zs), "regime law")


# =========================================================================== f
# Distribution-valued parameters, drawn once per path by inverse transform.
def test_f1__uniform_rate_with_ample_supply_is_never_short(tmp_path, zscores):
    T, n, seed = 12, 5000, 606
    body = """
[channels.military]
[materials.m]
recycling_t = 100.0
[programmes.x]
units_per_year = {dist = "uniform", low = 10.0, high = 50.0}
kg_per_unit = {m = 1000.0}
"""
    _, ds = run_case(tmp_path, "f1", body, months=T, n=n, seed=seed)
    zscores.add(
        "f1: max units short, U(10,50)/yr, ample supply",
        0.0,
        ds.units_short_mean.values.max(),
        0.0,
        n_paths=n,
        seed=seed,
    )
    assert_exact(ds.units_short_mean.values, 0.0, "units short")
    assert_exact(ds.p_shortfall.values, 0.0, "behind")
    assert_exact(ds.shortfall_t_mean.values, 0.0, "owed")


def test_f1b__uniform_rate_against_a_fixed_supply(tmp_path, zscores):
    # rate R ~ U(1, 3) units/month, 1 t/unit, supply 2 t/month, no catch-up: the path
    # builds min(R, 2) a month, so units short at t = (t+1) (R-2)+:
    # E = (t+1) * 0.25; P(behind) = P(R > 2) = 1/2; the q-quantile (q >= 1/2) of units
    # short is (2q - 1)(t + 1).
    T, n, seed = 12, 20_000, 607
    body = """
[channels.military]
[materials.m]
recycling_t = 2.0
[programmes.x]
units_per_year = {dist = "uniform", low = 12.0, high = 36.0}
kg_per_unit = {m = 1000.0}
"""
    _, ds = run_case(tmp_path, "f1b", body, months=T, n=n, seed=seed)
    t = np.arange(T)
    p = 0.5 - 1e-6 / (2.0 * (t + 1))  # behind once (t+1)(R-2) exceeds the tolerance
    zs = [
        zscores.add_series(
            "f1b: P(behind), R~U(1,3), supply 2",
            p,
            ds.p_shortfall.values[0, 0],
            p_se(p, n),
            n_paths=n,
            seed=seed,
            show_at=(0, 11),
        ),
        zscores.add_series(
            "f1b: E[units short] = (t+1)/4",
            0.25 * (t + 1),
            ds.units_short_mean.values[0, 0],
            ds.units_short_mean_se.values[0, 0],
            n_paths=n,
            seed=seed,
            show_at=(0, 11),
        ),
    ]
    qs = list(ds["quantile"].values)
    for level in (0.75, 0.95):
        qi = qs.index(level)
        for tt in (2, 11):
            x = (2 * level - 1) * (tt + 1)
            density = 1.0 / (2.0 * (tt + 1))
            se = math.sqrt(level * (1 - level) / n) / density
            se = math.hypot(se, QUANTILE_REL * x)  # sampling error and the sketch's
            zs.append(
                [
                    zscores.add(
                        f"f1b: {level:.2f}-quantile of units short, t={tt}",
                        x,
                        ds.units_short_quantile.values[0, 0, tt, qi],
                        se,
                        n_paths=n,
                        seed=seed,
                    )
                ]
            )
    assert_small(np.concatenate(zs), "f1b")


def test_f2__triangular_buffer_exhaustion_follows_its_cdf(tmp_path, zscores):
    # buffer B ~ triangular(2, 5, 11) t, demand 1 t/month, no supply: exhausted by month
    # t iff B <= t + 1, behind by t iff B < t + 1, E[units short at t] = E[(t+1-B)+]
    # = integral_0^{t+1} F; the peak units short is (T - B)+.
    T, n, seed = 14, 20_000, 608
    lo, mode, hi = 2.0, 5.0, 11.0
    body = f"""
[channels.military]
[materials.m]
buffer_t = {{dist = "triangular", low = {lo}, mode = {mode}, high = {hi}}}
[programmes.x]
units_per_year = 12.0
kg_per_unit = {{m = 1000.0}}
"""
    _, ds = run_case(tmp_path, "f2", body, months=T, n=n, seed=seed)
    B = stats.triang((mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
    t = np.arange(T)
    F = B.cdf(t + 1.0)
    us = np.array([integrate.quad(B.cdf, 0.0, x, points=[lo, mode, hi])[0] for x in t + 1.0])
    zs = [
        zscores.add_series(
            "f2: P(stock exhausted by t) = F_tri(t+1)",
            F,
            ds.p_stock_exhausted.values[0, 0],
            p_se(F, n),
            n_paths=n,
            seed=seed,
            show_at=(1, 4, 7, 10),
        ),
        zscores.add_series(
            "f2: P(behind by t) = F_tri(t+1)",
            F,
            ds.p_shortfall.values[0, 0],
            p_se(F, n),
            n_paths=n,
            seed=seed,
            show_at=(4,),
        ),
        zscores.add_series(
            "f2: E[units short] = int F",
            us,
            ds.units_short_mean.values[0, 0],
            ds.units_short_mean_se.values[0, 0],
            n_paths=n,
            seed=seed,
            show_at=(4, 13),
        ),
    ]
    qs = list(ds["quantile"].values)
    for level in (0.25, 0.5, 0.75):
        b = B.ppf(1.0 - level)
        x = T - b  # level-quantile of the peak, T - B
        se = math.hypot(math.sqrt(level * (1 - level) / n) / B.pdf(b), QUANTILE_REL * x)
        zs.append(
            [
                zscores.add(
                    f"f2: {level:.2f}-quantile of peak units short",
                    x,
                    ds.units_short_peak_quantile.values[0, 0, qs.index(level)],
                    se,
                    n_paths=n,
                    seed=seed,
                )
            ]
        )
    assert_small(np.concatenate(zs), "f2")


def test_f3__beta_approval_is_a_beta_mixture_of_geometric_laws(tmp_path, zscores):
    # case b with A ~ beta(2, 3): P(K > j) = E[(1-A)^j] = prod_{i<j} (3+i)/(5+i)
    T, n, seed = 24, 20_000, 609
    a, b = 2.0, 3.0
    _, ds = run_case(
        tmp_path,
        "f3",
        case_b_body(f'{{dist = "beta", a = {a}, b = {b}}}'),
        months=T,
        n=n,
        seed=seed,
    )
    p_not_live = np.array(
        [1.0] + [float(np.prod((b + np.arange(k)) / (a + b + np.arange(k)))) for k in range(1, T)]
    )
    _check_case_b(ds, p_not_live, "f3: approve ~ beta(2,3), lag 1", n, seed, zscores)


def test_f4__a_distribution_written_once_is_one_draw(tmp_path, zscores):
    # Two materials' military licences live at start for round-half-up(L) months, L ~
    # U(0, 10) written once (a channel default): one draw per path serves both
    # (docs/model.md section 1). Live in months 0..L'-1 (idle from the start if L' = 0),
    # never approved again; each flow covers its demand (a: 1 + 0.5 t/month, b: 1 t/month)
    # and nothing is stored: programme x (material a) is behind by t iff L' <= t, i.e.
    # L < t + 1/2: P = (t + 1/2)/10; programme y needs a and b, behind at min(L'_a, L'_b)
    # = L' with one draw (1 - (1 - P)^2 if the draws were independent).
    T, n, seed = 13, 20_000, 610
    body = """
[channels.military]
p_approve = 0.0
live_at_start_months = {dist = "uniform", low = 0.0, high = 10.0}
[materials.a]
licence.military.flow_t = 2.0
[materials.b]
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
[programmes.y]
units_per_year = 6.0
kg_per_unit = {a = 1000.0, b = 2000.0}
"""
    _, ds = run_case(tmp_path, "f4", body, months=T, n=n, seed=seed)
    t = np.arange(T)
    p = np.minimum(1.0, (t + 0.5) / 10.0)
    zs = [
        zscores.add_series(
            "f4: P(behind), licence live U(0,10) months",
            p,
            ds.p_shortfall.values[0, 0],
            p_se(p, n),
            n_paths=n,
            seed=seed,
            show_at=(0, 4, 9),
        ),
        zscores.add_series(
            "f4: same, two licences from one draw",
            p,
            ds.p_shortfall.values[0, 1],
            p_se(p, n),
            n_paths=n,
            seed=seed,
            show_at=(0, 4, 9),
        ),
    ]
    assert_small(np.concatenate(zs), "f4")


# =========================================================================== h
# Events and the linkage.
CASE_H_EVENT = """
[events.deadline]
date = "2025-03"
p_extend = 0.5
extend_months = 3
max_extensions = 3
p_fire = 0.8
jump_to = "storm"

[channels.military]
[materials.m]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}
"""
HEAD_FROZEN = """
[run]
title = "{name}"
start = "2025-01"
months = {months}

[regimes]
names = ["calm", "storm"]
initial = "calm"
[regimes.transition]
calm = [1.0, 0.0]
storm = [0.0, 1.0]
"""


def test_h1__extended_deadline_fires_at_a_truncated_geometric_month(tmp_path, zscores):
    # deadline month 2, extended by 3 months with probability 1/2 at most 3 times, then
    # fires with probability 0.8: K ~ min(Geometric(1/2) failures, 3), fires in month
    # 2 + 3K; P(storm at t) = 0.8 P(2 + 3K <= t) (regimes never move on their own)
    T, n, seed = 16, 20_000, 701
    _, ds = run_case(tmp_path, "h1", CASE_H_EVENT, months=T, n=n, seed=seed, head=HEAD_FROZEN)
    pk = {0: 0.5, 1: 0.25, 2: 0.125, 3: 0.125}
    t = np.arange(T)
    p = np.array([0.8 * sum(v for k, v in pk.items() if 2 + 3 * k <= tt) for tt in t])
    z = zscores.add_series(
        "h1: P(storm at t), event with extensions",
        p,
        ds.p_regime.values[0, 1],
        p_se(p, n),
        n_paths=n,
        seed=seed,
        show_at=(2, 5, 8, 11),
    )
    assert_small(z, "h1")


def test_h2__concession_then_dfars(tmp_path, zscores):
    # Concession with probability c each month from month 0 (first at month C,
    # P(C <= k) = 1 - (1-c)^(k+1)); approval only after a concession, lag 1: the first
    # live month is max(1, C) and a programme starting at s >= 1 has fallen behind (at s)
    # iff C > s: P = (1-c)^(s+1). From month 10 the DFARS rule stops the Chinese flow
    # unless the path has a waiver (probability w): P(behind by t >= 10) = 1 - P(C<=s) w.
    T, n, seed, c, w, dfars = 14, 20_000, 702, 0.2, 0.4, 10
    starts = (1, 2, 4)
    body = f"""
[linkage]
p_concession = {c}

[dfars]
date = "{month(dfars)}"
materials = ["m"]
p_waiver = {w}

[channels.military]
p_approve = 0.0
p_approve_concession = 1.0
lag_months = 1.0
term_months = 1000.0

[materials.m]
licence.military.flow_t = 10.0
"""
    for s in starts:
        body += f"""
[programmes.from_{s}]
start = "{month(s)}"
units_per_year = 12.0
kg_per_unit = {{m = 1000.0}}
"""
    _, ds = run_case(tmp_path, "h2", body, months=T, n=n, seed=seed)
    t = np.arange(T)
    zs = []
    for i, s in enumerate(starts):
        p_behind = (1 - c) ** (s + 1)
        p = np.where(t < s, 0.0, np.where(t < dfars, p_behind, 1.0 - (1.0 - p_behind) * w))
        zs.append(
            zscores.add_series(
                f"h2: P(behind), concession c=0.2, start {s}, DFARS m10",
                p,
                ds.p_shortfall.values[0, i],
                p_se(p, n),
                n_paths=n,
                seed=seed,
                show_at=(s, dfars),
            )
        )
    assert_small(np.concatenate(zs), "h2")


def test_h3__event_switches_the_matrix_and_a_channel_opens_by_regime(tmp_path, zscores):
    # Frozen regimes until an event in month 3 (never extended, always fires) switches
    # to the matrix [[0.8, 0.2], [0, 1]]: month 3's step (3.1) still uses the old
    # matrix, so P(storm at t) = 1 - 0.8^(t-3) for t >= 3 (0 before). The only supply is
    # a fast channel (approval 1, lag 1) open to military flows in storm only, no leakage:
    # month t is covered iff t >= 1 and storm, so
    # E[units short at t] = 1 + sum_{j=1..t} P(calm at j).
    T, n, seed = 16, 20_000, 703
    body = """
[regimes.matrices.drift]
calm = [0.8, 0.2]
storm = [0.0, 1.0]

[events.switch]
date = "2025-04"
p_fire = 1.0
matrix = "drift"

[channels.green]
fast = true
open_to_military_in = ["storm"]
p_approve = 1.0
lag_months = 1.0
term_months = 1000.0

[materials.m]
fast_track = false
leakage = 0.0
licence.green.flow_t = 1.0

[programmes.x]
units_per_year = 12.0
kg_per_unit = {m = 1000.0}
"""
    _, ds = run_case(tmp_path, "h3", body, months=T, n=n, seed=seed, head=HEAD_FROZEN)
    t = np.arange(T)
    p_storm = np.where(t <= 3, 0.0, 1.0 - 0.8 ** np.maximum(t - 3, 0))
    us = 1.0 + np.concatenate([[0.0], np.cumsum(1.0 - p_storm[1:])])
    zs = [
        zscores.add_series(
            "h3: P(storm at t) after a matrix switch in month 3",
            p_storm,
            ds.p_regime.values[0, 1],
            p_se(p_storm, n),
            n_paths=n,
            seed=seed,
            show_at=(3, 4, 8, 15),
        ),
        zscores.add_series(
            "h3: E[units short], channel open in storm only",
            us,
            ds.units_short_mean.values[0, 0],
            ds.units_short_mean_se.values[0, 0],
            n_paths=n,
            seed=seed,
            show_at=(4, 15),
        ),
    ]
    assert_small(np.concatenate(zs), "h3")


# =========================================================================== g
# Standard errors are honest.
def _case_a_config(tmp_path, T: int = 36):
    path = tmp_path / "g.toml"
    path.write_text(HEAD.format(name="g", months=T) + CASE_A, encoding="utf-8")
    return load_config(path)


def test_g1__four_times_the_paths_halves_the_standard_error(tmp_path, zscores):
    cfg = _case_a_config(tmp_path)
    seed = 801
    small = build_dataset(cfg, simulate(cfg, 5000, seed), seed)
    large = build_dataset(cfg, simulate(cfg, 20_000, seed), seed)
    ratios = []
    for name in ("p_shortfall_se", "units_short_mean_se"):
        for t in (5, 11, 23, 35):
            r = large[name].values[0, 0, t] / small[name].values[0, 0, t]
            ratios.append(r)
            # se column: a quarter of the 10% tolerance, so that |z| < 4 is the criterion
            zscores.add(
                f"g1: se ratio 20k/5k, {name} t={t} (se:=tol/4)",
                0.5,
                r,
                0.0125,
                n_paths=20_000,
                seed=seed,
                show=t in (11, 35),
            )
    assert np.all(np.abs(np.asarray(ratios) / 0.5 - 1.0) < 0.10), ratios


def test_g2__two_seeds_agree_within_their_standard_errors(tmp_path, zscores):
    n = 20_000
    cfg_a = _case_a_config(tmp_path)
    path_e = tmp_path / "g_e.toml"
    path_e.write_text(HEAD_TWO.format(name="g_e", months=36) + CASE_E, encoding="utf-8")
    cfg_e = load_config(path_e)
    zs = []
    for cfg, picks in (
        (
            cfg_a,
            (
                ("p_shortfall", (0, 0, 5)),
                ("p_shortfall", (0, 0, 20)),
                ("units_short_mean", (0, 0, 10)),
                ("units_short_mean", (0, 0, 35)),
                ("shortfall_t_mean", (0, 0, 0, 20)),
            ),
        ),
        (cfg_e, (("p_regime", (0, 0, 3)), ("p_regime", (0, 1, 30)), ("p_regime", (1, 0, 12)))),
    ):
        d1 = build_dataset(cfg, simulate(cfg, n, 11), 11)
        d2 = build_dataset(cfg, simulate(cfg, n, 22), 22)
        for name, idx in picks:
            a, b = d1[name].values[idx], d2[name].values[idx]
            se = math.hypot(d1[f"{name}_se"].values[idx], d2[f"{name}_se"].values[idx])
            zs.append(
                zscores.add(f"g2: seed 11 vs 22, {name}{list(idx)}", a, b, se, n_paths=n, seed=22)
            )
    assert_small(zs, "two seeds")


def test_g3__reported_standard_errors_are_the_sample_sd_over_root_n(zscores):
    # configs/base.toml: the dataset's means and standard errors equal the per-path
    # sample mean and sd / sqrt(n) of the replayed paths
    from pathlib import Path

    from reriskmc.pack import pack

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "base.toml")
    n, seed = 200, 803
    ds = build_dataset(cfg, simulate(cfg, n, seed), seed)
    packed = pack(cfg)
    us = np.stack(
        [replay_path(cfg, seed, i, packed)["units_short"] for i in range(n)]
    )  # (n, S, P, T)
    np.testing.assert_allclose(ds.units_short_mean.values, us.mean(axis=0), rtol=1e-9, atol=1e-9)
    sd = us.std(axis=0, ddof=1) / math.sqrt(n)
    np.testing.assert_allclose(ds.units_short_mean_se.values, sd, rtol=1e-6, atol=1e-9)
    behind = np.maximum.accumulate(us > cfg.behind_tolerance_units, axis=-1).mean(axis=0)
    np.testing.assert_allclose(ds.p_shortfall.values, behind, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds.p_shortfall_se.values, p_se(behind, n), rtol=1e-12, atol=1e-15)
    zscores.add(
        "g3: max |se - sd/sqrt(n)| on base.toml (200 paths)",
        0.0,
        float(np.abs(ds.units_short_mean_se.values - sd).max()),
        0.0,
        n_paths=n,
        seed=seed,
    )


def test_g4__spread_across_seeds_matches_the_reported_standard_errors(tmp_path, zscores):
    # 16 independent runs: sum of ((x_i - mean) / se_i)^2 is about chi-square(15);
    # reported as z = (chi2 - 15) / sqrt(30), and held inside chi-square's 1e-4 tails
    cfg = _case_a_config(tmp_path)
    k, n = 16, 2500
    picks = (("p_shortfall", (0, 0, 11)), ("units_short_mean", (0, 0, 23)))
    vals = {name: [] for name, _ in picks}
    ses = {name: [] for name, _ in picks}
    for i in range(k):
        ds = build_dataset(cfg, simulate(cfg, n, 9000 + i), 9000 + i)
        for name, idx in picks:
            vals[name].append(ds[name].values[idx])
            ses[name].append(ds[f"{name}_se"].values[idx])
    lo, hi = stats.chi2.ppf([1e-4, 1 - 1e-4], k - 1)
    for name, idx in picks:
        x, se = np.asarray(vals[name]), np.asarray(ses[name])
        chi2 = float(np.sum(((x - x.mean()) / se) ** 2))
        zscores.add(
            f"g4: chi2({k - 1}) of {k} seeds, {name}{list(idx)}",
            k - 1,
            chi2,
            math.sqrt(2 * (k - 1)),
            n_paths=n,
            seed=9000,
        )
        assert lo < chi2 < hi, (name, chi2, lo, hi)


# =========================================================================== s
# Schedule slip (3.9). A programme scheduled 30 units a year (2.5 a month) in months
# 2..9 of 14, with no supply at all: units short = 2.5 (months scheduled so far), slip
# in months = months scheduled so far (t - 1 in the window, 8 after it: units short over
# the last scheduled rate), share missed = 1 once scheduled; the slip passes 1, 2.5 and
# 6 months in months 3, 4 and 8. Deterministic: every path alike.
CASE_SLIP = """
[channels.military]

[materials.m]

[programmes.x]
units_per_year = 30.0
start = "2025-03"
end = "2025-10"
kg_per_unit = {m = 1.0}
"""


def test_s1__slip_on_a_deterministic_schedule(tmp_path, zscores):
    T, n, seed = 14, 100, 601
    head = HEAD.replace("quantiles", "slip_thresholds = [1.0, 2.5, 6.0]\nquantiles")
    _, ds = run_case(tmp_path, "s1", CASE_SLIP, months=T, n=n, seed=seed, head=head)
    t = np.arange(T)
    scheduled_months = np.clip(t - 1, 0, 8)  # months 2..9 scheduled
    slip = scheduled_months.astype(float)
    zscores.add_series("s1: slip in months (deterministic)", slip,
                       ds.slip_months_mean.values[0, 0], 0.0, n_paths=n, seed=seed,
                       show_at=(1, 2, 9, 13))  # fmt: skip
    assert_exact(ds.slip_months_mean.values[0, 0], slip, "slip")
    assert_exact(ds.units_short_mean.values[0, 0], 2.5 * slip, "units short")
    assert_exact(ds.share_missed_mean.values[0, 0], (t >= 2).astype(float), "share missed")
    first = {1.0: 3, 2.5: 4, 6.0: 8}  # a slip of exactly k months is not more than k
    for k, thr in enumerate(ds.slip_threshold.values):
        assert_exact(ds.p_slip.values[0, 0, k], (t >= first[thr]).astype(float), f"p_slip {thr}")
    assert_exact(ds.slip_months_mean_se.values[0, 0], 0.0, "no spread")
    q = ds.slip_months_quantile.values[0, 0, -1]  # every quantile of the last month: 8
    np.testing.assert_allclose(q, 8.0, rtol=QUANTILE_REL)
    np.testing.assert_allclose(ds.slip_months_cvar.values[0, 0], 8.0, rtol=QUANTILE_REL)


# Paired differences (section 4). The only supply of the only material comes from a
# plant qualified with probability 0.3 in the base and 0.7 in a scenario; there is no
# stock, and the programme is scheduled from month 0. The scenario draws the same
# uniform (common random numbers), so a path qualified in the base is qualified in the
# scenario: the paths behind are 1 - q, the per-path difference is -1 on a share
# 0.7 - 0.3 = 0.4 of them and 0 elsewhere, so delta = -0.4 with standard error
# sqrt(0.4 * 0.6 / n), where two independent runs would give sqrt(2 * 0.21 / n).
CASE_PAIRED = """
[channels.military]

[materials.m]

[sources.plant]
material = "m"
capacity_t_per_year = 120.0
start = "2024-01"
p_qualified = 0.3

[programmes.x]
units_per_year = 12.0
kg_per_unit = {m = 1000.0}

[scenarios.better]
sources.plant.p_qualified = 0.7
"""


def test_s2__paired_difference_and_its_standard_error(tmp_path, zscores):
    T, n, seed = 6, 20_000, 602
    _, ds = run_case(tmp_path, "s2", CASE_PAIRED, months=T, n=n, seed=seed)
    se_exact = math.sqrt(0.4 * 0.6 / n)
    for name in ("p_shortfall", "p_stock_exhausted", "p_slip"):
        pick = {"slip_threshold": 1.0, "month": ds.month[-1]} if name == "p_slip" else {}
        d = ds[f"delta_{name}"].sel(scenario="better", **pick).values.reshape(-1)
        d_se = ds[f"delta_{name}_se"].sel(scenario="better", **pick).values.reshape(-1)
        z = zscores.add(f"s2: delta {name}, q 0.3 -> 0.7", -0.4, d[-1], se_exact,
                        n_paths=n, seed=seed)  # fmt: skip
        assert abs(z) < Z_MAX
        np.testing.assert_allclose(d_se, se_exact, rtol=0.03, err_msg=name)
        independent = np.sqrt(2 * 0.21 / n)
        assert (d_se < 0.8 * independent).all()
        base = ds[f"delta_{name}"].sel(scenario="base").values
        assert (base == 0).all() and (ds[f"delta_{name}_se"].sel(scenario="base").values == 0).all()
    # the paired difference of a mean is the difference of the means
    us = ds.units_short_mean.values
    assert_exact(ds.delta_units_short_mean.values, us - us[:1], "delta of a mean")


# Stocks run out when they fail to cover a need (3.7.4): a material nobody needs, with
# no stock, never runs out; nor does one whose licence covers the need exactly; one
# whose only stock is a stockpile that may never be released runs out in month 0.
CASE_STOCKS = """
[channels.military]
p_approve = 0.0
live_at_start_months = 1000.0

[materials.idle]
[materials.covered]
[materials.covered.licence.military]
flow_t = 1.0
[materials.locked]
[materials.locked.stockpile]
stockpile_t = 100.0
release = "never"

[programmes.x]
units_per_year = 12.0
kg_per_unit = {covered = 1000.0, locked = 1.0}
"""


def test_s3__stocks_run_out_only_when_they_fail_to_cover_a_need(tmp_path, zscores):
    T, n, seed = 4, 100, 603
    _, ds = run_case(tmp_path, "s3", CASE_STOCKS, months=T, n=n, seed=seed)
    p = ds.p_stock_exhausted.sel(scenario="base")
    assert_exact(p.sel(material="idle").values, 0.0, "nobody needs it")
    assert_exact(p.sel(material="covered").values, 0.0, "the licence covers the need")
    assert_exact(p.sel(material="locked").values, 1.0, "a stockpile never released")


# =========================================================================== t
# The supply chain in tiers (docs/model.md 3.6). A magnet made from feedstock: 0.25 t of
# feedstock per t of magnet, its maker able to make 10 t/month, a programme needing
# 3 t/month (3 units of 1 t), and a separator delivering 0.5 t/month of feedstock with
# no inventory: the maker can make 0.5 / 0.25 = 2 t a month, so the programme falls 1
# unit behind a month (slip (t + 1) / 3), and the feedstock (and the magnet's stocks,
# none) have run out from month 0. Deterministic.
CASE_MAKER = """
[channels.military]

[materials.mag]
feedstock = {fe = 0.25}
[materials.fe]
kind = "feedstock"

[sources.separator]
material = "fe"
capacity_t_per_year = 6.0
start = "2024-01"

[sources.maker]
material = "mag"
capacity_t_per_year = 120.0
start = "2024-01"

[programmes.x]
units_per_year = 36.0
kg_per_unit = {mag = 1000.0}
"""


def test_t1__a_maker_limited_by_its_feedstock(tmp_path, zscores):
    T, n, seed = 6, 100, 701
    _, ds = run_case(tmp_path, "t1", CASE_MAKER, months=T, n=n, seed=seed)
    t = np.arange(T)
    zscores.add_series("t1: units short, feedstock-limited maker", t + 1.0,
                       ds.units_short_mean.values[0, 0], 0.0, n_paths=n, seed=seed,
                       show_at=(0, 5))  # fmt: skip
    assert_exact(ds.units_short_mean.values[0, 0], t + 1.0, "units short")
    assert_exact(ds.slip_months_mean.values[0, 0], (t + 1.0) / 3.0, "slip")
    assert_exact(ds.shortfall_t_mean.sel(material="mag").values[0, 0], t + 1.0, "tonnes owed")
    assert_exact(ds.p_stock_exhausted.sel(material="fe").values[0], 1.0, "feedstock ran out")
    assert_exact(ds.shortfall_t_mean.sel(material="fe").values[0, 0], 0.0, "no one owes feedstock")


# China's rules on Chinese-origin feedstock (3.6.3), switched on by dated events. Two
# magnets, each made by one maker (one in the US, one abroad) from a licensed Chinese
# feedstock (2 t/month, a licence live throughout) at 0.25 t per t; each programme needs
# 3 t/month, so 0.75 t of feedstock each: covered. From month 3 the extraterritorial
# rule bars the feedstock from the maker abroad: its programme falls 3 units behind a
# month; from month 5 the military end-use rule bars it from both.
CASE_RULES_T = """
[channels.military]
live_at_start_months = 1000.0
p_approve = 0.0

[materials.us]
feedstock = {fe = 0.25}
[materials.ab]
feedstock = {fe = 0.25}
[materials.fe]
kind = "feedstock"
[materials.fe.licence.military]
flow_t = 2.0

[sources.us_maker]
material = "us"
capacity_t_per_year = 120.0
start = "2024-01"
[sources.ab_maker]
material = "ab"
capacity_t_per_year = 120.0
start = "2024-01"
abroad = true

[programmes.x_us]
units_per_year = 36.0
kg_per_unit = {us = 1000.0}
[programmes.x_ab]
units_per_year = 36.0
kg_per_unit = {ab = 1000.0}

[events.point_one_percent]
date = "2025-04"
[events.point_one_percent.set]
"rules.extraterritorial" = true

[events.military_end_use]
date = "2025-06"
[events.military_end_use.set]
"rules.military_end_use" = true
"""


def test_t2__rules_bar_chinese_feedstock_from_their_date(tmp_path, zscores):
    T, n, seed = 8, 100, 702
    _, ds = run_case(tmp_path, "t2", CASE_RULES_T, months=T, n=n, seed=seed)
    t = np.arange(T)
    us = 3.0 * np.clip(t - 4, 0, None)  # cut from month 5
    ab = 3.0 * np.clip(t - 2, 0, None)  # cut from month 3
    zscores.add_series("t2: units short, maker abroad (0.1% rule from month 3)", ab,
                       ds.units_short_mean.sel(programme="x_ab").values[0], 0.0, n_paths=n,
                       seed=seed, show_at=(2, 3, 7))  # fmt: skip
    assert_exact(ds.units_short_mean.sel(programme="x_us").values[0], us, "US maker")
    assert_exact(ds.units_short_mean.sel(programme="x_ab").values[0], ab, "maker abroad")


# DFARS (the origin rules). A magnet made from a Chinese-origin feedstock (a source
# marked chinese, 1 t/month, enough) that the rule bars from month 4 unless the path
# draws a waiver (probability 0.3): P(behind by month t) = 0 before month 4 and 0.7
# after. And a magnet only China makes (its licence flow), barred from the start as
# made in China unless a waiver is drawn (probability 0.4): P(behind) = 0.6 throughout.
CASE_DFARS_T = """
[channels.military]
live_at_start_months = 1000.0
p_approve = 0.0

[materials.mag]
feedstock = {fe = 0.25}
[materials.cn_mag]
[materials.cn_mag.licence.military]
flow_t = 1.0
[materials.fe]
kind = "feedstock"

[sources.chinese_oxide]
material = "fe"
capacity_t_per_year = 12.0
start = "2024-01"
chinese = true
[sources.maker]
material = "mag"
capacity_t_per_year = 120.0
start = "2024-01"

[dfars]
date = "2025-05"
materials = ["fe"]
p_waiver = 0.3
made_in_china = ["cn_mag"]
p_waiver_made_in_china = 0.4

[programmes.x]
units_per_year = 12.0
kg_per_unit = {mag = 1000.0}
[programmes.y]
units_per_year = 12.0
kg_per_unit = {cn_mag = 1000.0}
"""


def test_t3__dfars_bars_chinese_origin_supply_unless_waived(tmp_path, zscores):
    T, n, seed = 8, 20_000, 703
    _, ds = run_case(tmp_path, "t3", CASE_DFARS_T, months=T, n=n, seed=seed)
    t = np.arange(T)
    p_x = np.where(t >= 4, 0.7, 0.0)
    p_y = np.full(T, 0.6)
    z = zscores.add_series("t3: P(behind), feedstock barred from month 4 (waiver 0.3)", p_x,
                           ds.p_shortfall.sel(programme="x").values[0], p_se(p_x, n),
                           n_paths=n, seed=seed, show_at=(3, 4, 7))  # fmt: skip
    assert_small(z, "tier rule")
    z = zscores.add_series("t3: P(behind), made in China (waiver 0.4)", p_y,
                           ds.p_shortfall.sel(programme="y").values[0], p_se(p_y, n),
                           n_paths=n, seed=seed, show_at=(0, 7))  # fmt: skip
    assert_small(z, "made in China")


# An expiry that branches (3.2): a supply licence (1 t/month, just enough) whose flow an
# event cuts to 0 when it lapses; due in month 2, extended by 3 months with probability
# 0.25, at most once: it lapses in month 2 on 75% of paths and in month 5 on the rest,
# so P(behind by t) = 0 before month 2, 0.75 in months 2-4, 1 from month 5. An event
# limited to a regime the path is never in never fires.
CASE_EXPIRY = """
[channels.military]
live_at_start_months = 1000.0
p_approve = 0.0

[materials.m]
[materials.m.licence.military]
flow_t = 1.0

[programmes.x]
units_per_year = 12.0
kg_per_unit = {m = 1000.0}

[events.suspension_ends]
date = "2025-03"
p_extend = 0.25
extend_months = 3
max_extensions = 1
[events.suspension_ends.set]
"materials.m.licence.military.flow_t" = 0.0

[events.never_here]
date = "2025-02"
in_regimes = ["storm"]
[events.never_here.scale]
"channels.military.flow_t" = 0.0
"""


def test_t4__an_expiry_that_branches_and_an_event_limited_to_a_regime(tmp_path, zscores):
    T, n, seed = 8, 20_000, 704
    head = HEAD.replace('names = ["only"]', 'names = ["only", "storm"]').replace(
        "only = [1.0]", "only = [1.0, 0.0]\nstorm = [0.0, 1.0]")  # fmt: skip
    _, ds = run_case(tmp_path, "t4", CASE_EXPIRY, months=T, n=n, seed=seed, head=head)
    t = np.arange(T)
    p = np.where(t < 2, 0.0, np.where(t < 5, 0.75, 1.0))
    z = zscores.add_series("t4: P(behind), expiry extended w.p. 0.25", p,
                           ds.p_shortfall.values[0, 0], p_se(p, n), n_paths=n, seed=seed,
                           show_at=(1, 2, 4, 5))  # fmt: skip
    assert_small(z, "branching expiry")


# Schedules (1) and effects on a programme (3.2). A programme's rate rises linearly
# from 12 units a year in month 0 to 36 in month 6 and stays there; with nothing
# supplied, units short is the sum of the monthly rates and slip the units short over
# the month's rate. A second programme's rate (12 a year) is doubled by an event from
# month 3. A source whose capacity rises from 0 in month 0 to 24 t a year in month 4
# delivers 0.5 t a month more each month to 2 t.
CASE_SCHEDULE = """
[channels.military]

[materials.none]
[materials.m]

[sources.plant]
material = "m"
capacity_t_per_year = {"2025-01" = 0.0, "2025-05" = 24.0}
start = "2024-01"

[programmes.ramp]
units_per_year = {"2025-01" = 12.0, "2025-07" = 36.0}
kg_per_unit = {none = 1.0}
[programmes.doubled]
units_per_year = 12.0
kg_per_unit = {none = 1.0}
[programmes.fed]
units_per_year = 36.0
kg_per_unit = {m = 1000.0}

[events.more_rockets]
date = "2025-04"
[events.more_rockets.scale]
"programmes.doubled.units_per_year" = 2.0
"""


def test_t5__schedules_and_a_dated_change_of_rate(tmp_path, zscores):
    T, n, seed = 10, 100, 705
    _, ds = run_case(tmp_path, "t5", CASE_SCHEDULE, months=T, n=n, seed=seed)
    t = np.arange(T)
    rate = (12.0 + 24.0 * np.minimum(t, 6) / 6.0) / 12.0
    units = np.cumsum(rate)
    zscores.add_series("t5: units short on a ramping schedule", units,
                       ds.units_short_mean.sel(programme="ramp").values[0], 0.0, n_paths=n,
                       seed=seed, show_at=(0, 3, 6, 9))  # fmt: skip
    assert_exact(ds.units_short_mean.sel(programme="ramp").values[0], units, "ramp units")
    assert_exact(ds.slip_months_mean.sel(programme="ramp").values[0], units / rate, "ramp slip")
    doubled = np.cumsum(np.where(t < 3, 1.0, 2.0))
    assert_exact(ds.units_short_mean.sel(programme="doubled").values[0], doubled, "doubled")
    supply = 0.5 * np.minimum(t, 4)
    owed = np.cumsum(3.0 - supply)
    assert_exact(ds.shortfall_t_mean.sel(programme="fed", material="m").values[0], owed, "fed")


# A scenario that adds a programme (what a user asks about): the base does not have it
# (zero everywhere, and programme_in_scenario says so); the scenario does.
CASE_ADDED = """
[channels.military]

[materials.m]

[programmes.x]
units_per_year = 12.0
kg_per_unit = {m = 1000.0}

[scenarios.plus]
description = "a new programme"
programmes.y.units_per_year = 24.0
programmes.y.kg_per_unit = {m = 1000.0}
"""


def test_t6__a_scenario_that_adds_a_programme(tmp_path, zscores):
    T, n, seed = 4, 100, 706
    _, ds = run_case(tmp_path, "t6", CASE_ADDED, months=T, n=n, seed=seed)
    t = np.arange(T)
    assert list(ds.programme.values) == ["x", "y"]
    assert ds.programme_in_scenario.values.tolist() == [[True, False], [True, True]]
    assert_exact(ds.units_short_mean.sel(scenario="base", programme="y").values, 0.0, "absent")
    assert_exact(
        ds.units_short_mean.sel(scenario="plus", programme="y").values, 2.0 * (t + 1), "added"
    )
    assert_exact(ds.units_short_mean.sel(programme="x").values, [t + 1.0] * 2, "unchanged")
