"""The chance of a rare slip, by importance sampling: ``reriskmc tail``.

The question is one programme's tail event, "slip of more than K months at least once
by month M" (K one of ``run.slip_thresholds``), in every scenario. A pilot of plain
paths fits a proposal for the path's own draws and the regime chain
(``importance.fit``: to the paths at or near the event in the base scenario), then the
run draws its paths from that proposal, and every estimate is weighted by each path's
likelihood ratio w (``kernels/tilt.py``):

- the probability: p = mean(w 1_A), its standard error sd(w 1_A) / sqrt(n);
- each scenario against the base: mean(w (1_A,s - 1_A,base)), with the standard error
  of those per-path differences (the same paths and weights in every scenario);
- quantiles of the programme's peak slip over the horizon from the weighted tail
  sums, q_a = the least x with mean(w 1{X > x}) <= 1 - a (Glynn 1996, "Importance
  sampling for Monte Carlo estimation of quantiles"), read off the peak's sketch
  buckets (``kernels/sketch.py``: within 0.8% of the value);
- CVaR of the peak slip at ``run.cvar_alpha``, q_a + mean(w (X - q_a)+) / (1 - a)
  (Rockafellar and Uryasev 2000), with the standard error of the mean term.

The pilot's paths are not the run's (they are numbered from PILOT_PATH0 on), so the
result is a function of (config, seed, paths, pilot paths) alone, and the plain run
(``plain=True``) gives the same estimates as the result dataset's for the same paths.
Memory does not grow with the paths: blocks are reduced to weighted sums and weighted
histograms of the peak's buckets, added in path order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from . import importance
from .config import Config
from .kernels.scratch import CHUNK
from .kernels.sketch import MONTHS_FLOOR, N_BUCKETS, representatives
from .pack import Packed, pack
from .results import mean_se

#: the pilot's first path number: far past any run's paths, so never one of them
PILOT_PATH0 = 1 << 48
#: pilot paths by default
DEFAULT_PILOT = 8192
#: paths per block of a tail run (fixed: the sums are added block by block in path order)
BLOCK = 16 * CHUNK
#: the peak-slip quantiles reported
LEVELS = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class Question:
    """Programme ``programme`` (index into the packed programmes), slip threshold index
    ``threshold`` (into ``run.slip_thresholds``), by month index ``month``."""

    programme: int
    threshold: int
    month: int


class _Sums:
    """Weighted sums over paths, per scenario, added block by block."""

    def __init__(self, S: int):
        self.n = 0
        self.w = np.zeros(2)  # sum of w, of w^2
        self.event = np.zeros((2, S))  # sum of w 1_A, of (w 1_A)^2
        self.diff = np.zeros((2, S))  # sum of w (1_A - 1_A,base), of its square
        self.peak = np.zeros((2, S, N_BUCKETS))  # sum of w, of w^2, per peak bucket

    def add(self, w: np.ndarray, event: np.ndarray, peak: np.ndarray) -> None:
        """w : float64[n]; event : bool[n, S]; peak : uint16[n, S] (sketch buckets)."""
        wa = w[:, None] * event
        d = wa - wa[:, :1]
        self.n += len(w)
        self.w += (w.sum(), (w * w).sum())
        self.event += (wa.sum(axis=0), (wa * wa).sum(axis=0))
        self.diff += (d.sum(axis=0), (d * d).sum(axis=0))
        for s in range(peak.shape[1]):
            self.peak[0, s] += np.bincount(peak[:, s], weights=w, minlength=N_BUCKETS)
            self.peak[1, s] += np.bincount(peak[:, s], weights=w * w, minlength=N_BUCKETS)


def weighted_quantiles(hist: np.ndarray, n: int, levels, floor: float) -> np.ndarray:
    """Quantiles from a weighted histogram over sketch buckets (``hist``: float64[...,
    B], sums of weights): for each level a, the least bucket value x with mean(w 1{X >
    x}) <= 1 - a. With every weight 1 these are the plain sketch's quantiles."""
    rep = representatives(floor)
    above = (hist[..., ::-1].cumsum(axis=-1)[..., ::-1] - hist) / n  # share above bucket b
    out = np.empty(hist.shape[:-1] + (len(levels),))
    for i, a in enumerate(levels):
        ok = above <= (1.0 - a) + 1e-12
        out[..., i] = rep[np.argmax(ok, axis=-1)]
    return out


