"""Importance sampling's parts: the proposal, the kernel's tilt, the weighted
estimators and the cross-entropy fit, each against a direct computation."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from reriskmc import importance, tail
from reriskmc.kernels import sketch
from reriskmc.kernels.layout import TILT_BINS
from reriskmc.kernels.tilt import tilt_path

B = TILT_BINS
masses_st = st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=B, max_size=B).map(
    lambda m: np.asarray(m) / np.sum(m)
)


@numba.njit(cache=False)
def _tilt_grid(slots, cum, v):
    """tilt_path on each uniform of ``v`` (one tilted slot): the mapped uniforms and
    the weights."""
    u = np.empty_like(v)
    w = np.empty_like(v)
    buf = np.empty((1, 1))
    for i in range(v.shape[0]):
        buf[0, 0] = v[i]
        w[i] = tilt_path(slots, cum, np.zeros(0), buf)
        u[i] = buf[0, 0]
    return u, w


@numba.njit(cache=False)
def _tilt_rows(slots, cum, direction, v):
    """tilt_path on each row of ``v`` [n, k]: the mapped rows and the weights."""
    u = v.copy()
    w = np.empty(v.shape[0])
    buf = np.empty((v.shape[1], 1))
    for i in range(v.shape[0]):
        buf[:, 0] = v[i]
        w[i] = tilt_path(slots, cum, direction, buf)
        u[i] = buf[:, 0]
    return u, w


def _proposal(masses):
    return importance.Proposal(np.array([0]), np.asarray(masses)[None, :])


@given(masses_st)
def test_tilt__reweighted_proposal_draws_integrate_like_uniform_ones(masses):
    """E_g[w phi(U)] = integral of phi over (0, 1), for phi = 1, u, u^2 (midpoint rule on
    a fine grid of the generator's uniform: the map is piecewise linear)."""
    prop = _proposal(masses)
    n = 100_000
    v = (np.arange(n) + 0.5) / n
    u, w = _tilt_grid(*prop.kernel_args(2)[:2], v)
    assert np.all(np.diff(u) >= 0)  # monotone: draws keep their order
    for power, exact in ((0, 1.0), (1, 0.5), (2, 1.0 / 3.0)):
        assert np.mean(w * u**power) == pytest.approx(exact, abs=2e-3)
    # the weight is the one the proposal computes from the mapped uniform
    np.testing.assert_allclose(w, prop.ratio(u[:, None]), rtol=1e-12)


@given(masses_st)
def test_tilt__mapped_uniforms_fall_in_the_bins_at_the_proposal_s_rates(masses):
    prop = _proposal(masses)
    n = 200_000
    u, _ = _tilt_grid(*prop.kernel_args(2)[:2], (np.arange(n) + 0.5) / n)
    share = np.bincount(np.minimum((u * B).astype(int), B - 1), minlength=B) / n
    np.testing.assert_allclose(share, masses, atol=2.0 / n * B)
    assert u.min() > 0.0 and u.max() < 1.0


def test_proposal__refuses_what_would_bias_the_weights():
    with pytest.raises(ValueError, match="above 0"):
        importance.Proposal(np.array([0]), np.r_[0.0, np.full(B - 1, 1.0 / (B - 1))][None])
    with pytest.raises(ValueError, match="sum to 1"):
        importance.Proposal(np.array([0]), np.full((1, B), 0.1))
    with pytest.raises(ValueError, match="distinct"):
        importance.Proposal(np.array([1, 1]), np.full((2, B), 1.0 / B))
    with pytest.raises(ValueError, match="rows must sum to 1"):
        importance.Proposal(np.zeros(0, np.int64), np.zeros((0, B)), (), np.full((1, 2, 2), 0.3))


def test_proposal__regime_ratio_is_the_product_of_p_over_q():
    p = np.array([[[0.9, 0.1], [0.4, 0.6]]])
    q = np.array([[[0.7, 0.3], [0.2, 0.8]]])
    prop = importance.Proposal(np.zeros(0, np.int64), np.zeros((0, B)), (), q)
    counts = np.array([[[[3, 2], [1, 4]]]], dtype=float)  # one path's transitions
    expected = (0.9 / 0.7) ** 3 * (0.1 / 0.3) ** 2 * (0.4 / 0.2) * (0.6 / 0.8) ** 4
    assert prop.ratio(np.zeros((1, 1)), counts, p)[0] == pytest.approx(expected, rel=1e-12)
    cum = prop.kernel_args(2)[2]
    assert cum[0, 0, -1] == 1.0 and cum[0, 0, 0] == pytest.approx(0.7)


# --------------------------------------------------------------------------- estimators
cases = st.integers(min_value=2, max_value=400).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.01, 20.0), min_size=n, max_size=n),
        st.lists(st.integers(0, 300), min_size=n, max_size=n),
    )
)


