"""``reriskmc plot`` and ``reriskmc report``: the figures and the HTML page of a result."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from reriskmc.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("fan_{s}", "risk_slip_over_3_months", "exceedance_peak_slip", "stock_exhaustion",
           "regime_{s}")  # fmt: skip


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _expected(scenarios) -> set[str]:
    names = set()
    for f in FIGURES:
        names |= {f.format(s=s) for s in scenarios} if "{s}" in f else {f}
    return names


def test_plot__writes_one_valid_png_per_figure(small_result, tmp_path):
    res = _invoke("plot", small_result, "-o", tmp_path / "figs")
    assert res.exit_code == 0, res.output
    printed = [Path(x) for x in res.output.split()]
    files = sorted((tmp_path / "figs").iterdir())
    assert sorted(printed) == files  # every file printed, nothing else written (no temp left)
    assert {f.stem for f in files} == _expected(["base"])
    for f in files:
        assert f.suffix == ".png" and f.read_bytes()[:8] == PNG_MAGIC
        assert f.stat().st_size > 20_000  # a drawn figure, not an empty canvas


def test_plot__svg_per_chosen_scenario_into_the_default_folder(small_result, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = _invoke("plot", small_result, "--format", "svg", "--scenario", "talks_breakdown",
                      "--scenario", "fast_ramp")  # fmt: skip
    finally:
        os.chdir(cwd)
    assert res.exit_code == 0, res.output
    folder = tmp_path / "results" / f"{small_result.stem}_plots"
    files = sorted(folder.iterdir())
    assert {f.stem for f in files} == _expected(["talks_breakdown", "fast_ramp"])
    for f in files:
        root = ET.parse(f).getroot()  # well-formed XML whose root is an <svg>
        assert f.suffix == ".svg" and root.tag.endswith("svg")


@pytest.mark.parametrize(
    "args, where",
    [(["--scenario", "nope"], "--scenario"), (["--format", "gif"], "'--format'")],
)
def test_plot__bad_options_are_one_line_exit_2(small_result, tmp_path, args, where):
    res = _invoke("plot", small_result, "-o", tmp_path, *args)
    assert res.exit_code == 2
    assert res.output.startswith("reriskmc: error:") and where in res.output
    assert res.output.count("\n") == 1
