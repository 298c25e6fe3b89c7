"""Hand-computed cases for the reference model's shortfall measures and statistics:
schedule slip and share missed (``docs/model.md`` 3.9), stocks running out (3.7.4) and
the paired differences between scenarios (section 4).

Each case is a tiny config written to ``tmp_path``, like ``test_reference.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import load_case

from reriskmc.config import load_config
from reriskmc.kernels.layout import MAGNET
from reriskmc.reference import MEANS, PROBABILITIES, ReferenceResult, simulate_reference

BASE_TOML = Path(__file__).resolve().parents[2] / "configs" / "base.toml"

# one regime that never changes; thresholds 1 and 6 are whole months, 2.5 is not
HEAD = """
[run]
start = "2025-01"
months = {months}
slip_thresholds = [1.0, 2.5, 6.0]

[regimes]
names = ["calm"]
initial = "calm"
[regimes.transition]
calm = [1.0]

[channels.military]
"""


def _load(tmp_path, body: str, months: int = 12):
    return load_case(tmp_path, body, months, head=HEAD)


def _first_month_above(slip: np.ndarray, k: float) -> np.ndarray:
    """The indicator 'slip has exceeded k by month t', from a slip per month."""
    return np.maximum.accumulate(slip > k) * 1.0


# --------------------------------------------------------------------------- slip (3.9)
SLIP_BODY = """
[materials.a]
[materials.b]
recycling_t = 5.0
[programmes.always]
units_per_year = 30.0
kg_per_unit = {a = 1000.0}
[programmes.window]
units_per_year = 30.0
start = "2025-03"
end = "2025-06"
kg_per_unit = {a = 1000.0}
[programmes.uncertain]
units_per_year = {dist = "uniform", low = 1.0, high = 300.0}
kg_per_unit = {a = 1000.0}
[programmes.supplied]
units_per_year = 30.0
kg_per_unit = {b = 1000.0}
"""


@pytest.fixture(scope="module")
def slip_run(tmp_path_factory) -> ReferenceResult:
    cfg = _load(tmp_path_factory.mktemp("slip"), SLIP_BODY)
    return simulate_reference(cfg, 50, seed=3, record=True)


def test_slip__nothing_supplied_slips_one_month_a_month(slip_run):
    # 2.5 units/month, nothing built: units_short = 2.5 (t + 1), slip = t + 1 exactly
    # (2.5 is a binary fraction, so the sums are exact), share missed 1
    r, t = slip_run, np.arange(12)
    p = r.programmes.index("always")
    np.testing.assert_array_equal(r.units_short_mean[0, p], 2.5 * (t + 1))
    np.testing.assert_array_equal(r.slip_months_mean[0, p], t + 1.0)
    np.testing.assert_array_equal(r.paths["slip_months"][0, :, p], np.tile(t + 1.0, (50, 1)))
    np.testing.assert_array_equal(r.share_missed_mean[0, p], 1.0)
    np.testing.assert_array_equal(r.slip_months_se[0, p], 0.0)
    np.testing.assert_array_equal(r.share_missed_se[0, p], 0.0)
    np.testing.assert_array_equal(r.peak_slip_months[0, :, p], 12.0)
    # slip > k first in month k (slip k + 1) for k = 1 and 6; slip > 2.5 from month 2
    np.testing.assert_array_equal(r.p_slip[0, p, 0], (t >= 1) * 1.0)
    np.testing.assert_array_equal(r.p_slip[0, p, 1], (t >= 2) * 1.0)
    np.testing.assert_array_equal(r.p_slip[0, p, 2], (t >= 6) * 1.0)
    np.testing.assert_array_equal(r.p_slip_se[0, p], 0.0)


def test_slip__after_the_window_stays_at_its_length(slip_run):
    # scheduled in months 2-5 only: nothing owed before month 2 (slip and share 0);
    # then slip t - 1 up to 4 in month 5, and 4 (10 units / 2.5 a month, the last
    # scheduled rate) for the rest of the horizon
    r, t = slip_run, np.arange(12)
    p = r.programmes.index("window")
    slip = np.clip(t - 1.0, 0.0, 4.0)
    np.testing.assert_array_equal(r.slip_months_mean[0, p], slip)
    np.testing.assert_array_equal(r.units_short_mean[0, p], 2.5 * slip)
    np.testing.assert_array_equal(r.share_missed_mean[0, p], (t >= 2) * 1.0)
    np.testing.assert_array_equal(r.peak_slip_months[0, :, p], 4.0)
    for k, threshold in enumerate(r.slip_thresholds):
        np.testing.assert_array_equal(r.p_slip[0, p, k], _first_month_above(slip, threshold))
    assert r.p_slip[0, p, 2].max() == 0.0  # never more than 6 months behind


def test_slip__in_months_whatever_the_rate(slip_run):
    # a rate drawn per path: the units short differ between paths, the slip does not
    r, t = slip_run, np.arange(12)
    p = r.programmes.index("uncertain")
    units = r.paths["units_short"][0, :, p]
    assert np.unique(units[:, 0]).size == 50
    np.testing.assert_allclose(r.paths["slip_months"][0, :, p], np.tile(t + 1.0, (50, 1)))
    np.testing.assert_allclose(r.paths["share_missed"][0, :, p], 1.0)
    # 2.5 is not a whole number of months, so rounding cannot move the switch
    np.testing.assert_array_equal(r.p_slip[0, p, 1], (t >= 2) * 1.0)


def test_slip__enough_supply_no_slip(slip_run):
    r = slip_run
    p = r.programmes.index("supplied")
    for name in ("units_short_mean", "slip_months_mean", "share_missed_mean", "p_slip"):
        np.testing.assert_array_equal(getattr(r, name)[0, p], 0.0)
    np.testing.assert_array_equal(r.peak_slip_months[0, :, p], 0.0)


def test_slip__shapes(slip_run):
    r = slip_run
    S, n, P, T, K = 1, 50, 4, 12, 3
    assert r.slip_thresholds == (1.0, 2.5, 6.0)
    assert r.p_slip.shape == r.p_slip_se.shape == (S, P, K, T)
    for name in ("slip_months_mean", "slip_months_se", "share_missed_mean", "share_missed_se"):
        assert getattr(r, name).shape == (S, P, T)
    assert r.peak_slip_months.shape == (S, n, P)
    assert r.paths["slip_months"].shape == r.paths["share_missed"].shape == (S, n, P, T)


# --------------------------------------------------------------------------- stocks (3.7.4)
def test_stocks_run_out__only_when_they_fail_to_cover_a_need(tmp_path):
    # one programme per material, so that no kit waits for another material (3.8)
    cfg = _load(
        tmp_path,
        """
