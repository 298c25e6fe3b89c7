"""Sobol sensitivity indices by a pick-freeze design, for any vectorised model.

A pure estimator, independent of the rest of reriskmc: the model is a function
``f(U) -> Y`` of an ``(n, D)`` array of quantiles ``U`` in the unit cube (each column
one input, mapped to its distribution by the caller) returning ``(n,)`` outputs.

Design (Saltelli 2010): two independent ``N x D`` matrices ``A`` and ``B`` of uniform
quantiles and, for each group ``g`` of inputs, ``AB_g``: ``A`` with the columns of ``g``
taken from ``B``. The model is run once on all ``N (G + 2)`` rows. With ``V`` the
variance of the outputs of ``A`` and ``B`` together,

- first order (Saltelli et al. 2010, eq. (b) of table 2):
  ``S_g = mean(f(B) * (f(AB_g) - f(A))) / V``, with ``f(B)`` centred on the mean output
  (the expectation is unchanged, the variance much smaller when the mean is far from 0);
- total (Jansen 1999): ``ST_g = mean((f(A) - f(AB_g))^2) / (2 V)``.

Groups give Sobol group indices: ``S_g`` is the share of the variance due to the
group's inputs alone, ``ST_g`` the share they take part in. Confidence intervals are
percentile bootstrap intervals over the ``N`` design rows (each row keeps its ``A``,
``B`` and ``AB_g`` outputs together).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SobolIndices:
    """First-order and total indices of each group, with confidence intervals.

    Arrays are ``float64[G]`` in the order of the groups given; ``*_ci`` are
    ``float64[G, 2]`` (low, high) at level ``confidence``.
    """

    names: tuple[str, ...]
    first: np.ndarray
    first_ci: np.ndarray
    total: np.ndarray
    total_ci: np.ndarray
    mean: float  # mean output over A and B
    variance: float  # V: variance of the outputs over A and B
    n_samples: int  # N: rows of A (and of B)
    confidence: float


def pick_freeze_design(
    n_samples: int, groups: Sequence[Sequence[int]], n_inputs: int, seed: int
) -> np.ndarray:
    """The ``N (G + 2) x D`` quantiles: ``A``, then ``B``, then ``AB_g`` per group.

    Quantiles are independent uniforms (plain Monte Carlo, so the bootstrap over rows is
    valid), kept inside ``[2**-40, 1 - 2**-40]`` so every inverse CDF is finite.
    """
    rng = np.random.default_rng(seed)
    eps = 2.0**-40
    a = np.clip(rng.random((n_samples, n_inputs)), eps, 1.0 - eps)
    b = np.clip(rng.random((n_samples, n_inputs)), eps, 1.0 - eps)
    blocks = [a, b]
    for cols in groups:
        ab = a.copy()
        ab[:, list(cols)] = b[:, list(cols)]
        blocks.append(ab)
    return np.concatenate(blocks)


def _estimates(ya: np.ndarray, yb: np.ndarray, yab: np.ndarray):
    """First-order and total indices from outputs ``ya``, ``yb`` ``[..., N]`` and ``yab``
    ``[..., G, N]`` (leading axes: bootstrap replicates)."""
    both = np.concatenate([ya, yb], axis=-1)
    mean = both.mean(axis=-1, keepdims=True)
    var = both.var(axis=-1, ddof=1)
    # outputs that do not vary at all (their variance is rounding noise): no index
    var = np.where(np.ptp(both, axis=-1) > 0.0, var, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        v_first = np.mean((yb - mean)[..., None, :] * (yab - ya[..., None, :]), axis=-1)
        v_total = 0.5 * np.mean((ya[..., None, :] - yab) ** 2, axis=-1)
        return v_first / var[..., None], v_total / var[..., None]


def indices_from_outputs(
    y: np.ndarray,
    n_samples: int,
    names: Sequence[str],
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> SobolIndices:
    """Indices from the model outputs on :func:`pick_freeze_design`'s rows.

    Parameters
    ----------
    y : float64[N (G + 2)]
        Outputs in the design's row order.
    n_samples : int
        N.
    names : sequence of str
        The G groups' names.
    n_boot : int
        Bootstrap replicates for the confidence intervals.
    confidence : float
        Level of the intervals, in (0, 1).
    seed : int
        Seed of the bootstrap resampling.

    Where the outputs do not vary (``V = 0``) every index is NaN: no variance to share.
    """
    g = len(names)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n_samples * (g + 2),):
        raise ValueError(f"expected {n_samples * (g + 2)} outputs, got shape {y.shape}")
    ya, yb = y[:n_samples], y[n_samples : 2 * n_samples]
    yab = y[2 * n_samples :].reshape(g, n_samples)
    first, total = _estimates(ya, yb, yab)
    rows = np.random.default_rng(seed).integers(0, n_samples, size=(n_boot, n_samples))
    boot_first, boot_total = _estimates(ya[rows], yb[rows], yab[:, rows].transpose(1, 0, 2))
    tail = 50.0 * (1.0 - confidence)

    def interval(boot):
        # a replicate whose resampled outputs do not vary has no indices (NaN): likely for
        # a rare tail metric with few nonzero outputs. The interval is taken over the
        # others while they are most; else the design is too small for an interval.
        kept = boot[np.all(np.isfinite(boot), axis=1)]
        if len(kept) < 0.5 * len(boot):
            return np.full((g, 2), np.nan)
        return np.percentile(kept, [tail, 100.0 - tail], axis=0).T

    both = np.concatenate([ya, yb])
    return SobolIndices(
        names=tuple(names),
        first=first,
        first_ci=interval(boot_first),
        total=total,
        total_ci=interval(boot_total),
        mean=float(both.mean()),
        variance=float(both.var(ddof=1)) if np.ptp(both) > 0.0 else 0.0,
        n_samples=n_samples,
        confidence=confidence,
    )


def sobol_indices(
    model: Callable[[np.ndarray], np.ndarray],
    n_inputs: int,
    n_samples: int,
    *,
    groups: Sequence[Sequence[int]] | None = None,
    names: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = 0.95,
) -> SobolIndices:
    """First-order and total Sobol indices of ``model`` over the unit cube.

    Parameters
    ----------
    model : callable
        ``model(U)`` with ``U`` float64[n, D] in (0, 1) returns float64[n].
    n_inputs : int
        D.
    n_samples : int
        N: the model is evaluated on ``N (G + 2)`` rows.
    groups : sequence of sequences of int, optional
        Column indices of each group (default: one group per input).
    names : sequence of str, optional
        The groups' names (default ``x0, x1, ...``).
    seed : int
        Seed of the design and of the bootstrap.
    n_boot, confidence
        As in :func:`indices_from_outputs`.
    """
    if groups is None:
        groups = [[i] for i in range(n_inputs)]
    if names is None:
        names = [f"x{i}" for i in range(len(groups))]
    if len(names) != len(groups):
        raise ValueError("one name per group")
    if n_samples < 2:
        raise ValueError("n_samples must be at least 2")
    u = pick_freeze_design(n_samples, groups, n_inputs, seed)
    y = np.asarray(model(u), dtype=np.float64).reshape(-1)
    return indices_from_outputs(
        y, n_samples, names, n_boot=n_boot, confidence=confidence, seed=seed + 1
    )