@given(cases, st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_weighted_quantiles__are_the_least_value_with_the_tail_weight_below_1_minus_a(case, a):
    w, codes = np.asarray(case[0]), np.asarray(case[1])
    n = len(w)
    hist = np.bincount(codes, weights=w, minlength=sketch.N_BUCKETS)
    got = tail.weighted_quantiles(hist, n, (a,), 1e-6)[0]
    rep = sketch.representatives(1e-6)
    candidates = np.unique(codes)
    ok = [c for c in candidates if w[codes > c].sum() / n <= 1 - a + 1e-12]
    expected = rep[min(ok)] if ok else rep[0]
    assert got == expected


@given(st.lists(st.integers(0, 300), min_size=1, max_size=300), st.sampled_from([0.5, 0.95]))
def test_weighted_quantiles__with_unit_weights_are_the_sketch_s(codes, a):
    codes = np.asarray(codes)
    counts = np.bincount(codes, minlength=sketch.N_BUCKETS)
    got = tail.weighted_quantiles(counts.astype(float), len(codes), (a,), 1e-6)
    np.testing.assert_array_equal(got, sketch.quantiles(counts, (a,), 1e-6))


@given(cases)
def test_weighted_cvar__is_rockafellar_uryasev_at_the_weighted_quantile(case):
    w, codes = np.asarray(case[0]), np.asarray(case[1])
    n, alpha = len(w), 0.9
    rep = sketch.representatives(1e-6)
    h1 = np.bincount(codes, weights=w, minlength=sketch.N_BUCKETS)
    h2 = np.bincount(codes, weights=w * w, minlength=sketch.N_BUCKETS)
    cvar, se = tail.weighted_cvar(h1, h2, n, alpha, 1e-6)
    q = tail.weighted_quantiles(h1, n, (alpha,), 1e-6)[0]
    y = w * np.maximum(rep[codes] - q, 0.0)
    assert cvar == pytest.approx(q + y.mean() / (1 - alpha), rel=1e-9, abs=1e-12)
    assert se == pytest.approx(y.std(ddof=1) / np.sqrt(n) / (1 - alpha), rel=1e-6, abs=1e-12)


@given(cases)
def test_sums__give_the_weighted_mean_and_its_paired_difference(case):
    w = np.asarray(case[0])
    n = len(w)
    rng = np.random.default_rng(n)
    event = rng.random((n, 3)) < 0.3
    sums = tail._Sums(3)
    half = n // 2
    sums.add(w[:half], event[:half], np.zeros((half, 3), np.uint16))
    sums.add(w[half:], event[half:], np.zeros((n - half, 3), np.uint16))
    p, se = tail.mean_se(sums.event[0], sums.event[1], n)
    x = w[:, None] * event
    np.testing.assert_allclose(p, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(se, x.std(axis=0, ddof=1) / np.sqrt(n), rtol=1e-6, atol=1e-15)
    d, dse = tail.mean_se(sums.diff[0], sums.diff[1], n)
    dx = x - x[:, :1]
    np.testing.assert_allclose(d, dx.mean(axis=0), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(dse, dx.std(axis=0, ddof=1) / np.sqrt(n), rtol=1e-6, atol=1e-12)


# --------------------------------------------------------------------------- the fit
def test_fit__tilts_the_uniform_that_decides_the_event():
    rng = np.random.default_rng(3)
    u = rng.random((6000, 12))
    event = (u[:, 7] > 0.93) | ((u[:, 7] > 0.85) & (rng.random(6000) < 0.2))
    prop, summary = importance.fit(u, event, u[:, 7], tuple(f"x{j}" for j in range(12)))
    assert list(prop.slots[:1]) == [7] and summary["tilted"][0] == "x7"
    assert summary["second_moment_weighted"] < 0.5 * summary["second_moment_plain"]
    # the tilted uniform's top bins get most of the proposal's mass
    assert prop.masses[0, -2:].sum() > 0.5


def test_fit__candidates_weigh_paths_as_their_proposals_would():
    """The fit's factors, computed for all single draws at once, are each candidate
    proposal's own likelihood ratio on the other half of the pilot."""
    rng = np.random.default_rng(5)
    u = rng.random((600, 5))
    fit_to = u[:, 2] + 0.3 * u[:, 4] > 1.0
    z = importance.normal_scores(u)
    half = rng.permutation(600) < 300
    folds = ((half, ~half), (~half, half))
    candidates = [(j, share) for share in (0.1, 0.5) for j in (0, 2, 4, importance.DIRECTION)]
    factor = importance._factors(u, z, fit_to, folds, candidates, None, None)
    for fit_rows, eval_rows in folds:
        rows = fit_rows & fit_to
        direction = importance._direction(z[fit_rows], fit_to[fit_rows])
        for c, (j, share) in enumerate(candidates):
            if j == importance.DIRECTION:
                v = importance.score_uniform(u[rows], direction)
                one = importance.Proposal([j], importance._histogram_masses(v, share),
                                          direction=direction)  # fmt: skip
            else:
                one = importance.Proposal([j], importance._histogram_masses(u[rows, j], share))
            np.testing.assert_allclose(factor[eval_rows, c], one.ratio(u[eval_rows]), rtol=1e-12)


def test_fit__tilts_nothing_when_nothing_decides_the_event():
    rng = np.random.default_rng(4)
    u = rng.random((4000, 6))
    event = rng.random(4000) < 0.05
    prop, summary = importance.fit(u, event, rng.random(4000))
    assert len(prop.slots) == 0 and summary["tilted"] == []


def test_elite__falls_back_to_the_most_severe_paths_when_the_event_is_rare():
    event = np.zeros(1000, bool)
    event[:3] = True
    severity = np.arange(1000.0)
    fit_to = importance.elite(event, severity)
    k = int(np.ceil(importance.ELITE_SHARE * 1000))
    assert fit_to.sum() == 3 + k
    assert fit_to[-k:].all()


def test_elite__never_takes_the_paths_that_came_nowhere_near():
    event = np.zeros(1000, bool)
    event[:3] = True
    severity = np.zeros(1000)
    severity[:40] = np.arange(40.0) + 1.0  # 40 paths came near, the rest not at all
    fit_to = importance.elite(event, severity)
    assert fit_to.sum() == 40 and fit_to[:40].all()


def test_elite__is_the_event_when_it_is_common_enough():
    event = np.arange(1000) % 5 == 0
    np.testing.assert_array_equal(importance.elite(event, np.arange(1000.0)), event)


# --------------------------------------------------------------------------- direction
direction_st = st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3).filter(
    lambda d: np.linalg.norm(d) > 0.1
)


def _direction_proposal(masses, direction):
    return importance.Proposal(
        np.array([importance.DIRECTION]), np.asarray(masses)[None, :], direction=direction
    )


def _score_grid(n, direction, seed):
    """Uniforms on the cube whose score along the unit ``direction`` sits on the
    midpoint grid of n points, and whose part across it is random normal."""
    g = np.random.default_rng(seed).standard_normal((n, len(direction)))
    across = g - np.outer(g @ direction, direction)
    s = special.ndtri((np.arange(n) + 0.5) / n)
    return special.ndtr(across + np.outer(s, direction))


@given(masses_st, direction_st)
def test_direction__reweighted_draws_integrate_like_uniform_ones(masses, direction):
    """E_g[w phi(U)] = E[phi(U)] for U uniform on the cube, for phi = 1 and the score's
    uniform (the midpoint rule along the direction), u_0 and u_1 u_2 (random across it);
    the proposal mixed with the model's density, as fitted ones are."""
    prop = _direction_proposal(0.7 * masses + 0.3 / B, direction)
    v = _score_grid(1 << 16, prop.direction, 1)
    u, w = _tilt_rows(*prop.kernel_args(2)[:2], prop.direction, v)
    v_score = importance.score_uniform(u, prop.direction)
    for phi, exact, tol in ((1.0, 1.0, 1e-3), (v_score, 0.5, 1e-3), (u[:, 0], 0.5, 1e-2),
                            (u[:, 1] * u[:, 2], 0.25, 1e-2)):  # fmt: skip
        assert np.mean(w * phi) == pytest.approx(exact, abs=tol)


@given(masses_st, direction_st)
def test_direction__moves_the_draws_along_the_direction_only(masses, direction):
    prop = _direction_proposal(masses, direction)
    v = _score_grid(1 << 10, prop.direction, 2)
    u, w = _tilt_rows(*prop.kernel_args(2)[:2], prop.direction, v)
    d = prop.direction
    z0, z1 = importance.normal_scores(v), importance.normal_scores(u)
    np.testing.assert_allclose(z1 - np.outer(z1 @ d, d), z0 - np.outer(z0 @ d, d), atol=1e-6)
    # the score keeps its order (common random numbers), and the weight is the one the
    # proposal computes from the mapped draws (but at a bin's edge, where rounding
    # may put the score on either side)
    assert np.all(np.diff((z1 @ d)[np.argsort(z0 @ d)]) >= -1e-9)
    same = np.isclose(w, prop.ratio(u), rtol=1e-9)
    assert same.mean() > 0.99


@given(masses_st, direction_st)
def test_direction__the_score_falls_in_the_bins_at_the_proposal_s_rates(masses, direction):
    prop = _direction_proposal(masses, direction)
    v = _score_grid(1 << 14, prop.direction, 3)
    u, _ = _tilt_rows(*prop.kernel_args(2)[:2], prop.direction, v)
    counts = np.bincount(importance._bin(importance.score_uniform(u, prop.direction)), minlength=B)
    np.testing.assert_allclose(counts / len(v), prop.masses[0], atol=5e-3)


def test_proposal__refuses_a_direction_beside_single_draws():
    with pytest.raises(ValueError, match="either single draws or one direction"):
        importance.Proposal(np.array([importance.DIRECTION, 0]), np.full((2, B), 1 / B),
                            direction=np.ones(3))  # fmt: skip
    with pytest.raises(ValueError, match="either single draws or one direction"):
        importance.Proposal(np.array([importance.DIRECTION]), np.full((1, B), 1 / B))


def test_fit__tilts_a_direction_when_several_draws_decide_together():
    """Ten draws of sixteen decide the event through their sum: tilting each alone
    would multiply ten weights' spreads, the direction tilts one score."""
    rng = np.random.default_rng(5)
    u = rng.random((8000, 16))
    z = importance.normal_scores(u)
    deciding = np.zeros(16)
    deciding[:10] = 1.0 / np.sqrt(10)
    event = z @ deciding + 0.3 * rng.standard_normal(8000) > 2.0
    prop, summary = importance.fit(u, event, z @ deciding, tuple(f"x{j}" for j in range(16)))
    assert summary["tilted"][0].startswith("score along x")
    assert list(prop.slots) == [importance.DIRECTION]
    assert prop.direction @ deciding > 0.95
    assert summary["second_moment_weighted"] < 0.2 * summary["second_moment_plain"]
    # the score's top bins get most of the proposal's mass
    assert prop.masses[0, -2:].sum() > 0.5
