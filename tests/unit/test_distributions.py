"""The tabulated quantile functions of bounded distributions (beta, pert)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import special, stats

from reriskmc.distributions import parse_dist, quantile_table
from reriskmc.kernels.layout import TABLE_NODES, TABLE_Z

NODES_U = special.ndtr(np.linspace(-TABLE_Z, TABLE_Z, TABLE_NODES))
SHAPES = np.linspace(0.5, 5.0, 10)


@pytest.mark.parametrize("a", SHAPES)
def test_quantile_table__every_node_within_1e_7_of_its_probability(a):
    """Shapes below 1 make scipy's root finder give up in the far tails; the table
    must still put every node at (nearly) its own probability, stay inside the support
    and never decrease, and say nothing while being built. (The largest gaps, about
    3e-8, are at nodes whose quantile rounds to an end of the support.)"""
    for b in SHAPES:
        d = parse_dist({"dist": "beta", "a": float(a), "b": float(b), "low": 2.0, "high": 5.0})
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            q = quantile_table(d)
        assert np.all(np.diff(q) >= 0.0)
        assert q[0] >= 2.0 and q[-1] <= 5.0
        u = stats.beta(a, b, loc=2.0, scale=3.0).cdf(q)
        assert np.abs(u - NODES_U).max() < 1e-7, (a, b)


def test_quantile_table__pert_is_the_beta_with_the_pert_shape():
    d = parse_dist({"dist": "pert", "low": 1.0, "mode": 2.0, "high": 7.0})
    q = quantile_table(d)
    # classic PERT: a = 1 + 4 (mode - low) / width, b = 1 + 4 (high - mode) / width
    expected = stats.beta(1 + 4 / 6, 1 + 20 / 6, loc=1.0, scale=6.0).ppf(NODES_U)
    np.testing.assert_allclose(q, expected, rtol=1e-12, atol=1e-12)
