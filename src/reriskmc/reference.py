"""The NumPy reference model: test oracle and benchmark peer of the compiled kernel.

This module implements ``docs/model.md`` literally, from the specification alone, in
plain vectorised NumPy: arrays have the paths first (``(n_paths, ...)``), the months are
a Python loop, and every scenario of the config is stepped inside that loop on the same
uniform variates (common random numbers). It draws its own random numbers with
``numpy.random.default_rng(seed)``, so it agrees with the kernel in distribution, not
path by path.

Layout over scenarios
---------------------
A scenario may add programmes, sources, events and transition matrices. Programmes,
sources and events are laid out over their union, :meth:`Config.entries` order (the
base's in config order, then each scenario's additions, in scenario order): that index
is the same in every scenario, and an entry a scenario does not have is there too, inert
(a programme never scheduled, a source that delivers nothing, an event never due).
Materials and channels are the same in every scenario. A scenario steps its own events
and makers in its own config order, and its events refer to its own transition matrices.

Random numbers
--------------
Every random decision draws one uniform per path, and all scenarios use the same
uniform for the same decision. In the order drawn:

- once per path: one per distribution-valued parameter *key* (see below), numbered in
  order of first use over the scenarios; one for the DFARS waiver; one per source of
  the union (its qualification); one for the made-in-China waiver;
- every month: one for the regime step, one for the concession, one per event of the
  union for its extension, then one per event for firing, then one per (material,
  channel) pair (material-major, config order; the same pairs in every scenario) for
  revocation, then one per pair for approval, then one per pair for the stochastic
  rounding of the decision lag.

An event a scenario does not have still has its two uniforms every month (unused there),
so adding an event to a scenario moves no other draw.

A parameter key is, by default (``param_keys="config"``), the place in the TOML file
where the value is written: ``channels.military.lag_months`` is one key even though
three materials' military licences use it, a value that defaults to another
(``buffer_cap_t`` to ``buffer_t``, ``p_approve_concession`` to ``p_approve``) shares that
value's key, so it is the same draw, and a schedule's node is its own key
(``programmes.x.units_per_year.2026-01``). ``param_keys="field"`` gives every resolved
model field its own key instead (independent draws for each material's licence, for the
cap and the initial buffer, ...).

Readings of the specification
-----------------------------
Where ``docs/model.md`` leaves room, this model takes the most literal reading:

- 3.4: the steps are followed as written, so a licence with lag L, approval
  probability 1 and term T is decided every L + T months (live in months L, 2L + T, ...);
  "decided every L months" in the spec's remark holds for rejected licences. The lag
  and term in force when the licence applies or is approved are the ones used.
- 3.7.1: "a buffer above its cap is not reduced" is
  ``buffer = max(buffer, min(cap, buffer + S - D))``; 3.6.4 likewise for a feedstock.
- 3.7.2: ``release_lag_months`` is real-valued and not rounded: the release is
  authorised in the first shortage month t with ``t >= first shortage + lag``.
  Authorisation is checked in shortage months only; as its conditions only become
  true with time and a release only happens in a shortage month, this is the same as
  "from then on".
- 3.7.4: stocks run out in a month when, after the buffer and any authorised
  stockpile release, more than ``EXHAUSTED_T`` (1e-9 t) of the gap is left; empty
  stocks alone do not count. A shortage of at most 1e-9 t is still a buffer shortage
  of 3.7.2 (it starts the release lag) without being stocks running out.
- 3.8: material kits (``wip``) are not clipped at zero; rounding may leave them at
  -1e-16 or so.
- 3.2: every month draws the event, concession and licence uniforms whether or not
  they are used (so the layout of the random numbers is fixed), and month 0 draws a
  regime uniform it does not use. ``in_regimes`` is checked against the regime at
  that point of the month: after 3.1 and after any earlier event's jump this month
  (the spec's "the regime of 3.1" read as the regime so far; an ``in_regimes`` list
  that names no regime means anywhere).
  An event's effects apply in the order the config gives them (its ``set`` table, then
  its ``scale`` table). An effect changes the parameter it names and nothing else: a
  ``p_approve_concession`` left to default to ``p_approve`` keeps its value when an
  event changes ``p_approve``. A probability scaled above 1 acts as 1 (a uniform is
  compared below it), and a scaled probability or share (``leakage``, ``yield``,
  ``defence_share``) is capped at 1.
- 1: a schedule is evaluated as ``w_i v_i + w_j v_j`` with the linear weights of the two
  nodes i, j around the month (exactly ``v_i`` on a node and outside the nodes).
- Two tiers: a magnet has makers when its ``feedstock`` table, as its scenario's config
  gives it, has an entry that is not the number 0 (a distribution counts), or when one
  of the scenario's events sets an entry of it.
- Origin: a source marked ``chinese`` that makes a magnet (a maker) supplies
  Chinese-origin magnets; while that magnet is barred it makes nothing for these
  programmes (it takes no order and no feedstock).
- 3.6.3: a feedstock runs out when ``(want_k - avail_k(f) / a_f) * a_f > 1e-9`` for a
  maker with ``a_f > 0``, evaluated as written, whatever later makers then make (so
  also when the shortfall is only in the contractors' inventory refill, or when a maker
  may not use Chinese-origin feedstock that is there); what a maker takes out of the
  makers' inventory is capped at what is there (rounding cannot make it negative).
  A feedstock's supply (recorded) is its direct supply, NC + CN; 3.7 leaves its
  inventory alone (it is handled in 3.6.3-3.6.4).
- 3.9: ``rate_ref`` is the month's ``rate`` wherever that is > 1e-9 and keeps its value
  otherwise; ``slip_months`` and ``share_missed`` are 0 while ``rate_ref`` (equivalently
  scheduled-to-date) is still 0. A slip passes a threshold when it exceeds it by more
  than 1e-9 months, as the spec says: a slip that is a whole number of months in exact
  arithmetic (nothing built at all) lands an ulp either side of it when the rate is not
  a binary fraction. The catch-up bound ``rate * (1 + catch_up)`` uses the month's
  schedule value also outside the programme's window.
- 4: ``delta_X`` is ``X[s] - X[0]`` of the reported statistics (so it equals the
  difference of the statistics exactly); its standard error uses the per-path
  differences of the same month. For a probability the variance
  ``mean(d^2) - mean(d)^2`` is computed from the counts of d = +1 and d = -1 and is
  never negative. A mean's sample standard deviation uses ``ddof=1`` (0 for one path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .config import Config, Effect, Event, Model, Param, Schedule, effect_domain
from .distributions import Dist
from .kernels.layout import (
    FEEDSTOCK,
    IDLE,
    LIVE,
    MAGNET,
    NO_MONTH,
    PENDING,
    PRIORITIES,
    RELEASE_RULES,
)

#: stocks have run out when a gap of more than this many tonnes remains after them (3.7.4)
EXHAUSTED_T = 1e-9
#: a slip passes a threshold only when it exceeds it by more than this (3.9)
SLIP_TOLERANCE = 1e-9
#: a monthly rate counts as positive for rate_ref only above this many units (3.9)
RATE_FLOOR = 1e-9

#: section 4's means, by the per-path value they average (``_Scenario.step``'s output)
MEANS = {
    "units_short_mean": "units_short",
    "shortfall_t_mean": "shortfall_t",
    "slip_months_mean": "slip_months",
    "share_missed_mean": "share_missed",
}
#: section 4's probabilities, by the per-path indicator they average
PROBABILITIES = {
    "p_shortfall": "behind_ever",
    "p_stock_exhausted": "exhausted_ever",
    "p_regime": "in_regime",
    "p_slip": "slip_ever",
}

_DX = PRIORITIES.index("DX")
_DO = PRIORITIES.index("DO")
_ON_SHORTFALL = RELEASE_RULES.index("on_shortfall")
_FROM_DATE = RELEASE_RULES.index("from_date")

_LICENCE_SCALARS = ("flow_t", "lag_months", "term_months", "live_at_start_months")
_LICENCE_REGIME_MAPS = ("p_approve", "p_approve_concession", "p_revoke")
_MATERIAL_SCALARS = ("leakage", "recycling_t", "buffer_t", "buffer_cap_t")
_STOCKPILE_SCALARS = ("stockpile_t", "release_lag_months", "release_t_per_month")
# model field name -> config key name, where they differ
_SOURCE_SCALARS = {
    "capacity_t_per_year": "capacity_t_per_year",
    "ramp_months": "ramp_months",
    "slip_months": "slip_months",
    "yield_frac": "yield",
    "p_qualified": "p_qualified",
    "qualification_months": "qualification_months",
    "defence_share": "defence_share",
}
_RULES = ("military_end_use", "extraterritorial")
#: the sections a scenario may add entries to, laid out over their union
_ADDABLE = ("programmes", "sources", "events")


# --------------------------------------------------------------------------- result
@dataclass
class ReferenceResult:
    """Statistics of a reference run, per scenario.

    Attributes
    ----------
    scenarios, programmes, materials, regimes, channels : tuple of str
        Names along the S, P, M, R and C axes. ``programmes`` is the union over the
        scenarios (:meth:`Config.entries` order): a scenario may add programmes.
    programme_in_scenario : ndarray, bool, (S, P)
        Whether each scenario has each programme; a programme a scenario does not have
        is never scheduled there, so all its statistics there are 0.
    n_paths, n_months : int
        Paths simulated (n) and months (T).
    months : ndarray, datetime64[M], (T,)
        The months, month 0 being ``run.start``.
    behind_tolerance_units : float
        A programme is behind when ``units_short`` exceeds this.
    p_shortfall : ndarray, float64, (S, P, T)
        Share of paths whose programme has been behind at least once by month t.
    units_short_mean, units_short_se : ndarray, float64, (S, P, T)
        Mean units behind schedule at the end of month t, and its standard error
        (sample standard deviation / sqrt(n)).
    shortfall_t_mean, shortfall_t_se : ndarray, float64, (S, P, M, T)
        Mean material owed to the programme (requirement to date minus allocation to
        date, t) at the end of month t, and its standard error.
    p_stock_exhausted : ndarray, float64, (S, M, T)
        Share of paths whose stocks of the material ran out at least once by month t
        (a magnet's: 3.7.4; a feedstock's, at its makers: 3.6.3).
    p_regime : ndarray, float64, (S, R, T)
        Share of paths in each regime during month t (after the events).
    slip_thresholds : tuple of float
        ``run.slip_thresholds``, months: the K alarms on schedule slip.
    p_slip : ndarray, float64, (S, P, K, T)
        Share of paths whose ``slip_months`` has exceeded threshold k at least once by
        month t.
    slip_months_mean, slip_months_se : ndarray, float64, (S, P, T)
        Mean schedule slip (units behind / ``rate_ref``, months; 0 before the schedule
        starts) at the end of month t, and its standard error.
    share_missed_mean, share_missed_se : ndarray, float64, (S, P, T)
        Mean share of the cumulative schedule not built (0 before the schedule starts),
        and its standard error.
    peak_units_short : ndarray, float64, (S, n, P)
        Per path, the peak of ``units_short`` over the horizon.
    peak_slip_months : ndarray, float64, (S, n, P)
        Per path, the peak of ``slip_months`` over the horizon.
    peak_shortfall_t : ndarray, float64, (S, n, P, M)
        Per path, the peak of ``shortfall_t`` over the horizon.
    paths : dict of str to ndarray, or None
        With ``record=True``: per-path, per-month arrays (month last), see
        :func:`simulate_reference`.
    deltas : dict of str to (ndarray, ndarray)
        Paired differences scenario - base (section 4): ``deltas[X] = (delta, se)`` for
        every mean and probability X in :data:`MEANS` and :data:`PROBABILITIES`
        (``p_shortfall``, ``units_short_mean``, ``shortfall_t_mean``,
        ``p_stock_exhausted``, ``p_regime``, ``p_slip``, ``slip_months_mean``,
        ``share_missed_mean``), both shaped like X. ``delta = X - X[:1]``; ``se`` comes
        from the per-path differences ``d_i = x_i[s] - x_i[0]``: ``sd(d) / sqrt(n)`` for
        a mean, ``sqrt((mean(d^2) - mean(d)^2) / n)`` for a probability. Both are 0 for
        the base. The same arrays read as attributes ``delta_X`` and ``delta_X_se``
        (``result.delta_p_slip``, ``result.delta_p_slip_se``), the dataset's names.
    """

    scenarios: tuple[str, ...]
    programmes: tuple[str, ...]
    materials: tuple[str, ...]
    regimes: tuple[str, ...]
    channels: tuple[str, ...]
    n_paths: int
    n_months: int
    months: np.ndarray
    behind_tolerance_units: float
    p_shortfall: np.ndarray
    units_short_mean: np.ndarray
    units_short_se: np.ndarray
    shortfall_t_mean: np.ndarray
    shortfall_t_se: np.ndarray
    p_stock_exhausted: np.ndarray
    p_regime: np.ndarray
    slip_thresholds: tuple[float, ...]
    p_slip: np.ndarray
    slip_months_mean: np.ndarray
    slip_months_se: np.ndarray
    share_missed_mean: np.ndarray
    share_missed_se: np.ndarray
    peak_units_short: np.ndarray
    peak_slip_months: np.ndarray
    peak_shortfall_t: np.ndarray
    programme_in_scenario: np.ndarray
    paths: dict[str, np.ndarray] | None = None
    deltas: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> np.ndarray:
        """``delta_X`` and ``delta_X_se``: the entries of :attr:`deltas`."""
        deltas = self.__dict__.get("deltas")  # absent while unpickling: no recursion
        if deltas is not None and name.startswith("delta_"):
            stat = name[len("delta_") :]
            if stat in deltas:
                return deltas[stat][0]
            if stat.endswith("_se") and stat[: -len("_se")] in deltas:
                return deltas[stat[: -len("_se")]][1]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _p_se(self, p: np.ndarray) -> np.ndarray:
        return np.sqrt(p * (1.0 - p) / self.n_paths)

    @property
    def p_shortfall_se(self) -> np.ndarray:
        """Standard error ``sqrt(p (1 - p) / n)`` of :attr:`p_shortfall`."""
        return self._p_se(self.p_shortfall)

    @property
    def p_stock_exhausted_se(self) -> np.ndarray:
        """Standard error of :attr:`p_stock_exhausted`."""
        return self._p_se(self.p_stock_exhausted)

    @property
    def p_regime_se(self) -> np.ndarray:
        """Standard error of :attr:`p_regime`."""
        return self._p_se(self.p_regime)

    @property
    def p_slip_se(self) -> np.ndarray:
        """Standard error of :attr:`p_slip`."""
        return self._p_se(self.p_slip)


# --------------------------------------------------------------------------- parameter keys
@dataclass(frozen=True)
class _Index:
    """The union index of each programme, source and event by name: the same in every
    scenario (the layout of per-entry arrays and uniforms)."""

    programmes: dict[str, int]
    sources: dict[str, int]
    events: dict[str, int]

    @classmethod
    def of(cls, config: Config) -> _Index:
        return cls(
            *({x.name: i for i, x in enumerate(config.entries(section))} for section in _ADDABLE)
        )


def _schedule_params(out: dict, head: tuple, value: Param | Schedule) -> None:
    """A schedule's nodes as fields ``(*head, month)``; a plain value as ``head``."""
    if isinstance(value, Schedule):
        for month, v in value.nodes:
            out[(*head, month)] = v
    else:
        out[head] = value


