"""Stopping a run at a precision: the standard errors of the headline probabilities.

The headline estimates are those of the summary table (``summary.py``): the chance of a
slip beyond the middle slip threshold by the horizon, for every scenario and programme,
and the chance that a material's stocks have run out by the horizon, for every scenario
and material. Their standard errors come from the merged integer counts,
sqrt(p (1 - p) / n), without building a dataset. A run checks them only every ``step``
paths (a fixed count, not the block size), so where it stops depends only on the config,
the seed and the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .results import p_se

#: paths between two checks of the precision reached (a multiple of kernels.scratch.CHUNK)
STEP = 32 * 1024


@dataclass(frozen=True)
class Target:
    """Stop once the worst headline standard error (``kind="se"``) or standard error
    relative to its estimate (``kind="rel"``, estimates above zero only) is at most
    ``value``, checking every ``step`` paths."""

    kind: str
    value: float
    slip_threshold: int  # index of the headline slip threshold (the middle one)
    step: int = STEP

    def __post_init__(self):
        if self.kind not in ("se", "rel"):
            raise ValueError(f"kind must be 'se' or 'rel', got {self.kind!r}")
        if not self.value > 0:
            raise ValueError(f"the target must be above zero, got {self.value}")
        from .kernels.scratch import CHUNK

        if self.step < 1 or self.step % CHUNK:  # blocks must start on chunk boundaries
            raise ValueError(f"step must be a positive multiple of {CHUNK}, got {self.step}")

    def worst(self, c_slip: np.ndarray, c_exh: np.ndarray, n: int) -> float:
        """The worst precision of the headline estimates after ``n`` paths.

        c_slip : int[S, P, K, T + 1], c_exh : int[S, M, T + 1]: histograms of the first
        month past each slip threshold and of the first month stocks ran out (index T:
        never), added over threads (``kernels.scratch.Partials``).
        """
        by_horizon = np.concatenate(
            [c_slip[:, :, self.slip_threshold, :-1].sum(axis=-1).ravel(),
             c_exh[..., :-1].sum(axis=-1).ravel()]
        )  # fmt: skip
        return worst_precision(by_horizon, n, self.kind)

    def met(self, worst: float) -> bool:
        return worst <= self.value

    def attrs(self, worst: float) -> dict:
        """The result's attributes saying what was asked and what was reached."""
        name = "se" if self.kind == "se" else "rel_se"
        return {
            f"target_{name}": float(self.value),
            f"achieved_{name}": float(worst),
            "target_met": np.int8(self.met(worst)),
            "target_step_paths": np.int64(self.step),
        }


def worst_precision(counts: np.ndarray, n: int, kind: str) -> float:
    """The largest standard error of the probabilities ``counts / n`` (``kind="se"``),
    or the largest ratio of standard error to probability among those above zero
    (``kind="rel"``; infinite if none is above zero: nothing measured yet)."""
    if n < 1:
        return float("inf")
    p, se = p_se(np.asarray(counts, dtype=np.float64), n)
    if kind == "se":
        return float(se.max(initial=0.0))
    positive = p > 0
    if not positive.any():
        return float("inf")
    return float((se[positive] / p[positive]).max())
