"""Blocks on dask.distributed workers: the same statistics as a local run, bit for bit,
even when a worker dies part-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

try:
    import distributed as _dask  # noqa: F401
except ImportError:  # the test extra installs it; only a core-only install lacks it
    if os.environ.get("CI"):
        raise
    pytest.skip("needs dask.distributed: pip install -e '.[test]'", allow_module_level=True)

from reriskmc import distributed, engine
from reriskmc.cli import main
from reriskmc.config import load_config

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "base.toml"
MINIMAL = ROOT / "tests" / "configs" / "good_minimal.toml"


@pytest.fixture(scope="module")
def client():
    c = distributed.local_client(2)
    yield c
    distributed.close(c, own_cluster=True)


def _assert_same_stats(a: engine.Stats, b: engine.Stats):
    for field in a.__dataclass_fields__:
        if not field.endswith("_s"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.mark.parametrize(
    "config, n, block",
    [(MINIMAL, 70_000, 8192), (BASE, 2600, 1024)],
    ids=["minimal-past-a-uint16-flush", "base-15-scenarios"],
)
def test_dask_run__equals_a_local_two_thread_run(client, config, n, block):
    cfg = load_config(config)
    local = engine.simulate(cfg, n, 17, threads=2, block_paths=block)
    # blocks of another size on the workers: results do not depend on it
    on_dask = distributed.simulate(cfg, n, 17, client, block_paths=block // 2, in_flight=3)
    _assert_same_stats(local, on_dask)


def test_worker_with_two_threads__runs_two_blocks_at_once_on_their_own_scratch():
    """A worker of several threads (as `dask worker` starts by default) runs blocks at
    the same time: each thread needs scratch of its own, or the blocks mix."""
    from distributed import Client, LocalCluster

    cfg = load_config(MINIMAL)
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                           dashboard_address=":0")  # fmt: skip
    try:
        with Client(cluster) as c:
            on_dask = distributed.simulate(cfg, 40_000, 9, c, block_paths=1024, in_flight=8)
    finally:
        cluster.close()
    _assert_same_stats(engine.simulate(cfg, 40_000, 9, threads=2), on_dask)


def test_worker_killed_mid_run__changes_nothing(client):
    cfg = load_config(MINIMAL)
    pids = client.run(os.getpid)  # worker address -> process id
    killed = []

    def kill_a_busy_worker(done):
        if done == 0 or killed:
            return
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    control = engine.Control(progress=kill_a_busy_worker)
    stats = distributed.simulate(cfg, 30_000, 5, client, block_paths=1024, control=control)
    assert killed, "no worker was busy to be killed"
    assert pids[killed[0]] not in client.run(os.getpid).values()  # it did die
    _assert_same_stats(engine.simulate(cfg, 30_000, 5, threads=1), stats)


def test_cli_scheduler__runs_on_an_existing_cluster(client, tmp_path):
    out, local = tmp_path / "d.nc", tmp_path / "l.nc"
    address = client.scheduler.address
    common = ["run", str(MINIMAL), "--paths", "5000", "--seed", "4"]
    result = CliRunner().invoke(main, [*common, "--scheduler", address, "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"dask scheduler {address}" in result.stderr
    assert CliRunner().invoke(main, [*common, "--threads", "2", "-o", str(local)]).exit_code == 0
    with xr.open_dataset(out) as a, xr.open_dataset(local) as b:
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_cli_workers__a_new_local_cluster_gives_the_two_thread_result(tmp_path):
    exe = Path(sys.executable).with_name("reriskmc")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "reriskmc.cli"]
    common = ["run", str(MINIMAL), "--paths", "9000", "--seed", "8", "--block", "2048"]
    outs = []
    for how in (["--workers", "2"], ["--threads", "2"]):
        outs.append(tmp_path / f"{how[0][2:]}.nc")
        proc = subprocess.run(cmd + common + how + ["-o", str(outs[-1])],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(outs[0]) as a, xr.open_dataset(outs[1]) as b:
        assert sorted(a.data_vars) == sorted(b.data_vars)
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "0"], "--workers: must be at least 1, got 0"),
        (["--workers", "2", "--scheduler", "tcp://h:1"], "--workers, --scheduler: give one"),
        (["--workers", "2", "--threads", "2"], "--threads: not with --workers or --scheduler"),
    ],
)
def test_bad_worker_options__one_line_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(main, ["run", str(MINIMAL), "-o", str(tmp_path / "r.nc"), *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_local_client__interrupted_while_connecting_closes_its_cluster(monkeypatch):
    import distributed as dask_distributed

    closed = []

    class Cluster:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def close(self):
            closed.append(self.kwargs["n_workers"])

    def interrupted(cluster):
        raise KeyboardInterrupt

    monkeypatch.setattr(dask_distributed, "LocalCluster", Cluster)
    monkeypatch.setattr(dask_distributed, "Client", interrupted)
    with pytest.raises(KeyboardInterrupt):
        distributed.local_client(3)
    assert closed == [3]


def test_warm_workers__one_per_host_first_then_the_rest():
    """On a cold cache the first worker of each host compiles, the rest then load."""

    class Recorder:
        def __init__(self):
            self.calls = []

        def nthreads(self):
            return {"tcp://10.0.0.1:4001": 1, "tcp://10.0.0.1:4002": 1,
                    "tcp://10.0.0.2:4001": 2, "tcp://10.0.0.1:4003": 1}  # fmt: skip

        def run(self, function, *args, workers):
            self.calls.append((function, args, workers))

    client = Recorder()
    distributed.warm_workers(client, "c.toml", "text", 1024)
    assert [workers for _, _, workers in client.calls] == [
        ["tcp://10.0.0.1:4001", "tcp://10.0.0.2:4001"],
        ["tcp://10.0.0.1:4002", "tcp://10.0.0.1:4003"],
    ]
    assert all(f is distributed.warm and a == ("c.toml", "text", 1024) for f, a, _ in client.calls)
