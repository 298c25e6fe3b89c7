"""Importance sampling (``reriskmc tail``) against closed forms and plain sampling.

Two tiny configs whose tail chance has an exact answer:

- u: the programme's rate R ~ U(1, 3) units a month against a fixed supply of 2, so
  its slip after month t is (t + 1)(R - 2) / R: the chance, quantiles and CVaR of the
  peak slip follow from R's distribution, and the event is decided by one of the
  path's own uniforms (the proposal must find it and tilt it);
- v: as u, with the magnet mass K ~ U(0.5, 1.5) t a unit uncertain too, so that two
  of the path's uniforms decide together (a proposal along a direction tilts both);
- m: supply only while the regime is calm, so the slip counts the stormy months: the
  chance that there are enough of them is a dynamic programme over the chain, and the
  proposal tilts the chain (a scenario with another matrix checks the paired
  difference, its rows differing from the base's the proposal was built on).

Every estimate must lie within 4 of its reported standard errors of the exact value,
and the standard error must be smaller than plain sampling's at the same paths.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from reriskmc import importance, tail
from reriskmc.config import load_config
from reriskmc.engine import simulate
from reriskmc.kernels.sketch import RELATIVE_ERROR
from reriskmc.results import build_dataset

Z_MAX = 4.0

CASE_U = """
[run]
title = "u"
start = "2025-01"
months = 12
slip_thresholds = [1.0, 3.5]
cvar_alpha = 0.95

[regimes]
names = ["only"]
initial = "only"
[regimes.transition]
only = [1.0]

[channels.military]
[materials.m]
recycling_t = 2.0
[programmes.x]
units_per_year = {dist = "uniform", low = 12.0, high = 36.0}
kg_per_unit = {m = 1000.0}
"""

#: the event of CASE_U: slip after month 11, 12 (R - 2) / R, above 3.5: R > 24 / 8.5
R_STAR = 24.0 / 8.5
P_U = (3.0 - R_STAR) / 2.0


def _peak_slip_quantile(a: float) -> float:
    r = 1.0 + 2.0 * a  # R's a-quantile
    return max(0.0, 12.0 * (1.0 - 2.0 / r))


def _peak_slip_cvar(alpha: float) -> float:
    r = 1.0 + 2.0 * alpha  # E[12 (1 - 2 / R) | R > r], R ~ U(r, 3) there
    return 12.0 * (1.0 - 2.0 * math.log(3.0 / r) / (3.0 - r))


CASE_V = CASE_U.replace(
    "kg_per_unit = {m = 1000.0}",
    """[programmes.x.kg_per_unit]
m = {dist = "uniform", low = 500.0, high = 1500.0}""",
)

#: the event of CASE_V: 12 (1 - 2 / (R K)) > 3.5, R K > C_V, R ~ U(1, 3), K ~ U(0.5, 1.5)
C_V = 2.0 * 12.0 / 8.5
#: P(K > C_V / R) = 1.5 - C_V / R where R > C_V / 1.5 (C_V / R > 0.5 throughout)
P_V = 0.5 * (1.5 * (3.0 - C_V / 1.5) - C_V * math.log(3.0 / (C_V / 1.5)))


CASE_M = """
[run]
title = "m"
start = "2025-01"
months = 12
slip_thresholds = [1.0, 4.5]

[regimes]
names = ["calm", "storm"]
initial = "calm"
[regimes.transition]
calm = [0.9, 0.1]
storm = [0.4, 0.6]

[channels.green]
fast = true
open_to_military_in = ["calm"]
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

