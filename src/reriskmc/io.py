"""Atomic NetCDF/Zarr writing and reading of result datasets.

A result is written under a temporary name beside its destination and moved into
place only when complete, so the output path holds either the previous file or the
new, complete one: never a half-written result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

SUFFIXES = (".nc", ".zarr")


class OutputError(ValueError):
    """The output path cannot be used; the message says why."""


def check_output_path(path: str | Path) -> Path:
    """Validate an output path before any work starts."""
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise OutputError(
            f"{p}: unknown output suffix '{p.suffix}'; use .nc (NetCDF) or .zarr (Zarr)"
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{p}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{p}: the folder {parent} is not writable")
    if p.exists() and p.suffix == ".nc" and p.is_dir():
        raise OutputError(f"{p}: is a directory")
    return p


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then moved into place: ``path``
    holds its previous content or the complete new one, never a part. The file gets the
    permissions a new file would (``tempfile.mkstemp`` makes it owner-only)."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def write_result(ds, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` (.nc or .zarr) atomically; returns the path."""
    p = check_output_path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.suffix == ".nc":
        return write_atomic(
            p, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4",
                                        encoding=_no_fill(ds))
        )  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".part", dir=parent))
    try:
        # v2: readable by every zarr
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2, encoding=_no_fill(ds))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it owner-only
        if p.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".old", dir=parent))
            os.replace(p, old / "x")
            os.replace(tmp, p)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, p)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return p


def _no_fill(ds) -> dict:
    """CF forbids a _FillValue on coordinate variables, which xarray writes on floats."""
    return {name: {"_FillValue": None} for name in ds.coords}


def _umask() -> int:
    """The process's file-mode creation mask (reading it means setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def open_result(path: str | Path):
    """Open a result file (NetCDF or Zarr) with plain xarray, loaded into memory."""
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise OutputError(f"{p}: no such file")
    if p.is_dir() and p.suffix != ".zarr":
        raise OutputError(f"{p}: is a folder, not a result (a .nc file or a .zarr folder)")
    if p.suffix == ".zarr":
        return xr.open_zarr(p).load()
    with xr.open_dataset(p) as ds:
        return ds.load()
