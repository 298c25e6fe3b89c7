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


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def _browser(tmp_path):
    """Headless Debian chromium under selenium, with its console log readable; a skip
    with the reason when chromium is absent, except under CI, where it must be there."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        why = f"the report's browser test needs {CHROMIUM} and {CHROMEDRIVER} (Debian: " \
              "apt-get install chromium chromium-driver)"  # fmt: skip
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,2000",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)


@pytest.fixture(scope="module")
def report_file(small_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    res = _invoke("report", small_result, "-o", out)
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"wrote {out}"
    return out


def test_report__is_one_self_contained_page(report_file, small_result):
    import xarray as xr

    text = report_file.read_text()
    assert "<script" not in text.lower()
    assert "http://" not in text and "https://" not in text  # nothing fetched from a network
    assert text.count('<img src="data:image/png;base64,') == len(_expected(["base"]))
    with xr.open_dataset(small_result) as ds:
        for needle in (ds.attrs["config_sha256"], f"{int(ds.attrs['n_paths']):,}",
                       str(ds.attrs["seed"]), ds.attrs["created"], "Scenarios against the base",
                       "talks_breakdown: Talks break down"):  # fmt: skip
            assert needle in text
    assert not list(report_file.parent.glob(".*.part"))


def test_report__renders_in_a_browser_with_every_image_and_no_errors(report_file, tmp_path):
    driver = _browser(tmp_path)
    try:
        driver.get(report_file.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);"
        )
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        tables = driver.execute_script("return document.querySelectorAll('table').length;")
    finally:
        driver.quit()
    assert len(images) == len(_expected(["base"]))
    assert all(done and width > 0 for done, width in images), images
    assert errors == []
    assert tables == 4  # three headline tables and the comparison


@pytest.mark.parametrize(
    "command, dropped",
    [
        (["plot"], "slip_months_peak_quantile"),
        (["report"], "slip_months_cvar"),
        (["summarize"], "delta_p_slip_se"),
        (["compare", "--metric", "units_short_mean"], "delta_units_short_mean_se"),
    ],
)
def test_result_lacking_a_variable__is_one_line_exit_2(small_result, tmp_path, command, dropped):
    """A result of an older version (a variable missing): one line naming it, no output."""
    import xarray as xr

    old = tmp_path / "old.nc"
    with xr.open_dataset(small_result) as ds:
        ds.drop_vars(dropped).to_netcdf(old)
    out = ["-o", str(tmp_path / "out")] if command[0] in ("plot", "report") else []
    res = CliRunner().invoke(main, [command[0], str(old), *command[1:], *out])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().splitlines() == [
        f"reriskmc: error: {old}: not a reriskmc result, or one of an older version (no {dropped})"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.nc"]
