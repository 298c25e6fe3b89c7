"""Hand-computed cases for the NumPy reference model (``reriskmc.reference``).

Each case is a tiny config written to ``tmp_path``; the expected values are worked out
by hand from ``docs/model.md``. Statistical cases use a fixed seed and allow four
standard errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import HEAD, load_case
from cases import within as _within

from reriskmc.config import load_config
from reriskmc.reference import ReferenceResult, simulate_reference

BASE_TOML = Path(__file__).resolve().parents[2] / "configs" / "base.toml"


def _load(tmp_path, body: str, months: int = 12):
    return load_case(tmp_path, body, months)


# --------------------------------------------------------------------------- stocks
def test_reference__behind_in_the_month_the_stock_runs_out(tmp_path):
    # no supply; 10 t of contractor inventory; 1 unit/month at 2 t/unit: the buffer
    # covers months 0-4 exactly, is empty at the end of month 4 and the programme
    # is behind from month 5 on, one more unit each month; the stocks run out (fail to
    # cover a need, 3.7.4) in month 5, not in month 4 when they are merely empty
    cfg = _load(
        tmp_path,
        """
[channels.military]
[materials.a]
buffer_t = 10.0
[programmes.x]
units_per_year = 12.0
[programmes.x.kg_per_unit]
a = 2000.0
""",
    )
    res = simulate_reference(cfg, 5, seed=1, record=True)
    t = np.arange(12)
    np.testing.assert_array_equal(res.p_shortfall[0, 0], (t >= 5).astype(float))
    np.testing.assert_array_equal(res.p_stock_exhausted[0, 0], (t >= 5).astype(float))
    np.testing.assert_allclose(res.units_short_mean[0, 0], np.maximum(0, t - 4))
    np.testing.assert_allclose(res.units_short_se[0, 0], 0.0)
    np.testing.assert_allclose(res.shortfall_t_mean[0, 0, 0], 2.0 * np.maximum(0, t - 4))
    np.testing.assert_allclose(
        res.paths["buffer"][0, :, 0], np.tile(np.maximum(0, 8.0 - 2 * t), (5, 1))
    )
    np.testing.assert_allclose(res.peak_units_short[0, :, 0], 7.0)
    np.testing.assert_allclose(res.peak_shortfall_t[0, :, 0, 0], 14.0)


def test_reference__stockpile_released_after_the_lag(tmp_path):
    # 2 t of buffer, 1 t/month of demand, no supply: buffer shortage first in month 2;
    # with release_lag_months = 2 the stockpile releases (0.5 t/month) from month 4;
    # a real-valued lag of 2.5 is not rounded: t >= 2 + 2.5 first holds in month 5
    cfg = _load(
        tmp_path,
        """
[channels.military]
[materials.a]
buffer_t = 2.0
[materials.a.stockpile]
stockpile_t = 10.0
release = "on_shortfall"
release_lag_months = 2.0
release_t_per_month = 0.5
[materials.b]
buffer_t = 2.0
[materials.b.stockpile]
stockpile_t = 10.0
release = "on_shortfall"
release_lag_months = 2.5
release_t_per_month = 0.5
[materials.c]
buffer_t = 2.0
[materials.c.stockpile]
stockpile_t = 10.0
release = "from_date"
release_date = "2025-04"
release_t_per_month = 0.5
[programmes.xa]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
[programmes.xb]
units_per_year = 12.0
kg_per_unit = {b = 1000.0}
[programmes.xc]
units_per_year = 12.0
kg_per_unit = {c = 1000.0}
""",
    )
    res = simulate_reference(cfg, 3, seed=1, record=True)
    t = np.arange(12)
    stock = res.paths["stockpile"][0, 0]  # (M, T)
    np.testing.assert_allclose(stock[0], 10.0 - 0.5 * np.maximum(0, t - 3))
    np.testing.assert_allclose(stock[1], 10.0 - 0.5 * np.maximum(0, t - 4))
    # from_date: released from month 3 (2025-04), which is also a shortage month
    np.testing.assert_allclose(stock[2], 10.0 - 0.5 * np.maximum(0, t - 2))
    alloc = res.paths["allocated"][0, 0]  # (P, M, T)
    np.testing.assert_allclose(alloc[0, 0], np.where(t < 2, 1.0, np.where(t >= 4, 0.5, 0.0)))
    # the stocks fail to cover the need from month 2 (buffer empty, release not yet
    # authorised), and a release of 0.5 t/month still leaves half the need uncovered
    np.testing.assert_array_equal(res.p_stock_exhausted[0], np.tile(t >= 2, (3, 1)) * 1.0)


def test_reference__buffer_never_filled_past_its_cap(tmp_path):
    # 3 t/month recycled, 1 t/month used: the surplus fills the buffer up to its cap
    # (4 t) and the rest is sold on; a buffer that starts above its cap keeps it
    cfg = _load(
        tmp_path,
        """
