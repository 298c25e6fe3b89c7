"""Result files are written atomically and with the permissions the user's umask gives."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import xarray as xr

from reriskmc.io import open_result, write_result


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_write_result__honours_the_umask(tmp_path, umask_027, suffix):
    out = write_result(xr.Dataset({"x": ("a", np.arange(3.0))}), tmp_path / f"r{suffix}")
    want = 0o750 if suffix == ".zarr" else 0o640  # a folder, or a file
    assert _mode(out) == want
    assert open_result(out)["x"].values.tolist() == [0.0, 1.0, 2.0]


def test_write_result__no_fill_value_on_coordinates(tmp_path):
    """CF forbids _FillValue on coordinate variables; xarray writes one on floats unless
    told not to."""
    import netCDF4

    ds = xr.Dataset({"x": (("q",), np.arange(3.0))}, coords={"q": [0.05, 0.5, 0.95]})
    out = write_result(ds, tmp_path / "r.nc")
    with netCDF4.Dataset(out) as nc:
        assert "_FillValue" not in nc.variables["q"].ncattrs()
        assert "_FillValue" in nc.variables["x"].ncattrs()  # data variables keep theirs