def _model_params(model: Model, ix: _Index) -> dict[tuple, Param]:
    """Every scalar parameter of a model, by field id (a tuple of names and indices;
    programmes, sources and events by their union index)."""
    out: dict[tuple, Param] = {}
    for ev in model.events:
        for a in ("p_extend", "extend_months", "p_fire"):
            out[("event", ix.events[ev.name], a)] = getattr(ev, a)
    out[("linkage", "p_concession")] = model.linkage.p_concession
    if model.dfars is not None:
        out[("dfars", "p_waiver")] = model.dfars.p_waiver
        out[("dfars", "p_waiver_made_in_china")] = model.dfars.p_waiver_made_in_china
    for m, mat in enumerate(model.materials):
        for a in (*_MATERIAL_SCALARS, *_STOCKPILE_SCALARS):
            out[("material", m, a)] = getattr(mat, a)
        for f, v in enumerate(mat.feedstock):
            out[("material", m, "feedstock", f)] = v
        for c, lic in enumerate(mat.licences):
            for a in _LICENCE_SCALARS:
                out[("licence", m, c, a)] = getattr(lic, a)
            for a in _LICENCE_REGIME_MAPS:
                for r, v in enumerate(getattr(lic, a)):
                    out[("licence", m, c, a, r)] = v
    for src in model.sources:
        k = ix.sources[src.name]
        for a in _SOURCE_SCALARS:
            _schedule_params(out, ("source", k, a), getattr(src, a))
    for prog in model.programmes:
        p = ix.programmes[prog.name]
        _schedule_params(out, ("programme", p, "units_per_year"), prog.units_per_year)
        out[("programme", p, "catch_up")] = prog.catch_up
        for m, v in enumerate(prog.kg_per_unit):
            out[("programme", p, "kg_per_unit", m)] = v
    return out


