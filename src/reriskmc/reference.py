"""The NumPy reference model: test oracle and benchmark peer of the compiled kernel.

This module implements ``docs/model.md`` literally, from the specification alone, in
plain vectorised NumPy: arrays have the paths first (``(n_paths, ...)``), the months are
a Python loop, and every scenario of the config is stepped inside that loop on the same
uniform variates (common random numbers). It draws its own random numbers with
``numpy.random.default_rng(seed)``, so it agrees with the kernel in distribution, not
path by path.

Random numbers
--------------
Every random decision draws one uniform per path, and all scenarios use the same
uniform for the same decision:

- once per path: one per distribution-valued parameter *key* (see below), one for the
  DFARS waiver, one per non-Chinese source for its qualification;
- every month: one for the regime step, per event one for the extension and one for
  firing, one for the concession, per (material, channel) one each for revocation,
  approval and the stochastic rounding of the decision lag.

A parameter key is, by default (``param_keys="config"``), the place in the TOML file
where the value is written: ``channels.military.lag_months`` is one key even though
three materials' military licences use it, and a value that defaults to another
(``buffer_cap_t`` to ``buffer_t``, ``p_approve_concession`` to ``p_approve``) shares that
value's key, so it is the same draw. ``param_keys="field"`` gives every resolved model
field its own key instead (independent draws for each material's licence, for the cap
and the initial buffer, ...).

Readings of the specification
-----------------------------
Where ``docs/model.md`` leaves room, this model takes the most literal reading:

- 3.4: the steps are followed as written, so a licence with lag L, approval
  probability 1 and term T is decided every L + T months (live in months L, 2L + T, ...);
  "decided every L months" in the spec's remark holds for rejected licences.
- 3.7.1: "a buffer above its cap is not reduced" is
  ``buffer = max(buffer, min(cap, buffer + S - D))``.
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
  regime uniform it does not use.
- 3.9: ``rate_ref`` is the month's ``rate`` wherever that is > 0 and keeps its value
  otherwise; ``slip_months`` and ``share_missed`` are 0 while ``rate_ref`` (equivalently
  scheduled-to-date) is still 0. A slip passes a threshold when it exceeds it by more
  than 1e-9 months, as the spec says: a slip that is a whole number of months in exact
  arithmetic (nothing built at all) lands an ulp either side of it when the rate is not
  a binary fraction.
- 4: ``delta_X`` is ``X[s] - X[0]`` of the reported statistics (so it equals the
  difference of the statistics exactly); its standard error uses the per-path
  differences of the same month. For a probability the variance
  ``mean(d^2) - mean(d)^2`` is computed from the counts of d = +1 and d = -1 and is
  never negative. A mean's sample standard deviation uses ``ddof=1`` (0 for one path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import Config, Model, Param
from .distributions import Dist
from .kernels.layout import IDLE, LIVE, PENDING, PRIORITIES, RELEASE_RULES

#: stocks have run out when a gap of more than this many tonnes remains after them (3.7.4)
EXHAUSTED_T = 1e-9
#: a slip passes a threshold only when it exceeds it by more than this (3.9)
SLIP_TOLERANCE = 1e-9

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


# --------------------------------------------------------------------------- result
@dataclass
class ReferenceResult:
    """Statistics of a reference run, per scenario.

    Attributes
    ----------
    scenarios, programmes, materials, regimes, channels : tuple of str
        Names along the S, P, M, R and C axes.
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
        Share of paths whose stocks of the material ran out at least once by month t.
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
def _model_params(model: Model) -> dict[tuple, Param]:
    """Every scalar parameter of a model, by field id (a tuple of names and indices)."""
    out: dict[tuple, Param] = {}
    for e, ev in enumerate(model.events):
        for a in ("p_extend", "extend_months", "p_fire"):
            out[("event", e, a)] = getattr(ev, a)
    out[("linkage", "p_concession")] = model.linkage.p_concession
    if model.dfars is not None:
        out[("dfars", "p_waiver")] = model.dfars.p_waiver
    for m, mat in enumerate(model.materials):
        for a in (*_MATERIAL_SCALARS, *_STOCKPILE_SCALARS):
            out[("material", m, a)] = getattr(mat, a)
        for c, lic in enumerate(mat.licences):
            for a in _LICENCE_SCALARS:
                out[("licence", m, c, a)] = getattr(lic, a)
            for a in _LICENCE_REGIME_MAPS:
                for r, v in enumerate(getattr(lic, a)):
                    out[("licence", m, c, a, r)] = v
    for k, src in enumerate(model.sources):
        for a in _SOURCE_SCALARS:
            out[("source", k, a)] = getattr(src, a)
    for p, prog in enumerate(model.programmes):
        out[("programme", p, "units_per_year")] = prog.units_per_year
        out[("programme", p, "catch_up")] = prog.catch_up
        for m, v in enumerate(prog.kg_per_unit):
            out[("programme", p, "kg_per_unit", m)] = v
    return out


