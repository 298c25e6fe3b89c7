"""The public API: ``import reriskmc`` is light, and its three functions give what the
command line gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import reriskmc
from reriskmc.variables import check

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "configs" / "good_minimal.toml"


def test_import__loads_no_heavy_module():
    code = "import sys, reriskmc; print(sorted({'numba', 'xarray', 'scipy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all__names_the_public_api():
    assert set(reriskmc.__all__) == {"__version__", "load_config", "open_result", "simulate"}


def test_simulate__returns_the_result_dataset_of_a_run(tmp_path):
    config = reriskmc.load_config(GOOD)
    ds = reriskmc.simulate(config, paths=300, seed=5, threads=1)
    assert check(ds) == []
    assert ds.attrs["n_paths"] == 300 and ds.attrs["seed"] == 5
    # a path is as good as a loaded config, and the defaults are the config's
    again = reriskmc.simulate(GOOD, paths=300, seed=5)
    np.testing.assert_array_equal(ds["p_shortfall"].values, again["p_shortfall"].values)
    out = tmp_path / "r.nc"
    from reriskmc.io import write_result

    write_result(ds, out)
    opened = reriskmc.open_result(out)
    np.testing.assert_array_equal(opened["units_short_mean"].values, ds["units_short_mean"].values)


def test_python_m__runs_the_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "reriskmc", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("reriskmc, version ")