def _field_key(f: tuple) -> str:
    """A unique key per resolved model field (``param_keys="field"``): its id spelt out.

    Field ids use union indices of programmes, sources and events (and a schedule node's
    month), which are the same in every scenario, so the key is shared across scenarios
    as required.
    """
    return "/".join(str(x) for x in f)


def scenario_parameter_keys(
    config: Config, param_keys: str = "config"
) -> list[dict[tuple, str | None]]:
    """Per scenario, the random-number key of every parameter field.

    Parameters
    ----------
    config : Config
        A loaded config.
    param_keys : {"config", "field"}
        ``"config"``: the TOML path the value is written at (values written once and
        used by several fields are one draw); ``"field"``: one key per model field.

    Returns
    -------
    list of dict
        One dict per scenario, mapping a field id (see ``_model_params``) to its key.
    """
    ix = _Index.of(config)
    params = [_model_params(sc.model, ix) for sc in config.scenarios]
    if param_keys == "field":
        return [{f: _field_key(f) for f in p} for p in params]
    if param_keys != "config":
        raise ValueError(f"param_keys must be 'config' or 'field', got {param_keys!r}")
    # a distribution knows the config key it was written at (Dist.key); a value that
    # defaults to another (buffer_cap_t to buffer_t, p_approve_concession to p_approve)
    # is that value, so it shares its key and its draw
    return [{f: (v.key if isinstance(v, Dist) else None) for f, v in p.items()} for p in params]


class _ParamDraws:
    """Per-path values of the scalar parameters, one uniform per key for all scenarios."""

    def __init__(self, config: Config, param_keys: str, u_of_key: Callable[[int], np.ndarray]):
        ix = _Index.of(config)
        self.params = [_model_params(sc.model, ix) for sc in config.scenarios]
        self.keys = scenario_parameter_keys(config, param_keys)
        # a key gets a uniform if any scenario gives any of its fields a distribution;
        # keys are numbered in order of first use so the layout is deterministic
        order: dict[str, int] = {}
        for params, keys in zip(self.params, self.keys):
            for f, v in params.items():
                if isinstance(v, Dist):
                    key = keys[f]
                    if key is None:  # pragma: no cover - config gives defaults as numbers
                        raise ValueError(f"no config key for distribution-valued field {f}")
                    order.setdefault(key, len(order))
        self.order = order
        self.u = u_of_key(len(order))  # (n_keys, n_paths)
        self._cache: dict[tuple[str, Dist], np.ndarray] = {}

    def value(self, s: int, f: tuple) -> float | np.ndarray:
        """Scenario s's value of field f: a float, or an (n_paths,) array of draws."""
        v = self.params[s][f]
        if not isinstance(v, Dist):
            return float(v)
        key = self.keys[s][f]
        if (key, v) not in self._cache:
            u = self.u[self.order[key]]
            # default_rng's uniforms lie in [0, 1); keep ppf finite for unbounded laws
            u = np.where(u > 0.0, u, np.nextafter(0.0, 1.0))
            self._cache[(key, v)] = np.asarray(v.ppf(u), dtype=np.float64)
        return self._cache[(key, v)]


