"""The result-dataset contract: every variable's name, dims, units and long_name.

This registry is the single statement of DESIGN.md §2 in code: ``results.py`` builds the
dataset from it and checks the dataset against it, the tests check files against it,
and ``tests/unit/test_variables.py`` checks that the README's table matches it.
"""

from __future__ import annotations

from dataclasses import dataclass

COORDS = ("scenario", "programme", "material", "regime", "month", "quantile")


@dataclass(frozen=True)
class Variable:
    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    has_se: bool = False  # a Monte Carlo standard error ``<name>_se`` goes with it


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "p_shortfall",
        ("scenario", "programme", "month"),
        "1",
        "probability the programme has fallen behind schedule at least once by the end of the month",
        has_se=True,
    ),
    Variable(
        "units_short_mean",
        ("scenario", "programme", "month"),
        "units",
        "mean units behind schedule at the end of the month (scheduled to date minus built to date)",
        has_se=True,
    ),
    Variable(
        "units_short_quantile",
        ("scenario", "programme", "month", "quantile"),
        "units",
        "quantiles of units behind schedule at the end of the month",
    ),
    Variable(
        "units_short_cvar",
        ("scenario", "programme"),
        "units",
        "CVaR (expected shortfall) at cvar_alpha of the peak units behind schedule over the horizon",
    ),
    Variable(
        "units_short_peak_quantile",
        ("scenario", "programme", "quantile"),
        "units",
        "quantiles of the peak units behind schedule over the horizon",
    ),
    Variable(
        "shortfall_t_mean",
        ("scenario", "programme", "material", "month"),
        "t",
        "mean material owed to the programme at the end of the month (requirement to date minus allocation to date)",
        has_se=True,
    ),
    Variable(
        "shortfall_t_quantile",
        ("scenario", "programme", "material", "quantile"),
        "t",
        "quantiles of the peak material owed to the programme over the horizon",
    ),
    Variable(
        "p_stock_exhausted",
        ("scenario", "material", "month"),
        "1",
        "probability stocks of the material (contractor inventory plus stockpile) have run out at least once by the end of the month",
        has_se=True,
    ),
    Variable(
        "p_regime",
        ("scenario", "regime", "month"),
        "1",
        "share of paths in each policy regime during the month",
        has_se=True,
    ),
)

BY_NAME = {v.name: v for v in VARIABLES}


def se_of(v: Variable) -> Variable:
    """The standard-error variable that goes with ``v``."""
    return Variable(f"{v.name}_se", v.dims, v.units, f"Monte Carlo standard error of {v.name}")


def all_variables() -> tuple[Variable, ...]:
    """Every data variable of a result, standard errors included, in file order."""
    out = []
    for v in VARIABLES:
        out.append(v)
        if v.has_se:
            out.append(se_of(v))
    return tuple(out)


DATASET_ATTRS = (
    "title",
    "reriskmc_version",
    "config",
    "config_sha256",
    "seed",
    "n_paths",
    "created",
    "cvar_alpha",
    "Conventions",
)


def check(ds) -> list[str]:
    """Problems of a dataset against the contract (empty if it honours it)."""
    bad = []
    for c in COORDS:
        if c not in ds.coords:
            bad.append(f"coordinate {c} missing")
    for v in all_variables():
        if v.name not in ds:
            bad.append(f"variable {v.name} missing")
            continue
        if tuple(ds[v.name].dims) != v.dims:
            bad.append(f"{v.name} has dims {tuple(ds[v.name].dims)}, expected {v.dims}")
        for a in ("units", "long_name"):
            if a not in ds[v.name].attrs:
                bad.append(f"{v.name} has no {a}")
    for a in DATASET_ATTRS:
        if a not in ds.attrs:
            bad.append(f"dataset attribute {a} missing")
    return bad
