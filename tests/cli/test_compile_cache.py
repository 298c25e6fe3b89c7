"""A second run compiles nothing: the numba cache holds every kernel."""

import json
import subprocess
import sys
from pathlib import Path

from reriskmc._jit import source_key

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from reriskmc.config import load_config
from reriskmc.engine import simulate
from reriskmc.kernels.block import simulate_lane
simulate(load_config({cfg!r}), 600, 3, threads=1)
print(json.dumps({{"misses": sum(simulate_lane.stats.cache_misses.values()),
                   "hits": sum(simulate_lane.stats.cache_hits.values())}}))
"""


def _probe(env=None):
    code = PROBE.format(cfg=str(ROOT / "configs" / "base.toml"))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_run__loads_the_kernel_from_the_cache():
    _probe()  # the first run may compile and fills the cache
    second = _probe()
    assert second == {"misses": 0, "hits": 1}


def test_cache_dir__defaults_to_a_user_cache_folder(tmp_path):
    import os

    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = "import reriskmc._jit, numba; print(numba.config.CACHE_DIR)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == str(tmp_path / "reriskmc" / "numba" / source_key())


def test_cache_dir__changes_with_any_kernel_source(tmp_path, monkeypatch):
    """numba would miss an edit to an inlined function's file; the cache key does not."""
    import shutil

    import reriskmc._jit as jit_module

    pkg = tmp_path / "reriskmc"
    shutil.copytree(
        Path(jit_module.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setattr(jit_module, "__file__", str(pkg / "_jit.py"))
    before = source_key()
    with open(pkg / "kernels" / "paths.py", "a") as f:
        f.write("\n# an edit\n")
    assert source_key() != before
