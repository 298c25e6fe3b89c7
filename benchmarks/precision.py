"""Precision per second of a tail chance: plain sampling against importance sampling.

    python benchmarks/precision.py [--paths N] [--pilot N] [--rounds R] [--config FILE]

The chance is P(slip > the headline threshold at least once by the horizon) of the
least-at-risk programme of the base scenario (the smallest such chance above zero, in
a plain run of 16,384 paths, ``--select-paths``). Each round runs it plainly and by
importance sampling (``reriskmc tail``: the pilot's time counted), both on the same
kernel with the same paths and threads, at seed 1 + round; precision per second is
1 / (SE^2 * seconds), and the gain is importance sampling's over plain's. The last line
prints the median gain over rounds: ``precision gain: X``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from reriskmc import tail
from reriskmc.config import load_config
from reriskmc.engine import default_threads, simulate
from reriskmc.pack import pack
from reriskmc.summary import headline_threshold

BASE = Path(__file__).resolve().parents[1] / "configs" / "base.toml"


def least_at_risk(config, packed, k: int, n_paths: int, threads: int) -> str:
    """The base's programme with the smallest chance above zero of passing slip
    threshold ``k`` by the horizon (in a plain run of ``n_paths``)."""
    stats = simulate(config, n_paths, 1, threads=threads, packed=packed)
    p = stats.slip_ever[0, :, k, -1] / stats.n_paths
    present = packed.present[0] if packed.present is not None else np.ones(len(p), bool)
    positive = np.flatnonzero((p > 0) & present)
    i = positive[np.argmin(p[positive])] if positive.size else int(np.argmax(p))
    return packed.programmes[i]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=131_072)
    ap.add_argument("--pilot", type=int, default=tail.DEFAULT_PILOT)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument(
        "--select-paths",
        type=int,
        default=16_384,
        help="paths of the plain run that finds the least-at-risk programme",
    )
    ap.add_argument("--config", default=str(BASE))
    ap.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="slip threshold, months (default: the headline one, the middle of "
        "run.slip_thresholds)",
    )
    a = ap.parse_args(argv)
    config = load_config(a.config)
    packed = pack(config)
    threads = a.threads or default_threads()
    k = headline_threshold(len(config.slip_thresholds))
    if a.threshold is not None:
        k = list(config.slip_thresholds).index(a.threshold)
    programme = least_at_risk(config, packed, k, a.select_paths, threads)
    q = tail.question(config, programme, config.slip_thresholds[k], None)
    tail.estimate(config, q, 1024, 0, plain=True, threads=threads, packed=packed)  # compile

    print(
        f"P({programme} slips more than {config.slip_thresholds[k]:g} months by the horizon), "
        f"base scenario of {Path(a.config).name}; {a.paths:,} paths, {threads} threads"
    )
    print(f"{'round':<6}{'method':<12}{'chance':>9}{'SE':>10}{'seconds':>9}{'1/(SE^2 s)':>13}")
    gains = []
    for r in range(a.rounds):
        seed = 1 + r
        arms = {
            "plain": tail.estimate(config, q, a.paths, seed, plain=True, threads=threads,
                                   packed=packed),
            "importance": tail.estimate(config, q, a.paths, seed, n_pilot=a.pilot,
                                        threads=threads, packed=packed),
        }  # fmt: skip
        precision = {}
        for name, res in arms.items():
            se = float(res.p_se[0])
            precision[name] = 1.0 / (se * se * res.seconds) if se > 0 else float("inf")
            print(f"{r:<6}{name:<12}{res.p[0]:9.5f}{se:10.6f}{res.seconds:9.2f}"
                  f"{precision[name]:13.4g}")  # fmt: skip
        gains.append(precision["importance"] / precision["plain"])
    tilted = ", ".join(arms["importance"].fit.get("tilted", [])) or "nothing"
    print(f"tilted (last round): {tilted}")
    print(f"gains by round: {', '.join(f'{g:.2f}' for g in gains)}")
    print(f"precision gain: {statistics.median(gains):.2f}")


if __name__ == "__main__":
    main()