[channels.military]
[materials.a]
recycling_t = 3.0
buffer_t = 1.0
buffer_cap_t = 4.0
[materials.b]
recycling_t = 3.0
buffer_t = 9.0
buffer_cap_t = 4.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0, b = 1000.0}
""",
        months=4,
    )
    res = simulate_reference(cfg, 2, seed=1, record=True)
    np.testing.assert_allclose(res.paths["buffer"][0, 0, 0], [3.0, 4.0, 4.0, 4.0])
    np.testing.assert_allclose(res.paths["buffer"][0, 0, 1], [9.0, 9.0, 9.0, 9.0])


# --------------------------------------------------------------------------- licences
def test_reference__revocation_without_reapproval_closed_form(tmp_path):
    # a licence live for the whole horizon covers demand exactly; revoked with
    # probability q a month and never approved again, so the programme is behind by
    # month t with probability 1 - (1 - q)^(t + 1)
    q, n = 0.1, 4000
    cfg = _load(
        tmp_path,
        f"""
[channels.military]
live_at_start_months = 100
p_revoke = {q}
p_approve = 0.0
[materials.a]
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {{a = 1000.0}}
""",
        months=24,
    )
    res = simulate_reference(cfg, n, seed=20250610)
    t = np.arange(24)
    _within(res.p_shortfall[0, 0], 1.0 - (1.0 - q) ** (t + 1), n)
    # no stocks at all: they run out in the first month the licence fails to cover the
    # need, which is the month the programme falls behind, on every path
    np.testing.assert_array_equal(res.p_stock_exhausted[0, 0], res.p_shortfall[0, 0])


def test_reference__lag_rounded_stochastically(tmp_path):
    # an idle licence applies in month 0; lag 1.5 is decided in month 1 or 2 with
    # probability 1/2 each; approval is certain and the term outlasts the horizon
    n = 4000
    cfg = _load(
        tmp_path,
        """
[channels.military]
lag_months = 1.5
p_approve = 1.0
term_months = 100
[materials.a]
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
""",
        months=4,
    )
    res = simulate_reference(cfg, n, seed=7, record=True)
    live = res.paths["licence_live"][0, :, 0, 0]  # (n, T)
    assert not live[:, 0].any()
    _within(np.array([live[:, 1].mean()]), np.array([0.5]), n)
    assert live[:, 2:].all()
    # behind in month 0 (no licence yet) on every path
    np.testing.assert_array_equal(res.p_shortfall[0, 0], 1.0)


def test_reference__renewal_cycle_of_a_certain_licence(tmp_path):
    # lag 2, approval certain, term 1: applied in month 0, decided and live in month 2,
    # expires in month 3 and re-applies at once, decided in month 5, ...
    cfg = _load(
        tmp_path,
        """
[channels.military]
lag_months = 2
p_approve = 1.0
term_months = 1
[materials.a]
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
""",
        months=12,
    )
    res = simulate_reference(cfg, 3, seed=1, record=True)
    live = res.paths["licence_live"][0, :, 0, 0]
    expected = np.isin(np.arange(12), [2, 5, 8, 11])
    np.testing.assert_array_equal(live, np.tile(expected, (3, 1)))
    np.testing.assert_allclose(res.paths["supply"][0, :, 0], np.tile(expected * 1.0, (3, 1)))


def test_reference__concession_opens_the_fast_channel(tmp_path):
    # military channel: never approved unless conceded; green (fast) channel live all
    # along, but the material is not fast-track, so only the leakage share reaches
    # defence users until a concession opens it
    cfg = _load(
        tmp_path,
        """
