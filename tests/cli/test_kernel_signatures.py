"""The block kernel is compiled once: runs on any thread count and block size, the
replay of one path (whose trajectories keep a log) and a tail run (tilted draws, each
path's outcomes kept), all call it with the same types.
A second signature would cost a second full compile on a new machine."""

from pathlib import Path

from numba.core.registry import CPUDispatcher

from reriskmc import tail
from reriskmc.config import load_config
from reriskmc.engine import prepare, replay_path, simulate
from reriskmc.kernels import block, paths, reduce, tilt

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"


def _stages():
    """The kernel's stages (``_jit.stage``): compiled on their own, called by the kernel."""
    return {
        f"{m.__name__}.{name}": f
        for m in (paths, reduce, block, tilt)
        for name, f in vars(m).items()
        if isinstance(f, CPUDispatcher) and f.targetoptions.get("no_cpython_wrapper")
    }


def test_a_run_and_a_replay__use_one_compiled_kernel():
    config = load_config(BASE)
    packed = prepare(config)
    simulate(config, 600, 3, threads=1, packed=packed)
    simulate(config, 1100, 3, threads=2, block_paths=512, packed=packed)
    replay_path(config, 3, 17, packed)
    question = tail.question(config, "jdam", 3.0, None)
    tail.estimate(config, question, 600, 3, n_pilot=1024, threads=2, packed=packed)
    assert len(block.simulate_lane.signatures) == 1
    stages = _stages()
    assert stages, "no stages found"
    # a stage is compiled only with the kernel (none when the kernel came from the cache)
    assert {name: len(f.signatures) for name, f in stages.items() if len(f.signatures) > 1} == {}