[scenarios.stormier]
regimes.transition.calm = [0.85, 0.15]
"""


def _p_storms(calm_row, storm_row, months: int, at_least: int) -> float:
    """P(at least ``at_least`` stormy months among months 1 .. months - 1), the chain
    starting calm in month 0: a dynamic programme over (regime, stormy months)."""
    rows = np.array([calm_row, storm_row])
    dist = np.zeros((2, months + 1))
    dist[0, 0] = 1.0
    for _ in range(1, months):
        nxt = np.zeros_like(dist)
        for r in range(2):
            nxt[0] += dist[r] * rows[r, 0]
            nxt[1, 1:] += dist[r, :-1] * rows[r, 1]
        dist = nxt
    return float(dist[:, at_least:].sum())


#: month 0 is never supplied (the licence is decided after a month), and each stormy
#: month after it adds a month of slip: slip > 4.5 means four stormy months or more
P_M = _p_storms([0.9, 0.1], [0.4, 0.6], 12, 4)
P_M_STORMIER = _p_storms([0.85, 0.15], [0.4, 0.6], 12, 4)


def _config(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _z(measured, expected, se) -> float:
    return (measured - expected) / se if se > 0 else (0.0 if measured == expected else math.inf)


def test_u__the_proposal_tilts_the_deciding_draw_and_the_chance_is_exact(tmp_path):
    cfg = _config(tmp_path, "u", CASE_U)
    q = tail.question(cfg, "x", 3.5, None)
    n = 8192
    res = tail.estimate(cfg, q, n, 11, n_pilot=4096)
    assert res.fit["tilted"][:1] == ["programmes.x.units_per_year"]
    assert abs(_z(res.p[0], P_U, res.p_se[0])) < Z_MAX, (res.p[0], P_U, res.p_se[0])
    # plain sampling's standard error at the same paths is at least twice as large
    assert res.p_se[0] < 0.5 * math.sqrt(P_U * (1 - P_U) / n)
    assert abs(res.mean_weight - 1.0) < 4 * 0.05


#: a scenario adding a source of uncertain capacity: in the packing of all scenarios its
#: draw comes first, so the base's draws are other slots than in the base's own packing
#: (the pilot's)
PLANT = """
[scenarios.plant]
sources.plant.material = "m"
sources.plant.capacity_t_per_year = {dist = "uniform", low = 1.0, high = 5.0}
sources.plant.start = "2025-01"
"""
CASE_U_PLANT = CASE_U + PLANT


def test_u__the_base_s_proposal_is_carried_to_the_draws_of_the_same_names(tmp_path):
    """The pilot simulates the base alone; its proposal must tilt the programme's rate
    where the packing of all scenarios draws it, and the chance stays exact."""
    cfg = _config(tmp_path, "plant", CASE_U_PLANT)
    packed = tail.pack(cfg)
    names = tail.slot_names(packed)
    assert names.index("programmes.x.units_per_year") > 0  # the plant's draw is first
    n = 8192
    res = tail.estimate(cfg, tail.question(cfg, "x", 3.5, None), n, 16, n_pilot=4096,
                        packed=packed)  # fmt: skip
    assert [names[j] for j in res.proposal.slots] == ["programmes.x.units_per_year"]
    assert abs(_z(res.p[0], P_U, res.p_se[0])) < Z_MAX, (res.p[0], P_U, res.p_se[0])
    assert res.p_se[0] < 0.5 * math.sqrt(P_U * (1 - P_U) / n)


def test_carried_over__moves_a_direction_and_transition_rows_by_name(tmp_path):
    redrawn = """programmes.x.units_per_year = {dist = "uniform", low = 6.0, high = 18.0}