[linkage]
opens_fast_track = true
[channels.military]
lag_months = 1
p_approve = 0.0
p_approve_concession = 1.0
term_months = 100
[channels.green]
fast = true
live_at_start_months = 100
[materials.a]
fast_track = false
leakage = 0.25
licence.military.flow_t = 1.0
licence.green.flow_t = 2.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
[scenarios.conceded]
linkage.conceded_at_start = true
""",
        months=4,
    )
    res = simulate_reference(cfg, 2, seed=1, record=True)
    supply = res.paths["supply"][:, 0, 0]  # (S, T)
    np.testing.assert_allclose(supply[0], [0.5, 0.5, 0.5, 0.5])
    # conceded: green flow in full; military decided (and approved) in month 1
    np.testing.assert_allclose(supply[1], [2.0, 3.0, 3.0, 3.0])


def test_reference__dfars_stops_chinese_flow_without_waiver(tmp_path):
    cfg = _load(
        tmp_path,
        """
[dfars]
date = "2025-04"
materials = ["a"]
p_waiver = 0.0
[channels.military]
live_at_start_months = 100
[materials.a]
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
[scenarios.waived]
dfars.p_waiver = 1.0
""",
        months=8,
    )
    res = simulate_reference(cfg, 4, seed=1)
    t = np.arange(8)
    np.testing.assert_array_equal(res.p_shortfall[0, 0], (t >= 3).astype(float))
    np.testing.assert_array_equal(res.p_shortfall[1, 0], 0.0)


# --------------------------------------------------------------------------- allocation and build
PROGRAMMES_DX_DO = {
    "dx1": ("DX", 12.0),
    "do1": ("DO", 12.0),
    "do2": ("DO", 36.0),
}


@pytest.mark.parametrize("order", [("dx1", "do1", "do2"), ("do1", "dx1", "do2")])
def test_reference__dx_served_before_do_and_do_pro_rata(tmp_path, order):
    # 2 t/month for requests of 1 (DX), 1 and 3 (DO): DX gets its 1 t, the DO class
    # shares the remaining 1 t pro rata, 0.25 and 0.75, every month; the config
    # order of the programmes does not matter
    body = """
[channels.military]
[materials.a]
recycling_t = 2.0
"""
    for name in order:
        priority, units = PROGRAMMES_DX_DO[name]
        body += f"""
[programmes.{name}]
units_per_year = {units}
priority = "{priority}"
kg_per_unit = {{a = 1000.0}}
"""
    cfg = _load(tmp_path, body, months=6)
    res = simulate_reference(cfg, 2, seed=1, record=True)
    i = [res.programmes.index(name) for name in ("dx1", "do1", "do2")]
    alloc = res.paths["allocated"][0, 0, i, 0]  # (P, T)
    np.testing.assert_allclose(alloc, np.repeat([[1.0], [0.25], [0.75]], 6, axis=1))
    need = res.paths["need"][0, 0, i, 0]
    np.testing.assert_allclose(need, np.repeat([[1.0], [1.0], [3.0]], 6, axis=1))
    np.testing.assert_array_equal(res.p_shortfall[0, i[0]], 0.0)
    np.testing.assert_array_equal(res.p_shortfall[0, i[1:]], 1.0)
    # DO programmes fall behind by 0.75 and 2.25 units a month
    np.testing.assert_allclose(res.units_short_mean[0, i[1:], -1], [0.75 * 6, 2.25 * 6])


def test_reference__leontief_build_limited_by_scarcest_material(tmp_path):
    # 1 unit/month needs 1 t of a and 0.5 t of b; b supplies only 0.25 t/month, so
    # half a unit is built a month; the unused 0.5 t of a waits as a kit (wip) and
    # lowers the next request of a to 0.5 t
    cfg = _load(
        tmp_path,
        """
