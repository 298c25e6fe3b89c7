"""Fixtures shared by the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reriskmc.cli import main

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"


@pytest.fixture(scope="session")
def small_result(tmp_path_factory) -> Path:
    """One small result of configs/base.toml (1,000 paths, one thread) for the analysis
    commands' tests: made once per test session."""
    out = tmp_path_factory.mktemp("small_result") / "base.nc"
    args = ["run", str(BASE), "--paths", "1000", "--seed", "11", "--threads", "1", "-o", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    return out
