"""Scenarios written by code: a config's base with generated variants, run in batches,
each variant reduced to one tail metric per programme.

The analyst commands (``sensitivity``, ``size-stockpile``) ask the same model many
questions that differ only in some values. Each question is a scenario of the config's
base (its own ``[scenarios]`` are left out), written into the config's TOML text and
validated by the normal loader, so a bad value gets the project's own one-line error.
Every batch is one run with the same seed: all variants of all batches share random
numbers path by path with the base and with each other (common random numbers), so
their differences are paired. A batch's working memory grows with its scenarios
(about 40 MB each on ``configs/base.toml``), hence the batches; each batch is reduced
to the metric before the next starts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .config import Config, load_config
from .kernels.layout import PRIORITIES
from .results import mean_se, p_se

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, from PyPI
    import tomli as tomllib

#: metric name -> what it measures, at the last month of the horizon
METRICS = {
    "p_slip": "P(slip has exceeded {k:g} months by the horizon)",
    "p_shortfall": "P(behind schedule at least once by the horizon)",
    "slip_mean": "mean slip at the horizon, months",
}
#: metrics that are probabilities (a target in (0, 1) makes sense)
PROBABILITIES = ("p_slip", "p_shortfall")
#: generated scenarios per run (the base comes on top)
DEFAULT_BATCH = 32


@dataclass(frozen=True)
class Metric:
    """A tail metric of one programme: ``name`` in :data:`METRICS`; ``threshold`` is the
    slip threshold of ``p_slip``, months."""

    name: str = "p_slip"
    threshold: float = 3.0

    def describe(self) -> str:
        return METRICS[self.name].format(k=self.threshold)


@dataclass(frozen=True)
class VariantValues:
    """The metric of every programme in the base and in each variant.

    ``base``, ``base_se``: float64[P]; ``values``, ``se``: float64[V, P] (Monte Carlo
    standard errors over the paths).
    """

    programmes: tuple[str, ...]
    priorities: tuple[str, ...]  # "DX" or "DO", per programme
    base: np.ndarray
    base_se: np.ndarray
    values: np.ndarray
    se: np.ndarray
    n_paths: int
    seed: int
    elapsed_s: float


def base_data(config: Config) -> dict:
    """The config's TOML as a dict, without its scenarios."""
    data = tomllib.loads(config.text)
    data.pop("scenarios", None)
    return data


def nested(keys: Sequence[str], value) -> dict:
    """``{"a": {"b": value}}`` for keys ``("a", "b")``: one value of a scenario."""
    out = value
    for k in reversed(keys):
        out = {k: out}
    return out


def merge(tables: Sequence[dict]) -> dict:
    """Nested tables merged into one (later values win)."""
    out: dict = {}
    for t in tables:
        for k, v in t.items():
            if isinstance(v, dict) and isinstance(out.get(k), dict) and "dist" not in v:
                out[k] = merge([out[k], v])
            else:
                out[k] = v
    return out


def with_variants(config: Config, variants: Sequence[dict], metric: Metric) -> Config:
    """``config``'s base with ``variants`` (scenario tables) as scenarios ``v0``,
    ``v1``, ...; ``metric``'s slip threshold added to ``run.slip_thresholds``.

    Raises
    ------
    ConfigError
        Naming the config's file and the variant's key path, if a value is invalid.
    """
    import tomli_w

    data = base_data(config)
    run = data.setdefault("run", {})
    thresholds = set(config.slip_thresholds) | {float(metric.threshold)}
    run["slip_thresholds"] = sorted(thresholds)
    data["scenarios"] = {f"v{i}": dict(v) for i, v in enumerate(variants)}
    return load_config(config.path, text=tomli_w.dumps(data))


def _reduce(config: Config, stats, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    """The metric [S, P] and its standard error at the horizon's last month."""
    n = stats.n_paths
    if metric.name == "slip_mean":
        sums = stats.slip_sum[:, :, -1, :]
        return mean_se(sums[..., 0], sums[..., 1], n)
    if metric.name == "p_slip":
        k = list(config.slip_thresholds).index(float(metric.threshold))
        count = stats.slip_ever[:, :, k, -1]
    else:
        count = stats.behind[:, :, -1]
    return p_se(count, n)


def fitting_batch(config: Config, variants, metric: Metric, threads, block: int, batch: int) -> int:
    """The largest batch of variants, halving from ``batch``, whose run fits in the memory
    available (``engine.estimate_memory_bytes``: it grows with the scenarios of a run).
    A variant's statistics do not depend on the others run beside it (common random
    numbers are keyed by path and draw), so the batch changes no result.

    Raises
    ------
    ValueError
        If even one variant beside the base would not fit.
    """
    from . import engine

    have = engine.available_memory_bytes()
    threads = threads or engine.default_threads()
    while True:
        cfg = with_variants(config, variants[:batch], metric)
        need = engine.estimate_memory_bytes(engine.prepare(cfg), threads, block)
        if have is None or need <= have:
            return batch
        if batch <= 1:
            raise ValueError(
                f"a run of the base and one variant needs about {need / 2**30:.1f} GiB of "
                f"memory, {have / 2**30:.1f} GiB is available; use fewer --threads"
            )
        batch //= 2


def run_variants(
    config: Config,
    variants: Sequence[dict],
    metric: Metric,
    n_paths: int,
    seed: int,
    *,
    threads: int | None = None,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> VariantValues:
    """Run ``config``'s base and every variant with ``n_paths`` paths and ``seed``.

    Parameters
    ----------
    variants : sequence of dict
        Scenario tables (key paths of the base and new values, nested).
    progress : callable, optional
        Called with (variants done, variants in all) after each batch.
    """
    from . import engine

    t0 = time.perf_counter()
    values, ses = [], []
    base = base_se = None
    programmes: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    # a block no larger than the run: smaller partial sums to zero and merge (the results
    # do not depend on the block size)
    block = min(n_paths, engine.DEFAULT_BLOCK)
    batch = fitting_batch(config, variants, metric, threads, block, batch)
    for first in range(0, max(len(variants), 1), batch):
        cfg = with_variants(config, variants[first : first + batch], metric)
        stats = engine.simulate(cfg, n_paths, seed, threads=threads, block_paths=block)
        value, se = _reduce(cfg, stats, metric)
        base, base_se = value[0], se[0]
        values.append(value[1:])
        ses.append(se[1:])
        programmes = tuple(p.name for p in cfg.base.programmes)
        priorities = tuple(PRIORITIES[p.priority] for p in cfg.base.programmes)
        if progress is not None:
            progress(min(first + batch, len(variants)), len(variants))
    return VariantValues(
        programmes=programmes,
        priorities=priorities,
        base=base,
        base_se=base_se,
        values=np.concatenate(values),
        se=np.concatenate(ses),
        n_paths=n_paths,
        seed=seed,
        elapsed_s=time.perf_counter() - t0,
    )