def weighted_cvar(hist: np.ndarray, hist2: np.ndarray, n: int, alpha: float, floor: float):
    """CVaR at ``alpha`` and its standard error from weighted histograms (sums of w and
    of w^2 per bucket): q + mean(w (X - q)+) / (1 - alpha) with q the alpha-quantile;
    the error is that of the mean term (q held fixed)."""
    rep = representatives(floor)
    q = weighted_quantiles(hist, n, (alpha,), floor)[..., 0]
    excess = np.maximum(rep - q[..., None], 0.0)
    mean, se = mean_se((hist * excess).sum(axis=-1), (hist2 * excess**2).sum(axis=-1), n)
    return q + mean / (1.0 - alpha), se / (1.0 - alpha)


@dataclass
class TailResult:
    """A tail run's estimates, per scenario (arrays over ``scenarios``)."""

    question: Question
    scenarios: tuple[str, ...]
    programme: str
    threshold: float
    month: str
    n_paths: int
    p: np.ndarray
    p_se: np.ndarray
    plain_se: np.ndarray  # sqrt(p (1 - p) / n): what plain sampling would give
    delta: np.ndarray
    delta_se: np.ndarray
    quantile_levels: tuple[float, ...]
    peak_quantiles: np.ndarray  # [S, levels], months
    cvar_alpha: float
    peak_cvar: np.ndarray
    peak_cvar_se: np.ndarray
    mean_weight: float
    effective_paths: float  # (sum w)^2 / sum w^2
    proposal: importance.Proposal
    fit: dict = field(default_factory=dict)
    seconds: float = 0.0  # simulating, pilot included, after compiling
    pilot_seconds: float = 0.0

    @property
    def variance_ratio(self) -> np.ndarray:
        """Plain sampling's variance over this run's, at the same paths (inf where this
        run's is 0 and plain's is not; 1 where both are)."""
        plain, here = self.plain_se**2, self.p_se**2
        safe = np.where(here > 0, here, 1.0)
        return np.where(here > 0, plain / safe, np.where(plain > 0, np.inf, 1.0))


def question(config: Config, programme: str, threshold: float, month: str | None) -> Question:
    """The :class:`Question` of a programme's name, a slip threshold in months (one of
    ``run.slip_thresholds``) and a month ``YYYY-MM`` (default: the horizon's last).

    Raises ValueError with a one-line message naming what is wrong.
    """
    names = [p.name for p in config.entries("programmes")]
    if programme not in names:
        raise ValueError(f"no programme {programme!r}; the config has {', '.join(names)}")
    thresholds = list(config.slip_thresholds)
    matches = [k for k, x in enumerate(thresholds) if abs(x - threshold) < 1e-9]
    if not matches:
        listed = ", ".join(f"{x:g}" for x in thresholds)
        raise ValueError(
            f"slip threshold {threshold:g} is not one of run.slip_thresholds ({listed})"
        )
    months = [str(m) for m in config.base.months.astype("datetime64[M]")]
    if month is None:
        t = len(months) - 1
    elif month in months:
        t = months.index(month)
    else:
        horizon = f"{months[0]} to {months[-1]}"
        raise ValueError(f"month {month!r} is not in the run's horizon ({horizon})")
    return Question(names.index(programme), matches[0], t)


def slot_names(packed: Packed) -> tuple[str, ...]:
    """What each of a path's own uniforms draws: a parameter's config key, a waiver, or a
    source's qualification for military use."""
    names = list(packed.slot_keys) + [""] * (packed.n_path_uniforms - len(packed.slot_keys))
    nps = packed.dims.n_path_slots
    names[nps] = "dfars waiver"
    for q, source in enumerate(packed.sources):
        names[nps + 1 + q] = f"sources.{source} qualified for military use"
    names[nps + 1 + packed.dims.K] = "waiver for magnets made in China"
    return tuple(names)


