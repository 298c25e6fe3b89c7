"""Stockpile sizing: the search, the answer checked against fresh random numbers, and
the command line's errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from reriskmc.cli import main
from reriskmc.config import load_config
from reriskmc.stockpile_sizing import need_t_per_month, size_stockpile, smallest_level
from reriskmc.variants import Metric, nested, run_variants

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "base.toml"
MINIMAL = ROOT / "tests" / "configs" / "good_minimal.toml"
STOCKPILE = Path(__file__).with_name("stockpile.toml")


@given(step=st.floats(0.0, 10.0), target=st.floats(0.01, 0.99))
def test_smallest_level__finds_the_step_of_a_non_increasing_function(step, target):
    """f = 1 below the step, then falling linearly to 0 at step + 1: the smallest level
    meeting the target is step + 1 - target."""
    f = lambda x: np.clip(step + 1.0 - np.asarray(x), 0.0, 1.0)
    found = smallest_level(f, target, 0.0, 12.0, tol=1e-3) if f(0.0) > target else 0.0
    assert f(found) <= target
    assert found == pytest.approx(max(step + 1.0 - target, 0.0), abs=1e-3)


def test_need_t_per_month__matches_the_hand_computed_need():
    cfg = load_config(MINIMAL)
    # f35: mean of triangular(130, 150, 156) per year x 14 kg, all 12 months;
    # gmlrs: 9000/yr x 0.4 kg from month 3 (2025-09) to the end (9 of 12 months)
    f35 = (130 + 150 + 156) / 3 / 12 * 14 / 1000
    gmlrs = 9000 / 12 * 0.4 / 1000 * 9 / 12
    assert need_t_per_month(cfg, 0, ["f35", "gmlrs"]) == pytest.approx(f35 + gmlrs)
    assert need_t_per_month(cfg, 0, ["gmlrs"]) == pytest.approx(gmlrs)


def test_size_stockpile__answer_meets_the_target_on_fresh_random_numbers():
    cfg = load_config(STOCKPILE)
    target = 0.05
    res = size_stockpile(cfg, "ndfeb", target, programmes="all", n_paths=4000, seed=1,
                         threads=1)  # fmt: skip
    assert res.attainable and res.zero.value > target
    assert res.at_answer.value <= target
    lo, hi = res.range_t
    assert lo <= res.stock_t <= hi
    # common random numbers: on the same paths the metric never rises with the stock
    values = [lv.value for lv in res.tried]
    assert np.all(np.diff(values) <= 0.0)
    # fresh paths (another seed): the answer still meets the target within 3 SE, and a
    # level a little below the Monte Carlo range does not
    below = max(lo - (hi - lo), 0.0)
    key = ("materials", "ndfeb", "stockpile", "stockpile_t")
    fresh = run_variants(cfg, [nested(key, res.stock_t), nested(key, below)], Metric(),
                         4000, 987654, threads=1)  # fmt: skip
    worst, se = fresh.values.max(axis=1), fresh.se[np.arange(2), fresh.values.argmax(axis=1)]
    assert worst[0] <= target + 3 * se[0]
    assert worst[1] > target


def _invoke(*args):
    return CliRunner().invoke(main, ["size-stockpile", *map(str, args)])


def test_cli_size_stockpile__json_is_one_object():
    result = _invoke(STOCKPILE, "--material", "ndfeb", "--target", "0.1", "--programmes",
                     "f35,gmlrs", "--paths", "1000", "--threads", "1", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["attainable"] and out["programmes"] == ["f35", "gmlrs"]
    assert out["at_answer"]["value"] <= 0.1
    assert out["months_of_release"] == pytest.approx(out["stock_t"] / 1.5, rel=1e-4)


def test_cli_size_stockpile__unattainable_target_is_one_line_exit_1(tmp_path):
    """A release rate too small to matter: no stock meets the target, and the command
    says so rather than answering with a number."""
    text = STOCKPILE.read_text().replace("release_t_per_month = 1.5", "release_t_per_month = 0.01")
    path = tmp_path / "slow_release.toml"
    path.write_text(text)
    result = _invoke(path, "--material", "ndfeb", "--target", "0.05", "--programmes", "all",
                     "--paths", "500", "--threads", "1")  # fmt: skip
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "even 0.12 t of ndfeb" in lines[0] and "binds" in lines[0]


@pytest.mark.parametrize(
    "config, args, needle",
    [
        (BASE, ["--material", "ndfab"], "--material: unknown material 'ndfab'"),
        (BASE, ["--material", "ndpr"], "--material: 'ndpr' is a feedstock"),
        (MINIMAL, ["--material", "smco"], "--material: materials.smco.stockpile releases nothing"),
        (BASE, ["--material", "smco", "--programmes", "f53"], "--programmes: unknown programme"),
        (BASE, ["--material", "smco", "--target", "0"], "--target: must be a probability"),
        (BASE, ["--material", "smco", "--target", "1.5"], "--target: must be a probability"),
        (BASE, ["--material", "smco", "--metric", "slip_mean"], "--metric"),
        (BASE, ["--material", "smco", "--paths", "1"], "--paths: must be at least 2"),
    ],
)
def test_cli_size_stockpile__errors_one_line_exit_2(config, args, needle):
    if "--target" not in args:
        args = [*args, "--target", "0.05"]
    result = _invoke(config, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reriskmc: error: "), result.stderr
    assert needle in lines[0]
