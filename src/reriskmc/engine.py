"""Blocks of paths -> kernel -> merged statistics.

The engine walks the paths in blocks (memory stays flat however many paths are asked
for), calls the compiled block kernel on each, and merges the partial statistics:
float sums chunk by chunk in path order, integer counts and sketches by addition. The
result depends only on (config, seed, n_paths): not on threads or block size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import Config
from .kernels.scratch import CHUNK, DEFAULT_BLOCK, MAX_BLOCK, SKETCH_BATCH  # noqa: F401
from .pack import Packed, pack

#: paths the threads' uint16 sketch counts may hold before they are added into totals
UINT16_PATHS = 2**16


@dataclass
class Stats:
    """Merged statistics of a run (all scenarios).

    Sums are [..., 2]: the sum over paths and the sum of squares; the ``d_*_sum`` sums
    are of each path's value in a scenario less its own value in the base (zero for the
    base). Counts ``d_*`` count the paths on which a scenario and the base disagree.
    Monthly sketches are uint16 below 2**16 paths, int32 below 2**31, else int64.
    """

    n_paths: int
    us_sum: np.ndarray  # float64[S, P, T, 2]: units behind
    slip_sum: np.ndarray  # float64[S, P, T, 2]: slip in months
    share_sum: np.ndarray  # float64[S, P, T, 2]: share of the schedule missed
    owed_sum: np.ndarray  # float64[S, P, M, T, 2]: tonnes owed
    d_us_sum: np.ndarray
    d_slip_sum: np.ndarray
    d_share_sum: np.ndarray
    d_owed_sum: np.ndarray
    behind: np.ndarray  # int64[S, P, T]: paths behind at least once by month t
    slip_ever: np.ndarray  # int64[S, P, K, T]: paths past slip threshold k by month t
    exhausted: np.ndarray  # int64[S, M, T]: paths whose stocks have run out by month t
    regime: np.ndarray  # int64[S, R, T]
    d_behind: np.ndarray
    d_slip_ever: np.ndarray
    d_exhausted: np.ndarray
    d_regime: np.ndarray  # paths in regime r in exactly one of scenario and base
    h_us: np.ndarray  # [S, P, T, B]
    h_slip: np.ndarray  # [S, P, T, B]
    h_peak_us: np.ndarray  # int64[S, P, B]
    h_peak_slip: np.ndarray  # int64[S, P, B]
    h_peak_owed: np.ndarray  # int64[S, P, M, B]
    elapsed_s: float = 0.0  # simulating, after the kernel was compiled or loaded
    compile_s: float = 0.0  # compiling the kernel (first run) or loading it from the cache
    kernel_s: float = 0.0  # of elapsed_s, inside the block kernel (the rest merges blocks)
    precision: float | None = None  # the worst headline precision reached (precision.Target)


def default_threads() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def prepare(config: Config) -> Packed:
    """The config compiled into the kernel's arrays, once for the estimate and the run."""
    return pack(config)


def estimate_memory_bytes(packed: Packed, threads: int, block_paths: int = DEFAULT_BLOCK) -> int:
    """Working memory of a run, in bytes: it does not grow with the number of paths.

    Counts every array the block kernel works in (``kernels.scratch.nbytes``), the
    merged sketches (held twice while they are summed) and the dataset built from
    them; leaves out the interpreter and libraries (about 200 MB).
    """
    from .kernels.scratch import nbytes
    from .kernels.sketch import N_BUCKETS

    d = packed.dims
    S, P, M, T, R = d.S, d.P, d.M, d.T, d.R
    K = len(packed.slip_thresholds)
    sketch_cells = 2 * S * P * T + 2 * S * P + S * P * M
    sums = 4 * S * T * packed.record_rows.total  # the records' sums and their differences
    merged = 2 * sketch_cells * N_BUCKETS * 8 + sums * 8
    # the dataset: every variable, its standard error and its paired difference
    dataset = 4 * (S * P * T * (3 + 2 * K + 12) + S * P * M * T + S * (M + R) * T) * 8
    return nbytes(packed, threads, _block_size(block_paths)) + merged + dataset


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


