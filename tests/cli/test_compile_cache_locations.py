"""Where compiled kernels are cached: by the kernel sources, not by the folder they sit in.

Each probe compiles only ``sketch.bucket`` (about a second), in a fresh interpreter,
from a copy of the package.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import reriskmc

PROBE = """
import json
from reriskmc.kernels.sketch import bucket
bucket(3.5, 1.0)
print(json.dumps({"hits": sum(bucket.stats.cache_hits.values()),
                  "misses": sum(bucket.stats.cache_misses.values())}))
"""


def _copy(dst: Path) -> Path:
    src = Path(reriskmc.__file__).parent
    shutil.copytree(src, dst / "reriskmc", ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _probe(root: Path, cache: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_copy_in_another_folder__loads_the_kernels_compiled_by_the_first(tmp_path):
    cache = tmp_path / "cache"
    first = _probe(_copy(tmp_path / "a"), cache)
    second = _probe(_copy(tmp_path / "b"), cache)
    assert first == {"hits": 0, "misses": 1}
    assert second == {"hits": 1, "misses": 0}


def test_an_edit_to_another_kernel_file__compiles_again(tmp_path):
    """numba's own stamp is the defining file's hash: after an edit to an inlined
    function's file alone (here ``paths.py``, beside ``sketch.py``) it loaded stale code."""
    cache = tmp_path / "cache"
    root = _copy(tmp_path / "a")
    _probe(root, cache)
    with open(root / "reriskmc" / "kernels" / "paths.py", "a") as f:
        f.write("\n# an edit\n")
    assert _probe(root, cache) == {"hits": 0, "misses": 1}
    assert _probe(root, cache) == {"hits": 1, "misses": 0}
