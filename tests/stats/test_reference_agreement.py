"""The compiled kernel agrees with the independent NumPy reference model.

Both implement docs/model.md; they use different random-number generators, so they
must agree in distribution: every mean and probability of configs/base.toml, and every
paired difference between a scenario and the base, in every scenario, month,
programme and material, within its Monte Carlo error.
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


NAMES = ["p_shortfall", "units_short_mean", "shortfall_t_mean", "p_stock_exhausted", "p_regime",
         "slip_months_mean", "share_missed_mean", "p_slip"]  # fmt: skip
#: the reference's name of each standard error, where it differs from the dataset's
REF_SE = {"units_short_mean": "units_short_se", "shortfall_t_mean": "shortfall_t_se",
          "slip_months_mean": "slip_months_se", "share_missed_mean": "share_missed_se"}  # fmt: skip


def _agree(a, se_a, b, se_b, probability: bool):
    assert a.shape == b.shape
    # floor: one reference path's worth of a probability, or a relative 1e-9 of a mean,
    # for statistics that are exactly 0 or 1 on one side
    floor = 1.0 / N_REFERENCE if probability else 1e-9 * (1.0 + np.abs(b))
    z = (a - b) / np.sqrt(se_a**2 + se_b**2 + floor**2)
    # thousands of correlated comparisons: the largest |z| of that many normals stays
    # below 5; a modelling difference shows up as whole blocks of large z
    worst = np.unravel_index(np.abs(z).argmax(), z.shape)
    assert np.abs(z).max() < 5.0, f"max |z| = {np.abs(z).max():.2f} at {worst}"
    assert (np.abs(z) > 3.0).mean() < 0.01


@pytest.mark.parametrize("name", NAMES)
def test_kernel__agrees_with_reference_within_monte_carlo_error(both, name):
    ds, ref = both
    _agree(ds[name].values, ds[f"{name}_se"].values, getattr(ref, name),
           getattr(ref, REF_SE.get(name, f"{name}_se")), name.startswith("p_"))  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_kernel__paired_differences_agree_with_reference(both, name):
    ds, ref = both
    _agree(ds[f"delta_{name}"].values, ds[f"delta_{name}_se"].values,
           getattr(ref, f"delta_{name}"), getattr(ref, f"delta_{name}_se"),
           name.startswith("p_"))  # fmt: skip


def test_paired_standard_error__is_below_two_independent_runs(both):
    """Common random numbers: the standard error of a scenario's difference from the
    base, from per-path differences, against the one two independent runs would give,
    sqrt(se_scenario^2 + se_base^2), over base.toml's scenarios, programmes, thresholds
    and months where either can slip. A scenario that changes only stocks or plants keeps
    the base's policy path, so its paths move with the base's; one that changes the
    licences sees them diverge after its first different decision."""
    ds, _ = both
    se = ds["p_slip_se"].values  # (scenario, programme, threshold, month)
    independent = np.sqrt(se[1:] ** 2 + se[:1] ** 2)
    paired = ds["delta_p_slip_se"].values[1:]
    live = independent > 0
    ratio = paired[live] / independent[live]
    for s, name in enumerate(ds["scenario"].values[1:]):
        r = paired[s][live[s]] / independent[s][live[s]]
        print(f"{name}: median paired / independent standard error {np.median(r):.3f}")
    print(f"all: {np.median(ratio):.3f}")
    assert np.median(ratio) < 0.8
    assert (ratio < 1.05).mean() > 0.95
