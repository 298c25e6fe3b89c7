"""Bad command-line values: exit status 2 and one line, before any work starts.

``reriskmc run`` with a bad ``--paths``, ``--seed``, ``--threads`` or ``--block``, an
output path in a missing folder or with an unknown suffix, or a config file that does
not exist must stop at once: one line on stderr, exit status 2, no traceback, no
simulation started and no output written. The simulation itself (``cli._Job.run``) is
replaced by a stub that fails the test if reached, so nothing here compiles a kernel.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reriskmc import cli
from reriskmc.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "configs" / "good_minimal.toml"


@pytest.fixture
def no_simulation(monkeypatch, tmp_path):
    """Run in an empty folder, with the simulation replaced by a recorder."""
    calls = []

    def fake_run(job):
        block_paths = job.block_kw.get("block_paths")
        calls.append(dict(out=job.out, n_paths=job.n_paths, seed=job.seed, threads=job.threads,
                          block_paths=block_paths))  # fmt: skip

    monkeypatch.setattr(cli._Job, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    return calls


def _invoke(*args):
    t0 = time.perf_counter()
    result = CliRunner().invoke(main, list(args))
    return result, time.perf_counter() - t0


def _assert_one_line_exit_2(result, *needles):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reriskmc: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


BAD_OPTIONS = [
    pytest.param(["--paths", "0"], "--paths", id="paths-0"),
    pytest.param(["--paths", "-5"], "--paths", id="paths-negative"),
    pytest.param(["--paths", "1"], "--paths", id="paths-1"),
    pytest.param(["--seed", "-1"], "--seed", id="seed-negative"),
    pytest.param(["--seed", str(2**63)], "--seed", id="seed-too-large"),
    pytest.param(["--threads", "0"], "--threads", id="threads-0"),
    pytest.param(["--threads", "-2"], "--threads", id="threads-negative"),
    pytest.param(["--block", "0"], "--block", id="block-0"),
]


@pytest.mark.parametrize("args, option", BAD_OPTIONS)
def test_run__bad_option_value_fails_before_work(no_simulation, tmp_path, args, option):
    out = tmp_path / "out.nc"
    result, elapsed = _invoke("run", str(GOOD), "-o", str(out), *args)
    line = _assert_one_line_exit_2(result, option, args[1])
    assert "must be" in line
    assert no_simulation == [] and not out.exists()
    assert list(tmp_path.iterdir()) == []
    assert elapsed < 1.0


@pytest.mark.parametrize(
    "output, needle",
    [
        pytest.param("missing_folder/out.nc", "does not exist", id="folder-missing"),
        pytest.param("out.csv", "unknown output suffix '.csv'", id="suffix-csv"),
        pytest.param("out", "unknown output suffix", id="suffix-none"),
        pytest.param("out.nc.tmp", "unknown output suffix '.tmp'", id="suffix-tmp"),
    ],
)
def test_run__bad_output_path_fails_before_work(no_simulation, tmp_path, output, needle):
    result, elapsed = _invoke("run", str(GOOD), "-o", output)
    _assert_one_line_exit_2(result, output, needle)
    assert no_simulation == []
    assert list(tmp_path.iterdir()) == []  # nothing written, not even results/
    assert elapsed < 1.0


@pytest.mark.parametrize("command", ["run", "validate"])
def test_missing_config_file_fails_before_work(no_simulation, tmp_path, command):
    missing = tmp_path / "no_such.toml"
    result, elapsed = _invoke(command, str(missing))
    _assert_one_line_exit_2(result, str(missing), "no such file")
    assert no_simulation == []
    assert list(tmp_path.iterdir()) == []  # run did not create results/ either
    assert elapsed < 1.0


def test_run__bad_config_fails_before_work(no_simulation, tmp_path):
    bad = ROOT / "tests" / "configs" / "bad" / "27_negative_buffer.toml"
    result, _ = _invoke("run", str(bad), "-o", str(tmp_path / "out.nc"), "--paths", "100")
    _assert_one_line_exit_2(result, str(bad), "materials.smco.buffer_t")
    assert no_simulation == [] and list(tmp_path.iterdir()) == []


def test_run__good_values_reach_the_simulation(no_simulation, tmp_path):
    """The control: with valid values the (stubbed) simulation is reached, so the
    tests above do stop early rather than pass for another reason."""
    out = tmp_path / "out.nc"
    result, _ = _invoke(
        "run",
        str(GOOD),
        "-o",
        str(out),
        "--paths",
        "2",
        "--seed",
        "0",
        "--threads",
        "1",
        "--block",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert no_simulation == [dict(out=out, n_paths=2, seed=0, threads=1, block_paths=1)]


def test_run__config_defaults_reach_the_simulation(no_simulation, tmp_path):
    result, _ = _invoke("run", str(GOOD), "-o", str(tmp_path / "out.zarr"))
    assert result.exit_code == 0, result.output
    assert [(c["n_paths"], c["seed"]) for c in no_simulation] == [(1000, 1)]


def test_run__bad_option_in_a_real_process(tmp_path):
    """The real entry point: one line on stderr, exit 2, no traceback, nothing written."""
    exe = Path(sys.executable).with_name("reriskmc")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reriskmc.cli"]
    proc = subprocess.run(
        cmd + ["run", str(GOOD), "--paths", "0", "-o", "out.nc"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "reriskmc: error: --paths: must be at least 2 (a standard error needs two paths), got 0"
    ]
    assert list(tmp_path.iterdir()) == []


def test_run__bad_output_names_the_option(no_simulation):
    result, _ = _invoke("run", str(GOOD), "-o", "out.csv")
    _assert_one_line_exit_2(result, "--output")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["run", str(GOOD), "--paths", "abc"], id="paths-not-an-integer"),
        pytest.param(["validate", str(ROOT / "configs")], id="config-is-a-directory"),
    ],
)
def test_click_usage_errors_are_one_line(no_simulation, args):
    result, _ = _invoke(*args)
    _assert_one_line_exit_2(result)


def test_run__a_run_that_would_not_fit_in_memory_is_refused_first(no_simulation, monkeypatch):
    from reriskmc import engine

    monkeypatch.setattr(engine, "available_memory_bytes", lambda: 1024)
    result, _ = _invoke("run", str(GOOD), "--paths", "100")
    _assert_one_line_exit_2(result, "GiB of memory")


def test_summarize__a_file_that_is_not_a_result_is_one_line(tmp_path):
    bogus = tmp_path / "notes.toml"
    bogus.write_text("x = 1\n")
    result, _ = _invoke("summarize", str(bogus))
    _assert_one_line_exit_2(result, "not a NetCDF or Zarr file")


def test_summarize__a_folder_is_one_line(tmp_path):
    result, _ = _invoke("summarize", str(tmp_path))
    _assert_one_line_exit_2(result, "is a folder, not a result")
