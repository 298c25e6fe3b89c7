"""Interleaved A/B timing of two or more versions of the package, in one process.

    python benchmarks/ab.py OLD=/path/to/old/src/reriskmc NEW=src/reriskmc [...]
    (environment: N paths per call, default 2048; ROUNDS, default 15; TH threads, default 1)

Each version is copied under its own package name (rr_OLD, rr_NEW, ...), and their
``engine.simulate`` calls alternate, so that the machine's drift (up to 30% within
minutes on a shared machine) hits all versions alike. It prints whether every statistic
is bit-identical to the first version's, the time per path and thread, and the median of
the paired time ratios against the first version: the figure to trust. An old version
can be had with ``git worktree add --detach /tmp/old <commit>``.
"""

import importlib, os, shutil, sys, tempfile, time
import numpy as np

variants = {}
root = os.path.join(tempfile.gettempdir(), "reriskmc_ab")
os.makedirs(root, exist_ok=True)
sys.path.insert(0, root)
for arg in sys.argv[1:]:
    name, src = arg.split("=")
    dst = os.path.join(root, "rr_" + name)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    variants[name] = dst
n = int(os.environ.get("N", "2048"))
rounds = int(os.environ.get("ROUNDS", "15"))
th = int(os.environ.get("TH", "1"))
mods = {}
for name in variants:
    cfg_mod = importlib.import_module("rr_%s.config" % name)
    eng = importlib.import_module("rr_%s.engine" % name)
    pkm = importlib.import_module("rr_%s.pack" % name)
    cfg = cfg_mod.load_config(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "base.toml")
    )
    packed = pkm.pack(cfg)
    st = eng.simulate(cfg, n, 1, threads=th, packed=packed)
    mods[name] = (eng, cfg, packed, st)
names = list(mods)
ref = mods[names[0]][3]
for name in names[1:]:
    st = mods[name][3]
    same = all(
        np.array_equal(getattr(ref, k), getattr(st, k))
        for k in (
            "us_sum",
            "owed_sum",
            "behind",
            "exhausted",
            "regime",
            "h_us",
            "h_peak_us",
            "h_peak_owed",
        )
    )
    print(name, "bit-identical to", names[0], same)
times = {k: [] for k in names}
for r in range(rounds):
    for name in names if r % 2 == 0 else names[::-1]:
        eng, cfg, packed, _ = mods[name]
        t = time.perf_counter()
        eng.simulate(cfg, n, 1, threads=th, packed=packed)
        times[name].append(time.perf_counter() - t)
for name in names:
    a = np.array(times[name]) / n * 1e6 * th
    print(
        f"{name:10s} us/path/thread min {a.min():6.1f}  q25 {np.percentile(a, 25):6.1f}  median {np.median(a):6.1f}"
    )
b = np.array(times[names[0]])
for name in names[1:]:
    ratio = np.array(times[name]) / b
    print(
        f"{name} / {names[0]}: median of paired ratios {np.median(ratio):.3f}  (q25 {np.percentile(ratio, 25):.3f}, q75 {np.percentile(ratio, 75):.3f})"
    )