def _block_size(block_paths: int) -> int:
    return min(MAX_BLOCK, max(CHUNK, -(-block_paths // CHUNK) * CHUNK))


#: the threads' monthly sketches, kept in uint16 (Partials field names)
MONTHLY_SKETCHES = ("h_us", "h_slip")
#: the Partials fields that are integer counts (one row per thread), in their order
COUNTS = (
    "c_behind", "c_slip", "c_exh", "c_reg", "d_behind", "d_slip", "d_exh", "d_reg",
    "h_us", "h_slip", "h_peak_us", "h_peak_slip", "h_peak_owed",
)  # fmt: skip


class _Totals:
    """The merged statistics of the blocks run so far (``done`` paths)."""

    def __init__(self, packed: Packed, n_paths: int):
        d = packed.dims
        self.n_paths = n_paths  # at most
        self.done = 0
        self.rec_sum = np.zeros((2, d.S, d.T * packed.record_rows.total))
        self.drec_sum = np.zeros_like(self.rec_sum)
        # the threads' uint16 monthly sketch counts go into totals only before they could
        # overflow, in the smallest integer that counts every path (int32 halves the
        # memory that merging walks); below 2**16 paths they are never emptied, and the
        # totals are the first thread's counts: no fresh memory, whose first touch (page
        # faults) can cost more than simulating a small run
        self.monthly: dict[str, np.ndarray] = {}
        self.pending = 0  # paths in the threads' counts since they were last emptied
        # counts (not the monthly sketches) held outside the threads' rows, in int64:
        # restored from a checkpoint or merged from other processes' blocks, which may
        # hold more paths than a thread's int32 peak sketches can count
        self.held: dict[str, np.ndarray] = {}

    def hold(self, name: str, counts: np.ndarray) -> None:
        """Add ``counts`` (one row, not a monthly sketch) to the held int64 counts."""
        if name in self.held:
            self.held[name] += counts
        else:
            self.held[name] = counts.astype(np.int64)

    def before_block(self, partials, n: int) -> None:
        if self.pending + n >= UINT16_PATHS:
            for name in MONTHLY_SKETCHES:
                self._add_counts(name, getattr(partials, name))
                getattr(partials, name)[:] = 0
            self.pending = 0

    def after_block(self, partials, n: int) -> None:
        self.add_sums(partials.f_rec, partials.f_drec, n)

    def add_sums(self, f_rec: np.ndarray, f_drec: np.ndarray, n: int) -> None:
        """A block's per-chunk float sums, in path order: reproducible rounding."""
        for ci in range(-(-n // CHUNK)):
            self.rec_sum += f_rec[ci]
            self.drec_sum += f_drec[ci]
        self.pending += n
        self.done += n

    def count(self, partials, name: str) -> np.ndarray:
        """A count (not a monthly sketch) over all threads' partials and the held counts,
        int64."""
        total = getattr(partials, name).sum(axis=0, dtype=np.int64)
        return total + self.held[name] if name in self.held else total

    def state(self, partials) -> dict[str, np.ndarray]:
        """Everything needed to go on from ``done`` paths, as plain arrays: the sums, the
        emptied monthly sketches and the threads' counts (added over threads, so a run
        may go on with another number of threads)."""
        arrays = {"done": np.int64(self.done), "pending": np.int64(self.pending)}
        arrays.update(rec_sum=self.rec_sum, drec_sum=self.drec_sum)
        arrays.update({f"monthly_{k}": v for k, v in self.monthly.items()})
        for name in COUNTS:
            counts = getattr(partials, name)
            if name in MONTHLY_SKETCHES:  # fewer than UINT16_PATHS paths: uint16 holds them
                arrays[f"counts_{name}"] = counts.sum(axis=0, dtype=counts.dtype)
            else:
                arrays[f"counts_{name}"] = self.count(partials, name)
        return arrays

    def restore(self, arrays, partials) -> None:
        """Go on from :meth:`state`'s arrays (``partials``: freshly allocated)."""
        self.done, self.pending = int(arrays["done"]), int(arrays["pending"])
        self.rec_sum[...] = arrays["rec_sum"]
        self.drec_sum[...] = arrays["drec_sum"]
        for name in MONTHLY_SKETCHES:
            if f"monthly_{name}" in arrays:
                self.monthly[name] = np.array(arrays[f"monthly_{name}"])
        self.held = {}
        for name in COUNTS:
            counts = getattr(partials, name)
            counts[:] = 0
            if name in MONTHLY_SKETCHES:
                counts[0] = arrays[f"counts_{name}"]
            else:
                self.hold(name, arrays[f"counts_{name}"])

    def _add_counts(self, name: str, counts) -> None:
        if name not in self.monthly:  # one pass over the counts, where zeroing and adding took two
            dtype = np.int32 if self.n_paths < 2**31 else np.int64
            self.monthly[name] = np.sum(counts, axis=0, dtype=dtype)
            return
        for lane in range(counts.shape[0]):
            self.monthly[name] += counts[lane]

    def _monthly(self, name: str, partials) -> np.ndarray:
        counts = getattr(partials, name)
        if name not in self.monthly:  # fewer than UINT16_PATHS paths: uint16 counts them all
            for lane in range(1, counts.shape[0]):
                counts[0] += counts[lane]
            return counts[0]
        self._add_counts(name, counts)
        return self.monthly[name]

    def stats(self, packed: Packed, partials) -> Stats:
        def total(name):
            return self.count(partials, name)

        def by_month(name):
            """A histogram of first months (index T: never) as "at least once by month
            t" counts: its running sum over months."""
            return np.cumsum(total(name), axis=-1)[..., :-1]

        return Stats(
            n_paths=self.done,
            **_record_sums(packed, self.rec_sum, ""),
            **_record_sums(packed, self.drec_sum, "d_"),
            behind=by_month("c_behind"),
            slip_ever=by_month("c_slip"),
            exhausted=by_month("c_exh"),
            regime=total("c_reg"),
            d_behind=by_month("d_behind"),
            d_slip_ever=by_month("d_slip"),
            d_exhausted=by_month("d_exh"),
            d_regime=total("d_reg"),
            h_us=self._monthly("h_us", partials),
            h_slip=self._monthly("h_slip", partials),
            h_peak_us=total("h_peak_us"),
            h_peak_slip=total("h_peak_slip"),
            h_peak_owed=total("h_peak_owed"),
        )


def _record_sums(packed: Packed, rec_sum: np.ndarray, prefix: str) -> dict:
    """The merged sums of the month records, as each kind's [S, P(, M), T, 2] array."""
    d, rows = packed.dims, packed.record_rows
    S, P, M, T = d.S, d.P, d.M, d.T
    rec = rec_sum.reshape(2, S, T, rows.total)

    def per_programme(first):
        return np.ascontiguousarray(rec[..., first : first + P].transpose(1, 3, 2, 0))

    owed = rec[..., rows.owed : rows.owed + P * M].reshape(2, S, T, P, M)
    return {
        f"{prefix}us_sum": per_programme(rows.units),
        f"{prefix}slip_sum": per_programme(rows.slip),
        f"{prefix}share_sum": per_programme(rows.share),
        f"{prefix}owed_sum": np.ascontiguousarray(owed.transpose(1, 3, 4, 2, 0)),
    }


@dataclass
class Control:
    """What happens between blocks, besides merging: all optional.

    progress : called with the paths merged, once after compiling and after each block.
    checkpoint : called after each block with the paths merged and a function that
        returns the run's state (``_Totals.state``): enough to go on from there.
    resume : such a state, to go on from instead of from path 0.
    until : ``precision.Target``: stop at the first of its steps where every headline
        estimate is as precise as it asks (the steps are fixed path counts, so the
        result depends only on the config, the seed and the path count reached).
    compiling : a context manager factory wrapped around compiling (or loading) the
        kernel, e.g. to say that it is compiling.
    """

    progress: Callable[[int], None] | None = None
    checkpoint: Callable[[int, Callable[[], dict]], None] | None = None
    resume: dict | None = None
    until: object | None = None
    compiling: Callable[[], object] | None = None

    def start(self, totals: _Totals, partials) -> bool:
        """After compiling: go on from ``resume``; True if the run is already done."""
        if self.resume is not None:
            totals.restore(self.resume, partials)
        if self.progress is not None:
            self.progress(totals.done)
        return self.reached(totals, partials)

    def merged(self, totals: _Totals, partials) -> bool:
        """After a block was merged; True to stop."""
        if self.progress is not None:
            self.progress(totals.done)
        stop = self.reached(totals, partials)
        if self.checkpoint is not None:
            self.checkpoint(totals.done, lambda: totals.state(partials))
        return stop

    def reached(self, totals: _Totals, partials) -> bool:
        u = self.until
        if u is None or totals.done == 0 or totals.done % u.step:
            return False
        return u.met(self.precision(totals, partials))

    def precision(self, totals: _Totals, partials) -> float:
        return self.until.worst(
            totals.count(partials, "c_slip"), totals.count(partials, "c_exh"), totals.done
        )

    def blocks(self, done: int, n_paths: int, block_paths: int):
        """(first path, paths) of each block from ``done`` on; blocks end on the steps
        of ``until``, where the run may stop."""
        step = self.until.step if self.until is not None else n_paths
        while done < n_paths:
            n = min(block_paths, n_paths - done, step - done % step)
            yield done, n
            done += n

    def compile(self, run_block) -> None:
        import contextlib

        with self.compiling() if self.compiling is not None else contextlib.nullcontext():
            run_block(0, 0)


def simulate(
    config: Config,
    n_paths: int,
    seed: int,
    *,
    threads: int | None = None,
    block_paths: int = DEFAULT_BLOCK,
    progress: Callable[[int], None] | None = None,
    packed: Packed | None = None,
    control: Control | None = None,
) -> Stats:
    """Run ``n_paths`` paths of every scenario of ``config``.

    Parameters
    ----------
    config : Config
    n_paths : int
        Number of paths (>= 1); with ``control.until``, the most.
    seed : int
        Non-negative 64-bit seed.
    threads : int, optional
        Worker threads (default: the CPUs this process may use).
    block_paths : int
        Paths per block; rounded up to a multiple of ``CHUNK``. Does not change results.
    progress : callable, optional
        Called with the number of paths done after each block (or give ``control``).
    packed : Packed, optional
        ``prepare(config)``, if already made.
    control : Control, optional
        Progress, checkpoints, resuming, stopping at a precision.

    Returns
    -------
    Stats
    """
    from concurrent.futures import ThreadPoolExecutor

    from .kernels.block import simulate_block
    from .kernels.rng import seed_key
    from .kernels.scratch import allocate

    if n_paths < 1:
        raise ValueError("n_paths must be >= 1")
    control = control or Control(progress=progress)
    packed = packed or pack(config)
    pk = packed.params()
    threads = max(1, threads or default_threads())
    block_paths = _block_size(block_paths)
    k0, k1 = seed_key(seed)
    work, pads, traj, partials = allocate(packed, threads, block_paths)
    _check_distinct(pk, work, traj, partials)
    totals = _Totals(packed, n_paths)
    pool = ThreadPoolExecutor(max_workers=max(1, threads - 1), thread_name_prefix="reriskmc")

    def run_block(path0: int, n: int) -> None:
        simulate_block(pool, pk, work, pads, traj, partials, k0, k1, path0, n, CHUNK, threads)

    try:
        return _run_blocks(run_block, packed, partials, totals, block_paths, control)
    finally:
        pool.shutdown(wait=True)


def _run_blocks(run_block, packed, partials, totals, block_paths, control) -> Stats:
    import time

    t_compile = time.perf_counter()
    control.compile(run_block)  # compile (or load from the cache) before the clock starts
    t0 = time.perf_counter()
    kernel_s = 0.0
    if not control.start(totals, partials):
        for path0, n in control.blocks(totals.done, totals.n_paths, block_paths):
            totals.before_block(partials, n)
            t_block = time.perf_counter()
            run_block(path0, n)
            kernel_s += time.perf_counter() - t_block
            totals.after_block(partials, n)
            if control.merged(totals, partials):
                break
    return finish(packed, partials, totals, control, t0, t0 - t_compile, kernel_s)


def finish(packed, partials, totals, control, t0, compile_s, kernel_s) -> Stats:
    """The merged statistics, timed, with the precision reached if one was asked."""
    import time

    if control.until is not None:
        precision = control.precision(totals, partials)
    stats = totals.stats(packed, partials)
    stats.elapsed_s = time.perf_counter() - t0
    stats.compile_s, stats.kernel_s = compile_s, kernel_s
    if control.until is not None:
        stats.precision = precision
    return stats


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

    Returns a dict of arrays: ``units_short``, ``slip_months`` and ``share_missed``
    [S, P, T], ``shortfall_t`` [S, P, M, T], ``stock_exhausted`` [S, M, T] (run out by
    then), ``regime`` [S, T].
    """
    from .kernels.block import simulate_lane
    from .kernels.rng import seed_key
    from .kernels.scratch import allocate

    packed = packed or pack(config)
    d, rows = packed.dims, packed.record_rows
    S, P, M, T = d.S, d.P, d.M, d.T
    work, pads, traj, partials = allocate(packed, 1, 1, log=True)
    k0, k1 = seed_key(seed)
    simulate_lane(packed.params(), work, pads, traj, partials, k0, k1, path, 1, 1, 1, 0)
    log, flags = traj.log[0, ..., 0], traj.flags[0, ..., 0]  # [T, S, R], [T, S, M + 1]

    def per_programme(first):
        return np.ascontiguousarray(log[:, :, first : first + P].transpose(1, 2, 0))

    owed = log[:, :, rows.owed : rows.owed + P * M].reshape(T, S, P, M)
    return dict(
        units_short=per_programme(rows.units),
        slip_months=per_programme(rows.slip),
        share_missed=per_programme(rows.share),
        shortfall_t=np.ascontiguousarray(owed.transpose(1, 2, 3, 0)),
        stock_exhausted=np.ascontiguousarray(flags[:, :, :M].transpose(1, 2, 0)) > 0,
        regime=np.ascontiguousarray(flags[:, :, M].T),
    )
