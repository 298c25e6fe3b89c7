"""Global sensitivity of a programme's tail metric to the config's uncertain parameters.

Config -> design scenarios -> engine -> metric values -> Sobol indices
(``docs/sensitivity.md``). Each distribution-valued parameter of the config's base is
one input, its quantile ``u`` in (0, 1); a design point fixes every parameter at its
quantile (the distribution's inverse CDF) and is one generated scenario
(``variants.py``), run with common random numbers, so the metric differences between
design points carry little Monte Carlo noise. Inputs may be grouped by the config entry
they belong to (a source, a programme, a material ...): Sobol group indices, for
configs with more parameters than a run of reasonable length can resolve one by one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import SCHEDULE_KEYS, Config
from .distributions import Dist, parse_dist
from .sobol import SobolIndices, indices_from_outputs, pick_freeze_design
from .variants import Metric, base_data, merge, nested, run_variants

#: sections whose tables are named entries: a parameter's entry is (section, name)
ENTRY_SECTIONS = ("events", "channels", "materials", "sources", "programmes")
#: with more parameters than this, ``group_by="auto"`` groups them by entry
AUTO_GROUP_ABOVE = 12
GROUPINGS = ("auto", "parameter", "entry")
DEFAULT_METRIC = Metric()


@dataclass(frozen=True)
class Parameter:
    """A distribution written in the config's base: where (key path) and what."""

    keys: tuple[str, ...]
    dist: Dist

    @property
    def name(self) -> str:
        return ".".join(self.keys)

    @property
    def entry(self) -> str:
        n = 2 if self.keys[0] in ENTRY_SECTIONS else 1
        return ".".join(self.keys[:n])

    @property
    def in_schedule(self) -> bool:
        """A node of a schedule (a table of dates): a scenario writes the whole schedule."""
        return len(self.keys) >= 2 and self.keys[-2] in SCHEDULE_KEYS


@dataclass(frozen=True)
class Sensitivity:
    """The result of :func:`sensitivity`."""

    programme: str
    metric: Metric
    base_value: float  # the metric of the config as written
    base_se: float
    parameters: tuple[Parameter, ...]
    groups: tuple[tuple[int, ...], ...]  # parameter indices of each group
    grouped: bool  # groups are config entries (not single parameters)
    indices: SobolIndices
    noise_share: float  # mean squared SE of the design points / variance of the metric
    n_paths: int
    seed: int
    elapsed_s: float

    def ranking(self) -> list[int]:
        """Group indices by total index, largest first (NaN last)."""
        total = np.nan_to_num(self.indices.total, nan=-np.inf)
        return sorted(range(len(self.groups)), key=lambda g: (-total[g], g))


def _model_dist_keys(obj, out: set[str]) -> set[str]:
    """The key paths of every distribution the validated model reads."""
    if isinstance(obj, Dist):
        out.add(obj.key)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _model_dist_keys(getattr(obj, f.name), out)
    elif isinstance(obj, tuple):
        for x in obj:
            _model_dist_keys(x, out)
    return out


def uncertain_parameters(config: Config) -> tuple[Parameter, ...]:
    """The distributions written in the config's base that its model reads, in the
    config's order. One per place written (a channel default inherited by several
    materials is one parameter: one uniform per path, docs/config.md section 1)."""
    read = _model_dist_keys(config.base, set())
    found: list[Parameter] = []

    def walk(table: dict, keys: tuple[str, ...]) -> None:
        for k, v in table.items():
            if isinstance(v, dict) and "dist" in v:
                p = Parameter((*keys, k), parse_dist(v))
                if p.name in read:
                    found.append(p)
            elif isinstance(v, dict):
                walk(v, (*keys, k))

    data = base_data(config)
    data.pop("run", None)
    walk(data, ())
    return tuple(found)


def group_parameters(
    parameters: tuple[Parameter, ...], group_by: str = "auto"
) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...], bool]:
    """Names and members of the Sobol groups, and whether they are config entries."""
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
    by_entry = group_by == "entry" or (group_by == "auto" and len(parameters) > AUTO_GROUP_ABOVE)
    if not by_entry:
        return tuple(p.name for p in parameters), tuple((i,) for i in range(len(parameters))), False
    members: dict[str, list[int]] = {}
    for i, p in enumerate(parameters):
        members.setdefault(p.entry, []).append(i)
    return tuple(members), tuple(tuple(m) for m in members.values()), True


def design_scenario(config_data: dict, parameters: tuple[Parameter, ...], u: np.ndarray) -> dict:
    """The scenario table that fixes each parameter at its quantile ``u[i]``. A schedule
    is written whole (a scenario cannot change one of its dates), its other dates as in
    the base."""
    tables, schedules = [], {}
    for p, q in zip(parameters, u):
        value = float(np.clip(p.dist.ppf(q), *p.dist.support()))
        if not p.in_schedule:
            tables.append(nested(p.keys, value))
            continue
        where = p.keys[:-1]
        if where not in schedules:
            node = config_data
            for k in where:
                node = node[k]
            schedules[where] = dict(node)
        schedules[where][p.keys[-1]] = value
    tables += [nested(where, s) for where, s in schedules.items()]
    return merge(tables)


def pick_programme(values, programme: str | None) -> int:
    """The index of ``programme``, or of the programme with the highest base metric."""
    if programme is None:
        return int(np.argmax(values.base))
    return values.programmes.index(programme)


