"""reriskmc: Monte Carlo shortfall risk of US military programmes under Chinese
rare-earth export licensing.

The public API::

    import reriskmc
    config = reriskmc.load_config("configs/base.toml")
    ds = reriskmc.simulate(config, paths=10_000)      # an xarray.Dataset (DESIGN.md §2)
    ds = reriskmc.open_result("results/base.nc")      # a saved result

Importing the package compiles nothing and imports no heavy module: the kernels and
xarray are imported inside the functions that need them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reriskmc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "load_config", "open_result", "simulate"]


def load_config(path):
    """Read and validate a config file (see ``reriskmc.config.load_config``)."""
    from .config import load_config as _load

    return _load(path)


def simulate(config, paths: int | None = None, seed: int | None = None, threads: int | None = None):
    """Simulate every scenario of ``config`` and return the result dataset.

    Parameters
    ----------
    config : Config or str or Path
        A loaded config, or the path of a config file.
    paths, seed : int, optional
        Default: the config's ``run.paths`` and ``run.seed``.
    threads : int, optional
        Default: every CPU this process may use. Results do not depend on it.

    Returns
    -------
    xarray.Dataset
        As ``reriskmc run`` writes it (DESIGN.md §2).
    """
    from .config import Config
    from .engine import simulate as _simulate
    from .results import build_dataset

    if not isinstance(config, Config):
        config = load_config(config)
    paths = config.paths if paths is None else paths
    seed = config.seed if seed is None else seed
    return build_dataset(config, _simulate(config, paths, seed, threads=threads), seed)


def open_result(path):
    """Open a saved result (NetCDF or Zarr) as an in-memory xarray.Dataset."""
    from .io import open_result as _open

    return _open(path)
