"""The counter-based generator and the variate transforms."""

import numpy as np
import pytest
from scipy import special

from reriskmc.distributions import parse_dist, quantile_table
from reriskmc.kernels.rng import fill_uniforms, ndtri, philox4x32, seed_key, transform

U64 = np.uint64


@pytest.mark.parametrize(
    "ctr,key,expected",
    [
        # Random123 known-answer vectors for philox4x32_R(10) (kat_vectors)
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ],
)
def test_philox4x32__matches_random123_known_answers(ctr, key, expected):
    out = philox4x32(*(U64(c) for c in ctr), *(U64(k) for k in key))
    assert tuple(int(x) for x in out) == expected


def test_fill_uniforms__open_interval_uniform_and_keyed_by_path_and_stream():
    k0, k1 = seed_key(123)
    out = np.zeros((200_001, 3))
    fill_uniforms(out, 200_001, 5, 7, 2, k0, k1)  # paths 7 and 8 side by side
    next_stream = np.zeros((200_001, 1))
    fill_uniforms(next_stream, 200_001, 6, 7, 1, k0, k1)
    out[:, 2] = next_stream[:, 0]
    out = out.T
    u = out[0]
    assert u.min() > 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / u.size)
    # counter-based: the same (seed, path, stream) gives the same numbers, others differ
    again = np.zeros((10, 1))
    fill_uniforms(again, 10, 5, 7, 1, k0, k1)
    assert np.array_equal(again[:, 0], u[:10])
    assert abs(np.corrcoef(out[0], out[1])[0, 1]) < 0.01
    assert abs(np.corrcoef(out[0], out[2])[0, 1]) < 0.01
    group = np.zeros((10, 3))  # paths side by side get the numbers each gets alone
    fill_uniforms(group, 10, 5, 6, 3, k0, k1)
    assert np.array_equal(group[:, 1], u[:10])
    other_seed = np.zeros((10, 1))
    fill_uniforms(other_seed, 10, 5, 7, 1, *seed_key(124))
    assert not np.array_equal(other_seed[:, 0], u[:10])


def test_ndtri__matches_scipy():
    p = np.concatenate(
        [np.logspace(-300, -1, 200), np.linspace(0.01, 0.99, 199), 1 - np.logspace(-16, -1, 50)]
    )
    got = np.array([ndtri(x) for x in p])
    np.testing.assert_allclose(got, special.ndtri(p), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize(
    "table",
    [
        {"dist": "uniform", "low": 2.0, "high": 5.0},
        {"dist": "triangular", "low": 1.0, "mode": 2.0, "high": 6.0},
        {"dist": "triangular", "low": 0.0, "mode": 0.0, "high": 1.0},
        {"dist": "lognormal", "median": 3.0, "sigma": 0.5},
        {"dist": "normal", "mean": -1.0, "sd": 2.0},
        {"dist": "beta", "a": 2.0, "b": 8.0},
        {"dist": "beta", "a": 0.7, "b": 1.3, "low": 1.0, "high": 4.0},
        {"dist": "pert", "low": 1.0, "mode": 3.0, "high": 10.0},
    ],
)
def test_transform__matches_the_scipy_quantile_function(table):
    d = parse_dist(table)
    code = d.kernel_code()
    a, b, c = d.kernel_args()
    tables = quantile_table(d)[None, :]
    u = np.linspace(1e-6, 1 - 1e-6, 1001)
    got = np.array([transform(code, a, b, c, tables, 0, x) for x in u])
    want = d.ppf(u)
    # closed forms are exact; tabulated ones (beta, pert) interpolate 4,097 nodes
    tol = 1e-12 if d.kind not in ("beta", "pert") else 1e-5 * (d.support()[1] - d.support()[0])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=tol)
    # and the mean of the variates is the distribution's mean
    uu = (np.arange(200_000) + 0.5) / 200_000
    m = np.mean([transform(code, a, b, c, tables, 0, x) for x in uu[::20]])
    assert m == pytest.approx(d.mean(), rel=2e-3, abs=2e-3)