regimes.matrices.later.calm = [0.5, 0.5]
regimes.matrices.later.storm = [0.5, 0.5]
"""
    cfg = _config(tmp_path, "carry", CASE_M + PLANT + redrawn)
    packed = tail.pack(cfg)
    alone = tail.pack(replace(cfg, scenarios=cfg.scenarios[:1]))
    names, alone_names = tail.slot_names(packed), tail.slot_names(alone)
    assert alone.matrix_names == ("base",) and packed.matrix_names == ("base", "later")
    direction = np.arange(1.0, alone.n_path_uniforms + 1.0)
    trans = np.array([[[0.7, 0.3], [0.2, 0.8]]])
    proposal = importance.Proposal([importance.DIRECTION], np.full(20, 0.05), ("s",), trans,
                                   direction)  # fmt: skip
    moved = tail.carried_over(proposal, alone, packed)
    for j, name in enumerate(alone_names):
        assert moved.direction[names.index(name)] == pytest.approx(proposal.direction[j]), name
    added = [j for j, name in enumerate(names) if name not in alone_names]
    assert added and not moved.direction[added].any()
    np.testing.assert_array_equal(moved.trans[0], trans[0])
    np.testing.assert_array_equal(moved.trans[1], tail.model_transitions(packed)[1])
    np.testing.assert_array_equal(moved.masses, proposal.masses)


def test_u__a_programme_the_base_lacks_gets_its_pilot_from_every_scenario(tmp_path):
    """A scenario's own programme has no event in the base: the pilot then runs on the
    packing of all scenarios (nothing to carry over), and the plain run agrees."""
    own = "programmes.y.units_per_year = 12.0\nprogrammes.y.kg_per_unit = {m = 1000.0}\n"
    cfg = _config(tmp_path, "plant_y", CASE_U_PLANT + own)  # y: in [scenarios.plant]
    q = tail.question(cfg, "y", 3.5, None)
    res = tail.estimate(cfg, q, 1024, 18, n_pilot=512)
    plain = tail.estimate(cfg, q, 1024, 18, plain=True)
    assert res.p[0] == plain.p[0] == 0.0  # absent from the base: never behind there
    assert 0.0 < plain.p[1] < 1.0
    assert abs(_z(res.p[1], plain.p[1], math.hypot(res.p_se[1], plain.p_se[1]))) < Z_MAX


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_u__weighted_quantiles_of_the_peak_slip(tmp_path, level):
    cfg = _config(tmp_path, "u", CASE_U)
    res = tail.estimate(cfg, tail.question(cfg, "x", 3.5, None), 8192, 12, n_pilot=4096)
    measured = res.peak_quantiles[0, list(res.quantile_levels).index(level)]
    exact = _peak_slip_quantile(level)
    # the quantile's sampling error as plain sampling would have it (an upper bound),
    # and the sketch's relative accuracy
    density = 1.0 / (2.0 * 12.0 * 2.0 / (1.0 + 2.0 * level) ** 2)  # dR / dslip at R_a
    se = math.sqrt(level * (1 - level) / 8192) * 2.0 * density / 2.0
    assert abs(measured - exact) <= RELATIVE_ERROR * exact + Z_MAX * se, (measured, exact, se)


def test_u__weighted_cvar_of_the_peak_slip(tmp_path):
    cfg = _config(tmp_path, "u", CASE_U)
    res = tail.estimate(cfg, tail.question(cfg, "x", 3.5, None), 8192, 13, n_pilot=4096)
    exact = _peak_slip_cvar(0.95)
    err = math.hypot(res.peak_cvar_se[0], RELATIVE_ERROR * exact)
    assert abs(_z(res.peak_cvar[0], exact, err)) < Z_MAX, (res.peak_cvar[0], exact, err)


def test_v__a_direction_proposal_is_unbiased(tmp_path):
    """A proposal along the rate's and the mass's scores (given, not fitted): exact
    within its standard error, which is below plain sampling's."""
    cfg = _config(tmp_path, "v", CASE_V)
    packed = tail.pack(cfg)
    names = tail.slot_names(packed)
    direction = np.zeros(packed.n_path_uniforms)
    direction[names.index("programmes.x.units_per_year")] = 1.0
    direction[names.index("programmes.x.kg_per_unit.m")] = 1.0
    masses = np.full(20, 0.3 / 20)
    masses[14:] += 0.7 / 6  # most of the score's mass in its top 30%
    proposal = importance.Proposal([importance.DIRECTION], masses, direction=direction)
    n = 8192
    res = tail.estimate(cfg, tail.question(cfg, "x", 3.5, None), n, 14, proposal=proposal,
                        packed=packed)  # fmt: skip
    assert abs(_z(res.p[0], P_V, res.p_se[0])) < Z_MAX, (res.p[0], P_V, res.p_se[0])
    assert res.p_se[0] < 0.8 * math.sqrt(P_V * (1 - P_V) / n)
    assert abs(res.mean_weight - 1.0) < 4 * 0.05


def test_v__the_fitted_proposal_is_unbiased(tmp_path):
    cfg = _config(tmp_path, "v", CASE_V)
    res = tail.estimate(cfg, tail.question(cfg, "x", 3.5, None), 8192, 15, n_pilot=4096)
    assert res.fit["tilted"]
    assert abs(_z(res.p[0], P_V, res.p_se[0])) < Z_MAX, (res.p[0], P_V, res.p_se[0])
    assert res.p_se[0] < 0.7 * math.sqrt(P_V * (1 - P_V) / 8192)


