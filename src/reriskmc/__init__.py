"""reriskmc: Monte Carlo shortfall risk of US military programmes under Chinese
rare-earth export licensing.

Importing the package compiles nothing and imports no heavy module: the kernels,
xarray and dask are imported inside the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reriskmc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