# --------------------------------------------------------------------------- helpers
def _round_half_up(x):
    """Round half up (2.5 -> 3), the spec's rounding of month counts."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _stack(values: list, shape: tuple[int, ...], n: int) -> np.ndarray:
    """Stack floats and (n,) draws into an array of shape (n or 1, *shape).

    The leading axis is 1 when every value is a number, so fixed parameters cost no
    memory per path and broadcast against (n, ...) state.
    """
    lead = n if any(isinstance(v, np.ndarray) for v in values) else 1
    out = np.empty((lead, len(values)), dtype=np.float64)
    for i, v in enumerate(values):
        out[:, i] = v
    return out.reshape((lead, *shape))


def _by_regime(table: np.ndarray, regime: np.ndarray) -> np.ndarray:
    """``table[i, ..., regime[i]]`` for each path i, shape (n, ...); table is (n or 1, ..., R)."""
    if table.shape[0] == 1:
        return np.moveaxis(table[0][..., regime], -1, 0)
    # two advanced indices split by slices: NumPy puts their (n,) axis first
    middle = (slice(None),) * (table.ndim - 2)
    return table[(np.arange(len(regime)), *middle, regime)]


def _members(mask: list[bool]) -> slice | np.ndarray | None:
    """Index of the programmes in a priority class: a slice when they are adjacent
    (a view, no copy: it halves the allocation's cost), else their positions;
    None for an empty class."""
    where = np.flatnonzero(mask)
    if where.size == 0:
        return None
    if where[-1] - where[0] + 1 == where.size:
        return slice(int(where[0]), int(where[-1]) + 1)
    return where


def _sum_programmes(x: np.ndarray) -> np.ndarray:
    """Sum an (n, P, M) array over programmes; einsum is several times faster than
    ``x.sum(axis=1)`` on this layout (measured: 0.75 vs 3.3 ms at n = 20000)."""
    return np.einsum("npm->nm", x)


def _schedule_weights(months: tuple[int, ...], n_months: int, width: int) -> np.ndarray:
    """(T, width): the weight of each node of a schedule in each month (section 1):
    linear between the two nodes around the month, all on the first node before it and
    on the last after it; nodes past ``len(months)`` (padding) weigh 0."""
    w = np.zeros((n_months, width))
    nodes = np.asarray(months, dtype=np.float64)
    for t in range(n_months):
        if t <= nodes[0]:
            w[t, 0] = 1.0
        elif t >= nodes[-1]:
            w[t, len(nodes) - 1] = 1.0
        else:
            i = int(np.searchsorted(nodes, t, side="right")) - 1  # nodes[i] <= t < nodes[i+1]
            span = nodes[i + 1] - nodes[i]
            w[t, i] = (nodes[i + 1] - t) / span
            w[t, i + 1] = (t - nodes[i]) / span
    return w


def _schedules(
    schedules: list, head: Callable[[int], tuple], value, n: int, n_months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Node values (n or 1, X, N) and weights (T, X, N) of X schedules (None: absent,
    the value 0). A schedule with fewer than N nodes repeats its last value."""
    width = max([len(s.nodes) for s in schedules if s is not None] + [1])
    values, weights = [], np.zeros((n_months, len(schedules), width))
    for x, sched in enumerate(schedules):
        nodes = sched.nodes if sched is not None else ((0, 0.0),)
        row = [value((*head(x), month)) if sched is not None else 0.0 for month, _ in nodes]
        values += row + row[-1:] * (width - len(row))
        weights[:, x, :] = _schedule_weights(tuple(m for m, _ in nodes), n_months, width)
    return _stack(values, (len(schedules), width), n), weights


def _effect_target(target: str, model: Model, ix: _Index) -> tuple[str, tuple]:
    """The parameter an effect's target names (3.2), by the key-path grammar of
    ``config.effect_domain``: the name of the scenario's parameter array and the index
    into it after the path axis. A slice stands for every material of a channel, every
    regime of a licence map without a regime, or every node of a schedule."""
    parts = target.split(".")
    materials = [m.name for m in model.materials]
    channels = [c.name for c in model.channels]
    head, rest, every = parts[0], parts[2:], slice(None)
    if head == "rules" and len(parts) == 2 and parts[1] in _RULES:
        return parts[1], ()
    if parts == ["linkage", "p_concession"]:
        return "p_concession", ()
    if head == "channels":
        return _licence_target(rest, (every, channels.index(parts[1])), model.regimes)
    if head == "materials" and rest[:1] == ["licence"]:
        where = (materials.index(parts[1]), channels.index(rest[1]))
        return _licence_target(rest[2:], where, model.regimes)
    if head == "materials" and rest[:1] == ["feedstock"]:
        return "feedstock", (materials.index(parts[1]), materials.index(rest[1]))
    if head == "materials" and len(rest) in (1, 2):  # leakage, ..., stockpile.<key>
        return rest[-1], (materials.index(parts[1]),)
    if head == "sources" and len(rest) == 1:
        k = ix.sources[parts[1]]
        if rest[0] == "capacity_t_per_year":
            return rest[0], (k, every)
        return {"yield": "yield_frac"}.get(rest[0], rest[0]), (k,)
    if head == "programmes" and rest[:1] == ["kg_per_unit"]:
        return "kg_per_unit", (ix.programmes[parts[1]], materials.index(rest[1]))
    if head == "programmes" and len(rest) == 1:
        p = ix.programmes[parts[1]]
        return rest[0], ((p, every) if rest[0] == "units_per_year" else (p,))
    raise ValueError(f"an effect's target names nothing the reference model knows: {target}")


def _licence_target(rest: list[str], where: tuple, regimes) -> tuple[str, tuple]:
    """A licence parameter (of one material, or a slice of them) in a channel; a regime
    map without a regime means every regime."""
    key = rest[0]
    if key in _LICENCE_REGIME_MAPS:
        r = list(regimes).index(rest[1]) if len(rest) == 2 else slice(None)
        return key, (*where, r)
    return key, where


def _effect(effect: Effect, model: Model, ix: _Index) -> tuple[str, tuple, str, float]:
    """An effect as (parameter, index, op, value); op is "set", "scale" or, for a
    probability or share, "scale_to_one" (the product capped at 1)."""
    name, where = _effect_target(effect.target, model, ix)
    op = effect.op
    if op == "scale" and effect_domain(effect.target, model) in ("prob", "share"):
        op = "scale_to_one"
    return name, where, op, float(effect.value)


class _PathUniforms(NamedTuple):
    """Section 1's per-path uniforms besides the parameter keys."""

    waiver: np.ndarray  # (n,): dfars_waived
    qualified: np.ndarray  # (K, n): qualified_k, per source of the union
    made_in_china: np.ndarray  # (n,): made_in_china_waived


class _EventPlan(NamedTuple):
    """One of a scenario's events: its union index, its definition, its per-path
    parameters and its effects, resolved to (parameter, index, op, value)."""

    e: int
    event: Event
    p_extend: float | np.ndarray
    step: np.ndarray
    p_fire: float | np.ndarray
    allowed: np.ndarray | None  # (R,) bool: may it fire in each regime; None: anywhere
    effects: list[tuple[str, tuple, str, float]]


# --------------------------------------------------------------------------- one scenario
class _Scenario:
    """One scenario's per-path parameters (arrays with paths first) and its state.

    The parameters an event may change live in ``self.par``, by name, each shaped
    (n or 1, ...): an effect turns a shared (1, ...) array into a per-path copy and
    changes the rows of the paths where its event fired. What is computed from them
    (rounded lags and terms, tonnes per unit, ...) is redone by ``_derive`` after every
    month in which an effect applied.
    """

    def __init__(
        self,
        model: Model,
        value: Callable[[tuple], float | np.ndarray],
        n: int,
        u: _PathUniforms,
        ix: _Index,
        slip_thresholds: tuple[float, ...],
        n_months: int,
    ):
        self.model, self.n, self.ix = model, n, ix
        self.slip_thresholds = np.array(slip_thresholds, dtype=np.float64)  # (K,)
        self.par: dict[str, np.ndarray] = {}
        self._policy_parameters(value)
        self._licence_parameters(value, u)
        self._supply_parameters(value, u, n_months)
        self._demand_parameters(value, n_months)
        for plan in self.events:
            for name, *_ in plan.effects:
                if name not in self.par:  # pragma: no cover - config.effect_domain checks
                    raise ValueError(f"event {plan.event.name}: no parameter {name}")
        self._derive()
        self._start()

    def _sizes(self):
        m = self.model
        return (
            len(m.regimes),
            len(m.channels),
            len(m.materials),
            len(self.ix.sources),
            len(self.ix.programmes),
            self.n,
        )

    def _policy_parameters(self, value) -> None:
        """3.1-3.3: the regime chain, the events, the linkage and the rules."""
        model, n = self.model, self.n
        # 3.1 regime chain: normalised cumulative rows, so a uniform in [0, 1) never
        # falls past the last state through rounding of the row sums
        cum = np.cumsum(model.transition, axis=2)
        self.cum = cum / cum[:, :, -1:]

        # 3.2 events: the scenario's own, in its config order, by union index
        self.events = []
        for ev in model.events:
            e = self.ix.events[ev.name]
            self.events.append(
                _EventPlan(
                    e=e,
                    event=ev,
                    p_extend=value(("event", e, "p_extend")),
                    step=np.maximum(1, _round_half_up(value(("event", e, "extend_months")))),
                    p_fire=value(("event", e, "p_fire")),
                    # an empty in_regimes list (no regime named) means anywhere
                    allowed=np.array(ev.in_regimes, dtype=bool) if any(ev.in_regimes) else None,
                    effects=[_effect(x, model, self.ix) for x in ev.effects],
                )
            )

        # 3.3 linkage; section 2 rules (0 or 1, as events set them)
        self.par["p_concession"] = _stack([value(("linkage", "p_concession"))], (), n)
        self.talks = np.array(model.linkage.talks, dtype=bool)  # (R,)
        for rule in _RULES:
            self.par[rule] = np.array([float(getattr(model.rules, rule))])

    def _licence_parameters(self, value, u: _PathUniforms) -> None:
        """3.4: licences per material and channel; Origin: what the DFARS rules bar."""
        model = self.model
        R, C, M, _, _, n = self._sizes()
        self.fast = np.array([c.fast for c in model.channels], dtype=bool)  # (C,)
        self.open_mil = np.array(
            [c.open_to_military_in for c in model.channels], dtype=bool
        )  # (C, R)
        self.fast_track = np.array([m.fast_track for m in model.materials], dtype=bool)  # (M,)
        pairs = [(m, c) for m in range(M) for c in range(C)]
        for a in ("flow_t", "lag_months", "term_months"):
            self.par[a] = _stack([value(("licence", m, c, a)) for m, c in pairs], (M, C), n)
        for a in _LICENCE_REGIME_MAPS:  # (., M, C, R)
            fields = [("licence", m, c, a, r) for m, c in pairs for r in range(R)]
            self.par[a] = _stack([value(f) for f in fields], (M, C, R), n)
        live = [value(("licence", m, c, "live_at_start_months")) for m, c in pairs]
        self.live_at_start = _round_half_up(_stack(live, (M, C), n))
        self.par["leakage"] = self._mat(value, "leakage")  # (., M)

        # Chinese-origin supply of m is barred: made in China without a waiver, or
        # under the DFARS rule on dfars.materials from its month on without a waiver
        dfars = model.dfars
        self.dfars_month = NO_MONTH if dfars is None else dfars.month
        self.barred_always = np.zeros((1, M), dtype=bool)
        self.barred_from = np.zeros((1, M), dtype=bool)
        if dfars is not None:
            waived = u.waiver < value(("dfars", "p_waiver"))  # (n,)
            mic_waived = u.made_in_china < value(("dfars", "p_waiver_made_in_china"))
            applies = np.array(dfars.applies, dtype=bool)
            made_in_china = np.array(dfars.made_in_china or (False,) * M, dtype=bool)
            self.barred_from = applies[None, :] & ~waived[:, None]  # (n, M)
            self.barred_always = made_in_china[None, :] & ~mic_waived[:, None]

    def _mat(self, value, a: str) -> np.ndarray:
        M = len(self.model.materials)
        return _stack([value(("material", m, a)) for m in range(M)], (M,), self.n)

    def _supply_parameters(self, value, u: _PathUniforms, n_months: int) -> None:
        """3.6: recycling, the feedstock needs, the sources (of the union) and makers."""
        model, ix = self.model, self.ix
        _, _, M, K, _, n = self._sizes()
        self.par["recycling_t"] = self._mat(value, "recycling_t")
        fields = [("material", m, "feedstock", f) for m in range(M) for f in range(M)]
        self.par["feedstock"] = _stack([value(f) for f in fields], (M, M), n)  # (., M, M)
        self.is_feedstock = np.array([m.kind == FEEDSTOCK for m in model.materials])  # (M,)
        # two tiers: a magnet whose feedstock table has an entry (or one an event sets)
        # has makers
        set_targets = [eff.target for ev in model.events for eff in ev.effects if eff.op == "set"]
        self.maker_magnets = [
            m
            for m, mat in enumerate(model.materials)
            if mat.kind == MAGNET
            and (
                any(isinstance(v, Dist) or v != 0.0 for v in mat.feedstock)
                or any(x.startswith(f"materials.{mat.name}.feedstock.") for x in set_targets)
            )
        ]
        # each maker magnet's sources, in the scenario's config order
        self.makers = {
            m: [ix.sources[s.name] for s in model.sources if s.material == m]
            for m in self.maker_magnets
        }
        srcs: list = [None] * K  # the scenario's definition of each source of the union
        for s in model.sources:
            srcs[ix.sources[s.name]] = s
        present = np.array([s is not None for s in srcs], dtype=bool)  # (K,)
        src = lambda a: _stack(
            [value(("source", k, a)) if s is not None else 0.0 for k, s in enumerate(srcs)],
            (K,),
            n,
        )
        self.par["capacity_t_per_year"], self.src_w = _schedules(
            [s.capacity_t_per_year if s is not None else None for s in srcs],
            lambda k: ("source", k, "capacity_t_per_year"),
            value,
            n,
            n_months,
        )  # (., K, N) and (T, K, N)
        self.par["yield_frac"] = src("yield_frac")
        self.par["defence_share"] = src("defence_share")
        # a source the scenario does not have delivers nothing
        u_qualified = u.qualified.transpose()  # (n, K)
        self.qualified = (u_qualified < src("p_qualified")) & present
        start = np.array([s.start_month if s is not None else 0 for s in srcs], dtype=np.float64)
        self.src_s = start + src("slip_months") + src("qualification_months")  # (., K)
        self.src_ramp = src("ramp_months")
        self.src_material = np.array([s.material if s is not None else 0 for s in srcs], np.int64)
        self.src_to_mat = np.zeros((K, M))
        self.src_to_mat[np.arange(K), self.src_material] = present
        self.chinese = np.array([s is not None and s.chinese for s in srcs], dtype=bool)
        self.abroad = np.array([s is not None and s.abroad for s in srcs], dtype=bool)
        maker = np.isin(self.src_material, self.maker_magnets)
        self.direct_nc = present & ~maker & ~self.chinese  # (K,): non-maker, non-Chinese
        self.direct_cn = present & ~maker & self.chinese

    def _demand_parameters(self, value, n_months: int) -> None:
        """3.5-3.8: the programmes (of the union) and the stocks."""
        model, ix = self.model, self.ix
        _, _, M, _, P, n = self._sizes()
        progs: list = [None] * P  # the scenario's definition of each programme of the union
        for prog in model.programmes:
            progs[ix.programmes[prog.name]] = prog
        self.par["units_per_year"], self.prog_w = _schedules(
            [p.units_per_year if p is not None else None for p in progs],
            lambda p: ("programme", p, "units_per_year"),
            value,
            n,
            n_months,
        )  # (., P, N) and (T, P, N)
        self.par["catch_up"] = _stack(
            [
                value(("programme", p, "catch_up")) if x is not None else 0.0
                for p, x in enumerate(progs)
            ],
            (P,),
            n,
        )
        kg = [
            value(("programme", p, "kg_per_unit", m)) if x is not None else 0.0
            for p, x in enumerate(progs)
            for m in range(M)
        ]
        self.par["kg_per_unit"] = _stack(kg, (P, M), n)
        # a programme the scenario does not have is never scheduled (nor in a class)
        self.prog_start = np.array([p.start_month if p is not None else n_months for p in progs])
        self.prog_end = np.array([p.end_month if p is not None else -1 for p in progs])
        self.classes = [
            _members([p is not None and p.priority == c for p in progs]) for c in (_DX, _DO)
        ]

        # 3.7 stocks
        self.par["buffer_cap_t"] = self._mat(value, "buffer_cap_t")
        self.release_rule = np.array([m.release_rule for m in model.materials])  # (M,)
        self.release_month = np.array([m.release_month for m in model.materials])
        self.par["release_lag_months"] = self._mat(value, "release_lag_months")
        self.par["release_t_per_month"] = self._mat(value, "release_t_per_month")
        self.buffer0 = self._mat(value, "buffer_t")
        self.stockpile0 = self._mat(value, "stockpile_t")

    def _derive(self) -> None:
        """What the month's steps use that is computed from ``self.par`` (again after
        an effect changed it)."""
        par = self.par
        lag = par["lag_months"]
        self.lag_floor = np.floor(lag).astype(np.int64)
        self.lag_frac = lag - self.lag_floor
        self.term = np.maximum(1, _round_half_up(par["term_months"]))
        self.kgt = par["kg_per_unit"] / 1000.0  # t per unit
        uses = self.kgt > 0.0
        self.kgt_safe = np.where(uses, self.kgt, 1.0)
        self.unused_inf = np.where(uses, 0.0, np.inf)
        # a month's output at full ramp per t/yr of capacity: (n, K)
        self.src_scale = par["yield_frac"] * par["defence_share"] * self.qualified / 12.0

    def _start(self) -> None:
        """Section 2: the state at the start of every path."""
        model = self.model
        _, C, M, _, P, n = self._sizes()
        self.regime = np.full(n, model.initial_regime, dtype=np.int64)
        self.matrix = np.zeros(n, dtype=np.int64)  # "base" is matrix 0
        self.conceded = np.full(n, model.linkage.conceded_at_start, dtype=bool)
        # an event the scenario does not have is never pending, so never due
        E = len(self.ix.events)
        self.ev_pending = np.zeros((n, E), dtype=bool)
        self.ev_deadline = np.zeros((n, E), dtype=np.int64)
        for plan in self.events:
            self.ev_pending[:, plan.e] = True
            self.ev_deadline[:, plan.e] = plan.event.month
        self.ev_used = np.zeros((n, E), dtype=np.int64)
        live = np.broadcast_to(self.live_at_start >= 1, (n, M, C))
        self.lic_state = np.where(live, LIVE, IDLE).astype(np.int8)
        self.lic_expiry = np.broadcast_to(self.live_at_start, (n, M, C)).astype(np.int64)
        self.lic_decision = np.zeros((n, M, C), dtype=np.int64)
        self.buffer = np.broadcast_to(self.buffer0, (n, M)).copy()
        self.stockpile = np.broadcast_to(self.stockpile0, (n, M)).copy()
        self.authorised = np.zeros((n, M), dtype=bool)
        self.first_shortage = np.full((n, M), -1, dtype=np.int64)
        self.scheduled = np.zeros((n, P))
        self.built_to_date = np.zeros((n, P))
        self.required = np.zeros((n, P, M))
        self.allocated_to_date = np.zeros((n, P, M))
        self.wip = np.zeros((n, P, M))
        self.behind_ever = np.zeros((n, P), dtype=bool)
        self.exhausted_ever = np.zeros((n, M), dtype=bool)
        # 3.9: the latest positive scheduled rate; 0 stands for "none yet"
        self.rate_ref = np.zeros((n, P))
        self.slip_ever = np.zeros((n, P, len(self.slip_thresholds)), dtype=bool)
        self.peak_units_short = np.zeros((n, P))
        self.peak_slip_months = np.zeros((n, P))
        self.peak_shortfall_t = np.zeros((n, P, M))

    # ------------------------------------------------------------------ one month
    def step(self, t: int, u: _MonthDraws, tolerance: float) -> dict[str, np.ndarray]:
        """Advance every path by month t (section 3); return the month's path values.

        The values include the ever-flags of 3.9 (``behind_ever``, ``exhausted_ever``,
        ``slip_ever``) and ``in_regime`` (n, R), the indicators of section 4's
        probabilities; the flags are the scenario's state, valid until its next step.
        """
        regime = self._policy(t, u)
        live, licensed = self._licences(t, u, regime)
        need = self._demand(t)
        demand = _sum_programmes(need)  # D[m], (n, M)
        supply, made, ran_out = self._supply(t, licensed, demand)
        # 3.7 is for magnets: a feedstock goes no further than its makers (3.6.5)
        magnet_supply = np.where(self.is_feedstock, 0.0, supply)
        allocated, exhausted = self._allocate(t, magnet_supply, demand, need)
        built = self._build(allocated)
        exhausted |= ran_out  # a feedstock's stocks run out as 3.6.3 says (3.7.4)
        out = self._measures(exhausted, tolerance)
        out.update(
            exhausted=exhausted,
            need=need,
            allocated=allocated,
            built=built,
            supply=supply,
            made=made,
            regime=regime,
            in_regime=regime[:, None] == np.arange(len(self.model.regimes)),
            licence_live=live,
        )
        return out

    def _policy(self, t: int, u: _MonthDraws) -> np.ndarray:
        """3.1-3.3: the regime's step, the events and the linkage; the month's regime."""
        # 3.1 regime: one step of the path's current matrix, by inverse transform
        if t >= 1:
            cum = self.cum[self.matrix, self.regime]  # (n, R)
            self.regime = (u.regime[:, None] >= cum[:, :-1]).sum(axis=1)

        # 3.2 events, in the scenario's config order
        changed = False
        for plan in self.events:
            e, ev = plan.e, plan.event
            due = self.ev_pending[:, e] & (self.ev_deadline[:, e] == t)
            extended = (
                due & (self.ev_used[:, e] < ev.max_extensions) & (u.extend[e] < plan.p_extend)
            )
            self.ev_deadline[:, e] += np.where(extended, plan.step, 0)
            self.ev_used[:, e] += extended
            done = due & ~extended
            self.ev_pending[:, e] &= ~done
            fired = done & (u.fire[e] < plan.p_fire)
            if plan.allowed is not None:  # the regime at this point of the month
                fired &= plan.allowed[self.regime]
            if ev.jump_to >= 0:
                self.regime[fired] = ev.jump_to
            if ev.matrix >= 0:
                self.matrix[fired] = ev.matrix
            if plan.effects and fired.any():
                self._apply(plan.effects, fired)
                changed = True
        if changed:
            self._derive()
        regime = self.regime

        # 3.3 linkage: a concession is permanent
        self.conceded |= self.talks[regime] & (u.concession < self.par["p_concession"])
        return regime

    def _apply(self, effects: list, fired: np.ndarray) -> None:
        """3.2: an event's effects on the paths where it fired, from this month on."""
        for name, where, op, v in effects:
            arr = self.par[name]
            if arr.shape[0] != self.n:  # one value for every path so far: now per path
                arr = self.par[name] = np.repeat(arr, self.n, axis=0)
            if op == "set":
                arr[(fired, *where)] = v
            elif op == "scale":
                arr[(fired, *where)] *= v
            else:
                arr[(fired, *where)] = np.minimum(arr[(fired, *where)] * v, 1.0)

    def _licences(self, t: int, u: _MonthDraws, regime: np.ndarray):
        """3.4: every licence's state; which are live, and their Chinese-origin flows
        (n, M) before the DFARS rules (which 3.6 applies)."""
        model, par = self.model, self.par
        # 3.4 licences, all (material, channel) pairs at once: (n, M, C)
        state = self.lic_state
        state[(state == LIVE) & (self.lic_expiry <= t)] = IDLE
        state[(state == LIVE) & (u.revoke < _by_regime(par["p_revoke"], regime))] = IDLE
        decided = (state == PENDING) & (self.lic_decision <= t)
        p_approve = np.where(
            self.conceded[:, None, None],
            _by_regime(par["p_approve_concession"], regime),
            _by_regime(par["p_approve"], regime),
        )
        approved = decided & (u.approve < p_approve)
        state[approved] = LIVE
        self.lic_expiry = np.where(approved, t + self.term, self.lic_expiry)
        state[decided & ~approved] = IDLE
        idle = state == IDLE
        lag = np.maximum(1, self.lag_floor + (u.lag < self.lag_frac))
        state[idle] = PENDING
        self.lic_decision = np.where(idle, t + lag, self.lic_decision)
        live = state == LIVE

        is_open = (
            ~self.fast[None, None, :]
            | self.fast_track[None, :, None]
            | self.open_mil[:, regime].T[:, None, :]
        )
        if model.linkage.opens_fast_track:
            is_open = is_open | self.conceded[:, None, None]
        open_share = np.where(is_open, 1.0, par["leakage"][:, :, None])
        return live, (live * par["flow_t"] * open_share).sum(axis=2)

    def _demand(self, t: int) -> np.ndarray:
        """3.5: each programme's request of each material (n, P, M)."""
        units_per_year = np.einsum("xpn,pn->xp", self.par["units_per_year"], self.prog_w[t])
        rate = units_per_year / 12.0  # (., P): the schedule's value in month t
        scheduled_now = (self.prog_start <= t) & (t <= self.prog_end)  # (P,)
        rate_now = rate * scheduled_now
        self.scheduled = self.scheduled + rate_now
        self.rate_ref = np.where(rate_now > RATE_FLOOR, rate_now, self.rate_ref)  # (n, P), 3.9
        self.required = self.required + rate_now[:, :, None] * self.kgt
        max_want = rate * (1.0 + self.par["catch_up"])
        self.want = np.maximum(0.0, np.minimum(self.scheduled - self.built_to_date, max_want))
        return np.maximum(0.0, self.want[:, :, None] * self.kgt - self.wip)  # (n, P, M)

    def _output(self, t: int, barred: np.ndarray) -> np.ndarray:
        """3.6: what each source can deliver this month, ``out_k`` (n, K); nothing from
        a Chinese-origin source of a barred material."""
        capacity = np.einsum("xkn,kn->xk", self.par["capacity_t_per_year"], self.src_w[t])
        s = self.src_s
        ramp_months = self.src_ramp
        with np.errstate(over="ignore"):  # a ramp of a tiny fraction of a month: full at once
            ramp = np.where(
                ramp_months > 0.0,
                np.minimum(1.0, (t - s + 1.0) / np.where(ramp_months > 0.0, ramp_months, 1.0)),
                1.0,
            )
        ramp = np.where(t < s, 0.0, ramp)
        out = capacity * self.src_scale * ramp  # (n, K)
        return np.where(self.chinese & barred[:, self.src_material], 0.0, out)

    def _supply(self, t: int, licensed: np.ndarray, demand: np.ndarray):
        """3.6: the month's supply of each material (n, M) (direct supply for a
        feedstock), what the makers made of each magnet (n, M), and which feedstocks
        ran out (n, M)."""
        # Origin: Chinese-origin supply of a barred material does not count
        barred = self.barred_always | (self.barred_from & (t >= self.dfars_month))  # (., M)
        out = self._output(t, barred)
        # 3.6.1-2: direct supply = the non-Chinese pool NC + the Chinese-origin pool CN
        nc = self.par["recycling_t"] + (out * self.direct_nc) @ self.src_to_mat
        cn = np.where(barred, 0.0, licensed) + (out * self.direct_cn) @ self.src_to_mat
        direct = nc + cn
        made = np.zeros_like(direct)
        ran_out = np.zeros(direct.shape, dtype=bool)
        if self.maker_magnets:
            made, ran_out, nc = self._makers(demand, direct, cn, nc, out)
        if self.is_feedstock.any():  # 3.6.4: the makers' inventory keeps what NC has left
            kept = np.maximum(self.buffer, np.minimum(self.par["buffer_cap_t"], self.buffer + nc))
            self.buffer = np.where(self.is_feedstock, kept, self.buffer)
        return direct + made, made, ran_out

    def _makers(self, demand, direct, cn, nc, out):
        """3.6.3: every maker magnet's makers produce to order, in config order, out of
        the feedstock pools and the makers' inventory (``self.buffer`` of a feedstock,
        drawn down here); returns what was made, the feedstocks that ran out and what is
        left of NC."""
        par, buffer = self.par, self.buffer
        cn, nc = cn.copy(), nc.copy()
        made = np.zeros_like(direct)
        ran_out = np.zeros(direct.shape, dtype=bool)
        cn_allowed = par["military_end_use"] <= 0.5  # (.,)
        extraterritorial = par["extraterritorial"] > 0.5
        for m in self.maker_magnets:
            refill = np.maximum(0.0, par["buffer_cap_t"][:, m] - buffer[:, m])
            order = np.maximum(0.0, demand[:, m] + refill - direct[:, m])  # Q, (n,)
            a = par["feedstock"][:, m, :]  # (., M): t of each feedstock per t of magnet
            uses = a > 0.0
            a_safe = np.where(uses, a, 1.0)
            for k in self.makers[m]:
                ok = (cn_allowed & ~(extraterritorial & self.abroad[k]))[:, None]  # ok_k
                want = np.minimum(order, out[:, k])
                cn_k = np.where(ok, cn, 0.0)
                avail = cn_k + nc + buffer  # avail_k(f), (n, M)
                x = np.minimum(want, np.where(uses, avail / a_safe, np.inf).min(axis=1))
                ran_out |= uses & ((want[:, None] - avail / a_safe) * a > EXHAUSTED_T)
                take = x[:, None] * a  # first CN (if ok_k), then NC, then the inventory
                from_cn = np.minimum(cn_k, take)
                from_nc = np.minimum(nc, take - from_cn)
                cn -= from_cn
                nc -= from_nc
                buffer -= np.minimum(buffer, take - from_cn - from_nc)
                order = order - x
                made[:, m] += x
        return made, ran_out, nc

    def _allocate(self, t: int, supply: np.ndarray, D: np.ndarray, need: np.ndarray):
        """3.7: stocks and the DPAS allocation; what each programme gets, and which
        materials' stocks are exhausted. A feedstock comes with S = D = 0, which leaves
        its stocks alone."""
        # 3.7 allocation and stocks, all materials at once: (n, M)
        par = self.par
        surplus = supply >= D
        buffer_topped = np.maximum(
            self.buffer, np.minimum(par["buffer_cap_t"], self.buffer + supply - D)
        )
        deficit = np.where(surplus, 0.0, D - supply)
        from_buffer = np.minimum(self.buffer, deficit)
        gap = deficit - from_buffer
        shortage = gap > 0.0
        self.first_shortage = np.where(shortage & (self.first_shortage < 0), t, self.first_shortage)
        # authorisation is only ever acted on in a shortage month, and its conditions
        # only become true with time, so checking it then is the spec's "from then on"
        authorise = (
            (self.release_rule == _ON_SHORTFALL)
            & (self.first_shortage >= 0)
            & (t >= self.first_shortage + par["release_lag_months"])
        ) | ((self.release_rule == _FROM_DATE) & (t >= self.release_month))
        self.authorised |= shortage & authorise
        from_stockpile = np.where(
            shortage & self.authorised,
            np.minimum(np.minimum(self.stockpile, par["release_t_per_month"]), gap),
            0.0,
        )
        self.buffer = np.where(surplus, buffer_topped, self.buffer - from_buffer)
        self.stockpile = self.stockpile - from_stockpile
        available = np.where(surplus, D, supply + from_buffer + from_stockpile)

        allocated = np.zeros_like(need)
        remaining = available
        for members in self.classes:  # DX, then DO
            if members is None:
                continue
            request = need[:, members, :]
            total = _sum_programmes(request)  # (n, M)
            # with supply >= demand every request fits in exact arithmetic; saying so
            # keeps the class-by-class subtraction from missing that by an ulp
            fits = surplus | (total <= remaining)
            # (divided only where the request does not fit, so total > remaining >= 0: a
            # tiny total where it fits would overflow the unused quotient)
            share = np.where(fits, 1.0, remaining / np.where(fits, 1.0, total))
            allocated[:, members, :] = request * share[:, None, :]
            remaining = np.where(fits, remaining - total, 0.0)
        # 3.7.4 stocks ran out: a gap is left after the buffer and any release
        exhausted = gap - from_stockpile > EXHAUSTED_T
        return allocated, exhausted

    def _build(self, allocated: np.ndarray) -> np.ndarray:
        """3.8: the units each programme builds (n, P); kits and totals to date."""
        # 3.8 build (Leontief: the scarcest material kit limits the units)
        # units each material's kit allows; +inf for materials the programme does not use
        kits = (self.wip + allocated) / self.kgt_safe + self.unused_inf
        built = self.want
        for m in range(kits.shape[2]):  # a loop of minimums: .min(axis=2) is 3x slower here
            built = np.minimum(built, kits[:, :, m])
        self.wip = self.wip + allocated - built[:, :, None] * self.kgt
        self.built_to_date = self.built_to_date + built
        self.allocated_to_date += allocated
        return built

    def _measures(self, exhausted: np.ndarray, tolerance: float) -> dict:
        """3.9: the recorded values of the month and the flags and peaks so far."""
        units_short = np.maximum(0.0, self.scheduled - self.built_to_date)
        self.behind_ever |= units_short > tolerance
        # slip in months of output at the latest scheduled rate; 0 before the schedule
        # starts (rate_ref and scheduled-to-date are then 0, and so is units_short)
        has_ref = self.rate_ref > 0.0
        slip_months = np.where(has_ref, units_short / np.where(has_ref, self.rate_ref, 1.0), 0.0)
        started = self.scheduled > 0.0
        share_missed = np.where(started, units_short / np.where(started, self.scheduled, 1.0), 0.0)
        self.slip_ever |= slip_months[:, :, None] > self.slip_thresholds + SLIP_TOLERANCE
        shortfall_t = np.maximum(0.0, self.required - self.allocated_to_date)
        self.exhausted_ever |= exhausted
        np.maximum(self.peak_units_short, units_short, out=self.peak_units_short)
        np.maximum(self.peak_slip_months, slip_months, out=self.peak_slip_months)
        np.maximum(self.peak_shortfall_t, shortfall_t, out=self.peak_shortfall_t)
        return {
            "units_short": units_short,
            "slip_months": slip_months,
            "share_missed": share_missed,
            "shortfall_t": shortfall_t,
            "buffer": self.buffer,
            "stockpile": self.stockpile,
            "behind_ever": self.behind_ever,
            "exhausted_ever": self.exhausted_ever,
            "slip_ever": self.slip_ever,
        }


# --------------------------------------------------------------------------- draws
@dataclass
class _MonthDraws:
    """One month's uniforms, shared by all scenarios; path axis first except per-event rows."""

    regime: np.ndarray  # (n,)
    extend: np.ndarray  # (E, n)
    fire: np.ndarray  # (E, n)
    concession: np.ndarray  # (n,)
    revoke: np.ndarray  # (n, M, C)
    approve: np.ndarray  # (n, M, C)
    lag: np.ndarray  # (n, M, C)

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, E: int, M: int, C: int) -> _MonthDraws:
        u = rng.random((2 + 2 * E + 3 * M * C, n))
        mc = u[2 + 2 * E :].reshape(3, M, C, n).transpose(0, 3, 1, 2)
        return cls(
            regime=u[0],
            concession=u[1],
            extend=u[2 : 2 + E],
            fire=u[2 + E : 2 + 2 * E],
            revoke=mc[0],
            approve=mc[1],
            lag=mc[2],
        )


