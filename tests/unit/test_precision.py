"""Stopping at a precision: the standard errors from counts, where a run stops, and that
the result is that of a plain run of as many paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from reriskmc import engine
from reriskmc.cli import main
from reriskmc.config import load_config
from reriskmc.precision import Target, worst_precision
from reriskmc.summary import headline_threshold

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "configs" / "good_minimal.toml"


def test_worst_precision__closed_forms():
    n = 400
    counts = np.array([0, 40, 200, 400])  # p = 0, 0.1, 0.5, 1
    assert worst_precision(counts, n, "se") == pytest.approx(np.sqrt(0.25 / n))
    # relative: p = 0.1 is the worst of those above zero, sqrt(0.9 / (0.1 n))
    assert worst_precision(counts, n, "rel") == pytest.approx(np.sqrt(0.9 / (0.1 * n)))
    assert worst_precision(np.zeros(3), n, "rel") == np.inf  # nothing measured yet
    assert worst_precision(np.zeros(3), n, "se") == 0.0


@given(n=st.integers(1, 10**9), data=st.data())
def test_worst_se__never_above_half_over_root_n(n, data):
    counts = np.array(data.draw(st.lists(st.integers(0, n), min_size=1, max_size=20)))
    assert worst_precision(counts, n, "se") <= 0.5 / np.sqrt(n) * (1 + 1e-12)


def _headline_worst(stats: engine.Stats, k: int, kind: str) -> float:
    counts = np.concatenate(
        [stats.slip_ever[:, :, k, -1].ravel(), stats.exhausted[..., -1].ravel()]
    )
    return worst_precision(counts, stats.n_paths, kind)


@pytest.mark.parametrize("kind", ["se", "rel"])
def test_target__stops_at_the_first_step_reaching_it_with_a_plain_runs_result(kind):
    config = load_config(MINIMAL)
    k = headline_threshold(len(config.slip_thresholds))
    step = 2048
    # a target between the precision after 3 and after 4 steps: the run stops after 4
    w3, w4 = (
        _headline_worst(engine.simulate(config, m * step, 9, threads=1), k, kind) for m in (3, 4)
    )
    assert w4 < w3
    target = Target(kind, float(np.sqrt(w3 * w4)), k, step=step)
    stopped = engine.simulate(
        config, 100_000, 9, threads=1, block_paths=1536, control=engine.Control(until=target)
    )
    assert stopped.n_paths == 4 * step
    assert stopped.precision == pytest.approx(w4, rel=1e-12) and target.met(stopped.precision)
    plain = engine.simulate(config, 4 * step, 9, threads=1)
    for field in plain.__dataclass_fields__:
        if not field.endswith("_s") and field != "precision":
            np.testing.assert_array_equal(getattr(stopped, field), getattr(plain, field))


def test_target_not_reached__runs_every_path_and_says_so():
    config = load_config(MINIMAL)
    target = Target("se", 1e-9, headline_threshold(len(config.slip_thresholds)), step=1024)
    stats = engine.simulate(config, 3000, 9, threads=1, control=engine.Control(until=target))
    assert stats.n_paths == 3000 and not target.met(stats.precision)


def _run(*args):
    return CliRunner().invoke(main, ["run", str(MINIMAL), *map(str, args)])


def test_cli_target_se__records_target_and_precision(tmp_path):
    out = tmp_path / "r.nc"
    # any estimate's standard error is at most 0.5 / sqrt(n): met at the first step
    result = _run("--paths", 100_000, "--target-se", 0.01, "--threads", 1, "-o", out)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out) as ds:
        assert int(ds.attrs["n_paths"]) == 32 * 1024
        assert ds.attrs["target_se"] == 0.01 and ds.attrs["achieved_se"] <= 0.01
        assert int(ds.attrs["target_met"]) == 1
        k = headline_threshold(ds.sizes["slip_threshold"])
        se = np.concatenate([ds["p_slip_se"].isel(slip_threshold=k, month=-1).values.ravel(),
                             ds["p_stock_exhausted_se"].isel(month=-1).values.ravel()])  # fmt: skip
        assert ds.attrs["achieved_se"] == pytest.approx(se.max(), rel=1e-12)
    assert "target standard error 0.01 reached" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target-se", "0"], "--target-se: must be above zero, got 0.0"),
        (["--target-rel", "-0.1"], "--target-rel: must be above zero"),
        (["--target-se", "0.1", "--target-rel", "0.1"], "give one or the other"),
    ],
)
def test_bad_targets__one_line_exit_2(tmp_path, args, message):
    result = _run("--paths", 100, "-o", tmp_path / "r.nc", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
