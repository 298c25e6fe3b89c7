"""Blocks of paths as dask.distributed tasks, merged in path order by the client.

Each task runs the block kernel on one thread of a worker, on its range of paths, and
returns the block's mergeable partials: the float sums one row per chunk of paths (in
chunk order) and the integer counts (the monthly sketches, mostly empty, as their
nonzero cells). The client merges blocks in path order exactly as the local engine
does (``engine._Totals``), so the result is bit-identical to a local run of the same
config, seed and path count, however many workers, and whichever worker ran a block.
A bounded number of blocks is in flight, and blocks that finish early wait for their
turn, so the client's memory does not grow with the path count. A worker lost mid-run
changes nothing: the scheduler runs its blocks again elsewhere.

Each worker thread packs the config and allocates the kernel's scratch once, on its
first block, and keeps them for the next blocks of the same config (``_WORKER``). The
scratch is the thread's own: a worker with several threads runs several blocks at once,
and blocks sharing scratch would mix their statistics.
"""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np

from .config import Config
from .engine import CHUNK, COUNTS, DEFAULT_BLOCK, MONTHLY_SKETCHES, Control, Stats, _Totals
from .pack import Packed, pack

#: per worker thread (``.state``): the last config's packed model and the thread's scratch
_WORKER = threading.local()


def _scratch(path: str, text: str, block_paths: int) -> dict:
    from .config import load_config
    from .kernels.scratch import allocate

    key = (hashlib.sha256(text.encode("utf-8")).hexdigest(), block_paths)
    state = getattr(_WORKER, "state", None)
    if state is None or state["key"] != key:
        _WORKER.state = None  # one config at a time: its scratch can weigh hundreds of MB
        packed = pack(load_config(path, text))
        work, pads, traj, partials = allocate(packed, 1, block_paths)
        state = dict(key=key, pk=packed.params(), work=work, pads=pads, traj=traj)
        state["partials"] = partials
        _WORKER.state = state
    return state


def warm(path: str, text: str, block_paths: int) -> int:
    """Load (or compile) the kernel and allocate the scratch in this worker: a block of
    no paths. Returns the worker's process id."""
    import os

    run_block(path, text, 0, 0, 0, block_paths)
    _WORKER.state = None  # the tasks' threads allocate their own scratch
    return os.getpid()


def warm_workers(client, path: str, text: str, block_paths: int) -> None:
    """:func:`warm` every worker: first one worker per host, hosts at once, then the
    rest. Workers on one host share the kernel cache, so on a cold cache the others then
    load the kernel instead of each compiling it beside the others on the same cores."""
    addresses = list(client.nthreads())
    hosts: dict[str, str] = {}
    for address in addresses:
        hosts.setdefault(address.rsplit(":", 1)[0], address)
    first = list(hosts.values())
    client.run(warm, path, text, block_paths, workers=first)
    rest = [address for address in addresses if address not in first]
    if rest:
        client.run(warm, path, text, block_paths, workers=rest)