def sensitivity(
    config: Config,
    *,
    metric: Metric = DEFAULT_METRIC,
    programme: str | None = None,
    n_samples: int = 128,
    n_paths: int = 1000,
    seed: int | None = None,
    group_by: str = "auto",
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sensitivity:
    """First-order and total Sobol indices of ``metric`` of ``programme`` (default: the
    programme with the highest metric in the base) to the base's uncertain parameters.

    Runs ``n_samples * (G + 2)`` design scenarios of ``n_paths`` paths each (G groups).

    Raises
    ------
    ValueError
        If the base has no distribution-valued parameter, or ``programme`` is unknown.
    """
    t0 = time.perf_counter()
    seed = config.seed if seed is None else seed
    known = [p.name for p in config.base.programmes]
    if programme is not None and programme not in known:
        raise ValueError(f"unknown programme '{programme}'; defined: {', '.join(known)}")
    parameters = uncertain_parameters(config)
    if not parameters:
        raise ValueError("the base has no distribution-valued parameter: nothing is uncertain")
    names, groups, grouped = group_parameters(parameters, group_by)
    u = pick_freeze_design(n_samples, groups, len(parameters), seed)
    data = base_data(config)
    design = [design_scenario(data, parameters, row) for row in u]
    values = run_variants(config, design, metric, n_paths, seed, threads=threads, progress=progress)
    p = pick_programme(values, programme)
    y, se = values.values[:, p], values.se[:, p]
    indices = indices_from_outputs(y, n_samples, names, seed=seed + 1)  # not the design's draws
    noise = float(np.mean(se**2) / indices.variance) if indices.variance > 0 else float("nan")
    return Sensitivity(
        programme=values.programmes[p],
        metric=metric,
        base_value=float(values.base[p]),
        base_se=float(values.base_se[p]),
        parameters=parameters,
        groups=groups,
        grouped=grouped,
        indices=indices,
        noise_share=noise,
        n_paths=n_paths,
        seed=seed,
        elapsed_s=time.perf_counter() - t0,
    )


def _num(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None


def as_json(res: Sensitivity) -> dict:
    """The result as one JSON-ready object; groups ranked by total index."""
    ix = res.indices
    groups = [
        {
            "rank": rank + 1,
            "name": ix.names[g],
            "parameters": [res.parameters[i].name for i in res.groups[g]],
            "first_order": _num(ix.first[g]),
            "first_order_ci": [_num(x) for x in ix.first_ci[g]],
            "total": _num(ix.total[g]),
            "total_ci": [_num(x) for x in ix.total_ci[g]],
        }
        for rank, g in enumerate(res.ranking())
    ]
    return {
        "programme": res.programme,
        "metric": res.metric.name,
        "metric_description": res.metric.describe(),
        "slip_threshold_months": res.metric.threshold if res.metric.name == "p_slip" else None,
        "base_value": _num(res.base_value),
        "base_se": _num(res.base_se),
        "n_parameters": len(res.parameters),
        "grouped_by_entry": res.grouped,
        "n_samples": ix.n_samples,
        "n_design_scenarios": ix.n_samples * (len(res.groups) + 2),
        "paths": res.n_paths,
        "seed": res.seed,
        "confidence": ix.confidence,
        "metric_mean": _num(ix.mean),
        "metric_variance": _num(ix.variance),
        "noise_share": _num(res.noise_share),
        "elapsed_s": round(res.elapsed_s, 1),
        "groups": groups,
    }


def report_text(res: Sensitivity) -> str:
    """The ranking for a reader: the metric, the design, the noise, one row per group."""
    ix, g_count = res.indices, len(res.groups)
    n_design = ix.n_samples * (g_count + 2)
    how = (
        f"{len(res.parameters)} uncertain parameters in {g_count} groups, one per config "
        "entry (Sobol group indices; --group-by parameter for one index each)"
        if res.grouped
        else f"{len(res.parameters)} uncertain parameters"
    )
    lines = [
        f"Sensitivity of {res.programme}: {res.metric.describe()}",
        f"  config as written: {res.base_value:.4f} (SE {res.base_se:.4f}); over the "
        f"design: mean {ix.mean:.4f}, variance {ix.variance:.3g}",
        f"  {how}",
        f"  {ix.n_samples} samples x {g_count + 2} = {n_design:,} design scenarios x "
        f"{res.n_paths:,} paths, seed {res.seed}, common random numbers",
        f"  Monte Carlo noise: {res.noise_share:.1%} of the variance (it biases first-order "
        "indices down; more --paths lowers it)",
        "",
    ]
    width = max(12, *(len(n) for n in ix.names))
    conf = f"{ix.confidence:.0%} CI"
    lines.append(
        f"{'rank':>4}  {'group' if res.grouped else 'parameter':<{width}}  "
        f"{'first order':>11}  {conf:>17}  {'total':>7}  {conf:>17}"
    )
    for rank, g in enumerate(res.ranking()):
        lo1, hi1 = ix.first_ci[g]
        lo, hi = ix.total_ci[g]
        lines.append(
            f"{rank + 1:>4}  {ix.names[g]:<{width}}  {ix.first[g]:>11.3f}  "
            f"[{lo1:>6.3f}, {hi1:>6.3f}]  {ix.total[g]:>7.3f}  [{lo:>6.3f}, {hi:>6.3f}]"
        )
    lines.append(f"\n{n_design:,} design scenarios in {res.elapsed_s:.0f} s")
    return "\n".join(lines)
