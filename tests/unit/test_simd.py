"""The hand-written vector code (kernels/simd.py) and the sums built on it: the same
bits as the plain loops that define them."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reriskmc._jit import jit
from reriskmc.kernels.reduce import add_diff_sums, add_sums
from reriskmc.kernels.simd import add_tile8, add_tile8_diff


@jit(cache=False)
def _add_tile8_compiled(sums, s, f0, values, v, e0, g0):
    add_tile8(sums, s, f0, values, v, e0, g0)


@jit(cache=False)
def _add_tile8_diff_compiled(sums, s, f0, values, v, b, e0, g0):
    add_tile8_diff(sums, s, f0, values, v, b, e0, g0)


@jit(cache=False)
def _add_sums_compiled(sums, s, f0, values, v, E, n):
    add_sums(sums, s, f0, values, v, E, n)


@jit(cache=False)
def _add_diff_sums_compiled(sums, s, f0, values, v, b, E, n):
    add_diff_sums(sums, s, f0, values, v, b, E, n)


def _values(seed, E, G, V=1):
    """Values whose sums depend on the order of addition: magnitudes spread over 30
    orders, about a third of them zero (as tonnes owed are)."""
    rng = np.random.default_rng(seed)
    v = rng.random((V, E, G)) * 10.0 ** rng.integers(-15, 15, (V, E, G))
    v[rng.random((V, E, G)) < 0.3] = 0.0
    return v


def _path_order(sums, s, f0, values, v, n, b=-1):
    """The definition: each sum adds the paths' values (less the base slot's, if
    given) one at a time, in path order."""
    out = sums.copy()
    for e in range(values.shape[1]):
        for g in range(n):
            x = values[v, e, g] - (values[b, e, g] if b >= 0 else 0.0)
            out[0, s, f0 + e] += x
            out[1, s, f0 + e] += x * x
    return out


def test_add_tile8__same_bits_as_its_python_loop():
    values = _values(1, 24, 16, V=2)
    start = _values(2, 2 * 3 * 40, 1).reshape(2, 3, 40)  # sums so far: 3 scenarios
    for f0, v, e0, g0, s in ((0, 0, 0, 0, 0), (16, 1, 8, 8, 2), (32, 0, 16, 0, 1)):
        compiled, python = start.copy(), start.copy()
        _add_tile8_compiled(compiled, s, f0, values, v, e0, g0)
        add_tile8(python, s, f0, values, v, e0, g0)
        assert np.array_equal(compiled, python)
        # only the tile's 8 sums (and their squares) of scenario s moved
        changed = np.argwhere(compiled != start)
        assert set(changed[:, 1]) <= {s} and set(changed[:, 2]) <= set(range(f0, f0 + 8))


def test_add_tile8_diff__same_bits_as_its_python_loop():
    values = _values(3, 16, 16, V=3)
    start = _values(4, 2 * 2 * 16, 1).reshape(2, 2, 16)
    for v, b, e0, g0 in ((1, 0, 0, 0), (2, 0, 8, 8), (0, 2, 8, 0)):
        compiled, python = start.copy(), start.copy()
        _add_tile8_diff_compiled(compiled, 1, e0, values, v, b, e0, g0)
        add_tile8_diff(python, 1, e0, values, v, b, e0, g0)
        assert np.array_equal(compiled, python)
        assert not np.array_equal(compiled, start)


@settings(max_examples=60, deadline=None)
@given(
    E=st.integers(1, 40), n=st.integers(1, 64), s=st.integers(0, 2), seed=st.integers(0, 2**32 - 1)
)
def test_add_sums__paths_added_in_path_order_bit_for_bit(E, n, s, seed):
    """Full passes of 8 paths go through add_tile8 (or add_tile8_diff) for whole tiles
    of 8 sums; the rest (E not a multiple of 8, a last pass of fewer than 8 paths)
    through the scalar loop. Either way every sum must be the path-order sum, to the
    bit, for the values and for the paired differences."""
    values = _values(seed, E, 64, V=2)
    f0 = 5  # the sums of a later month sit at an offset
    sums = np.zeros((2, 3, E + f0))
    sums[:, :, f0:] = _values(seed + 1, E, 1)[0, :, 0]
    got = sums.copy()
    _add_sums_compiled(got, s, f0, values, 1, E, n)
    assert np.array_equal(got, _path_order(sums, s, f0, values, 1, n))
    got = sums.copy()
    _add_diff_sums_compiled(got, s, f0, values, 1, 0, E, n)
    assert np.array_equal(got, _path_order(sums, s, f0, values, 1, n, b=0))


def test_add_sums__the_order_matters_for_these_values():
    """The data above tell orders apart: summed in reverse path order, sums differ."""
    E, n = 40, 64
    values = _values(7, E, 64)
    sums = np.zeros((2, 1, E))
    got = sums.copy()
    _add_sums_compiled(got, 0, 0, values, 0, E, n)
    reverse = _path_order(sums, 0, 0, values[:, :, ::-1].copy(), 0, n)
    assert not np.array_equal(got, reverse)


@pytest.mark.skipif(
    numba.config.DISABLE_JIT,
    reason="checks what numba refuses when compiling; under NUMBA_DISABLE_JIT nothing is compiled",
)
@pytest.mark.parametrize("bad", ["strided", "int", "1d"])
def test_add_tile8__refuses_arrays_it_was_not_written_for(bad):
    """Its vector loads need float64 rows contiguous in memory: anything else must be
    refused when compiling, never read wrongly."""
    values = _values(1, 8, 16)
    sums = np.zeros((2, 1, 8))
    if bad == "strided":
        values = values[:, :, ::2]
    elif bad == "int":
        values = values.astype(np.int64)
    else:
        sums = sums.ravel()
    with pytest.raises(numba.core.errors.TypingError):
        _add_tile8_compiled(sums, 0, 0, values, 0, 0, 0)
