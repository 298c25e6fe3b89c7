"""The tornado chart of a sensitivity analysis: one bar per group, ranked, written
atomically (a temporary file beside the destination, moved into place when complete).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import write_atomic

#: groups shown at most (the rest are the smallest)
MAX_BARS = 25


def write_tornado(result, path: str | Path) -> Path:
    """Draw the total and first-order indices of ``result`` (a
    :class:`~reriskmc.sensitivity.Sensitivity`) with their confidence intervals, largest
    total index on top, and write the chart to ``path`` (its suffix names the format:
    .png, .svg, .pdf ...)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ix = result.indices
    order = result.ranking()[:MAX_BARS][::-1]
    names = [ix.names[g] for g in order]
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.32 * len(order)))
    for values, ci, offset, label, colour in (
        (ix.total, ix.total_ci, 0.18, "total", "tab:red"),
        (ix.first, ix.first_ci, -0.18, "first order", "tab:blue"),
    ):
        v, c = values[order], ci[order]
        err = np.abs(np.vstack([v - c[:, 0], c[:, 1] - v]))
        ax.barh(y + offset, v, height=0.34, color=colour, alpha=0.8, label=label)
        ax.errorbar(v, y + offset, xerr=err, fmt="none", ecolor="black", lw=0.8, capsize=2)
    ax.set_yticks(y, names, fontsize=8)
    ax.axvline(0.0, color="grey", lw=0.6)
    ax.set_xlabel(f"Sobol index ({ix.confidence:.0%} bootstrap intervals)")
    ax.set_title(f"{result.programme}: {result.metric.describe()}", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fmt = Path(path).suffix.lstrip(".") or "png"
    try:
        return write_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120))
    finally:
        plt.close(fig)