def _field_key(f: tuple) -> str:
    """A unique key per resolved model field (``param_keys="field"``): its id spelt out.

    Field ids use indices, which are the same in every scenario (a scenario may not
    add or remove named entries), so the key is shared across scenarios as required.
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
    if param_keys == "field":
        return [{f: _field_key(f) for f in _model_params(sc.model)} for sc in config.scenarios]
    if param_keys != "config":
        raise ValueError(f"param_keys must be 'config' or 'field', got {param_keys!r}")
    # a distribution knows the config key it was written at (Dist.key); a value that
    # defaults to another (buffer_cap_t to buffer_t, p_approve_concession to p_approve)
    # is that value, so it shares its key and its draw
    return [
        {f: (v.key if isinstance(v, Dist) else None) for f, v in _model_params(sc.model).items()}
        for sc in config.scenarios
    ]


class _ParamDraws:
    """Per-path values of the scalar parameters, one uniform per key for all scenarios."""

    def __init__(self, config: Config, param_keys: str, u_of_key: Callable[[int], np.ndarray]):
        self.params = [_model_params(sc.model) for sc in config.scenarios]
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


# --------------------------------------------------------------------------- one scenario
class _Scenario:
    """One scenario's per-path parameters (arrays with paths first) and its state."""

    def __init__(
        self,
        model: Model,
        value: Callable[[tuple], float | np.ndarray],
        n: int,
        u_waiver: np.ndarray,
        u_qualified: np.ndarray,
        slip_thresholds: tuple[float, ...] = (),
    ):
        self.model = model
        self.n = n
        self.slip_thresholds = np.array(slip_thresholds, dtype=np.float64)  # (K,)
        self._policy_parameters(value)
        self._licence_parameters(value, u_waiver)
        self._supply_parameters(value, u_qualified)
        self._demand_parameters(value)
        self._start()

    def _sizes(self):
        m = self.model
        return (
            len(m.regimes),
            len(m.channels),
            len(m.materials),
            len(m.sources),
            len(m.programmes),
            self.n,
        )

    def _policy_parameters(self, value) -> None:
        """3.1-3.3: the regime chain, the events and the linkage."""
        model = self.model
        # 3.1 regime chain: normalised cumulative rows, so a uniform in [0, 1) never
        # falls past the last state through rounding of the row sums
        cum = np.cumsum(model.transition, axis=2)
        self.cum = cum / cum[:, :, -1:]

        # 3.2 events
        self.ev_p_extend = [value(("event", e, "p_extend")) for e in range(len(model.events))]
        self.ev_p_fire = [value(("event", e, "p_fire")) for e in range(len(model.events))]
        self.ev_step = [
            np.maximum(1, _round_half_up(value(("event", e, "extend_months"))))
            for e in range(len(model.events))
        ]

        # 3.3 linkage
        self.p_concession = value(("linkage", "p_concession"))
        self.talks = np.array(model.linkage.talks, dtype=bool)  # (R,)

    def _licence_parameters(self, value, u_waiver) -> None:
        """3.4: licences per material and channel, and the DFARS rule."""
        model = self.model
        R, C, M, _, _, n = self._sizes()
        # 3.4 licences and DFARS
        self.fast = np.array([c.fast for c in model.channels], dtype=bool)  # (C,)
        self.open_mil = np.array(
            [c.open_to_military_in for c in model.channels], dtype=bool
        )  # (C, R)
        self.fast_track = np.array([m.fast_track for m in model.materials], dtype=bool)  # (M,)
        lic = lambda a: _stack(
            [value(("licence", m, c, a)) for m in range(M) for c in range(C)], (M, C), n
        )
        lic_r = lambda a: _stack(
            [value(("licence", m, c, a, r)) for m in range(M) for c in range(C) for r in range(R)],
            (M, C, R),
            n,
        )
        self.flow = lic("flow_t")  # (., M, C)
        lag = lic("lag_months")
        self.lag_floor = np.floor(lag).astype(np.int64)
        self.lag_frac = lag - self.lag_floor
        self.term = np.maximum(1, _round_half_up(lic("term_months")))
        self.live_at_start = _round_half_up(lic("live_at_start_months"))
        self.p_approve = lic_r("p_approve")  # (., M, C, R)
        self.p_approve_concession = lic_r("p_approve_concession")
        self.p_revoke = lic_r("p_revoke")
        self.leakage = self._mat(value, "leakage")  # (., M)
        if model.dfars is None:
            self.dfars_month = None
        else:
            self.dfars_month = model.dfars.month
            waived = u_waiver < value(("dfars", "p_waiver"))  # (n,)
            # (n, M): DFARS bars licensed Chinese flow of m from dfars_month on
            self.dfars_barred = (
                np.array(model.dfars.applies, dtype=bool)[None, :] & ~waived[:, None]
            )

    def _mat(self, value, a: str) -> np.ndarray:
        return _stack(
            [value(("material", m, a)) for m in range(len(self.model.materials))],
            (len(self.model.materials),),
            self.n,
        )

    def _supply_parameters(self, value, u_qualified) -> None:
        """3.5: recycling and the non-Chinese sources."""
        model = self.model
        _, _, M, K, _, n = self._sizes()
        # 3.5 supply
        self.recycling = self._mat(value, "recycling_t")
        src = lambda a: _stack([value(("source", k, a)) for k in range(K)], (K,), n)
        qualified = (
            np.stack(
                [u_qualified[k] < value(("source", k, "p_qualified")) for k in range(K)], axis=1
            )
            if K
            else np.zeros((n, 0), bool)
        )
        self.src_full = (
            src("capacity_t_per_year") / 12.0 * src("yield_frac") * src("defence_share") * qualified
        )  # (n, K): output at full ramp
        start = np.array([s.start_month for s in model.sources], dtype=np.float64)
        self.src_s = start + src("slip_months") + src("qualification_months")  # (., K)
        self.src_ramp = src("ramp_months")
        self.src_to_mat = np.zeros((K, M))
        for k, s in enumerate(model.sources):
            self.src_to_mat[k, s.material] = 1.0

    def _demand_parameters(self, value) -> None:
        """3.6-3.8: programmes and stocks."""
        model = self.model
        _, _, M, _, P, n = self._sizes()
        mat = lambda a: self._mat(value, a)
        # 3.6 demand and 3.8 build
        prog = lambda a: _stack([value(("programme", p, a)) for p in range(P)], (P,), n)
        self.rate = prog("units_per_year") / 12.0  # (., P)
        self.max_want = self.rate * (1.0 + prog("catch_up"))
        self.kgt = (
            _stack(
                [value(("programme", p, "kg_per_unit", m)) for p in range(P) for m in range(M)],
                (P, M),
                n,
            )
            / 1000.0
        )  # t per unit
        uses = self.kgt > 0.0
        self.kgt_safe = np.where(uses, self.kgt, 1.0)
        self.unused_inf = np.where(uses, 0.0, np.inf)
        self.prog_start = np.array([p.start_month for p in model.programmes])
        self.prog_end = np.array([p.end_month for p in model.programmes])
        self.classes = [_members([p.priority == c for p in model.programmes]) for c in (_DX, _DO)]

        # 3.7 stocks
        self.buffer_cap = mat("buffer_cap_t")
        self.release_rule = np.array([m.release_rule for m in model.materials])  # (M,)
        self.release_month = np.array([m.release_month for m in model.materials])
        self.release_lag = mat("release_lag_months")
        self.release_rate = mat("release_t_per_month")
        self.buffer0 = mat("buffer_t")
        self.stockpile0 = mat("stockpile_t")

    def _start(self) -> None:
        """Section 2: the state at the start of every path."""
        model = self.model
        _, C, M, _, P, n = self._sizes()
        # ---- state at the start of a path (section 2)
        self.regime = np.full(n, model.initial_regime, dtype=np.int64)
        self.matrix = np.zeros(n, dtype=np.int64)  # "base" is matrix 0
        self.conceded = np.full(n, model.linkage.conceded_at_start, dtype=bool)
        E = len(model.events)
        self.ev_pending = np.ones((n, E), dtype=bool)
        self.ev_deadline = np.tile(
            np.array([e.month for e in model.events], dtype=np.int64), (n, 1)
        )
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
        live, chinese = self._licences(t, u, regime)
        supply = self._supply(t, chinese)
        need = self._demand(t)
        allocated, exhausted = self._allocate(t, supply, need)
        built = self._build(allocated)
        out = self._measures(exhausted, tolerance)
        out.update(
            need=need,
            allocated=allocated,
            built=built,
            supply=supply,
            regime=regime,
            in_regime=regime[:, None] == np.arange(len(self.model.regimes)),
            licence_live=live,
        )
        return out

    def _policy(self, t: int, u: _MonthDraws) -> np.ndarray:
        """3.1-3.3: the regime's step, the events and the linkage; the month's regime."""
        model = self.model

        # 3.1 regime: one step of the path's current matrix, by inverse transform
        if t >= 1:
            cum = self.cum[self.matrix, self.regime]  # (n, R)
            self.regime = (u.regime[:, None] >= cum[:, :-1]).sum(axis=1)

        # 3.2 events, in config order
        for e, ev in enumerate(model.events):
            due = self.ev_pending[:, e] & (self.ev_deadline[:, e] == t)
            extended = (
                due & (self.ev_used[:, e] < ev.max_extensions) & (u.extend[e] < self.ev_p_extend[e])
            )
            self.ev_deadline[:, e] += np.where(extended, self.ev_step[e], 0)
            self.ev_used[:, e] += extended
            done = due & ~extended
            self.ev_pending[:, e] &= ~done
            fired = done & (u.fire[e] < self.ev_p_fire[e])
            if ev.jump_to >= 0:
                self.regime[fired] = ev.jump_to
            if ev.matrix >= 0:
                self.matrix[fired] = ev.matrix
        regime = self.regime

        # 3.3 linkage: a concession is permanent
        self.conceded |= self.talks[regime] & (u.concession < self.p_concession)
        return regime

    def _licences(self, t: int, u: _MonthDraws, regime: np.ndarray):
        """3.4: every licence's state; which are live, and the Chinese flows (n, M)."""
        model = self.model
        # 3.4 licences, all (material, channel) pairs at once: (n, M, C)
        state = self.lic_state
        state[(state == LIVE) & (self.lic_expiry <= t)] = IDLE
        state[(state == LIVE) & (u.revoke < _by_regime(self.p_revoke, regime))] = IDLE
        decided = (state == PENDING) & (self.lic_decision <= t)
        p_approve = np.where(
            self.conceded[:, None, None],
            _by_regime(self.p_approve_concession, regime),
            _by_regime(self.p_approve, regime),
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
        open_share = np.where(is_open, 1.0, self.leakage[:, :, None])
        chinese = (live * self.flow * open_share).sum(axis=2)  # (n, M)
        if self.dfars_month is not None and t >= self.dfars_month:
            chinese = np.where(self.dfars_barred, 0.0, chinese)
        return live, chinese

    def _supply(self, t: int, chinese: np.ndarray) -> np.ndarray:
        """3.5: the month's supply of each material (n, M)."""
        # 3.5 supply
        s = self.src_s
        ramp_months = self.src_ramp
        with np.errstate(over="ignore"):  # a ramp of a tiny fraction of a month: full at once
            ramp = np.where(
                ramp_months > 0.0,
                np.minimum(1.0, (t - s + 1.0) / np.where(ramp_months > 0.0, ramp_months, 1.0)),
                1.0,
            )
        ramp = np.where(t < s, 0.0, ramp)
        supply = chinese + (self.src_full * ramp) @ self.src_to_mat + self.recycling  # (n, M)
        return supply

    def _demand(self, t: int) -> np.ndarray:
        """3.6: each programme's request of each material (n, P, M)."""
        # 3.6 demand
        scheduled_now = (self.prog_start <= t) & (t <= self.prog_end)  # (P,)
        rate_now = self.rate * scheduled_now
        self.scheduled = self.scheduled + rate_now
        self.rate_ref = np.where(rate_now > 0.0, rate_now, self.rate_ref)  # (n, P), 3.9
        self.required += rate_now[:, :, None] * self.kgt
        self.want = np.maximum(0.0, np.minimum(self.scheduled - self.built_to_date, self.max_want))
        return np.maximum(0.0, self.want[:, :, None] * self.kgt - self.wip)  # (n, P, M)

    def _allocate(self, t: int, supply: np.ndarray, need: np.ndarray):
        """3.7: stocks and the DPAS allocation; what each programme gets, and which
        materials' stocks are exhausted."""
        # 3.7 allocation and stocks, all materials at once: (n, M)
        D = _sum_programmes(need)
        surplus = supply >= D
        buffer_topped = np.maximum(
            self.buffer, np.minimum(self.buffer_cap, self.buffer + supply - D)
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
            & (t >= self.first_shortage + self.release_lag)
        ) | ((self.release_rule == _FROM_DATE) & (t >= self.release_month))
        self.authorised |= shortage & authorise
        from_stockpile = np.where(
            shortage & self.authorised,
            np.minimum(np.minimum(self.stockpile, self.release_rate), gap),
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
def _scenarios(config: Config, param_keys: str, rng, n: int, K: int) -> list[_Scenario]:
    """Section 1: every path's own draws, made before the first month, shared by all
    scenarios."""
    draws = _ParamDraws(config, param_keys, lambda k: rng.random((k, n)))
    u_waiver = rng.random(n)
    u_qualified = rng.random((K, n))
    thresholds = tuple(config.slip_thresholds)
    return [
        _Scenario(
            sc.model, (lambda f, s=s: draws.value(s, f)), n, u_waiver, u_qualified, thresholds
        )
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
        "regime": (),
        "licence_live": (M, C),
    }
    dtypes = {"regime": np.int64, "licence_live": bool}
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
        ``stockpile`` (S, n, M, T) at the end of the month, ``supply`` (S, n, M, T) of
        3.5, ``regime`` (S, n, T) int64 and ``licence_live`` (S, n, M, C, T) bool (live
        after 3.4, i.e. delivering).
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
    R, C = len(base.regimes), len(base.channels)
    M, K, P = len(base.materials), len(base.sources), len(base.programmes)
    E, T = len(base.events), base.n_months
    tol = config.behind_tolerance_units
    rng = np.random.default_rng(seed)

    scenarios = _scenarios(config, param_keys, rng, n, K)

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
    deltas = _deltas(stats)

    return ReferenceResult(
        scenarios=config.scenario_names,
        programmes=tuple(p.name for p in base.programmes),
        materials=tuple(m.name for m in base.materials),
        regimes=tuple(base.regimes),
        channels=tuple(c.name for c in base.channels),
        n_paths=n,
        n_months=T,
        months=base.months,
        behind_tolerance_units=tol,
        slip_thresholds=tuple(config.slip_thresholds),
        **stats,
        peak_units_short=np.stack([sc.peak_units_short for sc in scenarios]),
        peak_slip_months=np.stack([sc.peak_slip_months for sc in scenarios]),
        peak_shortfall_t=np.stack([sc.peak_shortfall_t for sc in scenarios]),
        paths=paths,
        deltas=deltas,
    )
