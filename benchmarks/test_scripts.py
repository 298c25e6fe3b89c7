"""Every benchmark script runs, briefly, so that none can rot: on the small test
config, with few paths and rounds, and the kernels run as plain Python
(``NUMBA_DISABLE_JIT=1``: nothing to compile, so a fresh machine runs them at once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "configs" / "good_minimal.toml"


def _run(*args) -> str:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_ab__compares_two_copies_of_the_package():
    src = str(ROOT / "src" / "reriskmc")
    out = _run(
        "benchmarks/ab.py",
        f"A={src}",
        f"B={src}",
        "--paths",
        "64",
        "--rounds",
        "2",
        "--config",
        str(CONFIG),
    )
    assert "B bit-identical to A True" in out
    assert "median of paired ratios" in out


def test_threads__times_one_and_two_threads():
    out = _run("benchmarks/threads.py", "--paths", "64", "--rounds", "1", "--config", str(CONFIG))
    assert "random-number floor" in out and "speed-up" in out


def test_precision__prints_the_gain_of_importance_sampling():
    out = _run("benchmarks/precision.py", "--paths", "64", "--pilot", "64", "--rounds", "1",
               "--select-paths", "64", "--threads", "1", "--config", str(CONFIG))  # fmt: skip
    assert out.strip().splitlines()[-1].startswith("precision gain: ")
