"""Reproducibility: a run is a pure function of (config, seed, n_paths).

The engine promises bit-identical statistics whatever the thread count or block size
(float sums are folded per 512-path chunk, in path order), and every path can be
replayed alone from (seed, path index). Checked on configs/base.toml (six scenarios,
nine programmes, three materials) with a path count that is not a multiple of the
chunk.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reriskmc.config import load_config
from reriskmc.engine import CHUNK, SKETCH_BATCH, Stats, replay_path, simulate
from reriskmc.kernels.scratch import GROUP
from reriskmc.kernels.sketch import TONNES_FLOOR, UNITS_FLOOR, bucket
from reriskmc.pack import pack
from reriskmc.results import build_dataset

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
N_PATHS = 3000  # not a multiple of CHUNK (512)
SEED = 20250610
ARRAYS = [
    f.name
    for f in dataclasses.fields(Stats)
    if f.name not in ("n_paths", "elapsed_s", "compile_s", "kernel_s", "precision")
]


@pytest.fixture(scope="module")
def config():
    return load_config(BASE)


@pytest.fixture(scope="module")
def packed(config):
    return pack(config)


@pytest.fixture(scope="module")
def reference(config, packed) -> Stats:
    """The reference run: one thread, the smallest block."""
    return simulate(config, N_PATHS, SEED, threads=1, block_paths=CHUNK, packed=packed)


def assert_same_stats(a: Stats, b: Stats) -> None:
    assert a.n_paths == b.n_paths
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and x.dtype == y.dtype, name
        assert np.array_equal(x, y), f"{name} differs ({np.sum(x != y)} of {x.size} entries)"


def test_partial_last_chunk_batch_and_group__count_every_path_once(config, packed):
    """A run whose last chunk, sketch batch and group of paths are all cut short folds
    every path in exactly once (and the reproducibility runs here end mid-chunk too)."""
    n = 2 * CHUNK + SKETCH_BATCH + GROUP + 3
    assert n % CHUNK and n % SKETCH_BATCH and n % GROUP and N_PATHS % CHUNK
    stats_ = simulate(config, n, SEED, packed=packed)
    assert np.all(stats_.regime.sum(axis=1) == n)  # every (scenario, month)
    assert np.all(stats_.h_us.sum(axis=-1) == n)  # every (scenario, programme, month)
    assert np.all(stats_.h_peak_owed.sum(axis=-1) == n)
    # the paths of the last, partial group are the ones replay computes alone
    short = simulate(config, n - 3, SEED, packed=packed)
    last = sum(replay_path(config, SEED, i, packed)["units_short"] for i in range(n - 3, n))
    total = stats_.us_sum[..., 0]
    np.testing.assert_allclose(
        total - short.us_sum[..., 0], last, rtol=0, atol=1e-12 * np.abs(total).max()
    )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("block_paths", [512, 1024, 5000, 100_000])
def test_stats__identical_for_any_threads_and_block_size(
    config, packed, reference, threads, block_paths
):
    other = simulate(config, N_PATHS, SEED, threads=threads, block_paths=block_paths, packed=packed)
    assert_same_stats(reference, other)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("block_paths", [512, 1024])
def test_sketch_counts__same_when_emptied_into_totals_mid_run(
    config, packed, reference, threads, block_paths, monkeypatch
):
    """Threads count the monthly sketches in uint16 and add them into wider totals
    only before they could overflow (from 2**16 paths on). With that limit lowered to
    1,024 paths, a 3,000-path run empties them once or more, and must give the same
    numbers as the run that never does."""
    import reriskmc.engine as engine

    assert reference.h_us.dtype == np.uint16  # fewer than 2**16 paths: never emptied
    monkeypatch.setattr(engine, "UINT16_PATHS", 1024)
    other = simulate(config, N_PATHS, SEED, threads=threads, block_paths=block_paths, packed=packed)
    assert other.h_us.dtype == np.int32
    assert np.array_equal(other.h_us, reference.h_us)
    for name in ARRAYS:
        assert np.array_equal(getattr(other, name), getattr(reference, name)), name


def test_dataset__identical_values_for_threads_and_blocks(config, packed, reference):
    other = simulate(config, N_PATHS, SEED, threads=2, block_paths=5000, packed=packed)
    a, b = build_dataset(config, reference, SEED), build_dataset(config, other, SEED)
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def test_packed_argument__does_not_change_results(config, reference):
    assert_same_stats(reference, simulate(config, N_PATHS, SEED, threads=1, block_paths=CHUNK))


def test_a_different_seed__gives_different_results(config, packed, reference):
    other = simulate(config, N_PATHS, SEED + 1, threads=1, block_paths=CHUNK, packed=packed)
    assert not np.array_equal(reference.us_sum, other.us_sum)
    assert not np.array_equal(reference.owed_sum, other.owed_sum)
    assert not np.array_equal(reference.behind, other.behind)
    assert not np.array_equal(reference.regime, other.regime)


def test_the_same_seed_twice__gives_the_same_results(config, packed, reference):
    assert_same_stats(
        reference, simulate(config, N_PATHS, SEED, threads=1, block_paths=CHUNK, packed=packed)
    )


@settings(deadline=None, max_examples=10, derandomize=True)
@given(
    block_paths=st.integers(min_value=1, max_value=4 * N_PATHS),
    threads=st.integers(min_value=1, max_value=2),
)
def test_stats__identical_for_random_blocks_and_threads(
    config, packed, reference, block_paths, threads
):
    other = simulate(config, N_PATHS, SEED, threads=threads, block_paths=block_paths, packed=packed)
    assert_same_stats(reference, other)


# --------------------------------------------------------------------------- replay
def test_replay_path__is_deterministic(config, packed):
    for i in (0, 1, 511, 512, 2999, 10**9):
        a = replay_path(config, SEED, i, packed)
        b = replay_path(config, SEED, i)  # packing afresh changes nothing
        for k in a:
            assert np.array_equal(a[k], b[k]), (i, k)


def test_replay_path__differs_between_paths_and_seeds(config, packed):
    a = replay_path(config, SEED, 3, packed)
    b = replay_path(config, SEED, 4, packed)
    c = replay_path(config, SEED + 1, 3, packed)
    assert not np.array_equal(a["shortfall_t"], b["shortfall_t"])
    assert not np.array_equal(a["shortfall_t"], c["shortfall_t"])


def test_replay_path__shapes(config, packed):
    S, P, M, T = (
        len(config.scenarios),
        len(config.base.programmes),
        len(config.base.materials),
        config.base.n_months,
    )
    r = replay_path(config, SEED, 0, packed)
    assert r["units_short"].shape == (S, P, T)
    assert r["shortfall_t"].shape == (S, P, M, T)
    assert r["stock_exhausted"].shape == (S, M, T) and r["stock_exhausted"].dtype == np.bool_
    assert r["regime"].shape == (S, T)


@pytest.mark.parametrize("n", [1, 40])
def test_replayed_paths__add_up_to_the_run_statistics(config, packed, n):
    stats_ = simulate(config, n, SEED, threads=2, packed=packed)
    paths = [replay_path(config, SEED, i, packed) for i in range(n)]
    us = np.stack([p["units_short"] for p in paths])  # (n, S, P, T)
    owed = np.stack([p["shortfall_t"] for p in paths])  # (n, S, P, M, T)
    exh = np.stack([p["stock_exhausted"] for p in paths])  # (n, S, M, T)
    reg = np.stack([p["regime"] for p in paths])  # (n, S, T)
    # float sums: the same values, summed in path order; equal up to rounding
    np.testing.assert_allclose(stats_.us_sum[..., 0] / n, us.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats_.us_sum[..., 1], (us**2).sum(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        stats_.owed_sum[..., 0] / n, owed.mean(axis=0), rtol=1e-9, atol=1e-12
    )
    slip = np.stack([p["slip_months"] for p in paths])  # (n, S, P, T)
    share = np.stack([p["share_missed"] for p in paths])
    for name, x in (("slip_sum", slip), ("share_sum", share)):
        np.testing.assert_allclose(getattr(stats_, name)[..., 0] / n, x.mean(axis=0), rtol=1e-9,
                                   atol=1e-12, err_msg=name)  # fmt: skip
    # paired differences: each path against itself in the base
    for name, x in (("d_us_sum", us), ("d_slip_sum", slip), ("d_owed_sum", owed)):
        d = x - x[:, :1]
        np.testing.assert_allclose(getattr(stats_, name)[..., 0], d.sum(axis=0), rtol=1e-9,
                                   atol=1e-9, err_msg=name)  # fmt: skip
        np.testing.assert_allclose(getattr(stats_, name)[..., 1], (d**2).sum(axis=0), rtol=1e-9,
                                   atol=1e-9, err_msg=name)  # fmt: skip
    # counts: exactly
    tol = config.behind_tolerance_units
    ever = np.maximum.accumulate(us > tol, axis=-1)  # (n, S, P, T)
    assert np.array_equal(stats_.behind, ever.sum(axis=0))
    assert np.array_equal(stats_.d_behind, (ever != ever[:, :1]).sum(axis=0))
    thresholds = np.asarray(config.slip_thresholds)[:, None] + 1e-9  # (K, 1)
    past = np.maximum.accumulate(slip[:, :, :, None, :] > thresholds, axis=-1)
    assert np.array_equal(stats_.slip_ever, past.sum(axis=0))
    assert np.array_equal(stats_.d_slip_ever, (past != past[:, :1]).sum(axis=0))
    assert np.array_equal(stats_.exhausted, exh.sum(axis=0))
    assert np.array_equal(stats_.d_exhausted, (exh != exh[:, :1]).sum(axis=0))
    R = len(config.base.regimes)
    regime_counts = np.stack([(reg == r).sum(axis=0) for r in range(R)], axis=1)  # (S, R, T)
    assert np.array_equal(stats_.regime, regime_counts)
    # sketches: each path's values land in the same buckets
    B = stats_.h_us.shape[-1]
    h_us = np.zeros_like(stats_.h_us)
    h_peak_us = np.zeros_like(stats_.h_peak_us)
    h_peak_owed = np.zeros_like(stats_.h_peak_owed)
    inv_u, inv_t = 1.0 / UNITS_FLOOR, 1.0 / TONNES_FLOOR
    for i in range(n):
        for idx in np.ndindex(*us.shape[1:]):
            h_us[idx + (bucket(us[(i,) + idx], inv_u),)] += 1
        for idx in np.ndindex(*us.shape[1:3]):
            h_peak_us[idx + (bucket(us[(i,) + idx].max(), inv_u),)] += 1
        for idx in np.ndindex(*owed.shape[1:4]):
            h_peak_owed[idx + (bucket(owed[(i,) + idx].max(), inv_t),)] += 1
    assert h_us.shape[-1] == B
    assert np.array_equal(stats_.h_us, h_us)
    assert np.array_equal(stats_.h_peak_us, h_peak_us)
    assert np.array_equal(stats_.h_peak_owed, h_peak_owed)


def test_the_first_paths_of_a_longer_run__are_the_paths_of_a_shorter_one(config, packed):
    # counter-based streams: path i is the same whatever n_paths; so the counts of a
    # 600-path run plus those of paths 600..1199 (replayed) equal the 1200-path run's
    short = simulate(config, 600, SEED, threads=2, packed=packed)
    long = simulate(config, 1200, SEED, threads=2, packed=packed)
    extra = [replay_path(config, SEED, i, packed) for i in range(600, 1200)]
    reg = np.stack([p["regime"] for p in extra])
    R = len(config.base.regimes)
    counts = np.stack([(reg == r).sum(axis=0) for r in range(R)], axis=1)
    assert np.array_equal(long.regime, short.regime + counts)
    exh = np.stack([p["stock_exhausted"] for p in extra]).sum(axis=0)
    assert np.array_equal(long.exhausted, short.exhausted + exh)


@pytest.mark.parametrize("n", [40, 600])
def test_float_sums__add_the_paths_one_at_a_time_in_path_order(config, packed, n):
    """Bit for bit: within each 512-path chunk every sum adds its paths' values one at a
    time in path order, and the chunks' sums are added in chunk order (600 paths: two
    chunks, the second ending in a part group)."""
    stats_ = simulate(config, n, SEED, threads=2, packed=packed)
    paths = [replay_path(config, SEED, i, packed) for i in range(n)]
    expected = {}
    for key, name in (("us_sum", "units_short"), ("owed_sum", "shortfall_t")):
        total = np.zeros(paths[0][name].shape + (2,))
        for c0 in range(0, n, CHUNK):
            chunk = np.zeros_like(total)
            for p in paths[c0 : c0 + CHUNK]:
                v = p[name]
                chunk[..., 0] = chunk[..., 0] + v
                chunk[..., 1] = chunk[..., 1] + v * v
            total = total + chunk
        expected[key] = total
    assert np.array_equal(stats_.us_sum, expected["us_sum"])
    assert np.array_equal(stats_.owed_sum, expected["owed_sum"])
