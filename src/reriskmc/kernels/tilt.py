"""Importance sampling of a path's own draws: tilted uniforms and their likelihood ratio.

A tilted uniform is drawn from a proposal density on [0, 1] that is constant on each
of ``TILT_BINS`` equal bins (bin b has mass m_b, density TILT_BINS * m_b) instead of
the uniform density 1: the generator's uniform v is mapped by the proposal's inverse
CDF, which is monotone, so a path's draws keep their order and every scenario still
sees the same draw (common random numbers). The path's weight is the product over its
tilted uniforms of 1 / (TILT_BINS * m_b), the ratio of the uniform density to the
proposal's: the mean of weight x outcome over paths is an unbiased estimate of the
outcome's mean under the model (``tail.py``). Every scenario transforms the same
uniforms, so one weight per path serves all of them.

A proposal may instead tilt a direction: the path's uniforms as normal scores z =
ndtri(u), independent standard normals, have a score s = d . z along a unit vector d,
itself standard normal, so v = ndtr(s) is uniform; v is drawn from the proposal as a
tilted uniform is, giving s', and z moves along d to z + d (s' - s), which leaves the
part of z across d as it was. The map is monotone in v and one-to-one, and its Jacobian
is 1 / (TILT_BINS * m_b) as for a single uniform (the normal densities of z and of s
cancel across d), so the weight is the same formula.
"""

from __future__ import annotations

import math

from .._jit import jit, stage
from .rng import ndtri

#: the least and the most a tilted uniform may be: inside (0, 1), as the generator's are
#: (a quantile function at 0 or 1 may be infinite)
U_MIN = 2.0**-33
U_MAX = 1.0 - 2.0**-33


@jit(inline="always")
def _ndtr(x):
    """The standard normal CDF, held inside the generator's range."""
    return min(max(0.5 * math.erfc(-x * 0.7071067811865476), U_MIN), U_MAX)


@jit(inline="always")
def _draw_bin(cum, j, v):
    """Proposal j's inverse CDF at the uniform v: the draw and its bin's mass."""
    n_bins = cum.shape[1] - 1
    b = 0
    while b < n_bins - 1 and v >= cum[j, b + 1]:
        b += 1
    mass = cum[j, b + 1] - cum[j, b]
    return min(max((b + (v - cum[j, b]) / mass) / n_bins, U_MIN), U_MAX), mass


@stage
def tilt_direction(cum, j, direction, u_path):
    """Draw the score along ``direction`` from proposal j and move the uniforms along
    it, in place; returns the bin's mass. A stage of its own (``_jit.stage``): the
    normal quantile and CDF it evaluates, inlined into the start of a group, would cost
    the cold start seconds."""
    s = 0.0
    for k in range(direction.shape[0]):
        if direction[k] != 0.0:
            s += direction[k] * ndtri(u_path[k, 0])
    u, mass = _draw_bin(cum, j, _ndtr(s))
    shift = ndtri(u) - s
    for k in range(direction.shape[0]):
        if direction[k] != 0.0:
            u_path[k, 0] = _ndtr(ndtri(u_path[k, 0]) + direction[k] * shift)
    return mass


@jit(inline="always")
def tilt_path(slots, cum, direction, u_path):
    """Draw the uniforms ``u_path[slots[j], 0]`` from their proposals, in place, and
    return the path's likelihood ratio.

    slots : int64[n], a slot below 0 standing for the score along ``direction``
    (float64[n_uniforms], a unit vector; empty when no slot is below 0); cum : float64[n,
    B + 1], proposal j's cumulative bin masses (cum[j, 0] = 0, cum[j, B] = 1, every bin's
    mass > 0); u_path : float64[>= slots and direction, 1], the generator's uniforms.
    """
    weight = 1.0
    n_bins = cum.shape[1] - 1
    for j in range(slots.shape[0]):
        i = slots[j]
        if i < 0:
            mass = tilt_direction(cum, j, direction, u_path)
        else:
            u_path[i, 0], mass = _draw_bin(cum, j, u_path[i, 0])
        weight /= n_bins * mass
    return weight


@jit(inline="always")
def tilt_regime(pk, w, n):
    """Draw the month's regime uniforms of the group's first ``n`` paths from the
    proposal's transition rows (``pk.tilt_trans``, cumulative, [n_matrices, R, R]; none:
    untouched), multiplying each path's weight by its likelihood ratio, and count each
    path's transition in the base (``w.trans``). Call before any scenario steps.

    The proposal is a Markov chain on the base's regimes: from regime r under matrix
    m it moves to k with probability q[m, r, k] instead of p[m, r, k] (where p is 0, so
    is q). The uniform v is mapped from k's interval under q onto k's interval under p,
    linearly, so the base moves to k and the ratio is p / q; a scenario with other
    rows or another regime reads the same mapped uniform, which is still uniform under
    the model, so the one weight serves every scenario.
    """
    R = pk.dims.R
    slot = pk.u.regime
    tilted = pk.tilt_trans.shape[0] > 0
    for g in range(n):
        r0, mi = w.policy[0, 0, g], w.policy[0, 1, g]
        x = w.u_month[slot, g]
        if tilted:
            k = 0
            for q in range(R - 1):
                k += 1 if x >= pk.tilt_trans[mi, r0, q] else 0
            q_lo = pk.tilt_trans[mi, r0, k - 1] if k > 0 else 0.0
            q_hi = pk.tilt_trans[mi, r0, k] if k < R - 1 else 1.0
            p_lo = pk.cum_trans[0, mi, r0, k - 1] if k > 0 else 0.0
            p_hi = pk.cum_trans[0, mi, r0, k] if k < R - 1 else 1.0
            y = p_lo + (x - q_lo) * ((p_hi - p_lo) / (q_hi - q_lo))
            # inside k's interval under p, so that the base moves to k
            w.u_month[slot, g] = min(max(y, p_lo), p_hi * (1.0 - 2.0**-52))
            w.weight[g] *= (p_hi - p_lo) / (q_hi - q_lo)
        else:
            k = 0
            for q in range(R - 1):
                k += 1 if x >= pk.cum_trans[0, mi, r0, q] else 0
        w.trans[mi, r0, k, g] += 1
