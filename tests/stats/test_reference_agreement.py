"""The compiled kernel agrees with the independent NumPy reference model.

Both implement docs/model.md; they use different random-number generators, so they
must agree in distribution: every mean and probability of configs/base.toml, in every
scenario, month, programme and material, within its Monte Carlo error.
"""

from pathlib import Path

import numpy as np
import pytest

from reriskmc.config import load_config
from reriskmc.engine import simulate
from reriskmc.reference import simulate_reference
from reriskmc.results import build_dataset

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
N_KERNEL, N_REFERENCE = 40_000, 8_000


@pytest.fixture(scope="module")
def both():
    config = load_config(BASE)
    ds = build_dataset(config, simulate(config, N_KERNEL, 11), 11)
    ref = simulate_reference(config, N_REFERENCE, 12)
    return ds, ref


PAIRS = [
    ("p_shortfall", "p_shortfall", "p_shortfall_se"),
    ("units_short_mean", "units_short_mean", "units_short_se"),
    ("shortfall_t_mean", "shortfall_t_mean", "shortfall_t_se"),
    ("p_stock_exhausted", "p_stock_exhausted", "p_stock_exhausted_se"),
    ("p_regime", "p_regime", "p_regime_se"),
]


@pytest.mark.parametrize("name,ref_name,ref_se", PAIRS, ids=[p[0] for p in PAIRS])
def test_kernel__agrees_with_reference_within_monte_carlo_error(both, name, ref_name, ref_se):
    ds, ref = both
    a, se_a = ds[name].values, ds[f"{name}_se"].values
    b, se_b = getattr(ref, ref_name), getattr(ref, ref_se)
    assert a.shape == b.shape
    # floor: one reference path's worth of a probability, or a relative 1e-9 of a mean,
    # for statistics that are exactly 0 or 1 on one side
    floor = 1.0 / N_REFERENCE if name.startswith("p_") else 1e-9 * (1.0 + np.abs(b))
    z = (a - b) / np.sqrt(se_a**2 + se_b**2 + floor**2)
    # thousands of correlated comparisons: the largest |z| of that many normals stays
    # below 5; a modelling difference shows up as whole blocks of large z
    assert np.abs(z).max() < 5.0, (
        f"max |z| = {np.abs(z).max():.2f} at {np.unravel_index(np.abs(z).argmax(), z.shape)}"
    )
    assert (np.abs(z) > 3.0).mean() < 0.01
