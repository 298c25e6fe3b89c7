"""Merged statistics -> the result xarray Dataset, built from and checked against
``variables.py``."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from . import __version__
from .config import Config
from .engine import CHUNK, Stats
from .kernels.layout import PRIORITIES
from .variables import all_variables, check


def mean_se(total: np.ndarray, squares: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean of per-path values from their sum and sum of squares over n paths, and
    its standard error (sample standard deviation over sqrt(n); 0 for one path)."""
    mean = total / n
    if n < 2:
        return mean, np.zeros_like(mean)
    var = np.maximum(squares - n * mean * mean, 0.0) / (n - 1)
    return mean, np.sqrt(var / n)


def _mean_se(sums: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A mean and its standard error from sums and sums of squares, ``sums[..., :2]``."""
    return mean_se(sums[..., 0], sums[..., 1], n)


def p_se(count: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A probability from the count of paths where it happened, and its standard
    error, sqrt(p (1 - p) / n)."""
    p = count / n
    return p, np.sqrt(p * (1.0 - p) / n)


def _delta_mean(sums: np.ndarray, d_sums: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A mean's paired difference from the base (scenario axis first) and its standard
    error from the per-path differences' sums ``d_sums`` (zero for the base)."""
    mean = sums[..., 0] / n
    delta = mean - mean[:1]
    return delta, _mean_se(d_sums, n)[1]


def _delta_p(count: np.ndarray, differ: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A probability's paired difference from the base and its standard error: the
    per-path difference is -1, 0 or 1, nonzero on the ``differ`` paths."""
    delta = (count - count[:1]) / n
    var = np.maximum(differ / n - delta * delta, 0.0)
    return delta, np.sqrt(var / n)


def build_dataset(config: Config, stats: Stats, seed: int):
    """The result Dataset of DESIGN.md §2.

    Parameters
    ----------
    config : Config
    stats : Stats
        From :func:`reriskmc.engine.simulate`.
    seed : int

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    values = _values(config, stats)
    data_vars = {
        v.name: xr.Variable(
            v.dims, values[v.name], attrs={"units": v.units, "long_name": v.long_name}
        )
        for v in all_variables()
    }
    ds = xr.Dataset(data_vars, coords=_coords(config))
    ds["month"].attrs["long_name"] = "month (first day)"
    ds["quantile"].attrs.update(long_name="probability level of the quantile", units="1")
    ds["slip_threshold"].attrs.update(long_name="schedule slip threshold", units="months")
    ds["programme_in_scenario"].attrs.update(
        long_name="whether the scenario has the programme (a scenario may add one; where it "
        "has not, the programme's statistics are zero)"
    )
    ds.attrs = _attrs(config, stats.n_paths, seed)
    problems = check(ds)
    if problems:  # a bug, not a user error: the writer must honour its own contract
        raise AssertionError("result dataset breaks the contract: " + "; ".join(problems))
    return ds


def _values(config: Config, stats: Stats) -> dict[str, np.ndarray]:
    """Every variable's values, by name (variables.py)."""
    from .kernels import sketch

    n, qs = stats.n_paths, list(config.quantiles)
    units, months, tonnes = sketch.UNITS_FLOOR, sketch.MONTHS_FLOOR, sketch.TONNES_FLOOR
    alpha = config.cvar_alpha
    values = {}
    means = {"units_short_mean": "us", "slip_months_mean": "slip", "share_missed_mean": "share",
             "shortfall_t_mean": "owed"}  # fmt: skip
    for name, key in means.items():
        sums, d_sums = getattr(stats, f"{key}_sum"), getattr(stats, f"d_{key}_sum")
        values[name], values[f"{name}_se"] = _mean_se(sums, n)
        values[f"delta_{name}"], values[f"delta_{name}_se"] = _delta_mean(sums, d_sums, n)
    probabilities = {"p_shortfall": "behind", "p_slip": "slip_ever",
                     "p_stock_exhausted": "exhausted", "p_regime": "regime"}  # fmt: skip
    for name, key in probabilities.items():
        count, differ = getattr(stats, key), getattr(stats, f"d_{key}")
        values[name], values[f"{name}_se"] = p_se(count, n)
        values[f"delta_{name}"], values[f"delta_{name}_se"] = _delta_p(count, differ, n)
    values["units_short_quantile"] = sketch.quantiles(stats.h_us, qs, units)
    values["units_short_cvar"] = sketch.cvar(stats.h_peak_us, alpha, units)
    values["units_short_peak_quantile"] = sketch.quantiles(stats.h_peak_us, qs, units)
    values["slip_months_quantile"] = sketch.quantiles(stats.h_slip, qs, months)
    values["slip_months_cvar"] = sketch.cvar(stats.h_peak_slip, alpha, months)
    values["slip_months_peak_quantile"] = sketch.quantiles(stats.h_peak_slip, qs, months)
    values["shortfall_t_quantile"] = sketch.quantiles(stats.h_peak_owed, qs, tonnes)
    return values


def _coords(config: Config) -> dict:
    base = config.base
    programmes = config.entries("programmes")  # a scenario may add one

    def names(dim: str, items) -> tuple:
        return (dim, np.array(list(items), dtype=object))

    return {
        "scenario": names("scenario", config.scenario_names),
        "programme": names("programme", (p.name for p in programmes)),
        "material": names("material", (m.name for m in base.materials)),
        "regime": names("regime", base.regimes),
        "month": ("month", base.months.astype("datetime64[D]").astype("datetime64[ns]")),
        "quantile": ("quantile", np.asarray(config.quantiles, dtype=np.float64)),
        "slip_threshold": ("slip_threshold", np.asarray(config.slip_thresholds, dtype=np.float64)),
        "scenario_description": names("scenario", (s.description for s in config.scenarios)),
        "programme_long_name": names("programme", (p.long_name for p in programmes)),
        "programme_priority": names("programme", (PRIORITIES[p.priority] for p in programmes)),
        "programme_in_scenario": (("scenario", "programme"), config.present("programmes")),
        "material_long_name": names("material", (m.long_name for m in base.materials)),
    }


def _attrs(config: Config, n: int, seed: int) -> dict:
    """The dataset's attributes: provenance and how its statistics were made."""
    from .kernels import sketch

    now = datetime.now(timezone.utc)
    return {
        "title": config.title,
        "reriskmc_version": __version__,
        "config": config.text,
        "config_sha256": config.sha256,
        "config_file": config.path,
        "seed": np.int64(seed),
        "n_paths": np.int64(n),
        "created": now.isoformat(timespec="seconds"),
        "cvar_alpha": float(config.cvar_alpha),
        "behind_tolerance_units": float(config.behind_tolerance_units),
        "quantile_method": (
            "log-bucket sketch: 64 buckets per factor of two above a floor; each quantile "
            "and CVaR is within a relative 1/128 (0.78%) of the exact empirical value, "
            "values at or below the floor are reported as 0"
        ),
        "quantile_relative_error": sketch.RELATIVE_ERROR,
        "quantile_floor_units": sketch.UNITS_FLOOR,
        "quantile_floor_t": sketch.TONNES_FLOOR,
        "quantile_floor_months": sketch.MONTHS_FLOOR,
        "chunk_paths": np.int64(CHUNK),
        "Conventions": "CF-1.10",
        "history": f"{now:%Y-%m-%dT%H:%M:%SZ} reriskmc run {config.path} --paths {n} --seed {seed}",
    }