def run_block(path: str, text: str, seed: int, path0: int, n: int, block_paths: int) -> dict:
    """Paths ``path0 .. path0 + n - 1`` of the config (file ``path``, text ``text``), on
    one thread: the block's partials, ready to merge (:func:`merge_block`)."""
    from .kernels.block import simulate_block
    from .kernels.rng import seed_key

    s = _scratch(path, text, block_paths)
    partials = s["partials"]
    for name in COUNTS:  # the kernel adds to the counts: each block starts from zero
        getattr(partials, name)[:] = 0
    k0, k1 = seed_key(seed)
    pk, work, pads, traj = s["pk"], s["work"], s["pads"], s["traj"]
    simulate_block(None, pk, work, pads, traj, partials, k0, k1, path0, n, CHUNK, 1)
    n_chunks = -(-n // CHUNK)
    out = {"f_rec": partials.f_rec[:n_chunks].copy(), "f_drec": partials.f_drec[:n_chunks].copy()}
    for name in COUNTS:
        counts = getattr(partials, name)[0]
        if name in MONTHLY_SKETCHES:  # mostly empty: their nonzero cells
            cells = np.flatnonzero(counts)
            out[name] = (cells.astype(np.int64), counts.ravel()[cells])
        else:
            out[name] = counts.copy()
    return out


def merge_block(totals: _Totals, partials, block: dict, n: int) -> None:
    """Add a block's partials (:func:`run_block`) into the merged statistics: the next
    block in path order. ``partials`` holds the merged monthly sketches in its one row,
    ``totals`` the other counts (int64)."""
    totals.before_block(partials, n)
    for name in COUNTS:
        if name in MONTHLY_SKETCHES:
            cells, values = block[name]
            getattr(partials, name)[0].ravel()[cells] += values  # distinct cells: one add each
        else:
            totals.hold(name, block[name])
    totals.add_sums(block["f_rec"], block["f_drec"], n)


def simulate(
    config: Config,
    n_paths: int,
    seed: int,
    client,
    *,
    block_paths: int = DEFAULT_BLOCK,
    packed: Packed | None = None,
    control: Control | None = None,
    in_flight: int | None = None,
) -> Stats:
    """As ``engine.simulate``, with the blocks run on the workers of a dask
    ``distributed.Client``; bit-identical to it for the same config, seed and paths.

    in_flight : blocks submitted and not yet merged, at most (default: two per worker
        thread); bounds the client's memory.
    """
    from .engine import _block_size, finish
    from .kernels.scratch import allocate

    if n_paths < 1:
        raise ValueError("n_paths must be >= 1")
    control = control or Control()
    packed = packed or pack(config)
    block_paths = _block_size(block_paths)
    partials = allocate(packed, 1, CHUNK)[3]
    totals = _Totals(packed, n_paths)
    t_compile = time.perf_counter()
    control.compile(lambda path0, n: warm_workers(client, config.path, config.text, block_paths))
    t0 = time.perf_counter()
    if in_flight is None:
        in_flight = max(2, 2 * sum(client.nthreads().values()))
    if not control.start(totals, partials):
        task = (config.path, config.text, seed)
        _merge_in_order(client, task, totals, partials, control, block_paths, in_flight)
    return finish(packed, partials, totals, control, t0, t0 - t_compile, 0.0)


def _merge_in_order(client, task, totals, partials, control, block_paths, in_flight) -> None:
    """Submit the blocks, at most ``in_flight`` at a time, and merge them in path order
    as they come back, until the last or until ``control`` says stop."""
    from collections import deque

    from distributed import as_completed

    blocks = control.blocks(totals.done, totals.n_paths, block_paths)
    waiting, first_path = deque(), {}  # submitted, in path order; a future's block
    held: dict = {}  # finished blocks waiting for their turn, by first path
    running = as_completed()

    def submit():
        block = next(blocks, None)
        if block is not None:
            future = client.submit(run_block, *task, *block, block_paths, pure=False)
            first_path[future.key] = block[0]
            waiting.append(block)
            running.add(future)

    for _ in range(in_flight):
        submit()
    try:
        for future in running:
            held[first_path.pop(future.key)] = future.result()
            future.release()
            while waiting and waiting[0][0] in held:
                path0, n = waiting.popleft()
                merge_block(totals, partials, held.pop(path0), n)
                if control.merged(totals, partials):
                    return
                submit()
    finally:
        client.cancel(list(running.futures))


def local_client(n_workers: int):
    """A client of a new cluster on this machine: ``n_workers`` processes, one thread
    each (the caller closes both: ``client.close(); client.cluster.close()``)."""
    import logging

    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=logging.ERROR,
    )  # fmt: skip
    try:
        return Client(cluster)
    except BaseException:  # Ctrl-C or a failure while connecting: no orphaned workers
        cluster.close()
        raise


def connect(address: str):
    """A client of the running cluster whose scheduler is at ``address``."""
    from distributed import Client

    return Client(address)


def close(client, own_cluster: bool) -> None:
    """Close the client, and its cluster if :func:`local_client` made it."""
    cluster = client.cluster if own_cluster else None
    client.close()
    if cluster is not None:
        cluster.close()