[materials.unused]
[materials.licensed]
licence.military.live_at_start_months = 100
licence.military.flow_t = 2.0
[materials.locked]
[materials.locked.stockpile]
stockpile_t = 100.0
release = "never"
[materials.released]
[materials.released.stockpile]
stockpile_t = 3.0
release = "from_date"
release_date = "2025-01"
release_t_per_month = 1.0
[materials.late]
[materials.late.stockpile]
stockpile_t = 100.0
release = "on_shortfall"
release_lag_months = 2.0
release_t_per_month = 5.0
[materials.tiny_gap]
recycling_t = 0.9999999999
[programmes.x]
units_per_year = 12.0
kg_per_unit = {licensed = 2000.0}
"""
        + "".join(
            f"""
[programmes.y_{m}]
units_per_year = 12.0
kg_per_unit = {{{m} = 1000.0}}
"""
            for m in ("locked", "released", "late", "tiny_gap")
        ),
    )
    res = simulate_reference(cfg, 4, seed=1, record=True)
    t = np.arange(12)
    out = dict(zip(res.materials, res.p_stock_exhausted[0]))
    # nobody needs it: no stock, yet never run out
    np.testing.assert_array_equal(out["unused"], 0.0)
    # the licence covers the need exactly (S >= D): no stock needed
    np.testing.assert_array_equal(out["licensed"], 0.0)
    # 100 t that may never be released and an empty buffer do not cover a need
    np.testing.assert_array_equal(out["locked"], 1.0)
    np.testing.assert_array_equal(res.paths["stockpile"][0, :, res.materials.index("locked")], 100)
    # released from month 0 at the 1 t/month needed: covers months 0-2, then empty
    np.testing.assert_array_equal(out["released"], (t >= 3) * 1.0)
    # a stockpile not yet released (lag 2 after the first shortage) does not cover
    # months 0-1; once it does, the flag stays
    np.testing.assert_array_equal(out["late"], 1.0)
    # a gap of 1e-10 t a month is a shortage, but within the 1e-9 t tolerance
    np.testing.assert_array_equal(out["tiny_gap"], 0.0)
    np.testing.assert_array_equal(res.p_stock_exhausted_se[0], 0.0)


# --------------------------------------------------------------------------- paired differences (4)
QUALIFIED_BODY = """
[materials.a]
[sources.s]
material = "a"
capacity_t_per_year = 120.0
start = "2025-01"
slip_months = 0.0
qualification_months = 0.0
ramp_months = 0.0
yield = 1.0
defence_share = 1.0
p_qualified = 0.3
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
[scenarios.likely]
sources.s.p_qualified = 0.7
"""


def test_deltas__paired_probability_has_the_paired_standard_error(tmp_path):
    # the source (10 t/month) is the only supply of a (1 t/month needed): a path is
    # behind (and its stocks run out) from month 0 exactly when the source is not
    # qualified. Qualified in the base => qualified in the scenario (same uniform), so
    # d_i = -1 with probability 0.4 and 0 otherwise: delta -0.4, se sqrt(0.24 / n)
    n = 4000
    res = simulate_reference(_load(tmp_path, QUALIFIED_BODY), n, seed=20250610)
    se_formula = np.sqrt(0.4 * 0.6 / n)
    for name in ("p_shortfall", "p_stock_exhausted"):
        delta, se = res.deltas[name]
        assert delta.shape == se.shape == (2, 1, 12)
        assert (delta[1] == delta[1, 0, 0]).all()  # the same every month
        assert abs(delta[1, 0, -1] + 0.4) <= 4 * se_formula
        assert se[1, 0, -1] == pytest.approx(se_formula, rel=0.03)
        se_each = getattr(res, f"{name}_se")
        independent = np.sqrt(se_each[0] ** 2 + se_each[1] ** 2)
        assert se[1, 0, -1] < 0.8 * independent[0, -1]
        np.testing.assert_array_equal(delta[0], 0.0)
        np.testing.assert_array_equal(se[0], 0.0)
    # slip t + 1 on unqualified paths: past every threshold by the last month
    delta, se = res.deltas["p_slip"]
    np.testing.assert_array_equal(delta[1, 0, :, -1], res.deltas["p_shortfall"][0][1, 0, -1])
    np.testing.assert_array_equal(se[1, 0, :, -1], res.deltas["p_shortfall"][1][1, 0, -1])
    # the regime never moves: no difference, and no noise in it
    np.testing.assert_array_equal(res.deltas["p_regime"][0], 0.0)
    np.testing.assert_array_equal(res.deltas["p_regime"][1], 0.0)
    # the dataset's names read the same arrays
    np.testing.assert_array_equal(res.delta_p_shortfall, res.deltas["p_shortfall"][0])
    np.testing.assert_array_equal(res.delta_p_shortfall_se, res.deltas["p_shortfall"][1])
    with pytest.raises(AttributeError):
        _ = res.delta_nothing


def test_deltas__of_means_from_the_recorded_paths(tmp_path):
    n = 500
    res = simulate_reference(_load(tmp_path, QUALIFIED_BODY), n, seed=5, record=True)
    for name, key in MEANS.items():
        delta, se = res.deltas[name]
        x = getattr(res, name)
        np.testing.assert_allclose(delta, x - x[:1], rtol=1e-12, atol=0)
        d = res.paths[key] - res.paths[key][:1]  # (S, n, ..., T)
        np.testing.assert_allclose(se, d.std(axis=1, ddof=1) / np.sqrt(n), rtol=1e-12, atol=0)
        np.testing.assert_array_equal(delta[0], 0.0)
        np.testing.assert_array_equal(se[0], 0.0)
    # units short: 1 a month on the 40% of paths qualified in the scenario only
    delta = res.delta_units_short_mean[1, 0]
    assert delta[-1] < -0.3 * 12
    assert (res.delta_units_short_mean_se[1, 0] > 0).all()


# ---------------------------------------------------------------- base.toml, from recorded paths
@pytest.fixture(scope="module")
def base_run() -> ReferenceResult:
    return simulate_reference(load_config(BASE_TOML), 150, seed=2026, record=True)


def _indicators(r: ReferenceResult) -> dict[str, np.ndarray]:
    """Per path (S, n, ..., T), section 4's indicators rebuilt from recorded values."""
    p = r.paths
    ever = lambda x: np.maximum.accumulate(x, axis=-1)
    thresholds = np.array(r.slip_thresholds)[:, None]
    # a magnet's stocks ran out <=> the allocation fell short of the total need (all
    # that is available is allocated when supply does not cover demand); a feedstock's
    # run out at its makers (3.6.3), which the recorded flag says
    gap = p["need"].sum(axis=2) - p["allocated"].sum(axis=2)
    magnet = np.array([m.kind == MAGNET for m in load_config(BASE_TOML).base.materials])
    exhausted = np.where(magnet[:, None], gap > 1e-9, p["exhausted"])
    np.testing.assert_array_equal(exhausted, p["exhausted"])
    return {
        "p_shortfall": ever(p["units_short"] > r.behind_tolerance_units),
        "p_stock_exhausted": ever(exhausted),
        "p_regime": p["regime"][:, :, None, :] == np.arange(len(r.regimes))[:, None],
        "p_slip": ever(p["slip_months"][:, :, :, None, :] > thresholds + 1e-9),
    }