# --------------------------------------------------------------------------- entry point
def _scenarios(config: Config, param_keys: str, rng, n: int) -> list[_Scenario]:
    """Section 1: every path's own draws, made before the first month, shared by all
    scenarios."""
    ix = _Index.of(config)
    draws = _ParamDraws(config, param_keys, lambda k: rng.random((k, n)))
    u_waiver = rng.random(n)
    u_qualified = rng.random((len(ix.sources), n))
    u = _PathUniforms(waiver=u_waiver, qualified=u_qualified, made_in_china=rng.random(n))
    thresholds = tuple(config.slip_thresholds)
    T = config.base.n_months
    return [
        _Scenario(sc.model, (lambda f, s=s: draws.value(s, f)), n, u, ix, thresholds, T)
        for s, sc in enumerate(config.scenarios)
    ]


def _recording(S, n, P, M, C, T) -> dict[str, np.ndarray]:
    """Per-path, per-month arrays for ``record=True`` (month last)."""
    shapes = {
        "units_short": (P,),
        "slip_months": (P,),
        "share_missed": (P,),
        "shortfall_t": (P, M),
        "need": (P, M),
        "allocated": (P, M),
        "built": (P,),
        "buffer": (M,),
        "stockpile": (M,),
        "supply": (M,),
        "made": (M,),
        "exhausted": (M,),
        "regime": (),
        "licence_live": (M, C),
    }
    dtypes = {"regime": np.int64, "licence_live": bool, "exhausted": bool}
    return {
        k: np.zeros((S, n, *shp, T), dtype=dtypes.get(k, np.float64)) for k, shp in shapes.items()
    }


