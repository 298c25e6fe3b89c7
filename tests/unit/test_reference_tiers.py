"""Hand-computed cases for the reference model's two tiers, origin rules, dated effects,
schedules and scenario-added entries (``docs/model.md``: "Two tiers", "Origin", 1,
3.2, 3.5, 3.6 and "Scenarios").

Each case is a tiny config written to ``tmp_path``, like ``test_reference.py``; the
arithmetic is in each test's comment. Statistical cases use a fixed seed and allow four
standard errors.
"""

from __future__ import annotations

import numpy as np
from cases import HEAD, load_case
from cases import within as _within

from reriskmc.config import load_config
from reriskmc.reference import simulate_reference


def _load(tmp_path, body: str, months: int = 6):
    return load_case(tmp_path, body, months)


def _source(name: str, material: str, t_per_year: float, extra: str = "") -> str:
    return f"""
[sources.{name}]
material = "{material}"
capacity_t_per_year = {t_per_year}
start = "2024-01"
{extra}
"""


# --------------------------------------------------------------------------- makers (3.6.3)
LIMITED = """
[channels.military]
[materials.a]
feedstock = {f = 0.25}
[materials.f]
kind = "feedstock"
recycling_t = 0.5
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 3000.0}
""" + _source("mk", "a", 120.0)


def test_tiers__maker_limited_by_its_feedstock(tmp_path):
    # the maker could make 10 t/month; the order is Q = D = 3 t (no inventory to
    # refill); NC[f] = 0.5 t covers 0.5 / 0.25 = 2 t of magnet: 2 t made, 1 t short a
    # month, 2/3 of a unit built (3 t a unit), units short (t + 1) / 3. The feedstock
    # runs out every month: (3 - 0.5 / 0.25) * 0.25 = 0.25 t > 1e-9; so do the
    # magnet's stocks (there are none)
    cfg = _load(tmp_path, LIMITED)
    res = simulate_reference(cfg, 3, seed=1, record=True)
    a, f = res.materials.index("a"), res.materials.index("f")
    p, t = res.paths, np.arange(6)
    np.testing.assert_allclose(p["made"][0, :, a], 2.0)
    np.testing.assert_allclose(p["supply"][0, :, a], 2.0)
    np.testing.assert_allclose(p["supply"][0, :, f], 0.5)  # a feedstock's direct supply
    np.testing.assert_allclose(p["need"][0, :, 0, a], 3.0)
    np.testing.assert_allclose(p["allocated"][0, :, 0, a], 2.0)
    np.testing.assert_allclose(p["built"][0, :, 0], 2.0 / 3.0)
    np.testing.assert_allclose(res.units_short_mean[0, 0], (t + 1) / 3.0)
    np.testing.assert_allclose(p["buffer"][0, :, f], 0.0)  # no NC left to keep
    np.testing.assert_array_equal(res.p_stock_exhausted[0, f], 1.0)
    np.testing.assert_array_equal(res.p_stock_exhausted[0, a], 1.0)