def test_base__statistics_match_recorded_paths(base_run):
    r, n = base_run, base_run.n_paths
    for name, key in MEANS.items():
        x = r.paths[key]
        np.testing.assert_allclose(getattr(r, name), x.mean(axis=1), rtol=1e-12, atol=1e-14)
        se = getattr(r, name.removesuffix("_mean") + "_se")
        np.testing.assert_allclose(se, x.std(axis=1, ddof=1) / np.sqrt(n), atol=1e-12)
    np.testing.assert_array_equal(r.peak_slip_months, r.paths["slip_months"].max(axis=-1))
    indicators = _indicators(r)
    assert set(indicators) == set(PROBABILITIES)
    for name, x in indicators.items():
        np.testing.assert_array_equal(getattr(r, name), x.mean(axis=1), err_msg=name)
        d = x.astype(float) - x[:1]
        se = np.sqrt(((d**2).mean(axis=1) - d.mean(axis=1) ** 2) / n)
        np.testing.assert_allclose(r.deltas[name][1], se, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(r.deltas[name][0], x.mean(axis=1) - x[:1].mean(axis=1))


def test_base__slip_measures_consistent(base_run):
    r, p = base_run, base_run.paths
    assert (p["share_missed"] >= 0).all() and (p["share_missed"] <= 1 + 1e-12).all()
    assert (p["slip_months"] >= 0).all()
    # slip is zero exactly where nothing is short
    np.testing.assert_array_equal(p["slip_months"] > 0, p["units_short"] > 0)
    assert (np.diff(r.p_slip, axis=-1) >= 0).all()
    # a higher threshold is passed by fewer paths
    assert (np.diff(r.p_slip, axis=2) <= 0).all()
    config = load_config(BASE_TOML)
    S, P = len(config.scenarios), len(config.entries("programmes"))
    assert r.p_slip.shape == (S, P, len(config.slip_thresholds), config.base.n_months)
    # every delta has its statistic's shape
    for name in (*MEANS, *PROBABILITIES):
        delta, se = r.deltas[name]
        assert delta.shape == se.shape == getattr(r, name).shape
        assert (se >= 0).all()
