"""``reriskmc tail`` end to end, and its bad options: one line, exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reriskmc.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "configs" / "good_minimal.toml"
BASE = ROOT / "configs" / "base.toml"


def _invoke(*args):
    return CliRunner().invoke(main, ["tail", *map(str, args)])


def test_tail__reports_every_scenario_of_the_base_config():
    res = _invoke(BASE, "--programme", "jdam", "--paths", "2048", "--pilot", "2048",
                  "--threads", "1", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["programme"] == "jdam" and out["threshold_months"] == 3.0
    assert out["by_month"] == "2029-05" and out["paths"] == 2048
    base = out["scenarios"][0]
    assert base["scenario"] == "base"
    assert 0.0 < base["p"] < 0.2 and base["se"] > 0 and base["delta"] == 0.0
    assert set(base["peak_slip_quantiles"]) == {"0.5", "0.9", "0.95", "0.99"}
    assert out["pilot"]["pilot_paths"] == 2048


def test_tail__plain_text_table():
    res = _invoke(GOOD, "--programme", "f35", "--paths", "600", "--plain", "--threads", "1")
    assert res.exit_code == 0, res.output
    assert "by plain Monte Carlo" in res.output and "variance ratio" in res.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--programme", "nope"], "--programme: unknown programme 'nope'"),
        (["--programme", "f35", "--threshold", "2"], "--threshold: slip threshold 2 is not"),
        (["--programme", "f35", "--month", "1999-01"], "--month: month '1999-01' is not"),
        (["--programme", "f35", "--paths", "1"], "--paths: must be at least 2"),
        (["--programme", "f35", "--pilot", "1"], "--pilot: must be at least 2"),
        (["--programme", "f35", "--seed", "-1"], "--seed: must be between"),
    ],
)
def test_tail__bad_options_are_one_line(args, needle):
    res = _invoke(GOOD, *args)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.output
