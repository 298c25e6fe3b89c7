"""A cold compile shared with a helper process (``compile_ahead``).

The helper compiles the kernel's stages for the argument types it derives; the kernel
must then find every stage compiled for exactly the types it calls it with (else each
stage would be compiled twice, and the helper would save nothing), and compute what a
kernel compiled alone computes.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import xarray as xr

from reriskmc import compile_ahead
from reriskmc.config import load_config
from reriskmc.engine import simulate
from reriskmc.results import build_dataset

MINIMAL = Path(__file__).resolve().parents[1] / "configs" / "good_minimal.toml"
STAGES = (
    "start_group", "tilt_direction", "china_month", "_demand", "_direct_supply",
    "_makers", "_allocate", "_build_and_record", "fold_month", "fold_group",
)  # fmt: skip


def _overloads(index: Path) -> dict:
    """The entries of a numba cache index file (``.nbi``): a pickled version, then the
    pickled (source stamp, {key: data file})."""
    with open(index, "rb") as f:
        pickle.load(f)
        return pickle.loads(f.read())[1]


def test_the_kernel_loads_each_stage_the_helper_compiled(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    helper = [sys.executable, "-m", "reriskmc.compile_ahead", str(MINIMAL)]
    subprocess.run(helper, env=env, check=True, timeout=600)
    indexes = {p.name.split("-")[0].split(".")[-1]: p for p in cache.rglob("*.nbi")}
    assert set(STAGES) <= set(indexes), sorted(indexes)
    assert "simulate_lane" not in indexes  # the helper compiles the stages only

    out = tmp_path / "minimal.nc"
    run = [sys.executable, "-m", "reriskmc", "run", str(MINIMAL), "--paths", "300",
           "--seed", "5", "--threads", "1", "-o", str(out)]  # fmt: skip
    subprocess.run(run, env=env, check=True, timeout=600, capture_output=True)
    indexes = {p.name.split("-")[0].split(".")[-1]: p for p in cache.rglob("*.nbi")}
    assert "simulate_lane" in indexes
    # one entry each: the kernel called every stage with the types the helper used
    assert {name: len(_overloads(indexes[name])) for name in STAGES} == dict.fromkeys(STAGES, 1)

    config = load_config(MINIMAL)
    expected = build_dataset(config, simulate(config, 300, 5, threads=1), 5)
    with xr.open_dataset(out) as got:
        for name, var in expected.data_vars.items():
            np.testing.assert_array_equal(got[name].values, var.values, err_msg=name)


class _Process:
    """A stand-in for ``subprocess.Popen``, recording what is done with it."""

    started: ClassVar[list] = []

    def __init__(self, argv, **kw):
        self.argv, self.calls = argv, []
        _Process.started.append(self)

    def poll(self):
        return None  # still running

    def terminate(self):
        self.calls.append("terminate")

    def wait(self, timeout=None):
        self.calls.append("wait")
        return 0


def test_alongside__starts_a_helper_on_a_cold_cache_with_two_cores_and_stops_it(monkeypatch):
    monkeypatch.setattr(compile_ahead.subprocess, "Popen", _Process)
    monkeypatch.setattr(_Process, "started", [])
    monkeypatch.setattr(compile_ahead, "_cores", lambda: 2)
    with compile_ahead.alongside("a.toml", cached=True) as helper:
        assert helper is None
    with compile_ahead.alongside("a.toml", cached=False) as helper:
        assert helper.argv[1:] == ["-m", "reriskmc.compile_ahead", "a.toml"]
        assert helper.calls == []
    assert helper.calls == ["terminate", "wait"]  # not needed once the kernel is compiled
    monkeypatch.setattr(compile_ahead, "_cores", lambda: 1)
    with compile_ahead.alongside("a.toml", cached=False) as helper:
        assert helper is None
    assert len(_Process.started) == 1


def test_run_on_a_cluster__starts_no_helper_here(monkeypatch):
    """With --scheduler the workers compile, on their machines: a helper here would
    compile for nobody."""
    from reriskmc import cli, progress

    monkeypatch.setattr(compile_ahead.subprocess, "Popen", _Process)
    monkeypatch.setattr(_Process, "started", [])
    monkeypatch.setattr(compile_ahead, "_cores", lambda: 2)
    monkeypatch.setattr(progress, "kernel_cached", lambda: False)
    with cli._compiling("a.toml", here=False):
        pass
    assert _Process.started == []
    with cli._compiling("a.toml"):
        pass
    assert len(_Process.started) == 1


class _Compiles(Exception):
    pass


def test_commands_that_compile_on_the_way__compile_first_and_say_so(monkeypatch):
    """backtest, sensitivity and size-stockpile compile the kernel before their work
    (with the notice and the helper), not silently inside it."""
    from click.testing import CliRunner

    from reriskmc import cli

    def compile_first(cfg):
        raise _Compiles(cfg.path)

    monkeypatch.setattr(cli, "_compile_first", compile_first)
    base = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
    history = base.parent / "history" / "2025-06_to_2026-11.toml"
    commands = (
        ["backtest", str(base), str(history)],
        ["sensitivity", str(base), "--programme", "jdam"],
        ["size-stockpile", str(base), "--material", "smco", "--target", "0.5"],
    )
    for args in commands:
        res = CliRunner().invoke(cli.main, args)
        assert isinstance(res.exception, _Compiles), (args[0], res.output)


def test_compile_first__compiles_only_when_the_kernel_is_not_cached(monkeypatch):
    from reriskmc import cli, progress, tail

    calls = []
    monkeypatch.setattr(tail, "compile_kernel", lambda packed: calls.append("compile"))
    monkeypatch.setattr(cli, "_compiling", lambda path: _Recorded(calls, path))
    config = load_config(MINIMAL)
    monkeypatch.setattr(progress, "kernel_cached", lambda: True)
    cli._compile_first(config)
    assert calls == []
    monkeypatch.setattr(progress, "kernel_cached", lambda: False)
    cli._compile_first(config)
    assert calls == [("enter", config.path), "compile", "exit"]


class _Recorded:
    def __init__(self, calls, path):
        self.calls, self.path = calls, path

    def __enter__(self):
        self.calls.append(("enter", self.path))

    def __exit__(self, *exc):
        self.calls.append("exit")
