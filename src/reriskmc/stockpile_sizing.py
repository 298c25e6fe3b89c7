"""The smallest National Defense Stockpile holding of a magnet that keeps a tail metric
at or below a target.

Each stock level tried is a scenario of the config's base that sets
``materials.M.stockpile.stockpile_t`` (``variants.py``), all run with the same seed:
common random numbers make the comparison paired, and since more stock never means
more shortfall on any path (an invariant the project tests), the metric of the same
paths is non-increasing in the level. The search runs a coarse grid from zero to the
most the release rule can ever release, then refines the bracket around the target
with finer grids (a many-point bisection, one run per round). The metric is the worst
(maximum) over the chosen programmes: whether *any* of them slips on a path needs
joint per-path outcomes that the run's statistics do not keep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import Config, Material, Schedule
from .distributions import Dist
from .kernels.layout import FEEDSTOCK, RELEASE_RULES
from .variants import Metric, nested, run_variants

#: levels per search round (one run each, with the base)
GRID_POINTS = 16


class SizingError(ValueError):
    """The question cannot be asked of this config; the message says why."""


@dataclass(frozen=True)
class Level:
    """The worst metric over the chosen programmes at one stock level."""

    stock_t: float
    value: float
    se: float
    programme: str  # the programme with the worst metric there


@dataclass
class Sizing:
    """The result of :func:`size_stockpile`. ``stock_t`` is None when even the ceiling
    (all the release rule can release over the horizon) does not meet the target."""

    material: str
    metric: Metric
    target: float
    programmes: tuple[str, ...]
    stock_t: float | None
    at_answer: Level | None
    range_t: tuple[float | None, float | None]  # levels meeting target + 2 SE, - 2 SE
    ceiling: Level
    zero: Level
    as_written: Level  # the config's own stockpile (perhaps a distribution)
    release_t_per_month: float  # the most the rule releases in a month
    need_t_per_month: float  # every programme's mean need of the material, t/month
    as_written_stock: str  # the config's own stockpile_t, as written
    n_months: int
    n_paths: int
    seed: int
    elapsed_s: float = 0.0
    tried: list[Level] = field(default_factory=list)

    @property
    def attainable(self) -> bool:
        return self.stock_t is not None


def _upper(p) -> float:
    """The largest value a parameter takes (a distribution's 99.9% point if unbounded)."""
    if isinstance(p, Dist):
        hi = p.support()[1]
        return float(hi if math.isfinite(hi) else p.ppf(0.999))
    return float(p)


def _describe(p) -> str:
    return p.describe() if isinstance(p, Dist) else f"{p:g} t"


def _mean(p) -> float:
    return p.mean() if isinstance(p, Dist) else float(p)


def _schedule_mean(s: Schedule, month: int) -> float:
    """The mean of a schedule's value in ``month`` (linear between nodes)."""
    months = np.array(s.months, dtype=float)
    return float(np.interp(month, months, [_mean(v) for v in s.values]))


def check_material(config: Config, name: str) -> Material:
    """The material, if it is a magnet whose stockpile the config releases."""
    names = [m.name for m in config.base.materials]
    if name not in names:
        raise SizingError(f"unknown material '{name}'; defined: {', '.join(names)}")
    m = config.base.materials[names.index(name)]
    if m.kind == FEEDSTOCK:
        raise SizingError(
            f"'{name}' is a feedstock: only a magnet has a National Defense Stockpile "
            f"(hold feedstock as materials.{name}.buffer_t)"
        )
    if RELEASE_RULES[m.release_rule] == "never" or _upper(m.release_t_per_month) <= 0.0:
        raise SizingError(
            f"materials.{name}.stockpile releases nothing (release = "
            f'"{RELEASE_RULES[m.release_rule]}", release_t_per_month = '
            f"{_upper(m.release_t_per_month):g}): give it a release rule and rate"
        )
    return m


def need_t_per_month(config: Config, material: int, programmes: Sequence[str]) -> float:
    """The programmes' mean monthly need of a material over the horizon, t (means of
    distributions: rates and masses are drawn independently)."""
    total = 0.0
    for p in config.base.programmes:
        if p.name not in programmes:
            continue
        kg = _mean(p.kg_per_unit[material])
        for t in range(max(p.start_month, 0), min(p.end_month, config.base.n_months - 1) + 1):
            total += _schedule_mean(p.units_per_year, t) / 12.0 * kg / 1000.0
    return total / config.base.n_months


def smallest_level(
    evaluate: Callable[[np.ndarray], np.ndarray],
    target: float,
    lo: float,
    hi: float,
    tol: float,
    points: int = GRID_POINTS,
) -> float:
    """The smallest level in (lo, hi] whose value is <= ``target``, to within ``tol``,
    of a non-increasing function with ``evaluate(lo) > target >= evaluate(hi)``:
    ``points`` levels per round, evenly inside the bracket, the bracket narrowed to the
    two levels around the target each round. Returns a level that meets the target."""
    while hi - lo > tol:
        levels = lo + (hi - lo) * np.arange(1, points + 1) / (points + 1)
        meets = evaluate(levels) <= target
        first = int(np.argmax(meets)) if meets.any() else points
        hi = float(levels[first]) if first < points else hi
        lo = float(levels[first - 1]) if first > 0 else lo
    return hi


def choose_programmes(config: Config, which: str) -> tuple[str, ...]:
    """``dx`` (the DX-rated programmes), ``all``, or programme names joined by commas."""
    from .kernels.layout import PRIORITIES

    progs = config.base.programmes
    if which == "all":
        return tuple(p.name for p in progs)
    if which == "dx":
        dx = tuple(p.name for p in progs if PRIORITIES[p.priority] == "DX")
        if not dx:
            raise SizingError("no programme has priority DX; name the programmes or use 'all'")
        return dx
    names = tuple(n.strip() for n in which.split(",") if n.strip())
    known = [p.name for p in progs]
    for n in names:
        if n not in known:
            raise SizingError(f"unknown programme '{n}'; defined: {', '.join(known)}")
    if not names:
        raise SizingError("give dx, all, or programme names separated by commas")
    return names


class _Levels:
    """Stock levels run so far, each the worst metric over the chosen programmes."""

    def __init__(self, config, material, metric, programmes, n_paths, seed, threads):
        self.run = dict(config=config, metric=metric, n_paths=n_paths, seed=seed,
                        threads=threads, batch=GRID_POINTS)  # fmt: skip
        self.key = ("materials", material, "stockpile", "stockpile_t")
        self.programmes = programmes
        self.tried: dict[float, Level] = {}
        self.as_written: Level | None = None

    def _worst(self, values, se, names) -> Level:
        cols = [names.index(p) for p in self.programmes]
        j = int(np.argmax(values[cols]))
        return Level(np.nan, float(values[cols][j]), float(se[cols][j]), self.programmes[j])

    def evaluate(self, levels) -> np.ndarray:
        new = [float(x) for x in levels if float(x) not in self.tried]
        if new:
            r = run_variants(variants=[nested(self.key, x) for x in new], **self.run)
            for i, x in enumerate(new):
                w = self._worst(r.values[i], r.se[i], r.programmes)
                self.tried[x] = Level(x, w.value, w.se, w.programme)
            self.as_written = self._worst(r.base, r.base_se, r.programmes)
        return np.array([self.tried[float(x)].value for x in levels])

    def smallest(self, target: float, tol: float) -> float | None:
        """The smallest level meeting ``target``, from the bracket the levels tried so
        far give; None if none of them meets it (the largest tried is the ceiling)."""
        meets = sorted(x for x, lv in self.tried.items() if lv.value <= target)
        if not meets:
            return None
        hi = meets[0]
        below = [x for x in self.tried if x < hi]
        if not below:
            return hi
        return smallest_level(self.evaluate, target, max(below), hi, tol)


def size_stockpile(
    config: Config,
    material: str,
    target: float,
    *,
    metric: Metric = Metric(),  # noqa: B008  (frozen, so a shared default is safe)
    programmes: str = "dx",
    n_paths: int = 20_000,
    seed: int | None = None,
    threads: int | None = None,
) -> Sizing:
    """The smallest stockpile of ``material`` (t) that keeps the worst metric over
    ``programmes`` at or below ``target``, with its Monte Carlo uncertainty.

    Raises
    ------
    SizingError
        Unknown material or programme, a material without stockpile release, a metric
        that is not a probability, or a target outside (0, 1).
    """
    from .variants import PROBABILITIES

    t0 = time.perf_counter()
    m = check_material(config, material)
    chosen = choose_programmes(config, programmes)
    if metric.name not in PROBABILITIES:
        raise SizingError(f"metric '{metric.name}' is not a probability: use p_slip or p_shortfall")
    if not 0.0 < target < 1.0:
        raise SizingError(
            f"the target must be a probability strictly between 0 and 1, got {target:g}"
        )
    seed = config.seed if seed is None else seed
    n_months = config.base.n_months
    rate = _upper(m.release_t_per_month)
    ceiling = rate * n_months  # more can never be released over the horizon
    levels = _Levels(config, material, metric, chosen, n_paths, seed, threads)
    levels.evaluate(np.linspace(0.0, ceiling, GRID_POINTS))  # ends exactly at 0 and ceiling
    tol = ceiling * 1e-3
    answer = levels.smallest(target, tol)
    at = None if answer is None else levels.tried[answer]
    span: tuple[float | None, float | None] = (None, None)
    if at is not None:
        # at least the error of a probability at the target: at a metric of 0, the sample
        # SE is 0 and would make the range a point
        se = max(at.se, (target * (1.0 - target) / n_paths) ** 0.5)
        span = (levels.smallest(target + 2 * se, tol), levels.smallest(target - 2 * se, tol))
    material_index = [x.name for x in config.base.materials].index(material)
    every = [p.name for p in config.base.programmes]  # the stockpile serves them all
    return Sizing(
        material=material, metric=metric, target=target, programmes=chosen, stock_t=answer,
        at_answer=at, range_t=span, ceiling=levels.tried[ceiling], zero=levels.tried[0.0],
        as_written=levels.as_written, release_t_per_month=rate,
        as_written_stock=_describe(m.stockpile_t),
        need_t_per_month=need_t_per_month(config, material_index, every), n_months=n_months,
        n_paths=n_paths, seed=seed, elapsed_s=time.perf_counter() - t0,
        tried=sorted(levels.tried.values(), key=lambda lv: lv.stock_t),
    )  # fmt: skip


def _num(x) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _level_json(lv: Level | None) -> dict | None:
    if lv is None:
        return None
    return {"stock_t": _num(lv.stock_t), "value": _num(lv.value), "se": _num(lv.se),
            "worst_programme": lv.programme}  # fmt: skip


def as_json(res: Sizing) -> dict:
    """The result as one JSON-ready object (``stock_t`` null when not attainable)."""
    months = lambda rate: None if res.stock_t is None or rate <= 0 else _num(res.stock_t / rate)
    return {
        "material": res.material,
        "metric": res.metric.name,
        "metric_description": res.metric.describe(),
        "aggregate": "worst (maximum) over the programmes",
        "programmes": list(res.programmes),
        "target": res.target,
        "attainable": res.attainable,
        "stock_t": _num(res.stock_t),
        "months_of_release": months(res.release_t_per_month),
        "months_of_need": months(res.need_t_per_month),
        "release_t_per_month": _num(res.release_t_per_month),
        "need_t_per_month": _num(res.need_t_per_month),
        "at_answer": _level_json(res.at_answer),
        "range_t": [_num(x) for x in res.range_t],
        "zero_stock": _level_json(res.zero),
        "ceiling": _level_json(res.ceiling),
        "as_written": {"stockpile_t": res.as_written_stock, **(_level_json(res.as_written) or {})},
        "levels_tried": len(res.tried),
        "paths": res.n_paths,
        "seed": res.seed,
        "elapsed_s": round(res.elapsed_s, 1),
    }


def report_text(res: Sizing) -> str:
    """The answer for a reader, or why there is none."""
    who = ", ".join(res.programmes)
    head = f"worst of {who}: {res.metric.describe()} <= {res.target:g}"
    ceiling = (
        f"{res.ceiling.stock_t:.3g} t (all that {res.release_t_per_month:g} t/month releases "
        f"in {res.n_months} months): {res.ceiling.value:.4f} ({res.ceiling.programme})"
    )
    lines = [f"Smallest National Defense Stockpile of {res.material} keeping the {head}"]
    if res.attainable:
        at, (lo, hi) = res.at_answer, res.range_t
        extra = [f"{res.stock_t / res.release_t_per_month:.1f} months of the maximum release"]
        if res.need_t_per_month > 0:
            extra.append(
                f"{res.stock_t / res.need_t_per_month:.1f} months of the programmes' mean "
                f"need, {res.need_t_per_month:.3g} t/month"
            )
        span = f"{lo:.2f} t to " + (f"{hi:.2f} t" if hi is not None else "beyond the ceiling")
        lines += [
            f"  stock: {res.stock_t:.2f} t ({'; '.join(extra)})",
            f"  there: {at.value:.4f} (SE {at.se:.4f}), worst programme {at.programme}",
            f"  Monte Carlo range: {span} (the target within 2 SE of the metric)",
        ]
    lines += [
        f"  no stockpile: {res.zero.value:.4f} ({res.zero.programme}); {ceiling}",
        f"  the config as written ({res.as_written_stock}): {res.as_written.value:.4f}",
        f"  {res.n_paths:,} paths per level, seed {res.seed}, common random numbers; "
        f"{len(res.tried)} levels in {res.elapsed_s:.0f} s",
        "  (the worst programme's probability, not P(any of them): that needs joint "
        "per-path outcomes)",
    ]
    return "\n".join(lines)


def unattainable_message(res: Sizing) -> str:
    """One line: why no stock level meets the target."""
    c = res.ceiling
    return (
        f"even {c.stock_t:.3g} t of {res.material} (all that {res.release_t_per_month:g} "
        f"t/month releases in {res.n_months} months) leaves {c.programme} at {c.value:.4f} > "
        f"target {res.target:g}: something else binds (another material, the release rate "
        "or lag)"
    )