[channels.military]
[materials.a]
recycling_t = 1.0
[materials.b]
recycling_t = 0.25
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0, b = 500.0}
""",
        months=5,
    )
    res = simulate_reference(cfg, 2, seed=1, record=True)
    np.testing.assert_allclose(res.paths["built"][0, 0, 0], 0.5)
    np.testing.assert_allclose(res.paths["allocated"][0, 0, 0, 0], [1.0, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(res.paths["allocated"][0, 0, 0, 1], 0.25)
    t = np.arange(5)
    np.testing.assert_allclose(res.units_short_mean[0, 0], 0.5 * (t + 1))
    # owed material: requirement minus allocation to date
    np.testing.assert_allclose(res.shortfall_t_mean[0, 0, 0], (t + 1) - (0.5 + 0.5 * (t + 1)))
    np.testing.assert_allclose(res.shortfall_t_mean[0, 0, 1], 0.5 * (t + 1) - 0.25 * (t + 1))


def test_reference__backlog_caught_up_at_most_catch_up_above_rate(tmp_path):
    # no supply in months 0-1 (empty buffer, licence decided in month 2); then ample
    # flow: the backlog of 2 units is caught up at 1.5 units/month (catch_up 0.5)
    cfg = _load(
        tmp_path,
        """
[channels.military]
lag_months = 2
p_approve = 1.0
term_months = 100
[materials.a]
licence.military.flow_t = 10.0
[programmes.x]
units_per_year = 12.0
catch_up = 0.5
kg_per_unit = {a = 1000.0}
""",
        months=8,
    )
    res = simulate_reference(cfg, 2, seed=1, record=True)
    np.testing.assert_allclose(res.paths["built"][0, 0, 0], [0, 0, 1.5, 1.5, 1.5, 1.5, 1.0, 1.0])
    np.testing.assert_allclose(res.units_short_mean[0, 0], [1, 2, 1.5, 1.0, 0.5, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(res.p_shortfall[0, 0], 1.0)  # behind ever, from month 0


# ---------------------------------------------------------------- events, regimes, sources
def test_reference__event_extended_then_fires(tmp_path):
    # deadline month 2, always extended by 2.5 -> 3 months, at most twice: deadlines
    # 2 -> 5 -> 8, done in month 8, and the regime jumps to storm
    cfg = _load(
        tmp_path,
        """
[events.deadline]
date = "2025-03"
p_extend = 1.0
extend_months = 2.5
max_extensions = 2
jump_to = "storm"
[channels.military]
[materials.a]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}
""",
        months=12,
    )
    res = simulate_reference(cfg, 3, seed=1)
    t = np.arange(12)
    np.testing.assert_array_equal(res.p_regime[0, 1], (t >= 8).astype(float))
    np.testing.assert_allclose(res.p_regime[0].sum(axis=0), 1.0)


def test_reference__event_switches_transition_matrix(tmp_path):
    # the event fires in month 2 without a jump; from then the chain steps with the
    # "push" matrix, which sends calm to storm: the regime changes in month 3
    cfg = _load(
        tmp_path,
        """
[regimes.matrices.push]
calm = [0.0, 1.0]
storm = [0.0, 1.0]
[events.deadline]
date = "2025-03"
matrix = "push"
[channels.military]
[materials.a]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}
""",
        months=6,
    )
    res = simulate_reference(cfg, 3, seed=1)
    np.testing.assert_array_equal(res.p_regime[0, 1], [0, 0, 0, 1, 1, 1])


def test_reference__regime_chain_closed_form(tmp_path):
    # a two-state chain leaving calm with probability a and storm with b:
    # P(storm at t) = a/(a+b) (1 - (1-a-b)^t)
    a, b, n = 0.2, 0.3, 4000
    text = (
        HEAD.format(months=10)
        .replace("calm = [1.0, 0.0]", f"calm = [{1 - a}, {a}]")
        .replace("storm = [0.0, 1.0]", f"storm = [{b}, {1 - b}]")
    )
    path = tmp_path / "chain.toml"
    path.write_text(
        text
        + """
