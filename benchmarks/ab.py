"""Interleaved A/B timing of two or more versions of the package, in one process.

    python benchmarks/ab.py OLD=/path/to/old/src/reriskmc NEW=src/reriskmc [...]
        [--paths N] [--rounds R] [--threads T] [--config FILE]

A version may run its own config, ``NAME=SRC::CONFIG`` (a config the other versions
cannot read): the times are then compared per path and month of the run.

Each version is copied under its own package name (rr_OLD, rr_NEW, ...), and their
``engine.simulate`` calls alternate, so that the machine's drift (up to 30% within
minutes on a shared machine) hits all versions alike. It prints whether every statistic
is bit-identical to the first version's, the time per path and thread, and the median of
the paired time ratios against the first version: the figure to trust. An old version
can be had with ``git worktree add --detach /tmp/old <commit>``.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import importlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"


#: this run's copies of the versions, removed at exit (a folder per run: two runs at once
#: must not replace each other's copies; the kernel cache is keyed by sources, not path)
_ROOT = Path(tempfile.mkdtemp(prefix="reriskmc_ab_"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def _load(name: str, src: str, config: str):
    root = _ROOT
    dst = root / f"rr_{name}"
    shutil.copytree(src, dst)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    # each version compiles into the cache folder its own sources key: numba checks only
    # the file defining a cached function, so versions sharing a folder would load each
    # other's kernels
    os.environ.pop("NUMBA_CACHE_DIR", None)
    if "numba" in sys.modules:
        sys.modules["numba"].config.CACHE_DIR = ""
    cfg = importlib.import_module(f"rr_{name}.config").load_config(config)
    eng = importlib.import_module(f"rr_{name}.engine")
    packed = importlib.import_module(f"rr_{name}.pack").pack(cfg)
    return eng, cfg, packed


def _arrays(stats) -> dict:
    return {
        f.name: getattr(stats, f.name)
        for f in dataclasses.fields(stats)
        if isinstance(getattr(stats, f.name), np.ndarray)
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("versions", nargs="+", metavar="NAME=SRC")
    ap.add_argument("--paths", type=int, default=int(os.environ.get("N", "2048")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "15")))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("TH", "1")))
    ap.add_argument("--config", default=str(BASE))
    a = ap.parse_args(argv)
    mods = {}
    for arg in a.versions:
        name, src = arg.split("=", 1)
        src, _, config = src.partition("::")
        eng, cfg, packed = _load(name, src, config or a.config)
        stats = eng.simulate(cfg, a.paths, 1, threads=a.threads, packed=packed)
        mods[name] = (eng, cfg, packed, _arrays(stats))
    names = list(mods)
    ref = mods[names[0]][3]
    for name in names[1:]:
        got = mods[name][3]
        same = ref.keys() == got.keys() and all(np.array_equal(ref[k], got[k]) for k in ref)
        if mods[name][1].path == mods[names[0]][1].path:
            print(name, "bit-identical to", names[0], same)
    times = {k: [] for k in names}
    for r in range(a.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            eng, cfg, packed, _ = mods[name]
            t = time.perf_counter()
            eng.simulate(cfg, a.paths, 1, threads=a.threads, packed=packed)
            times[name].append(time.perf_counter() - t)
    months = {name: mods[name][1].base.n_months for name in names}
    for name in names:
        us = np.array(times[name]) / a.paths * 1e6 * a.threads
        print(
            f"{name:10s} us/path/thread min {us.min():6.1f}  q25 {np.percentile(us, 25):6.1f}"
            f"  median {np.median(us):6.1f}  ({months[name]} months, "
            f"{len(mods[name][1].scenarios)} scenarios)"
        )
    first = np.array(times[names[0]]) / months[names[0]]
    for name in names[1:]:
        ratio = np.array(times[name]) / months[name] / first
        print(
            f"{name} / {names[0]}: median of paired ratios per path-month {np.median(ratio):.3f}  "
            f"(q25 {np.percentile(ratio, 25):.3f}, q75 {np.percentile(ratio, 75):.3f})"
        )


if __name__ == "__main__":
    main()
