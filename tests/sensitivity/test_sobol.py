"""The Sobol estimator (``reriskmc.sobol``) on models whose indices are known in closed
form: the Ishigami function and additive linear models (also with grouped inputs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reriskmc.sobol import indices_from_outputs, pick_freeze_design, sobol_indices

A_ISHIGAMI, B_ISHIGAMI = 7.0, 0.1


def ishigami(u: np.ndarray) -> np.ndarray:
    x = -math.pi + 2.0 * math.pi * u
    return (
        np.sin(x[:, 0])
        + A_ISHIGAMI * np.sin(x[:, 1]) ** 2
        + B_ISHIGAMI * x[:, 2] ** 4 * np.sin(x[:, 0])
    )


def ishigami_truth():
    """Closed-form indices of Ishigami (a = 7, b = 0.1): 0.3139, 0.4424, 0 and 0.5576,
    0.4424, 0.2437."""
    a, b, pi = A_ISHIGAMI, B_ISHIGAMI, math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_ishigami_truth__matches_the_published_values():
    first, total = ishigami_truth()
    np.testing.assert_allclose(first, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(total, [0.5576, 0.4424, 0.2437], atol=1e-4)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sobol_indices__ishigami_truth_inside_the_intervals(seed):
    res = sobol_indices(ishigami, 3, 8192, seed=seed)
    first, total = ishigami_truth()
    for est, ci, truth in ((res.first, res.first_ci, first), (res.total, res.total_ci, total)):
        assert np.all(ci[:, 0] <= truth) and np.all(truth <= ci[:, 1]), (ci, truth)
        assert np.all(ci[:, 1] - ci[:, 0] < 0.12), ci  # close: the intervals are narrow
        assert np.all(np.abs(est - truth) < 0.05), (est, truth)


def test_sobol_indices__intervals_shrink_with_more_samples():
    small = sobol_indices(ishigami, 3, 1024, seed=5)
    large = sobol_indices(ishigami, 3, 16384, seed=5)
    width = lambda r: np.r_[np.diff(r.first_ci), np.diff(r.total_ci)]
    # the width falls as 1 / sqrt(N): 4x from 16x the samples
    assert np.all(width(large) < 0.4 * width(small))


@settings(max_examples=20)
@given(coef=st.lists(st.floats(0.1, 10.0), min_size=2, max_size=5))
def test_sobol_indices__linear_model_known_indices(coef):
    """Y = sum a_i U_i, U_i uniform: S_i = ST_i = a_i^2 / sum a_j^2."""
    a = np.array(coef)
    res = sobol_indices(lambda u: u @ a, len(a), 4096, seed=11, n_boot=300)
    truth = a**2 / np.sum(a**2)
    for est, ci in ((res.first, res.first_ci), (res.total, res.total_ci)):
        assert np.all(np.abs(est - truth) < 0.06), (est, truth)
        assert np.all(ci[:, 0] - 0.01 <= truth) and np.all(truth <= ci[:, 1] + 0.01)
    # additive: no interactions, so the total index equals the first-order one
    np.testing.assert_allclose(res.total, truth, atol=0.03)


def test_sobol_indices__groups_add_up_in_an_additive_model():
    a = np.array([1.0, 2.0, 3.0, 0.5])
    res = sobol_indices(lambda u: u @ a, 4, 4096, groups=[[0, 2], [1], [3]],
                        names=["a", "b", "c"], seed=3)  # fmt: skip
    truth = np.array([a[0] ** 2 + a[2] ** 2, a[1] ** 2, a[3] ** 2]) / np.sum(a**2)
    assert res.names == ("a", "b", "c")
    np.testing.assert_allclose(res.first, truth, atol=0.05)
    np.testing.assert_allclose(res.total, truth, atol=0.03)


def test_sobol_indices__an_input_the_model_ignores_has_exactly_zero_indices():
    res = sobol_indices(lambda u: np.exp(u[:, 0]) * u[:, 1], 3, 512, seed=2)
    assert res.first[2] == 0.0 and res.total[2] == 0.0
    assert np.all(res.first_ci[2] == 0.0) and np.all(res.total_ci[2] == 0.0)
    assert res.total[0] > 0.1 and res.total[1] > 0.1


def test_sobol_indices__constant_model_gives_nan_not_a_number_that_looks_real():
    res = sobol_indices(lambda u: np.full(len(u), 0.3), 2, 64, seed=0, n_boot=50)
    assert res.variance == 0.0
    assert np.all(np.isnan(res.first)) and np.all(np.isnan(res.total_ci))


def test_pick_freeze_design__ab_rows_take_the_group_from_b():
    n, groups = 16, [[0], [1, 2]]
    u = pick_freeze_design(n, groups, 3, seed=4)
    a, b, ab0, ab1 = u[:n], u[n : 2 * n], u[2 * n : 3 * n], u[3 * n :]
    assert u.shape == (4 * n, 3) and np.all((u > 0) & (u < 1))
    np.testing.assert_array_equal(ab0[:, 0], b[:, 0])
    np.testing.assert_array_equal(ab0[:, 1:], a[:, 1:])
    np.testing.assert_array_equal(ab1[:, 1:], b[:, 1:])
    np.testing.assert_array_equal(ab1[:, 0], a[:, 0])


def test_indices_from_outputs__wrong_length_is_refused():
    with pytest.raises(ValueError, match="expected 12 outputs"):
        indices_from_outputs(np.zeros(11), 3, ["a", "b"])
