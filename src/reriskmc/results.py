"""Merged statistics -> the result xarray Dataset, built from and checked against
``variables.py``."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from . import __version__
from .config import PRIORITIES, Config
from .engine import CHUNK, Stats
from .pack import TONNES_FLOOR, UNITS_FLOOR
from .variables import BY_NAME, all_variables, check


def _representatives(floor: float) -> np.ndarray:
    from .kernels.reduce import bucket_bounds

    lo, hi = bucket_bounds(floor)
    rep = 0.5 * (lo + hi)
    rep[0] = 0.0  # bucket 0 holds values at or below the floor: reported as 0
    return rep


_ROWS = 256  # sketch rows per step of sketch_quantiles: 5.8 MB of int64 cumulative counts


def sketch_quantiles(hist: np.ndarray, quantiles, floor: float) -> np.ndarray:
    """Quantiles (inverted empirical CDF) from sketch histograms on the last axis.

    Returns an array of shape ``hist.shape[:-1] + (len(quantiles),)``. Each value is
    within a relative 1/128 of the exact empirical quantile, or within ``floor`` of it
    when that is 0.
    """
    rep = _representatives(floor)
    flat = hist.reshape(-1, hist.shape[-1])
    out = np.empty((flat.shape[0], len(quantiles)))
    # a few rows at a time: the cumulative counts of all rows at once (60 MB for
    # base.toml's monthly sketches) set the run's peak memory
    for r0 in range(0, flat.shape[0], _ROWS):
        cum = np.cumsum(flat[r0 : r0 + _ROWS], axis=-1)
        n = cum[:, -1:]
        for i, q in enumerate(quantiles):
            target = np.maximum(np.ceil(q * n - 1e-9), 1)
            out[r0 : r0 + _ROWS, i] = rep[np.argmax(cum >= target, axis=-1)]
    return out.reshape(hist.shape[:-1] + (len(quantiles),))


def sketch_cvar(hist: np.ndarray, alpha: float, floor: float) -> np.ndarray:
    """Mean of the worst ``1 - alpha`` share of values, from sketch histograms."""
    rep = _representatives(floor)
    flat = hist.reshape(-1, hist.shape[-1])
    out = np.empty(flat.shape[0])
    for i, h in enumerate(flat):
        n = h.sum()
        tail = (1.0 - alpha) * n
        take = np.zeros(len(h))
        left = tail
        for b in range(len(h) - 1, -1, -1):
            if left <= 0:
                break
            k = min(h[b], left)
            take[b] = k
            left -= k
        out[i] = float(take @ rep) / tail if tail > 0 else 0.0
    return out.reshape(hist.shape[:-1])


def _mean_se(sums: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    mean = sums[..., 0] / n
    if n < 2:
        return mean, np.zeros_like(mean)
    var = np.maximum(sums[..., 1] - n * mean * mean, 0.0) / (n - 1)
    return mean, np.sqrt(var / n)


def _p_se(count: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    p = count / n
    return p, np.sqrt(p * (1.0 - p) / n)


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

    base = config.base
    n = stats.n_paths
    qs = list(config.quantiles)
    months = base.months.astype("datetime64[D]").astype("datetime64[ns]")

    values = {}
    values["p_shortfall"], values["p_shortfall_se"] = _p_se(stats.behind, n)
    values["units_short_mean"], values["units_short_mean_se"] = _mean_se(stats.us_sum, n)
    values["units_short_quantile"] = sketch_quantiles(stats.h_us, qs, UNITS_FLOOR)
    values["units_short_cvar"] = sketch_cvar(stats.h_peak_us, config.cvar_alpha, UNITS_FLOOR)
    values["units_short_peak_quantile"] = sketch_quantiles(stats.h_peak_us, qs, UNITS_FLOOR)
    values["shortfall_t_mean"], values["shortfall_t_mean_se"] = _mean_se(stats.owed_sum, n)
    values["shortfall_t_quantile"] = sketch_quantiles(stats.h_peak_owed, qs, TONNES_FLOOR)
    values["p_stock_exhausted"], values["p_stock_exhausted_se"] = _p_se(stats.exhausted, n)
    values["p_regime"], values["p_regime_se"] = _p_se(stats.regime, n)

    data_vars = {}
    for v in all_variables():
        data_vars[v.name] = xr.Variable(
            v.dims, values[v.name], attrs={"units": v.units, "long_name": v.long_name}
        )

    coords = {
        "scenario": ("scenario", np.array(config.scenario_names, dtype=object)),
        "programme": ("programme", np.array([p.name for p in base.programmes], dtype=object)),
        "material": ("material", np.array([m.name for m in base.materials], dtype=object)),
        "regime": ("regime", np.array(base.regimes, dtype=object)),
        "month": ("month", months),
        "quantile": ("quantile", np.asarray(qs, dtype=np.float64)),
        "scenario_description": (
            "scenario",
            np.array([s.description for s in config.scenarios], dtype=object),
        ),
        "programme_long_name": (
            "programme",
            np.array([p.long_name for p in base.programmes], dtype=object),
        ),
        "programme_priority": (
            "programme",
            np.array([PRIORITIES[p.priority] for p in base.programmes], dtype=object),
        ),
        "material_long_name": (
            "material",
            np.array([m.long_name for m in base.materials], dtype=object),
        ),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    ds["month"].attrs["long_name"] = "month (first day)"
    ds["quantile"].attrs.update(long_name="probability level of the quantile", units="1")
    ds.attrs = {
        "title": config.title,
        "reriskmc_version": __version__,
        "config": config.text,
        "config_sha256": config.sha256,
        "config_file": config.path,
        "seed": np.int64(seed),
        "n_paths": np.int64(n),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cvar_alpha": float(config.cvar_alpha),
        "behind_tolerance_units": float(config.behind_tolerance_units),
        "quantile_method": (
            "log-bucket sketch: 64 buckets per factor of two above a floor; each quantile "
            "and CVaR is within a relative 1/128 (0.78%) of the exact empirical value, "
            "values at or below the floor are reported as 0"
        ),
        "quantile_relative_error": 1.0 / 128.0,
        "quantile_floor_units": UNITS_FLOOR,
        "quantile_floor_t": TONNES_FLOOR,
        "chunk_paths": np.int64(CHUNK),
        "Conventions": "CF-1.10",
        "history": f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} reriskmc run {config.path} --paths {n} --seed {seed}",
    }
    problems = check(ds)
    if problems:  # a bug, not a user error: the writer must honour its own contract
        raise AssertionError("result dataset breaks the contract: " + "; ".join(problems))
    return ds


__all__ = ["build_dataset", "sketch_quantiles", "sketch_cvar", "BY_NAME"]
