"""Blocks of paths -> kernel -> merged statistics.

The engine walks the paths in blocks (memory stays flat however many paths are asked
for), calls the compiled block kernel on each, and merges the partial statistics:
float sums chunk by chunk in path order, integer counts and sketches by addition. The
result depends only on (config, seed, n_paths): not on threads or block size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import Config
from .kernels import layout as L
from .pack import Packed, pack

#: paths per chunk: the unit of float summation order (part of the reproducibility
#: contract: changing it changes the last bits of means)
CHUNK = 512
DEFAULT_BLOCK = 64 * CHUNK
#: the monthly sketches count in uint16 per thread, added into wider totals before
#: they could overflow: half the memory of int32, so both threads' sketches fit the
#: shared L3 cache, where the scattered increments were missing it. A block must
#: therefore hold fewer paths than a uint16 can count.
MAX_BLOCK = 64 * 1024 - CHUNK
#: paths the threads' uint16 sketch counts may hold before they are added into totals
UINT16_PATHS = 2**16
#: paths whose monthly sketches are updated together, their bucket codes kept side by
#: side (divides CHUNK): each sketch row is then fetched into the cache once per batch.
#: With the codes in uint16 (1.3 MB per thread for base.toml), 128 and 512 paths took
#: 1.021 and 1.024 times as long as 256 on one thread (interleaved A/B, 11 rounds), and
#: no difference showed on two.
SKETCH_BATCH = 256


@dataclass
class Stats:
    """Merged statistics of a run (all scenarios)."""

    n_paths: int
    us_sum: np.ndarray  # float64[S, P, T, 2]: sum, sum of squares of units behind
    owed_sum: np.ndarray  # float64[S, P, M, T, 2]
    behind: np.ndarray  # int64[S, P, T]: paths behind at least once by month t
    exhausted: np.ndarray  # int64[S, M, T]
    regime: np.ndarray  # int64[S, R, T]
    h_us: np.ndarray  # [S, P, T, B]: uint16 below 2**16 paths, int32 below 2**31, else int64
    h_peak_us: np.ndarray  # int64[S, P, B]
    h_peak_owed: np.ndarray  # int64[S, P, M, B]
    elapsed_s: float = 0.0  # simulating, after the kernel was compiled or loaded
    compile_s: float = 0.0  # compiling the kernel (first run) or loading it from the cache
    kernel_s: float = 0.0  # of elapsed_s, inside the block kernel (the rest merges blocks)
    extra: dict = field(default_factory=dict)


def default_threads() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def estimate_memory_bytes(packed: Packed, threads: int, block_paths: int = DEFAULT_BLOCK) -> int:
    """Working memory of a run, in bytes: it does not grow with the number of paths.

    Counts the block's chunk partials, each thread's counters, sketches and trajectory
    buffers, the merged sketches (held twice while they are summed) and the dataset
    built from them; leaves out the interpreter and libraries (about 200 MB).
    """
    from .kernels.paths import GROUP, work_bytes
    from .kernels.reduce import N_BUCKETS

    d = packed.dims
    S, P, M, T, R = (int(d[i]) for i in (L.D_S, L.D_P, L.D_M, L.D_T, L.D_R))
    n_chunks = -(-block_paths // CHUNK)
    floats = n_chunks * (S * P * T * 2 + S * P * M * T * 2) * 8
    sketch_cells = S * P * T + S * P + S * P * M
    scratch = work_bytes(packed.as_tuple(), 1)
    per_lane = (
        (S * P * T + S * M * T + S * R * T) * 8
        + sketch_cells * N_BUCKETS * 4
        + SKETCH_BATCH * S * P * T * 2
        + GROUP * P * (M + 1) * T * 8
        + scratch
    )
    merged = 2 * sketch_cells * N_BUCKETS * 8
    dataset = (S * P * T * 8 + S * P * M * T * 4 + S * (M + R) * T * 2) * 8
    return floats + threads * per_lane + merged + dataset


def available_memory_bytes() -> int | None:
    """Memory available to a new allocation (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def simulate(
    config: Config,
    n_paths: int,
    seed: int,
    *,
    threads: int | None = None,
    block_paths: int = DEFAULT_BLOCK,
    progress: Callable[[int], None] | None = None,
    packed: Packed | None = None,
) -> Stats:
    """Run ``n_paths`` paths of every scenario of ``config``.

    Parameters
    ----------
    config : Config
    n_paths : int
        Number of paths (>= 1).
    seed : int
        Non-negative 64-bit seed.
    threads : int, optional
        Worker threads (default: the CPUs this process may use).
    block_paths : int
        Paths per block; rounded up to a multiple of ``CHUNK``. Does not change results.
    progress : callable, optional
        Called with the number of paths done after each block.

    Returns
    -------
    Stats
    """
    import time

    import numba

    from .kernels.block import simulate_block
    from .kernels.paths import GROUP, make_work
    from .kernels.reduce import N_BUCKETS
    from .kernels.rng import seed_key

    if n_paths < 1:
        raise ValueError("n_paths must be >= 1")
    packed = packed or pack(config)
    pk = packed.as_tuple()
    d = packed.dims
    S, P, M, T, R = (int(d[i]) for i in (L.D_S, L.D_P, L.D_M, L.D_T, L.D_R))
    threads = threads or default_threads()
    threads = max(1, min(threads, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    block_paths = min(MAX_BLOCK, max(CHUNK, -(-block_paths // CHUNK) * CHUNK))
    n_lanes = threads
    k0, k1 = seed_key(seed)

    work = make_work(pk, n_lanes)
    # (the peaks' scratch has two spare rows: neighbouring threads' rows stay 1 KB apart)
    traj = (
        np.empty((n_lanes, S, P, T, SKETCH_BATCH), np.uint16),
        np.empty((n_lanes, 1, T * P * M, GROUP)),
        np.empty((n_lanes, 1, P * T, GROUP)),
        np.empty((n_lanes, GROUP, S, T), np.int64),
        np.empty((n_lanes, P * M + 2, GROUP)),
    )
    n_chunks = block_paths // CHUNK
    f_us = np.empty((n_chunks, 2, S, P * T))
    f_owed = np.empty((n_chunks, 2, S, T * P * M))
    c_behind = np.zeros((n_lanes, S, P, T), np.int64)
    c_exh = np.zeros((n_lanes, S, M, T), np.int64)
    c_reg = np.zeros((n_lanes, S, R, T), np.int64)
    h_us = np.zeros((n_lanes, S, P, T, N_BUCKETS), np.uint16)
    # the threads' uint16 counts go into totals only before they could overflow, in the
    # smallest integer that counts every path: int32 halves the memory that merging
    # walks (5 ms rather than 10 for one thread's 14 MB of counts, 8.5 rather than 16
    # for two, measured in NumPy). Below 2**16 paths they are never emptied, and the
    # totals are the first thread's counts: no fresh memory, whose first touch (page
    # faults) took up to 76 ms, serially, for the 28 MB of int32 totals after 16,384
    # paths had taken 0.4 s on two threads.
    h_us_total = None
    pending = 0  # paths in the threads' counts since they were last emptied
    h_peak_us = np.zeros((n_lanes, S, P, N_BUCKETS), np.int32)
    h_peak_owed = np.zeros((n_lanes, S, P, M, N_BUCKETS), np.int32)
    us_sum = np.zeros((2, S, P * T))
    owed_sum = np.zeros((2, S, T * P * M))

    _check_distinct(
        pk, work, traj, f_us, f_owed, c_behind, c_exh, c_reg, h_us, h_peak_us, h_peak_owed
    )
    # compile (or load from the cache) before the clock starts: a call on no paths
    t_compile = time.perf_counter()
    simulate_block(
        pk,
        work,
        traj,
        k0,
        k1,
        0,
        0,
        CHUNK,
        n_lanes,
        f_us,
        f_owed,
        c_behind,
        c_exh,
        c_reg,
        h_us,
        h_peak_us,
        h_peak_owed,
    )
    t0 = time.perf_counter()
    done = 0
    kernel_s = 0.0
    while done < n_paths:
        n = min(block_paths, n_paths - done)
        if pending + n >= UINT16_PATHS:
            h_us_total = _add_counts(h_us, h_us_total, n_paths)
            h_us[:] = 0
            pending = 0
        t_block = time.perf_counter()
        simulate_block(
            pk,
            work,
            traj,
            k0,
            k1,
            done,
            n,
            CHUNK,
            n_lanes,
            f_us,
            f_owed,
            c_behind,
            c_exh,
            c_reg,
            h_us,
            h_peak_us,
            h_peak_owed,
        )
        kernel_s += time.perf_counter() - t_block
        for ci in range(-(-n // CHUNK)):  # in path order: reproducible rounding
            us_sum += f_us[ci]
            owed_sum += f_owed[ci]
        pending += n
        done += n
        if progress is not None:
            progress(done)
    if h_us_total is None:  # fewer than UINT16_PATHS paths: uint16 counts them all
        for lane in range(1, n_lanes):
            h_us[0] += h_us[lane]
        h_us_total = h_us[0]
    else:
        h_us_total = _add_counts(h_us, h_us_total, n_paths)
    elapsed = time.perf_counter() - t0

    return Stats(
        n_paths=n_paths,
        us_sum=np.moveaxis(us_sum.reshape(2, S, P, T), 0, -1).copy(),
        owed_sum=np.ascontiguousarray(owed_sum.reshape(2, S, T, P, M).transpose(1, 3, 4, 2, 0)),
        behind=c_behind.sum(axis=0),
        exhausted=c_exh.sum(axis=0),
        regime=c_reg.sum(axis=0),
        h_us=h_us_total,
        h_peak_us=h_peak_us.sum(axis=0, dtype=np.int64),
        h_peak_owed=h_peak_owed.sum(axis=0, dtype=np.int64),
        elapsed_s=elapsed,
        compile_s=t0 - t_compile,
        kernel_s=kernel_s,
    )


def _add_counts(h_us, total, n_paths):
    """The threads' uint16 sketch counts ``h_us`` added into ``total`` (made on first
    use, in the smallest integer that counts ``n_paths``)."""
    if total is None:  # one pass over the counts, where zeroing and adding took two
        return np.sum(h_us, axis=0, dtype=np.int32 if n_paths < 2**31 else np.int64)
    for lane in range(h_us.shape[0]):
        total += h_us[lane]
    return total


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, tuple):
        for item in obj:
            yield from _arrays(item)


def _check_distinct(*args) -> None:
    """Raise if two of the arrays in ``args`` (tuples searched) may share memory.

    The block kernel is compiled on the promise that its array arguments do not
    overlap (``_jit.jit_noalias``); broken, it would compute wrong numbers silently.
    """
    arrays = [a for a in _arrays(args) if a.nbytes]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            if np.may_share_memory(a, b):
                raise ValueError(
                    f"kernel arguments overlap in memory: shapes {a.shape} and {b.shape}"
                )


def replay_path(config: Config, seed: int, path: int, packed: Packed | None = None) -> dict:
    """Trajectories of one path, computed alone: for checking and explaining a run.

    Returns a dict of arrays: ``units_short`` [S, P, T], ``shortfall_t`` [S, P, M, T],
    ``stock_exhausted`` [S, M, T], ``regime`` [S, T].
    """
    from .kernels.paths import make_work, simulate_group, work_of
    from .kernels.rng import seed_key

    packed = packed or pack(config)
    pk = packed.as_tuple()
    d = packed.dims
    S, P, M, T = (int(d[i]) for i in (L.D_S, L.D_P, L.D_M, L.D_T))
    work = work_of(make_work(pk, 1), 0)
    us = np.empty((S, P * T, 1))
    owed = np.empty((S, T * P * M, 1))
    exh = np.zeros((S, M, T), np.int64)
    reg = np.empty((1, S, T), np.int64)
    k0, k1 = seed_key(seed)
    simulate_group(pk, work, k0, k1, path, 1, us, owed, exh, reg)
    return dict(
        units_short=us[..., 0].reshape(S, P, T),
        shortfall_t=np.ascontiguousarray(owed[..., 0].reshape(S, T, P, M).transpose(0, 2, 3, 1)),
        stock_exhausted=exh > 0,
        regime=reg[0],
    )
