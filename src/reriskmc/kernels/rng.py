"""Counter-based random numbers: Philox4x32-10, keyed by (seed, path, stream).

A path's draws are a pure function of (seed, path index, stream word, counter), so
results do not depend on thread count, block size or order, any path can be replayed
on its own, and all scenarios of a run see the same draws (common random numbers).

Philox4x32-10 is the generator of Salmon et al., "Parallel random numbers: as easy as
1, 2, 3" (SC 2011); ``tests/unit/test_rng.py`` checks it against the Random123
known-answer vectors.

Counter layout: ``(block, stream, path_lo, path_hi)``; key: ``(seed_lo, seed_hi)``.
Stream 0 holds a path's own draws (parameters, waiver, qualification); stream t + 1
holds month t's draws. Each Philox call yields four 32-bit words, each turned into a
uniform on the open interval (0, 1) with 32 bits of resolution.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit
from .layout import LOGNORMAL, NORMAL, TABLE_Z, TRIANGULAR, UNIFORM

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_INV32 = 1.0 / 4294967296.0


@jit(inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of a 128-bit counter under a 64-bit key.

    All arguments and results are uint64 holding 32-bit words.
    """
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        n0 = (p1 >> _SHIFT) ^ c1 ^ k0
        n2 = (p0 >> _SHIFT) ^ c3 ^ k1
        c1 = p1 & _MASK
        c3 = p0 & _MASK
        c0 = n0
        c2 = n2
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


@jit(inline="always")
def fill_uniforms(out, n, stream, path0, n_paths, k0, k1):
    """Write the first ``n`` uniforms of (path0 + g, stream) into column g of ``out``,
    ``out[:n, g]``, for g < n_paths.

    out : float64[>= n, >= n_paths], written in place (indexed in full: no view is
    made); stream, path0 : int; k0, k1 : uint64 key words. A group of paths' draws lie
    side by side, each draw's paths contiguous, and the loop over paths is innermost:
    it runs as vector code, eight paths' generators at once (each path's numbers are
    the same as drawn alone).
    """
    c1 = np.uint64(stream) & _MASK
    for j in range((n + 3) // 4):
        i = 4 * j
        for g in range(n_paths):
            p = np.uint64(path0 + g)
            x0, x1, x2, x3 = philox4x32(np.uint64(j), c1, p & _MASK, p >> _SHIFT, k0, k1)
            out[i, g] = (np.float64(x0) + 0.5) * _INV32
            if i + 1 < n:
                out[i + 1, g] = (np.float64(x1) + 0.5) * _INV32
            if i + 2 < n:
                out[i + 2, g] = (np.float64(x2) + 0.5) * _INV32
            if i + 3 < n:
                out[i + 3, g] = (np.float64(x3) + 0.5) * _INV32


def seed_key(seed: int) -> tuple[np.uint64, np.uint64]:
    """The Philox key words of a non-negative 64-bit seed."""
    seed = int(seed)
    return np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)


# the published coefficients of AS241, in Horner form, as written there
# fmt: off
@jit(inline="always")
def ndtri(p):
    """Inverse of the standard normal CDF, Wichura's AS241 (PPND16), |rel err| < 1e-16."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                    + 67265.770927008700853) * r + 45921.953931549871457) * r
                  + 13731.693765509461125) * r + 1971.5909503065514427) * r
                + 133.14166789178437745) * r + 3.387132872796366608)
        den = (((((((5226.495278852545925 * r + 28729.085735721942674) * r
                    + 39307.89580009271061) * r + 21213.794301586595867) * r
                  + 5394.1960214247511077) * r + 687.1870074920579083) * r
                + 42.313330701600911252) * r + 1.0)
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
                    + 0.24178072517745061177) * r + 1.27045825245236838258) * r
                  + 3.64784832476320460504) * r + 5.7694972214606914055) * r
                + 4.6303378461565452959) * r + 1.42343711074968357734)
        den = (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                    + 0.0151986665636164571966) * r + 0.14810397642748007459) * r
                  + 0.68976733498510000455) * r + 1.6763848301838038494) * r
                + 2.05319162663775882187) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 0.0012426609473880784386) * r + 0.026532189526576123093) * r
                  + 0.29656057182850489123) * r + 1.7848265399172913358) * r
                + 5.4637849111641143699) * r + 6.6579046435011037772)
        den = (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                    + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r
                  + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
                + 0.59983220655588793769) * r + 1.0)
    x = num / den
    return -x if q < 0.0 else x
# fmt: on


@jit(inline="always")
def transform(code, a, b, c, tables, row, u):
    """A variate of distribution ``code`` with arguments (a, b, c) from uniform ``u``.

    uniform(a=low, b=high); triangular(a=low, b=mode, c=high); lognormal(a=log median,
    b=sigma); normal(a=mean, b=sd); TABLE: linear interpolation in ``tables[row]``
    (float64[n_tables, n], quantile functions at n points equally spaced on the probit
    scale z = ndtri(u) over [-TABLE_Z, TABLE_Z], see distributions.quantile_table).
    """
    if code == UNIFORM:
        return a + (b - a) * u
    if code == TRIANGULAR:
        width = c - a
        fc = (b - a) / width
        if u < fc:
            return a + math.sqrt(u * width * (b - a))
        return c - math.sqrt((1.0 - u) * width * (c - b))
    if code == LOGNORMAL:
        return math.exp(a + b * ndtri(u))
    if code == NORMAL:
        return a + b * ndtri(u)
    # TABLE
    n = tables.shape[1]
    x = (ndtri(u) + TABLE_Z) * ((n - 1) / (2.0 * TABLE_Z))
    if x <= 0.0:
        return tables[row, 0]
    k = int(x)
    if k >= n - 1:
        return tables[row, n - 1]
    f = x - k
    return tables[row, k] + f * (tables[row, k + 1] - tables[row, k])


@jit
def path_uniforms(n_uniforms, path0, n_paths, k0, k1):
    """The first ``n_uniforms`` uniforms of the path stream (stream 0: parameters,
    waivers, qualification) of paths ``path0 .. path0 + n_paths - 1``, float64[n_paths,
    n_uniforms]: what each path draws before any is tilted."""
    out = np.empty((n_paths, n_uniforms))
    buf = np.empty((max(n_uniforms, 1), 1))
    for i in range(n_paths):
        fill_uniforms(buf, n_uniforms, 0, path0 + i, 1, k0, k1)
        for j in range(n_uniforms):
            out[i, j] = buf[j, 0]
    return out