def test_tiers__order_refills_the_inventory_and_nc_leftover_is_kept(tmp_path):
    # month 0: Q = D + (cap - buffer) = 1 + 2 = 3 t; f has CN 1 t (a Chinese source)
    # and NC 0.25 t (recycling): 3 t need 0.75 t of f, taken from CN first (0.25 t
    # left, not kept); the makers' inventory keeps the untouched NC, 0.25 t (its cap is
    # 0.5 t). S = 3 >= D = 1: the contractors' buffer fills to 2 t. From month 1: Q = 1,
    # 0.25 t of f from CN; the makers' inventory fills to its cap with NC, 0.5 t.
    # Nothing runs out
    cfg = _load(
        tmp_path,
        """
[channels.military]
[materials.a]
feedstock = {f = 0.25}
buffer_cap_t = 2.0
[materials.f]
kind = "feedstock"
recycling_t = 0.25
buffer_cap_t = 0.5
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
"""
        + _source("cn_f", "f", 12.0, "chinese = true")
        + _source("mk", "a", 120.0),
    )
    res = simulate_reference(cfg, 2, seed=1, record=True)
    a, f = res.materials.index("a"), res.materials.index("f")
    p = res.paths
    np.testing.assert_allclose(p["made"][0, 0, a], [3.0, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(p["buffer"][0, 0, a], 2.0)
    np.testing.assert_allclose(p["buffer"][0, 0, f], [0.25, 0.5, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(p["supply"][0, 0, f], 1.25)
    np.testing.assert_array_equal(res.p_stock_exhausted[0], 0.0)
    np.testing.assert_array_equal(res.p_shortfall[0], 0.0)


def test_tiers__inventory_covers_a_gap_then_runs_out(tmp_path):
    # 3 t/month of magnet need 0.75 t of f; NC gives 0.5 t, the makers' inventory
    # (2 t) the other 0.25 t: it lasts months 0-7 (2 - 0.25 (t + 1) left), and in month
    # 8 only 0.5 / 0.25 = 2 t can be made: f runs out ((3 - 2) * 0.25 > 1e-9), and so do
    # the magnet's stocks (none). Units short (t - 7) / 3 from month 8 on
    cfg = _load(
        tmp_path,
        LIMITED.replace("recycling_t = 0.5", "recycling_t = 0.5\nbuffer_t = 2.0"),
        months=12,
    )
    res = simulate_reference(cfg, 2, seed=1, record=True)
    a, f = res.materials.index("a"), res.materials.index("f")
    p, t = res.paths, np.arange(12)
    np.testing.assert_allclose(p["buffer"][0, 0, f], np.maximum(0.0, 2.0 - 0.25 * (t + 1)))
    np.testing.assert_allclose(p["made"][0, 0, a], np.where(t < 8, 3.0, 2.0))
    np.testing.assert_array_equal(res.p_stock_exhausted[0, f], (t >= 8) * 1.0)
    np.testing.assert_array_equal(res.p_stock_exhausted[0, a], (t >= 8) * 1.0)
    np.testing.assert_allclose(res.units_short_mean[0, 0], np.maximum(0.0, t - 7) / 3.0)
    assert p["exhausted"][0, :, f].sum(axis=-1).tolist() == [4, 4]  # months 8-11


# --------------------------------------------------------------------------- China's rules
CN_FEED = """
[channels.military]
[materials.a]
feedstock = {f = 0.5}
[materials.f]
kind = "feedstock"
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 2000.0}
""" + _source("cn_f", "f", 12.0, "chinese = true")  # CN[f] = 1 t/month


def test_tiers__military_end_use_rule_switched_on_by_an_event(tmp_path):
    # CN[f] = 1 t makes 1 / 0.5 = 2 t = the need, until the event of month 3 switches
    # the military end-use rule on: no maker may use Chinese-origin feedstock, nothing
    # is made, f runs out ((2 - 0) * 0.5 = 1 t), one unit a month is missed
    body = (
        CN_FEED
        + _source("mk", "a", 120.0)
        + """
[events.end_use]
date = "2025-04"
set = {"rules.military_end_use" = true}
"""
    )
    res = simulate_reference(_load(tmp_path, body), 2, seed=1, record=True)
    a, f = res.materials.index("a"), res.materials.index("f")
    t = np.arange(6)
    np.testing.assert_allclose(res.paths["made"][0, 0, a], np.where(t < 3, 2.0, 0.0))
    np.testing.assert_array_equal(res.p_stock_exhausted[0, f], (t >= 3) * 1.0)
    np.testing.assert_allclose(res.units_short_mean[0, 0], np.maximum(0.0, t - 2.0))


def test_tiers__extraterritorial_rule_reaches_makers_abroad_only(tmp_path):
    # makers in config order: abroad (2 t/month), then at home (1 t/month); need 2 t.
    # Rule off: the maker abroad makes all 2 t from CN[f] = 1 t. Rule on: the maker
    # abroad may not use CN and has nothing else (f runs out: (2 - 0) * 0.5 > 0); the
    # one at home makes its capacity, 1 t, from CN (0.5 t of it): 1 t a month short
    body = (
        CN_FEED
        + _source("abroad_mk", "a", 24.0, "abroad = true")
        + _source("home_mk", "a", 12.0)
        + """
[scenarios.rule]
rules.extraterritorial = true
"""
    )
    res = simulate_reference(_load(tmp_path, body), 2, seed=1, record=True)
    a, f = res.materials.index("a"), res.materials.index("f")
    made = res.paths["made"][:, :, a]  # (S, n, T)
    np.testing.assert_allclose(made[0], 2.0)
    np.testing.assert_allclose(made[1], 1.0)
    np.testing.assert_allclose(res.paths["allocated"][1, :, 0, a], 1.0)
    np.testing.assert_array_equal(res.p_stock_exhausted[:, f], [[0.0] * 6, [1.0] * 6])


def test_tiers__dfars_bars_licensed_feedstock_from_its_date_unless_waived(tmp_path):
    # f comes under a live licence (Chinese-origin, 1 t) and from recycling (NC 0.25 t):
    # 2 t of magnet made (of the 2.5 t the feedstock allows) until the DFARS rule on f
    # starts in month 3; then only NC counts: 0.25 / 0.5 = 0.5 t. With a waiver (p = 1)
    # the licensed feedstock keeps counting
    body = """
[dfars]
date = "2025-04"
materials = ["f"]
p_waiver = 0.0
[channels.military]
live_at_start_months = 100
[materials.a]
feedstock = {f = 0.5}
[materials.f]
kind = "feedstock"
recycling_t = 0.25
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 2000.0}
[scenarios.waived]
dfars.p_waiver = 1.0
""" + _source("mk", "a", 120.0)
    res = simulate_reference(_load(tmp_path, body), 2, seed=1, record=True)
    a, f = res.materials.index("a"), res.materials.index("f")
    t = np.arange(6)
    made = res.paths["made"][:, 0, a]
    np.testing.assert_allclose(made[0], np.where(t < 3, 2.0, 0.5))
    np.testing.assert_allclose(made[1], 2.0)
    np.testing.assert_allclose(
        res.paths["supply"][:, 0, f], [np.where(t < 3, 1.25, 0.25), [1.25] * 6]
    )
    np.testing.assert_array_equal(res.p_stock_exhausted[:, f], [(t >= 3) * 1.0, [0.0] * 6])


def test_tiers__made_in_china_magnets_barred_unless_waived(tmp_path):
    # a is made_in_china: its licensed flow (1 t) and its Chinese source (0.5 t) do not
    # count, from month 0, unless the path draws the waiver (p = 1 in the scenario);
    # b's Chinese source counts (b is not listed); no date is needed for this rule
    body = (
        """
[dfars]
made_in_china = ["a"]
p_waiver_made_in_china = 0.0
[channels.military]
live_at_start_months = 100
[materials.a]
licence.military.flow_t = 1.0
[materials.b]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0, b = 500.0}
[scenarios.waived]
dfars.p_waiver_made_in_china = 1.0
"""
        + _source("cn_a", "a", 6.0, "chinese = true")
        + _source("cn_b", "b", 6.0, "chinese = true")
    )
    res = simulate_reference(_load(tmp_path, body), 2, seed=1, record=True)
    supply = res.paths["supply"][:, 0, :, 0]  # (S, M) in month 0
    np.testing.assert_allclose(supply, [[0.0, 0.5], [1.5, 0.5]])
    np.testing.assert_array_equal(res.p_shortfall[:, 0, -1], [1.0, 0.0])


# --------------------------------------------------------------------------- dated effects (3.2)
def test_effects__expiry_that_branches(tmp_path):
    # due in month 2: extended (p 0.6) to month 5, once at most, where it is done and
    # fires. The effect (recycling scaled to 0) is on from month 2 on the 40% of paths
    # not extended, on every path from month 5, on none before month 2
    n = 4000
    body = """
[events.expiry]
date = "2025-03"
p_extend = 0.6
extend_months = 3
max_extensions = 1
scale = {"materials.a.recycling_t" = 0.0}
[channels.military]
[materials.a]
recycling_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
"""
    res = simulate_reference(_load(tmp_path, body, months=8), n, seed=20250610, record=True)
    on = res.paths["supply"][0, :, 0] == 0.0  # (n, T)
    assert not on[:, :2].any() and on[:, 5:].all()
    np.testing.assert_array_equal(on[:, 2], on[:, 4])  # once on, it stays on
    _within(np.array([on[:, 2].mean()]), np.array([0.4]), n)
    # behind from the month the effect applies: the same paths
    np.testing.assert_array_equal(res.paths["units_short"][0, :, 0, 2] > 0, on[:, 2])


def test_effects__in_regimes(tmp_path):
    # month 1: "jump" sends the path to storm first (config order), so "if_storm" (in
    # storm only) fires and "if_calm" does not; with the jump off (scenario) it is the
    # other way round. Each switches on 1 t/month of recycling of its material
    body = """
[events.jump]
date = "2025-02"
jump_to = "storm"
[events.if_storm]
date = "2025-02"
in_regimes = ["storm"]
set = {"materials.a.recycling_t" = 1.0}
[events.if_calm]
date = "2025-02"
in_regimes = ["calm"]
set = {"materials.b.recycling_t" = 1.0}
[channels.military]
[materials.a]
[materials.b]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}
[scenarios.no_jump]
events.jump.p_fire = 0.0
"""
    res = simulate_reference(_load(tmp_path, body, months=3), 2, seed=1, record=True)
    supply = res.paths["supply"][:, 0]  # (S, M, T)
    np.testing.assert_allclose(supply[0], [[0, 1, 1], [0, 0, 0]])
    np.testing.assert_allclose(supply[1], [[0, 0, 0], [0, 1, 1]])
    np.testing.assert_array_equal(res.p_regime[:, 1], [[0, 1, 1], [0, 0, 0]])


def test_effects__set_and_scale_a_licence_approval(tmp_path):
    # lag 1, term 100: an idle licence applies in month 0, is decided in month 1, and if
    # rejected re-applies and is decided in month 2, ...
    # - a (p 0): rejected in month 1; "open" sets p_approve of every material of the
    #   channel, in every regime, to 1 in month 2 (before 3.4): live from month 2;
    # - b (p 0.5 in calm): scaled by 4 in month 0 to 2, which acts as 1: live from 1 on
    #   every path;
    # - c (p 1): scaled by 0 in month 0: rejected in month 1, live from month 2.
    # Starting in storm (scenario): b's calm entry is not scaled, so b is approved in
    # month 1 on about half the paths; every licence is live from month 2
    n = 400
    body = """
[events.open]
date = "2025-03"
set = {"channels.military.p_approve" = 1.0}
[events.boost]
date = "2025-01"
[events.boost.scale]
"materials.b.licence.military.p_approve.calm" = 4.0
"materials.c.licence.military.p_approve" = 0.0
[channels.military]
lag_months = 1
term_months = 100
[materials.a]
licence.military.flow_t = 1.0
licence.military.p_approve = 0.0
[materials.b]
licence.military.flow_t = 1.0
licence.military.p_approve = 0.5
[materials.c]
licence.military.flow_t = 1.0
licence.military.p_approve = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {}
[scenarios.storm]
regimes.initial = "storm"
"""
    res = simulate_reference(_load(tmp_path, body, months=4), n, seed=3, record=True)
    live = res.paths["licence_live"][:, :, :, 0]  # (S, n, M, T)
    np.testing.assert_array_equal(live[0].all(axis=0), [[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1]])
    np.testing.assert_array_equal(live[0].any(axis=0), live[0].all(axis=0))
    assert not live[1, :, [0, 2], :2].any() and live[1, :, :, 2:].all()
    _within(np.array([live[1, :, 1, 1].mean()]), np.array([0.5]), n)


def test_effects__set_and_scale_a_programme_rate(tmp_path):
    # ample supply, no backlog: each month builds its scheduled rate. In month 3 x's
    # rate is set to 24/yr (2 a month, from 1); y's schedule 12 -> 36/yr over months
    # 0-8 (1 + 0.25 t a month) has every node halved (0.5 + 0.125 t)
    body = """
[events.change]
date = "2025-04"
set = {"programmes.x.units_per_year" = 24.0}
scale = {"programmes.y.units_per_year" = 0.5}
[channels.military]
[materials.a]
recycling_t = 100.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {a = 1000.0}
[programmes.y]
units_per_year = {"2025-01" = 12.0, "2025-09" = 36.0}
kg_per_unit = {a = 1000.0}
"""
    res = simulate_reference(_load(tmp_path, body, months=12), 2, seed=1, record=True)
    t = np.arange(12)
    y_rate = np.minimum(1.0 + 0.25 * t, 3.0)
    built = res.paths["built"][0, 0]  # (P, T)
    np.testing.assert_allclose(built[0], np.where(t < 3, 1.0, 2.0))
    np.testing.assert_allclose(built[1], np.where(t < 3, y_rate, 0.5 * y_rate))
    np.testing.assert_array_equal(res.p_shortfall[0], 0.0)


def test_effects__on_the_feedstock_table_and_a_maker_capacity(tmp_path):
    # the feedstock-limited maker (2 t of 3 made): in month 2 its need of f is halved
    # (0.125 t per t: 0.5 / 0.125 = 4 t possible, so all 3 t are made); in month 4 its
    # capacity schedule is set to 24 t/yr (2 t a month made)
    body = (
        LIMITED
        + """
[events.thrift]
date = "2025-03"
scale = {"materials.a.feedstock.f" = 0.5}
[events.cut]
date = "2025-05"
set = {"sources.mk.capacity_t_per_year" = 24.0}
"""
    )
    res = simulate_reference(_load(tmp_path, body), 2, seed=1, record=True)
    a = res.materials.index("a")
    np.testing.assert_allclose(res.paths["made"][0, 0, a], [2, 2, 3, 3, 2, 2])


# --------------------------------------------------------------------------- schedules (1)
def test_schedules__linear_between_dates_flat_outside(tmp_path):
    # x: 12/yr up to 2025-03 (month 2), 36/yr from 2025-07 (month 6), linear between:
    # 1, 1, 1, 1.5, 2, 2.5, 3, 3 units a month, all built (ample supply). The source's
    # capacity 12 -> 36 t/yr between months 1 and 3: 1, 1, 2, 3, 3 ... t a month.
    # z's second node is a distribution: month 2 is halfway between months 0 and 4
    body = """
[channels.military]
[materials.a]
recycling_t = 100.0
[materials.b]
[programmes.x]
units_per_year = {"2025-03" = 12.0, "2025-07" = 36.0}
kg_per_unit = {a = 1000.0}
[programmes.z]
units_per_year = {"2025-01" = 12.0, "2025-05" = {dist = "uniform", low = 24.0, high = 48.0}}
kg_per_unit = {a = 1000.0}
""" + _source("s", "b", '{"2025-02" = 12.0, "2025-04" = 36.0}')
    res = simulate_reference(_load(tmp_path, body, months=8), 50, seed=4, record=True)
    built = res.paths["built"][0]  # (n, P, T)
    np.testing.assert_allclose(built[:, 0], np.tile([1, 1, 1, 1.5, 2, 2.5, 3, 3], (50, 1)))
    np.testing.assert_allclose(
        res.paths["supply"][0, :, 1], np.tile([1, 1, 2, 3, 3, 3, 3, 3], (50, 1))
    )
    z = built[:, 1]
    assert np.unique(z[:, 4]).size == 50 and ((z[:, 4] >= 2.0) & (z[:, 4] <= 4.0)).all()
    np.testing.assert_allclose(z[:, 2], (z[:, 0] + z[:, 4]) / 2.0)
    np.testing.assert_allclose(z[:, 5:], np.repeat(z[:, 4:5], 3, axis=1))


# --------------------------------------------------------------------------- scenarios add entries
def test_scenarios__a_scenario_adds_a_programme_a_source_and_an_event(tmp_path):
    # y exists in "more" only: 1 unit a month of a, which nobody supplies (its source
    # exists in "more" only and is never qualified there), so it is a unit behind a
    # month more; in the base it is never scheduled and all its statistics are 0. The
    # added event never fires; the base's draws (regime chain, licence) are the same
    # path by path in both scenarios
    body = """
[channels.military]
p_approve = 0.5
[materials.a]
[materials.b]
recycling_t = 10.0
licence.military.flow_t = 1.0
[programmes.x]
units_per_year = 12.0
kg_per_unit = {b = 1000.0}
[scenarios.more]
programmes.y.units_per_year = {dist = "uniform", low = 11.0, high = 13.0}
programmes.y.kg_per_unit = {a = 1000.0}
sources.new.material = "a"
sources.new.capacity_t_per_year = 120.0
sources.new.start = "2024-01"
sources.new.p_qualified = 0.0
sources.more_b.material = "b"
sources.more_b.capacity_t_per_year = 12.0
sources.more_b.start = "2024-01"
events.never.date = "2025-02"
events.never.p_fire = 0.0
events.never.jump_to = "storm"
"""
    path = tmp_path / "case.toml"
    path.write_text(
        HEAD.format(months=6).replace("calm = [1.0, 0.0]", "calm = [0.7, 0.3]") + body,
        encoding="utf-8",
    )
    cfg = load_config(path)
    res = simulate_reference(cfg, 200, seed=8, record=True)
    assert res.programmes == ("x", "y")
    np.testing.assert_array_equal(res.programme_in_scenario, [[True, False], [True, True]])
    t = np.arange(6)
    for name in ("units_short_mean", "slip_months_mean", "share_missed_mean", "p_shortfall"):
        np.testing.assert_array_equal(getattr(res, name)[0, 1], 0.0)
    np.testing.assert_array_equal(res.peak_units_short[0, :, 1], 0.0)
    np.testing.assert_array_equal(res.p_shortfall[1, 1], 1.0)
    np.testing.assert_allclose(res.slip_months_mean[1, 1], t + 1.0)
    np.testing.assert_allclose(res.delta_slip_months_mean[1, 1], t + 1.0)
    # the added source of b delivers 1 t/month in "more" only
    b = res.materials.index("b")
    live = res.paths["licence_live"][:, :, b, 0]
    np.testing.assert_array_equal(live[1], live[0])
    np.testing.assert_allclose(res.paths["supply"][1, :, b] - res.paths["supply"][0, :, b], 1.0)
    np.testing.assert_array_equal(res.paths["regime"][1], res.paths["regime"][0])
    assert 0 < res.p_regime[0, 1, -1] < 1
    # one draw per model field instead: the union layout holds there too
    res_f = simulate_reference(cfg, 20, seed=8, param_keys="field")
    np.testing.assert_array_equal(res_f.p_shortfall[1, 1], 1.0)
