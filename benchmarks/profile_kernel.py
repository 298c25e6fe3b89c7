"""Where the kernel spends its time, per path of configs/base.toml, on one thread.

    python benchmarks/profile_kernel.py [--paths N]

Times each stage on its own (drawing the random numbers, running the scenarios,
folding paths into statistics, the monthly sketches), then each section of the month
loop by compiling the sampler once more with that section left out (a difference of
two timings, so only roughly additive). Stages timed alone run on hot caches: the
engine's own time per path is higher (see the README). numba code has no line
profiler; this is the profile behind the performance notes in the README.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

from reriskmc.config import load_config
from reriskmc.engine import SKETCH_BATCH, replay_path
from reriskmc.kernels import layout as L
from reriskmc.kernels import paths as kpaths
from reriskmc.kernels.reduce import N_BUCKETS, accumulate_path, accumulate_units
from reriskmc.kernels.rng import seed_key
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"
SECTIONS = {  # name: (first line of the section, first line after it)
    "licences (3.4)": ("# -- 3.4 licences", "# -- 3.5 non-Chinese"),
    "sources (3.5)": ("# -- 3.5 non-Chinese", "# -- 3.6 demand"),
    "build and record (3.8-3.9)": ("# -- 3.8 build", "out_reg[s, t] = r"),
}


def _timed(fn, n, repeats=3):
    fn(2)
    return min(_once(fn, n) for _ in range(repeats)) / n * 1e6


def _once(fn, n):
    t = time.perf_counter()
    fn(n)
    return time.perf_counter() - t


def _variant(skip: str | None):
    """The paths module, compiled anew, optionally without one month-loop section."""
    src = inspect.getsource(kpaths)
    src = src.replace("from .._jit import jit", "from numba import njit as _nj\n"
                      "def jit(fn=None, **kw):\n    return _nj(**kw) if fn is None else _nj(fn)")
    src = src.replace("from . import layout as L", "from reriskmc.kernels import layout as L")
    src = src.replace("from .rng import", "from reriskmc.kernels.rng import")
    if skip:  # wrap the section in "if False:" (numba drops the dead code)
        a, b = SECTIONS[skip]
        i, j = src.index(a), src.index(b)
        lines = src[i:j].split("\n")
        src = (src[:i] + "if False:\n" + "\n".join("    " + ln if ln.strip() else ln for ln in lines[:-1])
               + "\n" + lines[-1] + src[j:])
    path = Path(tempfile.mkdtemp()) / "variant_paths.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"variant_{abs(hash(skip))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=3000)
    n = ap.parse_args().paths
    numba.set_num_threads(1)
    config = load_config(BASE)
    pk = pack(config).as_tuple()
    S, P, M, T, R = (int(pk[0][i]) for i in (L.D_S, L.D_P, L.D_M, L.D_T, L.D_R))
    k0, k1 = seed_key(1)  # compile-time constants in the loops below
    out = (np.zeros((S, P, T, 1)), np.zeros((S, T * P * M)), np.zeros((S, M, T), np.bool_),
           np.zeros((S, T), np.int64))

    def sampler(mod):
        w = mod.work_of(mod.make_work(pk, 1), 0)
        sim = mod.simulate_path

        @njit
        def loop(k, pk, w, out_us, out_owed, out_exh, out_reg):
            for i in range(k):
                sim(pk, w, k0, k1, i, out_us, 0, out_owed, out_exh, out_reg)
        return lambda k: loop(k, pk, w, *out)

    draw = kpaths.draw_path

    @njit
    def draw_loop(k, pk, w):
        for i in range(k):
            draw(pk, w, k0, k1, i)

    w = kpaths.work_of(kpaths.make_work(pk, 1), 0)
    batch = SKETCH_BATCH
    trajs = [replay_path(config, 1, i) for i in range(batch)]
    us = np.ascontiguousarray(np.stack([t["units_short"] for t in trajs], axis=-1))  # (S, P, T, batch)
    owed = np.ascontiguousarray(np.stack([t["shortfall_t"] for t in trajs])
                                .transpose(0, 1, 4, 2, 3).reshape(batch, S, T * P * M))
    exh = np.stack([t["stock_exhausted"] for t in trajs])
    reg = np.stack([t["regime"] for t in trajs])
    acc = (np.zeros((2, S, T * P * M)), np.zeros((S, M, T), np.int64), np.zeros((S, R, T), np.int64),
           np.zeros((S, P, M, N_BUCKETS), np.int32))
    units = (np.zeros((2, S, P, T)), np.zeros((S, P, T), np.int64),
             np.zeros((S, P, T, N_BUCKETS), np.uint16), np.zeros((S, P, N_BUCKETS), np.int32),
             np.zeros(batch, np.bool_), np.zeros(batch))

    @njit
    def fold_loop(k, owed, exh, reg, a0, a1, a2, a3):
        for i in range(k):
            j = i % owed.shape[0]
            accumulate_path(1e9, owed[j], exh[j], reg[j], a0, a1, a2, a3)

    @njit
    def units_loop(k, us, f_us, c_behind, h_us, h_peak, ever, peak):
        for i in range(k // us.shape[3] + 1):
            if i % 200 == 199:
                h_us[:] = 0  # uint16 counts
            accumulate_units(0.5, 1e6, us, us.shape[3], f_us, c_behind, h_us, h_peak, ever, peak)

    full = _timed(sampler(_variant(None)), n)
    rows = [("sampler, all scenarios (simulate_path)", full),
            ("  of which random numbers and parameter draws (draw_path)",
             _timed(lambda k: draw_loop(k, pk, w), n))]
    for name in SECTIONS:
        rows.append((f"  of which {name}, by omission", full - _timed(sampler(_variant(name)), n)))
    rows.append(("  remainder: regimes, events, demand, allocation (3.1-3.3, 3.6-3.7)",
                 full - sum(t for _, t in rows[1:])))
    rows.append(("statistics per path (accumulate_path)",
                 _timed(lambda k: fold_loop(k, owed, exh, reg, *acc), n)))
    rows.append(("units behind: sums, counts, sketches (accumulate_units)",
                 _timed(lambda k: units_loop(k, us, *units), n)))
    print(f"configs/base.toml: {S} scenarios x {T} months, one thread, {n} paths")
    for name, us_per_path in rows:
        print(f"{name:<62} {us_per_path:8.1f} us/path")


if __name__ == "__main__":
    sys.exit(main())