[channels.military]
[materials.a]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}
""",
        encoding="utf-8",
    )
    res = simulate_reference(load_config(path), n, seed=3)
    t = np.arange(10)
    _within(res.p_regime[0, 1], a / (a + b) * (1.0 - (1.0 - a - b) ** t), n)


def test_reference__source_ramp_and_qualification(tmp_path):
    # 120 t/yr * 0.5 yield * 0.2 share = 1 t/month at full ramp; s = 2 + 1 + 0.5 = 3.5:
    # nothing before month 4, then (t - 3.5 + 1) / 2 = 0.75 in month 4, full from 5
    cfg = _load(
        tmp_path,
        """
[channels.military]
[materials.a]
[sources.s]
material = "a"
capacity_t_per_year = 120.0
start = "2025-03"
slip_months = 1.0
qualification_months = 0.5
ramp_months = 2.0
yield = 0.5
defence_share = 0.2
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}
[scenarios.unqualified]
sources.s.p_qualified = 0.0
""",
        months=7,
    )
    res = simulate_reference(cfg, 2, seed=1, record=True)
    np.testing.assert_allclose(res.paths["supply"][0, 0, 0], [0, 0, 0, 0, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(res.paths["supply"][1], 0.0)


# --------------------------------------------------------------------------- per-path parameters
def test_reference__a_value_written_once_is_one_draw(tmp_path):
    # live_at_start_months is a channel default given as a distribution: one draw per
    # path serves both materials' licences, so they expire together; a scenario that
    # changes something else sees the same draws (common random numbers)
    body = """