def _se_name(mean: str) -> str:
    """The standard error's name of a mean: ``units_short_mean`` -> ``units_short_se``."""
    return mean.removesuffix("_mean") + "_se"


def _statistics(S: int, P: int, M: int, R: int, K: int, T: int) -> dict[str, np.ndarray]:
    """Zeroed section-4 statistics, (S, ..., T): every mean with its standard error,
    every probability, and the paired standard error ``delta_X_se`` of each."""
    shapes = dict(units_short_mean=(P,), shortfall_t_mean=(P, M), slip_months_mean=(P,),
                  share_missed_mean=(P,), p_shortfall=(P,), p_stock_exhausted=(M,),
                  p_regime=(R,), p_slip=(P, K))  # fmt: skip
    assert set(shapes) == set(MEANS) | set(PROBABILITIES)
    stats = {}
    for name, shape in shapes.items():
        stats[name] = np.zeros((S, *shape, T))
        if name in MEANS:
            stats[_se_name(name)] = np.zeros((S, *shape, T))
        stats[f"delta_{name}_se"] = np.zeros((S, *shape, T))
    return stats


def _mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over paths (axis 0) and its standard error, sample sd / sqrt(n) (0 for one
    path); two passes like ``np.std``, with einsum (twice as fast on this layout)."""
    n = x.shape[0]
    flat = x.reshape(n, -1)
    mean = np.einsum("ni->i", flat) / n
    dev = flat - mean
    var = np.einsum("ni,ni->i", dev, dev) / max(n - 1, 1)
    return mean.reshape(x.shape[1:]), (np.sqrt(var) / np.sqrt(n)).reshape(x.shape[1:])


def _record_month(stats: dict, s: int, t: int, out: dict, n: int) -> None:
    """Scenario s's statistics of month t, over paths."""
    for name, key in MEANS.items():
        stats[name][s, ..., t], stats[_se_name(name)][s, ..., t] = _mean_se(out[key])
    for name, key in PROBABILITIES.items():
        stats[name][s, ..., t] = np.count_nonzero(out[key], axis=0) / n


