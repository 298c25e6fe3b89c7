"""The result-dataset contract: every variable's name, dims, units and long_name.

This registry is the single statement of DESIGN.md §2 in code: ``results.py`` builds the
dataset from it and checks the dataset against it, the tests check files against it,
and ``tests/unit/test_variables.py`` checks that the README's table matches it.

Every mean and probability has a Monte Carlo standard error ``<name>_se`` and a paired
difference from the base scenario ``delta_<name>`` with its own ``delta_<name>_se``.
"""

from __future__ import annotations

from dataclasses import dataclass

COORDS = ("scenario", "programme", "material", "regime", "month", "quantile", "slip_threshold")

_SPM = ("scenario", "programme", "month")


@dataclass(frozen=True)
class Variable:
    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    #: a mean or a probability: it has a standard error ``<name>_se`` and a paired
    #: difference ``delta_<name>`` (with ``delta_<name>_se``)
    estimate: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("p_shortfall", _SPM, "1", "probability the programme has fallen behind schedule (by more than behind_tolerance_units) at least once by the end of the month", estimate=True),
    Variable("units_short_mean", _SPM, "units", "mean units behind schedule at the end of the month (scheduled to date minus built to date)", estimate=True),
    Variable("units_short_quantile", (*_SPM, "quantile"), "units", "quantiles of units behind schedule at the end of the month"),
    Variable("units_short_cvar", ("scenario", "programme"), "units", "CVaR (expected shortfall) at cvar_alpha of the peak units behind schedule over the horizon"),
    Variable("units_short_peak_quantile", ("scenario", "programme", "quantile"), "units", "quantiles of the peak units behind schedule over the horizon"),
    Variable("slip_months_mean", _SPM, "months", "mean schedule slip at the end of the month: units behind divided by the scheduled monthly rate (the latest month's that scheduled any)", estimate=True),
    Variable("slip_months_quantile", (*_SPM, "quantile"), "months", "quantiles of the schedule slip at the end of the month"),
    Variable("slip_months_cvar", ("scenario", "programme"), "months", "CVaR (expected shortfall) at cvar_alpha of the peak schedule slip over the horizon"),
    Variable("slip_months_peak_quantile", ("scenario", "programme", "quantile"), "months", "quantiles of the peak schedule slip over the horizon"),
    Variable("p_slip", ("scenario", "programme", "slip_threshold", "month"), "1", "probability the schedule slip has exceeded the threshold at least once by the end of the month", estimate=True),
    Variable("share_missed_mean", _SPM, "1", "mean share of the cumulative schedule not built by the end of the month", estimate=True),
    Variable("shortfall_t_mean", ("scenario", "programme", "material", "month"), "t", "mean material owed to the programme at the end of the month (requirement to date minus allocation to date)", estimate=True),
    Variable("shortfall_t_quantile", ("scenario", "programme", "material", "quantile"), "t", "quantiles of the peak material owed to the programme over the horizon"),
    Variable("p_stock_exhausted", ("scenario", "material", "month"), "1", "probability the material's stocks (contractor inventory and releasable stockpile) have failed to cover a need at least once by the end of the month", estimate=True),
    Variable("p_regime", ("scenario", "regime", "month"), "1", "share of paths in each policy regime during the month", estimate=True),
)  # fmt: skip

BY_NAME = {v.name: v for v in VARIABLES}


def se_of(v: Variable) -> Variable:
    """The standard-error variable that goes with ``v``."""
    return Variable(f"{v.name}_se", v.dims, v.units, f"Monte Carlo standard error of {v.name}")


def delta_of(v: Variable) -> Variable:
    """The paired difference, scenario minus base, that goes with ``v``."""
    return Variable(
        f"delta_{v.name}",
        v.dims,
        v.units,
        f"{v.name} of the scenario minus that of the base scenario, computed path by path "
        f"on common random numbers (0 for the base)",
    )


def all_variables() -> tuple[Variable, ...]:
    """Every data variable of a result in file order: each variable, then its standard
    error, its paired difference and that difference's standard error."""
    out = []
    for v in VARIABLES:
        out.append(v)
        if v.estimate:
            d = delta_of(v)
            out += [se_of(v), d, se_of(d)]
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