def _run_paths(packed, proposal, seed, path0, n_paths, threads, consume, progress=None):
    """Simulate paths ``path0 ..`` in blocks under ``proposal`` and pass each block's
    outcomes to ``consume(weights, peak_slip, first_slip, transitions)`` (rows: the block's
    paths; ``kernels.scratch.Partials.o_*``). With no paths, only compiles (or loads) the
    kernel."""
    from concurrent.futures import ThreadPoolExecutor

    from .kernels.block import simulate_block
    from .kernels.rng import seed_key
    from .kernels.scratch import allocate

    pk = packed.params(tilt=proposal.kernel_args(packed.dims.R))
    k0, k1 = seed_key(seed)
    work, pads, traj, partials = allocate(packed, threads, BLOCK, outcomes=True)
    pool = ThreadPoolExecutor(max_workers=max(1, threads - 1), thread_name_prefix="reriskmc")
    try:
        for b0 in range(0, n_paths, BLOCK) or [0]:
            n = min(BLOCK, n_paths - b0)
            simulate_block(pool, pk, work, pads, traj, partials, k0, k1, path0 + b0, n, CHUNK,
                           threads)  # fmt: skip
            if n == 0:
                break
            consume(partials.o_weight[:n], partials.o_peak_slip[:n], partials.o_first_slip[:n],
                    partials.o_trans[:n])  # fmt: skip
            if progress is not None:
                progress(b0 + n)
    finally:
        pool.shutdown(wait=True)


def _event(first_slip: np.ndarray, q: Question) -> np.ndarray:
    """bool[n, S]: past the threshold by the month, from the first months [n, S, P, K]."""
    first = first_slip[:, :, q.programme, q.threshold]
    return (first >= 0) & (first <= q.month)


def compile_kernel(packed: Packed, threads: int = 1) -> None:
    """Compile (or load) the kernel a tail run calls (the run's own), so that timings
    leave it out."""
    _run_paths(packed, importance.Proposal.none(), 0, 0, 0, threads, None)


def model_transitions(packed: Packed) -> np.ndarray:
    """The base's regime transition probabilities, float64[n_matrices, R, R]."""
    cum = packed.cum_trans[0]
    return np.diff(cum, axis=-1, prepend=0.0)


def pilot(config: Config, packed: Packed, q: Question, seed: int, n_pilot: int, threads: int):
    """Fit the proposal to ``n_pilot`` plain paths (``importance.fit``), for ``packed``.

    The event is the base's, so the pilot simulates the base scenario alone, packed on
    its own, and the proposal is carried over to ``packed`` by the names of the draws
    and of the regime matrices (:func:`carried_over`): the base's law is the same in
    either packing, only the draws' order differs. When a name does not carry over (or
    the programme is a scenario's own), the pilot simulates every scenario instead."""
    from .kernels.rng import path_uniforms, seed_key

    alone = packed
    if len(config.scenarios) > 1:
        alone = pack(replace(config, scenarios=config.scenarios[:1]))
        name = packed.programmes[q.programme]
        if _carries_over(alone, packed) and name in alone.programmes:
            q = replace(q, programme=list(alone.programmes).index(name))
        else:
            alone = packed
    events, severity, trans = [], [], []

    def consume(w, peak, first, transitions):
        events.append(_event(first, q)[:, 0])
        severity.append(peak[:, 0, q.programme].astype(np.float64))
        trans.append(np.array(transitions))

    _run_paths(alone, importance.Proposal.none(), seed, PILOT_PATH0, n_pilot, threads, consume)
    u = path_uniforms(alone.n_path_uniforms, PILOT_PATH0, n_pilot, *seed_key(seed))
    proposal, fit = importance.fit(
        u, np.concatenate(events), np.concatenate(severity), slot_names(alone), seed,
        np.concatenate(trans).astype(np.float64), model_transitions(alone),
    )  # fmt: skip
    return carried_over(proposal, alone, packed), fit


def _carries_over(alone: Packed, packed: Packed) -> bool:
    """Whether every draw and regime matrix of ``alone`` is named once in ``packed``."""
    names, to = slot_names(alone), slot_names(packed)
    return (
        len(set(names)) == len(names)
        and len(set(to)) == len(to)
        and set(names) <= set(to)
        and set(alone.matrix_names) <= set(packed.matrix_names)
        and alone.dims.R == packed.dims.R
    )


