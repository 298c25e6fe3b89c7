"""Checkpoints: a run killed part-way goes on to the result of a run never interrupted;
a checkpoint of another run is refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from reriskmc import engine
from reriskmc.checkpoint import FILE, Checkpoint, identity
from reriskmc.cli import main
from reriskmc.config import load_config

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "configs" / "good_minimal.toml"


def _cmd(*args):
    exe = Path(sys.executable).with_name("reriskmc")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reriskmc.cli"]
    return cmd + [str(a) for a in args]


def _reriskmc(*args):
    return subprocess.run(_cmd(*args), capture_output=True, text=True, timeout=600)


def _one_line_exit_2(*args) -> str:
    """The CLI run in this process: a user error, one line on stderr, exit status 2."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reriskmc: error: "), result.stderr
    return lines[0]


def assert_same_values(a: xr.Dataset, b: xr.Dataset):
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert a.attrs["n_paths"] == b.attrs["n_paths"]


def _stats_equal(a: engine.Stats, b: engine.Stats):
    for field in a.__dataclass_fields__:
        if field.endswith("_s"):  # timings
            continue
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_state__resumed_before_and_after_the_sketches_are_emptied_gives_the_same_stats():
    """The state after 49,152 paths (uint16 sketches not yet emptied into totals) and
    after 65,536 (emptied once): going on from either gives every statistic exactly."""
    config = load_config(MINIMAL)
    states = {}

    def keep(done, state):
        if done in (49_152, 65_536):
            states[done] = {k: np.copy(v) for k, v in state().items()}

    n, kw = 70_000, dict(threads=1, block_paths=8192)
    full = engine.simulate(config, n, 5, control=engine.Control(checkpoint=keep), **kw)
    assert sorted(states) == [49_152, 65_536]
    assert "monthly_h_us" not in states[49_152] and "monthly_h_us" in states[65_536]
    for state in states.values():
        resumed = engine.simulate(config, n, 5, control=engine.Control(resume=state), **kw)
        _stats_equal(full, resumed)


def test_run_killed_part_way__goes_on_to_the_identical_result(tmp_path):
    ckpt = tmp_path / "ckpt"
    args = ["run", MINIMAL, "--paths", 120_000, "--seed", 3, "--threads", 1, "--block", 1024]
    ref = _reriskmc(*args, "-o", tmp_path / "ref.nc")
    assert ref.returncode == 0, ref.stderr
    resumed_args = [*args, "-o", tmp_path / "r.nc", "--checkpoint", ckpt]
    proc = subprocess.Popen(_cmd(*resumed_args, "--checkpoint-every", 0.3), text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (ckpt / FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # a few more checkpoints, one perhaps being written when killed
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "r.nc").exists()
    again = _reriskmc(*resumed_args)
    assert again.returncode == 0, again.stderr
    done = int(again.stderr.split("going on from the checkpoint")[1].split(":")[1].split()[0]
               .replace(",", ""))  # fmt: skip
    assert 0 < done < 120_000
    with xr.open_dataset(tmp_path / "ref.nc") as a, xr.open_dataset(tmp_path / "r.nc") as b:
        assert_same_values(a, b)
    assert not ckpt.exists()  # removed once the result is written


def _leave_checkpoint(folder: Path, config, **change):
    ident = identity(config, seed=3, n_paths=5000, block_paths=1024)
    ident.update(change)
    ckpt = Checkpoint(folder, ident)
    ckpt.check_folder()
    ckpt.save({"done": np.int64(1024)})


@pytest.mark.parametrize(
    "change, differs",
    [
        ({"seed": 4}, "seed 4 there, 3 here"),
        ({"n_paths": 9000}, "n_paths 9000 there, 5000 here"),
        ({"reriskmc_version": "0.0.1"}, "reriskmc_version '0.0.1' there"),
        ({"config_sha256": "0" * 64}, "config_sha256 '000"),
        ({"kernel_source": "f" * 16}, "kernel_source 'ffff"),
        ({"target": "se 0.01 32768"}, "target 'se 0.01 32768' there, 'none' here"),
    ],
)
def test_checkpoint_of_another_run__is_refused_in_one_line(tmp_path, change, differs):
    config = load_config(MINIMAL)
    _leave_checkpoint(tmp_path / "ck", config, **change)
    line = _one_line_exit_2("run", MINIMAL, "--paths", 5000, "--seed", 3, "--checkpoint",
                            tmp_path / "ck", "-o", tmp_path / "r.nc")  # fmt: skip
    assert line.startswith(f"reriskmc: error: --checkpoint: {tmp_path / 'ck'}: ")
    assert differs in line
    assert (tmp_path / "ck" / FILE).exists() and not (tmp_path / "r.nc").exists()


def test_checkpoint_file__records_the_run(tmp_path):
    config = load_config(MINIMAL)
    _leave_checkpoint(tmp_path / "ck", config)
    with np.load(tmp_path / "ck" / FILE, allow_pickle=False) as f:
        saved = json.loads(str(f["identity"]))
    assert saved["config_sha256"] == config.sha256 and saved["seed"] == 3
    assert saved["n_paths"] == 5000 and saved["block_paths"] == 1024
    assert {"reriskmc_version", "kernel_source", "target"} <= set(saved)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [FILE]  # no temp file left


@pytest.mark.parametrize(
    "args, message",
    [
        (["--checkpoint", "{file}"], "--checkpoint: {file}: not a folder"),
        (["--checkpoint-every", "5"], "--checkpoint-every: needs --checkpoint"),
        (["--checkpoint", "{dir}", "--checkpoint-every", "-1"], "must be at least 0 seconds"),
    ],
)
def test_bad_checkpoint_options__one_line_exit_2(tmp_path, args, message):
    file = tmp_path / "f.txt"
    file.write_text("x")
    fill = {"file": file, "dir": tmp_path / "ck"}
    args = [a.format(**fill) for a in args]
    line = _one_line_exit_2("run", MINIMAL, "--paths", 100, "-o", tmp_path / "r.nc", *args)
    assert message.format(**fill) in line


def test_restored_counts__are_held_in_int64_past_what_a_thread_row_counts():
    """A resumed run's counts sit in one place for all the paths before the checkpoint:
    the peak sketches, int32 in the threads' rows, must not wrap past 2**31 paths."""
    from reriskmc.kernels.scratch import CHUNK, allocate

    packed = engine.prepare(load_config(MINIMAL))
    state = engine._Totals(packed, 2**34).state(allocate(packed, 2, CHUNK)[3])
    big = 3 * 2**31
    state["counts_h_peak_us"] = state["counts_h_peak_us"].copy()
    state["counts_h_peak_us"][..., 0] = big
    partials = allocate(packed, 2, CHUNK)[3]
    totals = engine._Totals(packed, 2**34)
    totals.restore(state, partials)
    assert (totals.stats(packed, partials).h_peak_us[..., 0] == big).all()


def test_save__syncs_the_file_then_the_folder_that_holds_its_name(tmp_path, monkeypatch):
    import os

    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    folder = tmp_path / "ck"
    ck = Checkpoint(folder, {"a": 1})
    ck.check_folder()
    ck.save({"x": np.arange(3)})
    assert synced[-1] == str(folder.resolve())  # the rename, after the file's own data
    assert synced[0].startswith(str(folder.resolve())) and synced[0] != synced[-1]
    assert ck.path.exists()
