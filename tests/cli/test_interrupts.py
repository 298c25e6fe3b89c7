"""Ctrl-C (SIGINT) or SIGTERM during a run: a prompt stop, one line, no partial output;
Ctrl-C during the other long commands: one line and exit status 130 too."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "base.toml"


def _start(out: Path):
    exe = Path(sys.executable).with_name("reriskmc")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reriskmc.cli"]
    return subprocess.Popen(
        # blocks of 4,096 paths (under a second each): a signal is seen between blocks, so the
        # stop is prompt even on a loaded machine
        cmd + ["run", str(BASE), "--paths", "50000000", "--block", "4096", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )


def _as_in_a_terminal():
    """Give the run Ctrl-C as a terminal does. A shell starts background jobs with SIGINT
    ignored, children inherit that, and Python then installs no KeyboardInterrupt
    handler: run from such a job, this test failed although the program was fine."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def compiled():
    """Compile (or load) the kernel first, so that the signal lands in the simulation.

    On a first run the kernel compiles after the header line, and a signal then waits
    for the compiler's current native call (tens of seconds) before Python sees it.
    """
    from reriskmc.config import load_config
    from reriskmc.engine import simulate

    simulate(load_config(BASE), 600, 1, threads=1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal__stops_the_run_without_touching_the_output(tmp_path, sig, compiled):
    out = tmp_path / "r.nc"
    out.write_bytes(b"previous result")
    proc = _start(out)
    # wait until the simulation is under way (the header line is printed just before)
    deadline = time.monotonic() + 120
    header = proc.stderr.readline()
    assert "paths" in header, header
    time.sleep(1.5)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    stopped_after = time.monotonic() - sent
    assert time.monotonic() < deadline
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reriskmc: interrupted"), err
    assert "Traceback" not in err
    assert stopped_after < 10.0  # a block takes a second or two at most
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_sigint__stops_a_tail_run_with_one_line(compiled):
    exe = Path(sys.executable).with_name("reriskmc")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reriskmc.cli"]
    args = ["tail", str(BASE), "--programme", "jdam", "--paths", "50000000", "--pilot", "1024",
            "--threads", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_as_in_a_terminal)  # fmt: skip
    time.sleep(6.0)
    assert proc.poll() is None, "the tail run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["reriskmc: interrupted"], err
    assert out == ""
