"""The random-number floor: the time just to draw what the kernel draws.

Same generator, same variates (every path's own uniforms with their parameter
transforms, and every month's uniforms), same parallel layout (lanes over chunks of
paths, groups of paths side by side) as ``kernels/block.py``, but no model. The
benchmark suite compares the kernel with it: the kernel can never be faster than this.
"""

from __future__ import annotations

from .._jit import pjit, prange
from . import layout as L
from .paths import GROUP, draw_month, draw_path, fill_fixed, work_of


@pjit
def draw_block(pk, work, k0, k1, path0, n_paths, chunk, n_lanes, out_sink):
    """Draw the uniforms and per-path parameters of ``n_paths`` paths.

    out_sink : float64[n_lanes], written: a checksum that keeps the work from being
    optimised away.
    """
    n_chunks = (n_paths + chunk - 1) // chunk
    for lane in prange(n_lanes):
        w = work_of(work, lane)
        fill_fixed(pk, w)
        acc = 0.0
        u_month = w[2]
        last = u_month.shape[0] - 1
        for ci in range(lane, n_chunks, n_lanes):
            end = min(n_paths, (ci + 1) * chunk)
            for i0 in range(ci * chunk, end, GROUP):
                n = min(GROUP, end - i0)
                for g in range(n):
                    draw_path(pk, w, k0, k1, path0 + i0 + g, g)
                    acc += w[0][0, 0, g]
                for t in range(pk[0][L.D_T]):
                    draw_month(w, k0, k1, path0 + i0, n, t)
                    acc += u_month[last, 0]
        out_sink[lane] = acc
