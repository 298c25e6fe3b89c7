"""The kernels also run as plain Python (NUMBA_DISABLE_JIT=1) and give the same paths."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from reriskmc.config import load_config
from reriskmc.engine import replay_path

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
PROBE = """
import json, warnings
warnings.simplefilter("error", RuntimeWarning)  # uint64 wrap-around must not warn
from reriskmc.config import load_config
from reriskmc.engine import replay_path
c = load_config({cfg!r})
print(json.dumps([replay_path(c, 5, i)["units_short"].tolist() for i in (0, 7)]))
"""


def test_python_mode__replays_the_same_paths_as_the_compiled_kernel():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(cfg=str(BASE))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    python_paths = json.loads(out.stdout)
    config = load_config(BASE)
    for i, py in zip((0, 7), python_paths):
        np.testing.assert_allclose(
            replay_path(config, 5, i)["units_short"], np.array(py), rtol=1e-12, atol=1e-12
        )
