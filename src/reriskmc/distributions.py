"""The parameter distributions a config may use, and their validation.

Any scalar in a config may be written as a table such as
``{dist = "beta", a = 2, b = 8}``; it is then drawn once per path. Every
distribution is applied by inverse transform of one uniform variate, so a path's
draw depends only on its random stream (common random numbers across scenarios,
replayable paths).

The kernel applies the same transforms (``kernels/rng.py``); this module is the
config-side description and the scipy-backed reference used by the NumPy model
and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# the kernel's codes for each distribution (kernels/layout.py: plain constants). A
# tabulated quantile function (beta, pert) has TABLE_NODES nodes equally spaced on the
# probit scale z = ndtri(u) over [-TABLE_Z, TABLE_Z]: the quantile function is smooth
# there, so linear interpolation stays accurate in the tails (a grid in u is not)
from .kernels.layout import (  # noqa: F401  (FIXED: re-exported for callers)
    FIXED,
    LOGNORMAL,
    NORMAL,
    TABLE,
    TABLE_NODES,
    TABLE_Z,
    TRIANGULAR,
    UNIFORM,
)

#: name -> (required parameters, optional parameters with defaults)
SPECS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "uniform": (("low", "high"), {}),
    "triangular": (("low", "mode", "high"), {}),
    "beta": (("a", "b"), {"low": 0.0, "high": 1.0}),
    "pert": (("low", "mode", "high"), {}),
    "lognormal": (("median", "sigma"), {}),
    "normal": (("mean", "sd"), {}),
}


class DistributionError(ValueError):
    """A distribution table is malformed; the message says what is wrong."""


def as_float(v: int | float) -> float:
    """A TOML number as a float. TOML integers may be too large for a float (tomllib
    accepts any size): those become +-inf, which the callers reject as not finite."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


@dataclass(frozen=True)
class Dist:
    """A validated parameter distribution.

    Parameters
    ----------
    kind : str
        One of ``SPECS``.
    params : tuple of (str, float)
        The named parameters, all finite.
    """

    kind: str
    params: tuple[tuple[str, float], ...]
    #: where the config writes it (key path): one uniform per path for each place, so a
    #: channel default inherited by every material is one unknown, drawn once per path
    key: str = field(default="", compare=False)

    def __getitem__(self, name: str) -> float:
        return dict(self.params)[name]

    # -- support and moments -------------------------------------------------
    def support(self) -> tuple[float, float]:
        p = dict(self.params)
        if self.kind in ("uniform", "triangular", "pert"):
            return p["low"], p["high"]
        if self.kind == "beta":
            return p["low"], p["high"]
        if self.kind == "lognormal":
            return 0.0, math.inf
        return -math.inf, math.inf

    def frozen(self):
        """The scipy.stats frozen distribution (imported lazily)."""
        from scipy import stats

        p = dict(self.params)
        if self.kind == "uniform":
            return stats.uniform(loc=p["low"], scale=p["high"] - p["low"])
        if self.kind == "triangular":
            width = p["high"] - p["low"]
            c = (p["mode"] - p["low"]) / width
            return stats.triang(c, loc=p["low"], scale=width)
        if self.kind == "beta":
            return stats.beta(p["a"], p["b"], loc=p["low"], scale=p["high"] - p["low"])
        if self.kind == "pert":
            a, b = _pert_shape(p["low"], p["mode"], p["high"])
            return stats.beta(a, b, loc=p["low"], scale=p["high"] - p["low"])
        if self.kind == "lognormal":
            return stats.lognorm(s=p["sigma"], scale=p["median"])
        return stats.norm(loc=p["mean"], scale=p["sd"])

    def mean(self) -> float:
        return float(self.frozen().mean())

    def ppf(self, u):
        """Inverse CDF at ``u`` (array-like in (0, 1)), via scipy."""
        return self.frozen().ppf(u)

    def kernel_code(self) -> int:
        return {
            "uniform": UNIFORM,
            "triangular": TRIANGULAR,
            "lognormal": LOGNORMAL,
            "normal": NORMAL,
            "beta": TABLE,
            "pert": TABLE,
        }[self.kind]

    def kernel_args(self) -> tuple[float, float, float]:
        """Three floats the kernel transform reads (see kernels/rng.py)."""
        p = dict(self.params)
        if self.kind == "uniform":
            return p["low"], p["high"], 0.0
        if self.kind == "triangular":
            return p["low"], p["mode"], p["high"]
        if self.kind == "lognormal":
            return math.log(p["median"]), p["sigma"], 0.0
        if self.kind == "normal":
            return p["mean"], p["sd"], 0.0
        return 0.0, 0.0, 0.0  # tabulated: the table carries everything

    def describe(self) -> str:
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params)
        return f"{self.kind}({inner})"


