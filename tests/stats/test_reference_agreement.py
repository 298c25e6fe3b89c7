"""The compiled kernel agrees with the independent NumPy reference model.

Both implement docs/model.md; they use different random-number generators, so they
must agree in distribution: every mean and probability, and every paired difference
between a scenario and the base, in every scenario, month, programme and material,
within its Monte Carlo error. Of configs/base.toml, and of tiers_mechanisms.toml, which
holds every mechanism of the two tiers in one small config.
"""

from pathlib import Path

import numpy as np
import pytest

from reriskmc.config import load_config
from reriskmc.engine import simulate
from reriskmc.reference import simulate_reference
from reriskmc.results import build_dataset

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
TIERS = Path(__file__).resolve().parent / "tiers_mechanisms.toml"
N_KERNEL, N_REFERENCE = 40_000, 12_000


@pytest.fixture(scope="module", params=[BASE, TIERS], ids=["base", "tiers"])
def both(request):
    config = load_config(request.param)
    ds = build_dataset(config, simulate(config, N_KERNEL, 11), 11)
    ref = simulate_reference(config, N_REFERENCE, 12)
    return ds, ref


NAMES = ["p_shortfall", "units_short_mean", "shortfall_t_mean", "p_stock_exhausted", "p_regime",
         "slip_months_mean", "share_missed_mean", "p_slip"]  # fmt: skip
#: the reference's name of each standard error, where it differs from the dataset's
REF_SE = {"units_short_mean": "units_short_se", "shortfall_t_mean": "shortfall_t_se",
          "slip_months_mean": "slip_months_se", "share_missed_mean": "share_missed_se"}  # fmt: skip


def two_sample_z(a, se_a, n_a, b, se_b, n_b, floor):
    """The z of the difference of means ``a`` (the kernel's, from ``n_a`` paths) and
    ``b`` (the reference's, from ``n_b``, far fewer), their standard errors ``se_*``
    being sd / root n. The smaller sample's variance is taken as at least the larger
    sample's: a rare event that happened to turn up less often among the reference's
    paths shrinks its estimated variance with its mean (Wald's interval's known fault),
    which would make a chance shortfall look like a difference. ``floor`` keeps
    statistics that are exactly 0 or 1 on both sides finite."""
    var_a, var_b = se_a**2 * n_a, se_b**2 * n_b
    return (a - b) / np.sqrt(var_a / n_a + np.maximum(var_a, var_b) / n_b + floor**2)


def _agree(a, se_a, b, se_b, probability: bool):
    assert a.shape == b.shape
    # floor: a thousandth of one reference path's worth of a probability, or a relative
    # 1e-9 of a mean
    floor = 1e-3 / N_REFERENCE if probability else 1e-9 * (1.0 + np.abs(b))
    z = two_sample_z(a, se_a, N_KERNEL, b, se_b, N_REFERENCE, floor)
    # thousands of comparisons: the largest |z| of that many normals stays below 5.
    # They are correlated in blocks (the months of a path; in base.toml every programme
    # that needs samarium moves with the one stock), so the share of them beyond 3 is
    # not tested: by chance alone it reaches 2.5% there.
    worst = np.unravel_index(np.abs(z).argmax(), z.shape)
    assert np.abs(z).max() < 5.0, f"max |z| = {np.abs(z).max():.2f} at {worst}"


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