[channels.military]
live_at_start_months = {dist = "uniform", low = 0.5, high = 10.0}
[materials.a]
licence.military.flow_t = 1.0
[materials.b]
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {b = 1000.0}
[scenarios.other]
materials.b.recycling_t = 0.5
"""
    cfg = _load(tmp_path, body, months=12)
    res = simulate_reference(cfg, 300, seed=5, record=True)
    live = res.paths["licence_live"][:, :, :, 0]  # (S, n, M, T)
    np.testing.assert_array_equal(live[0, :, 0], live[0, :, 1])
    np.testing.assert_array_equal(live[1], live[0])
    # the draw differs between paths: live for round(L) months, L ~ U(0.5, 10)
    months_live = live[0, :, 0].sum(axis=1)
    assert set(np.unique(months_live)) == set(range(1, 11))
    # one key per model field instead: independent draws, so the licences differ
    res_f = simulate_reference(cfg, 300, seed=5, record=True, param_keys="field")
    live_f = res_f.paths["licence_live"][0, :, :, 0]
    assert (live_f[:, 0] != live_f[:, 1]).any()


def test_reference__same_seed_same_result(tmp_path):
    cfg = load_config(BASE_TOML)
    a = simulate_reference(cfg, 50, seed=11)
    b = simulate_reference(cfg, 50, seed=11)
    c = simulate_reference(cfg, 50, seed=12)
    np.testing.assert_array_equal(a.units_short_mean, b.units_short_mean)
    np.testing.assert_array_equal(a.peak_shortfall_t, b.peak_shortfall_t)
    assert not np.array_equal(a.peak_shortfall_t, c.peak_shortfall_t)


# ---------------------------------------------------------------- invariants on base.toml
@pytest.fixture(scope="module")
def base_run() -> ReferenceResult:
    return simulate_reference(load_config(BASE_TOML), 200, seed=2025, record=True)


def test_reference__shapes(base_run):
    r = base_run
    config = load_config(BASE_TOML)
    base = config.base
    S, n = len(config.scenarios), 200
    P, M = len(config.entries("programmes")), len(base.materials)
    R, C, T = len(base.regimes), len(base.channels), base.n_months
    assert r.scenarios[0] == "base" and len(r.scenarios) == S
    assert r.programmes == tuple(p.name for p in config.entries("programmes"))
    assert r.p_shortfall.shape == r.units_short_mean.shape == r.units_short_se.shape == (S, P, T)
    assert r.shortfall_t_mean.shape == r.shortfall_t_se.shape == (S, P, M, T)
    assert r.p_stock_exhausted.shape == (S, M, T)
    assert r.p_regime.shape == (S, R, T)
    assert r.peak_units_short.shape == (S, n, P)
    assert r.peak_shortfall_t.shape == (S, n, P, M)
    assert r.programme_in_scenario.shape == (S, P) and r.programme_in_scenario.dtype == bool
    assert r.paths["licence_live"].shape == (S, n, M, C, T)
    assert r.paths["licence_live"].dtype == bool
    assert r.paths["regime"].shape == (S, n, T)
    assert r.paths["made"].shape == r.paths["exhausted"].shape == (S, n, M, T)
    for name in ("p_shortfall", "units_short_mean", "shortfall_t_mean", "p_regime"):
        assert getattr(r, name).dtype == np.float64


def test_reference__allocation_invariants(base_run):
    need, alloc = base_run.paths["need"], base_run.paths["allocated"]
    short = need - alloc
    np.testing.assert_allclose(alloc + short, need, rtol=0, atol=1e-12)
    assert (alloc >= 0).all()
    assert (alloc <= need * (1 + 1e-12) + 1e-15).all()
    assert (short >= -1e-12).all()


def test_reference__stocks_never_negative(base_run):
    assert (base_run.paths["buffer"] >= 0).all()
    assert (base_run.paths["stockpile"] >= 0).all()
    assert (base_run.paths["supply"] >= 0).all()
    assert (base_run.paths["units_short"] >= 0).all()
    assert (base_run.paths["shortfall_t"] >= 0).all()


def test_reference__material_balance(base_run):
    # what is allocated comes from the month's supply or out of the stocks
    p = base_run.paths
    drawn = np.maximum(0.0, p["buffer"][..., :-1] - p["buffer"][..., 1:]) + (
        p["stockpile"][..., :-1] - p["stockpile"][..., 1:]
    )
    allocated = p["allocated"].sum(axis=2)[..., 1:]  # (S, n, M, T-1)
    assert (allocated <= p["supply"][..., 1:] + drawn + 1e-9).all()
    assert (p["stockpile"][..., 1:] <= p["stockpile"][..., :-1]).all()


def test_reference__probabilities_monotone_and_normalised(base_run):
    r = base_run
    assert (np.diff(r.p_shortfall, axis=-1) >= 0).all()
    assert (np.diff(r.p_stock_exhausted, axis=-1) >= 0).all()
    np.testing.assert_allclose(r.p_regime.sum(axis=1), 1.0, atol=1e-12)
    for p in (r.p_shortfall, r.p_stock_exhausted, r.p_regime):
        assert ((p >= 0) & (p <= 1)).all()


def test_reference__statistics_match_recorded_paths(base_run):
    r, p = base_run, base_run.paths
    n = r.n_paths
    np.testing.assert_allclose(r.units_short_mean, p["units_short"].mean(axis=1))
    np.testing.assert_allclose(r.units_short_se, p["units_short"].std(axis=1, ddof=1) / np.sqrt(n))
    np.testing.assert_allclose(r.shortfall_t_mean, p["shortfall_t"].mean(axis=1))
    np.testing.assert_allclose(r.peak_units_short, p["units_short"].max(axis=-1))
    np.testing.assert_allclose(r.peak_shortfall_t, p["shortfall_t"].max(axis=-1))
    behind = np.maximum.accumulate(p["units_short"] > r.behind_tolerance_units, axis=-1)
    np.testing.assert_allclose(r.p_shortfall, behind.mean(axis=1))
    for k in range(len(r.regimes)):
        np.testing.assert_allclose(r.p_regime[:, k], (p["regime"] == k).mean(axis=1))


def test_reference__common_random_numbers_across_scenarios(base_run):
    # scenarios that leave the events alone see the very same regime paths
    regime = base_run.paths["regime"]
    names = base_run.scenarios
    for name in ("chip_concession", "green_channel_military", "stockpile_release", "fast_ramp"):
        np.testing.assert_array_equal(regime[names.index(name)], regime[0])
    assert not np.array_equal(regime[names.index("talks_breakdown")], regime[0])
    # a scenario changing only stockpile release rules sees the same licences
    live = base_run.paths["licence_live"]
    np.testing.assert_array_equal(live[names.index("stockpile_release")], live[0])