def test_m__a_tilted_regime_chain_is_unbiased_in_every_scenario(tmp_path):
    cfg = _config(tmp_path, "m", CASE_M)
    q = tail.question(cfg, "x", 4.5, None)
    # toward storm: calm -> storm 0.3 (model 0.1), storm stays 0.8 (model 0.6)
    packed = tail.pack(cfg)
    assert packed.cum_trans.shape[1] == 1  # one matrix: the scenario changes its rows
    trans = np.array([[[0.7, 0.3], [0.2, 0.8]]])
    proposal = importance.Proposal(np.zeros(0, np.int64), np.zeros((0, 20)), (), trans)
    n = 8192
    res = tail.estimate(cfg, q, n, 21, proposal=proposal, packed=packed)
    assert abs(_z(res.p[0], P_M, res.p_se[0])) < Z_MAX, (res.p[0], P_M, res.p_se[0])
    assert abs(_z(res.p[1], P_M_STORMIER, res.p_se[1])) < Z_MAX, (res.p[1], P_M_STORMIER)
    delta = P_M_STORMIER - P_M
    assert abs(_z(res.delta[1], delta, res.delta_se[1])) < Z_MAX, (res.delta[1], delta)
    assert res.p_se[0] < 0.7 * math.sqrt(P_M * (1 - P_M) / n)


def test_m__the_pilot_chooses_to_tilt_the_regimes(tmp_path):
    cfg = _config(tmp_path, "m", CASE_M)
    res = tail.estimate(cfg, tail.question(cfg, "x", 4.5, None), 4096, 22, n_pilot=4096)
    assert res.fit["tilted"] == ["regimes"]
    assert abs(_z(res.p[0], P_M, res.p_se[0])) < Z_MAX, (res.p[0], P_M, res.p_se[0])


def test_plain__a_tail_run_counts_what_the_result_dataset_counts(tmp_path):
    """With every weight 1 the chance is the run's own p_slip, to the last bit."""
    cfg = _config(tmp_path, "m", CASE_M)
    n, seed = 3000, 5
    res = tail.estimate(cfg, tail.question(cfg, "x", 4.5, None), n, seed, plain=True)
    ds = build_dataset(cfg, simulate(cfg, n, seed), seed)
    p_slip = ds.p_slip.sel(programme="x", slip_threshold=4.5).isel(month=-1).values
    np.testing.assert_array_equal(res.p, p_slip)
    assert res.mean_weight == 1.0 and res.effective_paths == n


def test_threads__do_not_change_a_weighted_result(tmp_path):
    cfg = _config(tmp_path, "u", CASE_U)
    q = tail.question(cfg, "x", 3.5, None)
    one = tail.estimate(cfg, q, 5000, 31, n_pilot=2048, threads=1)
    two = tail.estimate(cfg, q, 5000, 31, n_pilot=2048, threads=2)
    for name in ("p", "p_se", "delta", "delta_se", "peak_quantiles", "peak_cvar"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)
    assert one.mean_weight == two.mean_weight


def test_base_config__weighted_and_plain_estimates_agree_in_every_scenario():
    """On base.toml (no closed form): JDAM's chance of a 3-month slip by the horizon by
    importance sampling and by plain sampling on other paths, within 4 standard errors
    of their difference in every scenario, the weighted one the more precise."""
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "base.toml")
    packed = tail.pack(cfg)
    q = tail.question(cfg, "jdam", 3.0, None)
    weighted = tail.estimate(cfg, q, 8192, 41, n_pilot=4096, threads=2, packed=packed)
    plain = tail.estimate(cfg, q, 16384, 42, plain=True, threads=2, packed=packed)
    z = (weighted.p - plain.p) / np.hypot(weighted.p_se, plain.p_se)
    assert np.all(np.abs(z) < Z_MAX), z
    assert weighted.fit["tilted"], "nothing tilted on base.toml"
    assert weighted.p_se[0] < plain.p_se[0] * math.sqrt(16384 / 8192)