def _record_deltas(stats: dict, t: int, outs: list[dict], n: int) -> None:
    """Section 4's paired standard errors of month t, from the per-path differences
    ``d_i = x_i[s] - x_i[0]`` (the base's stay 0)."""
    base = outs[0]
    for s in range(1, len(outs)):
        out = outs[s]
        for name, key in MEANS.items():
            stats[f"delta_{name}_se"][s, ..., t] = _mean_se(out[key] - base[key])[1]
        for name, key in PROBABILITIES.items():
            x, x0 = out[key], base[key]
            up = np.count_nonzero(x & ~x0, axis=0)  # d_i = 1
            down = np.count_nonzero(x0 & ~x, axis=0)  # d_i = -1
            var = (up + down) / n - ((up - down) / n) ** 2  # mean(d^2) - mean(d)^2
            stats[f"delta_{name}_se"][s, ..., t] = np.sqrt(np.maximum(0.0, var) / n)


def _deltas(stats: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``delta_X = X[s] - X[0]`` with its paired standard error, for every X (the
    standard errors are moved out of ``stats``)."""
    return {
        name: (stats[name] - stats[name][:1], stats.pop(f"delta_{name}_se"))
        for name in (*MEANS, *PROBABILITIES)
    }


def simulate_reference(
    config: Config, n_paths: int, seed: int, *, record: bool = False, param_keys: str = "config"
) -> ReferenceResult:
    """Simulate every scenario of ``config`` with the NumPy reference model.

    Implements ``docs/model.md`` section by section. All scenarios are stepped together,
    month by month, on the same uniform variates (common random numbers).

    Parameters
    ----------
    config : Config
        A config from :func:`reriskmc.config.load_config`.
    n_paths : int
        Number of paths (>= 1).
    seed : int
        Seed of ``numpy.random.default_rng``; the result is a pure function of
        (config, n_paths, seed, param_keys).
    record : bool, optional
        Also return per-path, per-month arrays in ``result.paths`` (month last):
        ``units_short``, ``slip_months`` and ``share_missed`` (S, n, P, T) of 3.9,
        ``shortfall_t`` (S, n, P, M, T), ``need`` and ``allocated`` (S, n, P, M, T) in
        tonnes, ``built`` (S, n, P, T) units built in the month, ``buffer`` and
        ``stockpile`` (S, n, M, T) at the end of the month (a feedstock's buffer is the
        makers' inventory), ``supply`` (S, n, M, T): a magnet's supply S of 3.6.5, a
        feedstock's direct supply (3.6.1, what reached its pools), ``made`` (S, n, M, T)
        what a magnet's makers made (3.6.3), ``exhausted`` (S, n, M, T) bool: stocks
        ran out this month (3.7.4; a feedstock's, 3.6.3), ``regime`` (S, n, T) int64 and
        ``licence_live`` (S, n, M, C, T) bool (live after 3.4, i.e. delivering).
        Programmes are the union over the scenarios (see ``programme_in_scenario``).
        Memory grows with n_paths * n_months; use it on small runs only.
    param_keys : {"config", "field"}, optional
        Which parameters share a uniform: see the module docstring.

    Returns
    -------
    ReferenceResult
    """
    if n_paths < 1:
        raise ValueError(f"n_paths must be >= 1, got {n_paths}")
    n = int(n_paths)
    base = config.base
    S = len(config.scenarios)
    R, C, M = len(base.regimes), len(base.channels), len(base.materials)
    P, E = len(config.entries("programmes")), len(config.entries("events"))
    T = base.n_months
    tol = config.behind_tolerance_units
    rng = np.random.default_rng(seed)

    scenarios = _scenarios(config, param_keys, rng, n)

    stats = _statistics(S, P, M, R, len(config.slip_thresholds), T)
    paths = _recording(S, n, P, M, C, T) if record else None
    for t in range(T):
        u = _MonthDraws.draw(rng, n, E, M, C)
        outs = [sc.step(t, u, tol) for sc in scenarios]
        for s, out in enumerate(outs):
            _record_month(stats, s, t, out, n)
            if record:
                for k, arr in paths.items():
                    arr[s, ..., t] = out[k]
        _record_deltas(stats, t, outs, n)
    return _result(config, n, scenarios, stats, paths)


def _result(config: Config, n: int, scenarios: list, stats: dict, paths) -> ReferenceResult:
    """The run's :class:`ReferenceResult`, from the scenarios' final state and the
    statistics (whose paired standard errors become ``deltas``)."""
    base = config.base
    deltas = _deltas(stats)
    return ReferenceResult(
        scenarios=config.scenario_names,
        programmes=tuple(p.name for p in config.entries("programmes")),
        materials=tuple(m.name for m in base.materials),
        regimes=tuple(base.regimes),
        channels=tuple(c.name for c in base.channels),
        n_paths=n,
        n_months=base.n_months,
        months=base.months,
        behind_tolerance_units=config.behind_tolerance_units,
        slip_thresholds=tuple(config.slip_thresholds),
        **stats,
        peak_units_short=np.stack([sc.peak_units_short for sc in scenarios]),
        peak_slip_months=np.stack([sc.peak_slip_months for sc in scenarios]),
        peak_shortfall_t=np.stack([sc.peak_shortfall_t for sc in scenarios]),
        programme_in_scenario=np.asarray(config.present("programmes"), dtype=bool),
        paths=paths,
        deltas=deltas,
    )