def carried_over(proposal: importance.Proposal, alone: Packed, packed: Packed):
    """``proposal``, fitted on the packing ``alone``, as the same proposal on ``packed``:
    its single draws and its direction's components moved to the slots of the same
    names, its transition rows to the matrices of the same names (the others keep the
    base's own rows in ``packed``)."""
    if alone is packed:
        return proposal
    to = {name: j for j, name in enumerate(slot_names(packed))}
    where = np.array([to[name] for name in slot_names(alone)], dtype=np.int64)
    slots = [s if s == importance.DIRECTION else where[s] for s in proposal.slots]
    direction = np.zeros(packed.n_path_uniforms if proposal.direction.size else 0)
    if direction.size:
        direction[where] = proposal.direction
    trans = proposal.trans
    if proposal.tilts_regimes:
        trans = model_transitions(packed)
        for j, name in enumerate(alone.matrix_names):
            trans[packed.matrix_names.index(name)] = proposal.trans[j]
    return importance.Proposal(
        np.asarray(slots, dtype=np.int64), proposal.masses, proposal.names, trans, direction
    )


def estimate(
    config: Config,
    q: Question,
    n_paths: int,
    seed: int,
    *,
    n_pilot: int = DEFAULT_PILOT,
    plain: bool = False,
    proposal: importance.Proposal | None = None,
    threads: int = 1,
    packed: Packed | None = None,
    progress: Callable[[int], None] | None = None,
) -> TailResult:
    """Estimate ``q`` in every scenario of ``config`` from ``n_paths`` paths: weighted
    by a proposal fitted to ``n_pilot`` pilot paths, or by the ``proposal`` given (no
    pilot), or plain (``plain=True``: no pilot, every weight 1). ``progress`` is called
    with the run's paths done (the pilot's not counted) after each block."""
    if n_paths < 2:
        raise ValueError("a tail run needs at least 2 paths")
    packed = packed or pack(config)
    t0 = time.perf_counter()
    if proposal is not None:
        fit = {"pilot_paths": 0, "tilted": list(proposal.names)}
        if proposal.tilts_regimes:
            fit["tilted"].append("regimes")
    elif plain or n_pilot < 1:
        proposal, fit = importance.Proposal.none(), {}
    else:
        proposal, fit = pilot(config, packed, q, seed, n_pilot, threads)
    t_pilot = time.perf_counter() - t0
    sums = _Sums(packed.dims.S)

    def consume(w, peak, first, transitions):
        sums.add(np.array(w), _event(first, q), peak[:, :, q.programme])

    _run_paths(packed, proposal, seed, 0, n_paths, threads, consume, progress)
    seconds = time.perf_counter() - t0
    return _result(config, packed, q, sums, proposal, fit, seconds, t_pilot)


def _result(config, packed, q, sums, proposal, fit, seconds, t_pilot) -> TailResult:
    n = sums.n
    p, p_se = mean_se(sums.event[0], sums.event[1], n)
    delta, delta_se = mean_se(sums.diff[0], sums.diff[1], n)
    clipped = np.clip(p, 0.0, 1.0)
    alpha = float(config.cvar_alpha)
    cvar, cvar_se = weighted_cvar(sums.peak[0], sums.peak[1], n, alpha, MONTHS_FLOOR)
    months = config.base.months.astype("datetime64[M]")
    return TailResult(
        question=q,
        scenarios=tuple(config.scenario_names),
        programme=packed.programmes[q.programme],
        threshold=float(config.slip_thresholds[q.threshold]),
        month=str(months[q.month]),
        n_paths=n,
        p=p,
        p_se=p_se,
        plain_se=np.sqrt(clipped * (1.0 - clipped) / n),
        delta=delta,
        delta_se=delta_se,
        quantile_levels=LEVELS,
        peak_quantiles=weighted_quantiles(sums.peak[0], n, LEVELS, MONTHS_FLOOR),
        cvar_alpha=alpha,
        peak_cvar=cvar,
        peak_cvar_se=cvar_se,
        mean_weight=float(sums.w[0] / n),
        effective_paths=float(sums.w[0] ** 2 / sums.w[1]) if sums.w[1] > 0 else 0.0,
        proposal=proposal,
        fit=fit,
        seconds=seconds,
        pilot_seconds=t_pilot,
    )


