"""``reriskmc compare``: paired scenario differences, their standard errors and the
Minkowski bound where the result holds no paired error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reriskmc.cli import main
from reriskmc.compare import METRICS, compare
from reriskmc.config import load_config
from reriskmc.reference import simulate_reference

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"


@pytest.fixture(scope="module")
def ds(small_result):
    with xr.open_dataset(small_result) as d:
        return d.load()


def _invoke(*args):
    return CliRunner().invoke(main, ["compare", *map(str, args)])


def test_compare__pairing_shrinks_the_standard_error(ds):
    res = compare(ds)  # every scenario against the base, P(slip > 3 months) at the horizon
    ratio = res.median_se_ratio()
    print(f"median paired/independent SE of p_slip, {len(res.comparisons)} scenarios: {ratio:.3f}")
    assert ratio < 0.7
    assert len(res.comparisons) == ds.sizes["scenario"] - 1
    assert all(not c.se_bound and c.against == "base" for c in res.comparisons)


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_compare__a_scenario_against_itself_is_zero_with_zero_se(ds, metric):
    for s in ("base", "talks_breakdown"):
        (c,) = compare(ds, [s], s, metric=metric).comparisons
        assert not c.se_bound and c.rows
        for r in c.rows:
            assert r.a == r.b and r.difference == 0.0 and r.se == 0.0
            assert r.interval == (0.0, 0.0)


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_compare__against_the_base_is_the_files_paired_difference(ds, metric):
    res = compare(ds, ["fast_ramp"], metric=metric, month="2027-01")
    (c,) = res.comparisons
    (back,) = compare(ds, ["base"], "fast_ramp", metric=metric, month="2027-01").comparisons
    pick = dict(scenario="fast_ramp", month=np.datetime64("2027-01-01"))
    if metric == "p_slip":
        pick["slip_threshold"] = 3.0
    assert len(c.rows) == len(back.rows) > 0
    for r, rb in zip(c.rows, back.rows):
        at = dict(zip(res.row_dims, r.key))
        delta = float(ds[f"delta_{metric}"].sel(pick).sel(at))
        se = float(ds[f"delta_{metric}_se"].sel(pick).sel(at))
        assert r.difference == pytest.approx(delta, abs=1e-12) and r.se == se
        assert rb.difference == pytest.approx(-delta, abs=1e-12) and rb.se == se


def _dataset(x: np.ndarray) -> xr.Dataset:
    """A result-shaped Dataset of slip_months_mean from per-path values x (scenario,
    path, programme), its standard errors and paired differences made as results.py
    makes them: sample sd / sqrt(n) of the values and of the per-path differences."""
    n = x.shape[1]
    mean = x.mean(axis=1)
    se = x.std(axis=1, ddof=1) / np.sqrt(n)
    d_se = (x - x[:1]).std(axis=1, ddof=1) / np.sqrt(n)
    dims = ("scenario", "programme", "month")
    name = "slip_months_mean"
    data = {name: mean, f"{name}_se": se, f"delta_{name}": mean - mean[:1],
            f"delta_{name}_se": d_se}  # fmt: skip
    return xr.Dataset(
        {k: (dims, v[..., None], {"units": "months"}) for k, v in data.items()},
        coords={
            "scenario": [f"s{i}" for i in range(x.shape[0])],
            "programme": [f"p{i}" for i in range(x.shape[2])],
            "month": np.array(["2030-01-01"], dtype="datetime64[ns]"),
        },
        attrs={"n_paths": n},
    )


def _check_pairs(x: np.ndarray) -> None:
    """Every pair's difference is exact, its SE exact when one side is the base and an
    upper bound of the per-path difference's SE otherwise."""
    ds, n = _dataset(x), x.shape[1]
    names = [str(s) for s in ds["scenario"].values]
    for a in range(x.shape[0]):
        for b in range(x.shape[0]):
            (c,) = compare(ds, [names[a]], names[b], metric="slip_months_mean").comparisons
            true_se = (x[a] - x[b]).std(axis=0, ddof=1) / np.sqrt(n)
            assert c.se_bound == (a != b and a != 0 and b != 0)
            for p, r in enumerate(c.rows):
                assert r.difference == pytest.approx((x[a] - x[b]).mean(axis=0)[p], abs=1e-9)
                if c.se_bound:
                    assert r.se >= true_se[p] * (1 - 1e-9) - 1e-12
                else:
                    assert r.se == pytest.approx(true_se[p], rel=1e-9, abs=1e-12)


@given(arrays(np.float64, (3, 20, 2), elements=st.floats(-50, 50, width=32)))
def test_compare__the_bound_holds_for_any_paths(x):
    _check_pairs(x)


def test_compare__the_bound_holds_on_model_paths():
    """On the reference model's paths of configs/base.toml, where scenarios share their
    random numbers: the bound covers the true paired SE of every non-base pair."""
    r = simulate_reference(load_config(BASE), 200, 3, record=True)
    pick = [0, 3, 5, 11]  # base, talks_breakdown, fast_ramp, french_stock_small
    x = r.paths["slip_months"][pick, :, :, -1]  # (scenario, path, programme) at the horizon
    _check_pairs(x)


def test_compare_cli__prints_a_table_in_points(small_result):
    res = _invoke(small_result, "--scenario", "talks_breakdown")
    assert res.exit_code == 0, res.output
    for text in ("percentage points", "A: talks_breakdown   B: base", "95% interval",
                 "paired SE", "independent SE", "Median ratio"):  # fmt: skip
        assert text in res.output
    assert "upper bound" not in res.output


def test_compare_cli__json_flags_the_bound(small_result):
    res = _invoke(small_result, "--scenario", "talks_breakdown", "--against", "fast_ramp",
                  "--metric", "p_stock_exhausted", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    (c,) = out["comparisons"]
    assert c["se_bound"] is True and c["scenario"] == "talks_breakdown"
    assert [r["material"] for r in c["rows"]] == ["ndfeb", "smco", "ndpr", "dytb", "sm"]
    for r in c["rows"]:
        lo, hi = r["ci95"]
        assert lo <= r["difference"] <= hi


@pytest.mark.parametrize(
    "args, where",
    [
        (["--scenario", "nope"], "--scenario"),
        (["--against", "nope"], "--against"),
        (["--programme", "nope"], "--programme"),
        (["--metric", "nope"], "--metric"),
        (["--month", "2040-01"], "--month"),
        (["--threshold", "2.5"], "--threshold"),
        (["--metric", "p_stock_exhausted", "--programme", "f35"], "--programme"),
    ],
)
def test_compare_cli__bad_options_are_one_line_exit_2(small_result, args, where):
    res = _invoke(small_result, *args)
    assert res.exit_code == 2
    assert res.output.startswith(f"reriskmc: error: {where}:")
    assert res.output.count("\n") == 1


def test_compare_cli__not_a_result_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "x.nc"
    bad.write_text("not a result")
    res = _invoke(bad)
    assert res.exit_code == 2 and res.output.startswith(f"reriskmc: error: {bad}:")
    other = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(other)
    res = _invoke(other)
    assert res.exit_code == 2 and "not a reriskmc result" in res.output
