"""End-to-end runs of the command line: real subprocesses and CliRunner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from reriskmc.cli import main
from reriskmc.variables import all_variables, check

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "base.toml"
SHARED_CHECK = ROOT.parent / "shared" / "tools" / "check_contract.py"


def _reriskmc(*args, cwd=None):
    exe = Path(sys.executable).with_name("reriskmc")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reriskmc.cli"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def base_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "base.nc"
    proc = _reriskmc("run", str(BASE), "--paths", "2000", "--seed", "7", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run__writes_a_result_that_honours_the_contract(base_result):
    out, proc = base_result
    assert out.exists()
    assert f"wrote {out}" in proc.stdout
    assert "Chance of a schedule slip of more than 3 months of output" in proc.stdout
    with xr.open_dataset(out) as ds:  # plain xarray, as another analysis would
        assert check(ds) == []
        assert {v.name for v in all_variables()} <= set(ds.data_vars)
        assert ds.attrs["n_paths"] == 2000 and ds.attrs["seed"] == 7
        assert ds.attrs["config"] == BASE.read_text()
        assert np.issubdtype(ds["month"].dtype, np.datetime64)
        assert list(ds["scenario"].values[:1]) == ["base"]
        for name in ("p_shortfall", "p_stock_exhausted"):
            assert (ds[name].diff("month") >= 0).all()
        assert np.allclose(ds["p_regime"].sum("regime"), 1.0)
        # the base run shows a non-trivial shortfall risk for some programmes
        p_end = ds["p_shortfall"].sel(scenario="base").isel(month=-1)
        assert float(p_end.max()) > 0.1


def test_run__result_passes_the_shared_contract_checker(base_result):
    out, _ = base_result
    if not SHARED_CHECK.exists():
        pytest.skip(
            f"{SHARED_CHECK} is not beside this checkout: the project's own copy of "
            "the contract is checked by the test above"
        )
    proc = subprocess.run(
        [sys.executable, str(SHARED_CHECK), str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("contract ok")


def test_summarize__prints_the_same_table_as_run(base_result):
    out, proc = base_result
    res = CliRunner().invoke(main, ["summarize", str(out)])
    assert res.exit_code == 0, res.output
    table = res.output.strip()
    assert table in proc.stdout


def test_run__zarr_output_opens_with_plain_xarray(tmp_path):
    out = tmp_path / "r.zarr"
    res = CliRunner().invoke(main, ["run", str(BASE), "--paths", "600", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ds = xr.open_zarr(out)
    assert check(ds) == []
    assert [p.name for p in tmp_path.iterdir()] == ["r.zarr"]  # no temporary left behind


def test_run__default_output_and_paths_from_config(tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text(BASE.read_text().replace("paths = 100000", "paths = 700"))
    proc = _reriskmc("run", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "results" / "small.nc"
    assert out.exists() and f"wrote {Path('results') / 'small.nc'}" in proc.stdout
    with xr.open_dataset(out) as ds:
        assert ds.attrs["n_paths"] == 700


def test_run__interrupted_run_leaves_existing_file_untouched(tmp_path, monkeypatch):
    from reriskmc import engine

    out = tmp_path / "r.nc"
    out.write_bytes(b"previous result")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "simulate", interrupted)
    res = CliRunner().invoke(main, ["run", str(BASE), "--paths", "100", "-o", str(out)])
    assert res.exit_code != 0
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_validate__every_shipped_config_passes():
    for cfg in sorted((ROOT / "configs").glob("*.toml")):
        res = CliRunner().invoke(main, ["validate", str(cfg)])
        assert res.exit_code == 0, res.output
        assert "ok" in res.output
