"""Speed of the kernel against its random-number floor and the NumPy reference.

All three run on ``configs/base.toml`` at one path count, in one pytest run, so their
ratios are measured under the same machine load::

    python -m pytest benchmarks --benchmark-json bench.json          # full (about a minute)
    python -m pytest benchmarks --short                              # CI: gross regressions only

The ratios of medians are printed at the end, each beside the project's goal and
whether this run met it; the run fails only on a gross regression (a ratio no machine
load explains), never on an absolute time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from reriskmc.config import load_config
from reriskmc.engine import CHUNK, default_threads, simulate
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"
MEDIANS: dict[str, float] = {}


@pytest.fixture(scope="module")
def setup(request):
    short = request.config.getoption("--short")
    n_paths = int(os.environ.get("RERISKMC_BENCH_PATHS", 2048 if short else 16384))
    config = load_config(BASE)
    packed = pack(config)
    threads = default_threads()
    simulate(config, CHUNK, 1, threads=threads, packed=packed)  # compile (or load) first
    return dict(
        config=config,
        packed=packed,
        n_paths=n_paths,
        threads=threads,
        rounds=2 if short else 5,
        short=short,
    )


def _record(benchmark, name):
    MEDIANS[name] = benchmark.stats.stats.median


def test_kernel(benchmark, setup):
    s = setup
    stats = benchmark.pedantic(
        simulate,
        args=(s["config"], s["n_paths"], 1),
        kwargs=dict(threads=s["threads"], packed=s["packed"]),
        rounds=s["rounds"],
        iterations=1,
    )
    assert stats.n_paths == s["n_paths"]
    _record(benchmark, "kernel")


def test_single_thread(benchmark, setup):
    """The kernel on one thread: the parallel speed-up is single_thread / kernel."""
    s = setup
    benchmark.pedantic(
        simulate,
        args=(s["config"], s["n_paths"], 1),
        kwargs=dict(threads=1, packed=s["packed"]),
        rounds=s["rounds"],
        iterations=1,
    )
    _record(benchmark, "single_thread")


def test_rng_floor(benchmark, setup):
    from reriskmc.kernels.floor import floor_runner

    s = setup
    draw = floor_runner(s["packed"], 1, s["threads"])
    sink = benchmark.pedantic(draw, args=(s["n_paths"],), rounds=s["rounds"], iterations=1)
    assert np.isfinite(sink).all() and sink.sum() > 0
    _record(benchmark, "rng_floor")


def test_numpy_reference(benchmark, setup):
    from reriskmc.reference import simulate_reference

    s = setup
    n = s["n_paths"]
    res = benchmark.pedantic(
        simulate_reference, args=(s["config"], n, 1), rounds=max(1, s["rounds"] // 2), iterations=1
    )
    assert res.n_paths == n
    _record(benchmark, "numpy_reference")


def test_ratios(setup):
    """The speed goals, as ratios of medians measured in this run."""
    need = {"kernel", "rng_floor", "numpy_reference"}
    if not need <= MEDIANS.keys():
        pytest.skip("run the whole benchmark module to measure ratios")
    k, f, r = MEDIANS["kernel"], MEDIANS["rng_floor"], MEDIANS["numpy_reference"]
    one = MEDIANS.get("single_thread", float("nan"))
    goals = [
        (f"numpy_reference / kernel = {r / k:.2f}", ">= 10", r / k >= 10.0),
        (f"one thread / {setup['threads']} threads = {one / k:.2f}", ">= 1.7", one / k >= 1.7),
    ]
    print(f"\nkernel: {setup['n_paths'] / k:,.0f} paths/s")
    # no goal: every scenario's model runs on the floor's draws (common random numbers),
    # so this ratio grows with the model's size
    print(f"kernel / rng_floor = {k / f:.2f}")
    for text, goal, met in goals:
        print(f"{text:<40} goal {goal:<7} {'met' if met else 'NOT met'}")
    # gross regressions only: a kernel slower than the NumPy peer, or one that spends
    # a hundred times the random-number floor, is broken whatever the machine load
    assert r / k > 1.0
    assert k / f < 100.0
