"""When each scenario's trajectories first differ from the base scenario's, path by path:
how much of the month loop scenarios could share before their paths diverge.

    python benchmarks/divergence.py         (environment: N paths, default 1024)

Each path of configs/base.toml is replayed alone (engine.replay_path) and its units
behind and tonnes owed in every scenario are compared with the base's month by month.
Paths run 64 side by side in the kernel, so a group could share only up to the first
divergence among its 64 paths; that is printed too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reriskmc.config import load_config
from reriskmc.engine import replay_path
from reriskmc.kernels.paths import GROUP
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"


def main():
    n = int(os.environ.get("N", "1024"))
    config = load_config(BASE)
    packed = pack(config)
    first = []
    for path in range(n):
        r = replay_path(config, config.seed, path, packed)
        us, owed = r["units_short"], r["shortfall_t"]  # [S, P, T], [S, P, M, T]
        T = us.shape[-1]
        differs = (us[1:] != us[:1]).any(axis=1) | (owed[1:] != owed[:1]).any(axis=(1, 2))
        first.append(np.where(differs.any(axis=-1), differs.argmax(axis=-1), T))
    first = np.array(first)  # [path, scenario - 1]: T (the months) where never
    groups = [first[g : g + GROUP].min(axis=0) for g in range(0, n - GROUP + 1, GROUP)]
    print(
        f"{n:,} paths of {BASE.name}: first month ({T} in all) in which a scenario's "
        f"trajectories differ from the base's"
    )
    print(
        f"{'scenario':<24s} {'median':>7s} {'mean':>6s} {'never':>6s} {'group of ' + str(GROUP):>12s}"
    )
    for i, sc in enumerate(config.scenarios[1:]):
        f = first[:, i]
        g = np.mean([m[i] for m in groups]) if groups else float("nan")
        print(
            f"{sc.name:<24s} {np.median(f):7.0f} {f.mean():6.1f} {np.mean(f == T):6.2f} {g:12.1f}"
        )


if __name__ == "__main__":
    main()
