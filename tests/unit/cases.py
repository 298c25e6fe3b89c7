"""Shared pieces of the hand-computed reference-model cases in this folder: a config
head with two regimes that never change on their own, a loader that writes a case to a
temporary folder, and a binomial check."""

from __future__ import annotations

import numpy as np

from reriskmc.config import load_config

# the run starts in January, so month t is 2025-(t+1); most cases use only "calm"
HEAD = """
[run]
start = "2025-01"
months = {months}

[regimes]
names = ["calm", "storm"]
initial = "calm"
[regimes.transition]
calm = [1.0, 0.0]
storm = [0.0, 1.0]
"""


def load_case(tmp_path, body: str, months: int, head: str = HEAD):
    """Write ``head`` (formatted with ``months``) and ``body`` to a config and load it."""
    path = tmp_path / "case.toml"
    path.write_text(head.format(months=months) + body, encoding="utf-8")
    return load_config(path)


def within(p_hat: np.ndarray, p: np.ndarray, n: int, k: float = 4.0) -> None:
    """Assert that estimated probabilities lie within ``k`` binomial SEs of ``p``."""
    se = np.sqrt(p * (1.0 - p) / n)
    assert np.all(np.abs(p_hat - p) <= k * se + 1e-12), (p_hat, p)
