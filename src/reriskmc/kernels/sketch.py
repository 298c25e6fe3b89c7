"""The mergeable quantile sketch: a histogram over log-spaced buckets.

Bucket 0 holds values at or below a floor; above it each octave (factor of two) is split
into ``SUB`` equal buckets, so a bucket's midpoint is within a relative
``1 / (2 * SUB)`` of every value in it (0.78% for SUB = 64). Counts merge by addition,
so memory does not grow with the number of paths. The kernel files values into buckets
(:func:`bucket`); the results read quantiles and CVaR back (:func:`quantiles`,
:func:`cvar`).
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .simd import float_bits

SUB = 64  # buckets per octave
OCTAVES = 44  # range above the floor: 2**44 (1.7e13) times the floor
N_BUCKETS = 1 + SUB * OCTAVES
RELATIVE_ERROR = 1.0 / (2 * SUB)
_SHIFT = 52 - 6  # keeps the exponent and the top 6 = log2(SUB) mantissa bits
_BIAS = 1023 * SUB  # the exponent field of 1.0, in buckets
assert SUB == 1 << 6

#: units behind schedule at or below this count as zero
UNITS_FLOOR = 1e-6
#: tonnes owed at or below this count as zero
TONNES_FLOOR = 1e-9
#: months of slip at or below this count as zero
MONTHS_FLOOR = 1e-6


@jit(inline="always")
def bucket(v, inv_floor):
    """The sketch bucket of value ``v`` (>= 0) for a sketch with floor ``1 / inv_floor``.

    For x = v / floor = 2**e * (1 + f) > 1 the bucket is 1 + e * SUB + floor(f * SUB),
    and e * SUB + floor(f * SUB) is read straight off the float's bits: the exponent
    field and the top log2(SUB) bits of the mantissa (a tenth of the time of frexp).
    """
    x = v * inv_floor
    if x <= 1.0:
        return 0
    b = 1 + (float_bits(x) >> _SHIFT) - _BIAS
    return min(b, N_BUCKETS - 1)


def bucket_bounds(floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper value bounds of every bucket (bucket 0 is [0, floor])."""
    b = np.arange(1, N_BUCKETS)
    e = (b - 1) // SUB
    j = (b - 1) % SUB
    lo = floor * np.ldexp(1.0 + j / SUB, e)
    hi = floor * np.ldexp(1.0 + (j + 1) / SUB, e)
    return np.concatenate([[0.0], lo]), np.concatenate([[floor], hi])


def representatives(floor: float) -> np.ndarray:
    """The value each bucket reports: its midpoint, and 0 for bucket 0."""
    lo, hi = bucket_bounds(floor)
    rep = 0.5 * (lo + hi)
    rep[0] = 0.0
    return rep


#: sketch rows per step of :func:`quantiles`: the cumulative counts of all rows at once
#: (60 MB for base.toml's monthly sketches) would set a run's peak memory
_ROWS = 256


def quantiles(hist: np.ndarray, levels, floor: float) -> np.ndarray:
    """Quantiles (inverted empirical CDF) from sketch histograms on the last axis.

    Returns an array of shape ``hist.shape[:-1] + (len(levels),)``. Each value is
    within a relative ``RELATIVE_ERROR`` of the exact empirical quantile, or within
    ``floor`` of it when that is 0.
    """
    rep = representatives(floor)
    flat = hist.reshape(-1, hist.shape[-1])
    out = np.empty((flat.shape[0], len(levels)))
    for r0 in range(0, flat.shape[0], _ROWS):
        cum = np.cumsum(flat[r0 : r0 + _ROWS], axis=-1)
        n = cum[:, -1:]
        for i, q in enumerate(levels):
            target = np.maximum(np.ceil(q * n - 1e-9), 1)
            out[r0 : r0 + _ROWS, i] = rep[np.argmax(cum >= target, axis=-1)]
    return out.reshape(hist.shape[:-1] + (len(levels),))


def cvar(hist: np.ndarray, alpha: float, floor: float) -> np.ndarray:
    """Mean of the worst ``1 - alpha`` share of values, from sketch histograms."""
    rep = representatives(floor)
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