def as_json(res: TailResult) -> dict:
    """The result as plain JSON types."""
    scenarios = []
    for s, name in enumerate(res.scenarios):
        quantiles = zip(res.quantile_levels, res.peak_quantiles[s])
        scenarios.append(dict(
            scenario=name,
            p=float(res.p[s]),
            se=float(res.p_se[s]),
            plain_se=float(res.plain_se[s]),
            variance_ratio=float(res.variance_ratio[s]),
            delta=float(res.delta[s]),
            delta_se=float(res.delta_se[s]),
            peak_slip_quantiles={f"{a:g}": float(v) for a, v in quantiles},
            peak_slip_cvar=float(res.peak_cvar[s]),
            peak_slip_cvar_se=float(res.peak_cvar_se[s]),
        ))  # fmt: skip
    return dict(
        programme=res.programme,
        threshold_months=res.threshold,
        by_month=res.month,
        paths=res.n_paths,
        pilot=res.fit,
        tilted=list(res.fit.get("tilted", [])),
        mean_weight=res.mean_weight,
        effective_paths=res.effective_paths,
        cvar_alpha=res.cvar_alpha,
        seconds=res.seconds,
        scenarios=scenarios,
    )


def report_text(res: TailResult) -> str:
    """The result as a table for a terminal."""
    method = "importance sampling" if res.fit else "plain Monte Carlo"
    pilot = f" after a pilot of {res.fit['pilot_paths']:,}" if res.fit else ""
    lines = [
        f"Chance that {res.programme} slips more than {res.threshold:g} months at least once "
        f"by {res.month}, %, by {method}",
        f"{res.n_paths:,} paths{pilot}, {res.seconds:.1f} s",
    ]
    if res.fit:
        tilted = ", ".join(res.fit["tilted"]) or "nothing (no draw helped)"
        lines.append(f"tilted: {tilted}")
        lines.append(
            f"mean weight {res.mean_weight:.3f} (1 expected); effective paths "
            f"{res.effective_paths:,.0f}"
        )
    width = max(8, *(len(s) for s in res.scenarios))
    head = (f"{'scenario':<{width}}  chance     SE   95% interval    vs base  paired SE"
            f"  plain SE  variance ratio")  # fmt: skip
    lines += ["", head, "-" * len(head)]
    for s, name in enumerate(res.scenarios):
        p, se = 100 * res.p[s], 100 * res.p_se[s]
        lo, hi = p - 1.96 * se, p + 1.96 * se
        vs = "" if s == 0 else f"{100 * res.delta[s]:+.2f}"
        dse = "" if s == 0 else f"{100 * res.delta_se[s]:.2f}"
        interval = f"[{lo:.2f}, {hi:.2f}]"
        lines.append(
            f"{name:<{width}}  {p:6.2f}  {se:5.2f}  {interval:>14}  {vs:>8}  {dse:>9}"
            f"  {100 * res.plain_se[s]:8.2f}  {res.variance_ratio[s]:14.1f}"
        )
    levels = "  ".join(f"q{100 * a:g}".rjust(6) for a in res.quantile_levels)
    cvar = f"CVaR {100 * res.cvar_alpha:g}%"
    lines += ["", f"Peak slip of {res.programme} over the horizon, months (weighted):",
              f"{'scenario':<{width}}  {levels}  {cvar:>10}     SE"]  # fmt: skip
    for s, name in enumerate(res.scenarios):
        qs = "  ".join(f"{v:6.2f}" for v in res.peak_quantiles[s])
        lines.append(f"{name:<{width}}  {qs}  {res.peak_cvar[s]:10.2f}  {res.peak_cvar_se[s]:5.2f}")
    lines.append(
        "variance ratio: plain sampling's variance at the same paths over this run's; "
        "vs base: paired difference in points"
    )
    return "\n".join(lines)
