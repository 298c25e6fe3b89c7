"""The random-number floor: the time just to draw what the kernel draws.

Same generator, same variates (every path's own uniforms with their parameter
transforms, and every month's uniforms), same parallel layout (lanes over chunks of
paths, groups of paths side by side) as ``kernels/block.py``, but no model. The
benchmark suite compares the kernel with it: the kernel can never be faster than this.
"""

from __future__ import annotations

from .._jit import jit
from .block import run_lanes
from .paths import draw_month, draw_path, fill_fixed
from .scratch import GROUP, work_of


def draw_block(pool, pk, work, pads, k0, k1, path0, n_paths, chunk, n_lanes, out_sink):
    """Draw the uniforms and per-path parameters of ``n_paths`` paths on ``n_lanes``
    threads (``block.run_lanes``).

    out_sink : float64[n_lanes], written: a checksum that keeps the work from being
    optimised away.
    """
    run_lanes(
        pool, draw_lane, n_lanes, pk, work, pads, k0, k1, path0, n_paths, chunk, n_lanes, out_sink
    )


@jit
def draw_lane(pk, work, pads, k0, k1, path0, n_paths, chunk, n_lanes, out_sink, lane):
    """Thread ``lane``'s share of :func:`draw_block`."""
    n_chunks = (n_paths + chunk - 1) // chunk
    w = work_of(work, pads, lane)
    fill_fixed(pk, w)
    acc = 0.0
    last = w.u_month.shape[0] - 1
    for ci in range(lane, n_chunks, n_lanes):
        end = min(n_paths, (ci + 1) * chunk)
        for i0 in range(ci * chunk, end, GROUP):
            n = min(GROUP, end - i0)
            for g in range(n):
                draw_path(pk, w, k0, k1, path0 + i0 + g, g)
                acc += w.theta[0, 0, g]
            for t in range(pk.dims.T):
                draw_month(w, k0, k1, path0 + i0, n, t)
                acc += w.u_month[last, 0]
    out_sink[lane] = acc


def floor_runner(packed, seed: int, threads: int):
    """A callable ``draw(n_paths)`` that draws what a run of ``n_paths`` paths draws, on
    ``threads`` threads, with its arrays made once (for timing the floor alone)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from .rng import seed_key
    from .scratch import CHUNK, make_work

    pk = packed.params()
    work, pads = make_work(packed, threads)
    pool = ThreadPoolExecutor(max_workers=max(1, threads - 1))
    sink = np.zeros(threads)
    k0, k1 = seed_key(seed)

    def draw(n_paths: int) -> np.ndarray:
        draw_block(pool, pk, work, pads, k0, k1, 0, n_paths, CHUNK, threads, sink)
        return sink

    draw(CHUNK)  # compile (or load) first
    return draw