def _pert_shape(low: float, mode: float, high: float) -> tuple[float, float]:
    # The classic PERT: beta with mean (low + 4 mode + high) / 6.
    width = high - low
    return 1.0 + 4.0 * (mode - low) / width, 1.0 + 4.0 * (high - mode) / width


def parse_dist(table: dict) -> Dist:
    """Validate a ``{dist = ..., ...}`` table and return a :class:`Dist`.

    Raises
    ------
    DistributionError
        With a message naming the offending parameter and what was expected.
    """
    kind = table.get("dist")
    if not isinstance(kind, str):
        raise DistributionError('a distribution table needs dist = "<name>"')
    if kind not in SPECS:
        from difflib import get_close_matches

        near = get_close_matches(kind, SPECS, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise DistributionError(
            f"unknown distribution '{kind}'{hint}; expected one of {', '.join(SPECS)}"
        )
    required, optional = SPECS[kind]
    allowed = set(required) | set(optional) | {"dist"}
    for key in table:
        if key not in allowed:
            raise DistributionError(
                f"'{key}' is not a parameter of {kind}; "
                f"expected {', '.join(sorted(allowed - {'dist'}))}"
            )
    values: dict[str, float] = {}
    for key in required:
        if key not in table:
            raise DistributionError(f"{kind} needs '{key}'")
    for key in (*required, *optional):
        v = table.get(key, optional.get(key))
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DistributionError(f"{kind} parameter '{key}' must be a number, got {v!r}")
        v = as_float(v)
        if not math.isfinite(v):
            raise DistributionError(f"{kind} parameter '{key}' must be finite, got {v}")
        values[key] = v
    _check_params(kind, values)
    return Dist(kind, tuple((k, values[k]) for k in (*required, *optional)))


def _check_params(kind: str, p: dict[str, float]) -> None:
    if kind == "uniform" and not p["low"] < p["high"]:
        raise DistributionError(
            f"uniform needs low < high, got low={p['low']:g}, high={p['high']:g}"
        )
    if kind in ("triangular", "pert"):
        if not p["low"] < p["high"]:
            raise DistributionError(
                f"{kind} needs low < high, got low={p['low']:g}, high={p['high']:g}"
            )
        if not p["low"] <= p["mode"] <= p["high"]:
            raise DistributionError(
                f"{kind} needs low <= mode <= high, got {p['low']:g}, {p['mode']:g}, {p['high']:g}"
            )
    if kind == "beta":
        if p["a"] <= 0 or p["b"] <= 0:
            raise DistributionError(f"beta needs a > 0 and b > 0, got a={p['a']:g}, b={p['b']:g}")
        if not p["low"] < p["high"]:
            raise DistributionError(
                f"beta needs low < high, got low={p['low']:g}, high={p['high']:g}"
            )
    if kind == "lognormal":
        if p["median"] <= 0:
            raise DistributionError(f"lognormal needs median > 0, got {p['median']:g}")
        if p["sigma"] <= 0:
            raise DistributionError(f"lognormal needs sigma > 0, got {p['sigma']:g}")
    if kind == "normal" and p["sd"] <= 0:
        raise DistributionError(f"normal needs sd > 0, got {p['sd']:g}")


def quantile_table(dist: Dist, nodes: int = TABLE_NODES):
    """Tabulated inverse CDF at ``u = Phi(z)`` for ``nodes`` equally spaced ``z`` in
    [-TABLE_Z, TABLE_Z] (the kernel interpolates linearly in z).

    Only used for bounded distributions (beta, pert). For a shape below 1 (``a = 0.5``,
    say) scipy's root finder can warn that it did not converge in the far tails, where
    the quantile is within 1e-16 of an end of the support. Every node is still within
    1e-7 of its probability (shapes 0.5 to 5, ``tests/unit/test_distributions.py``; the
    largest gap, 3e-8, is at nodes whose quantile rounds to the end of the support), far
    below any run's Monte Carlo error, so the warning is silenced rather than shown on
    every run of such a config.
    """
    import warnings

    import numpy as np
    from scipy import special

    z = np.linspace(-TABLE_Z, TABLE_Z, nodes)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ibeta.*", category=RuntimeWarning)
        q = np.asarray(dist.ppf(special.ndtr(z)), dtype=np.float64)
    lo, hi = dist.support()
    return np.maximum.accumulate(np.clip(q, lo, hi))
