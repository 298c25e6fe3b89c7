"""Print the table of closed-form checks: case / expected / measured / se / z.

    python tests/stats/ztable.py            # run the closed-form tests, print every row
    python tests/stats/ztable.py --shown    # only the rows `pytest --ztable` shows
    python tests/stats/ztable.py --json F   # print the table of a saved JSON file
    python tests/stats/ztable.py --csv      # comma-separated instead of aligned

The rows come from the ``zscores`` recorder of tests/stats/conftest.py; running
``pytest tests/stats`` also writes them to ``closed_form_zscores.json`` in pytest's base
temporary directory (and to ``$RERISKMC_ZSCORES_JSON`` if set).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _z(v) -> float:
    return float(v)  # non-finite values are stored as the strings 'inf' / '-inf'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path, help="read this JSON file instead of running the tests")
    ap.add_argument("--shown", action="store_true", help="only the rows marked for the summary")
    ap.add_argument("--csv", action="store_true", help="comma-separated output")
    args = ap.parse_args(argv)

    rc = 0
    path = args.json
    if path is None:
        path = Path(tempfile.mkdtemp()) / "zscores.json"
        env = dict(os.environ, RERISKMC_ZSCORES_JSON=str(path))
        rc = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(HERE / "test_closed_forms.py"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            cwd=HERE.parents[1],
        )
        if not path.exists():
            print(f"the tests wrote no z-scores (pytest exit code {rc})", file=sys.stderr)
            return rc or 1
    rows = json.loads(path.read_text(encoding="utf-8"))
    if args.shown:
        rows = [r for r in rows if r.get("show", True)]
    if args.csv:
        print("case,expected,measured,se,z,n_paths,seed")
        for r in rows:
            print(
                f'"{r["case"]}",{r["expected"]!r},{r["measured"]!r},{r["se"]!r},{r["z"]!r},{r["n_paths"]},{r["seed"]}'
            )
    else:
        w = max(len(r["case"]) for r in rows)
        print(f"{'case':<{w}}  {'expected':>12} {'measured':>12} {'se':>10} {'z':>7}")
        for r in rows:
            print(
                f"{r['case']:<{w}}  {float(r['expected']):>12.6g} {float(r['measured']):>12.6g} "
                f"{float(r['se']):>10.3g} {_z(r['z']):>7.2f}"
            )
        zs = [abs(_z(r["z"])) for r in rows]
        finite = [z for z in zs if math.isfinite(z)]
        stoch = [abs(_z(r["z"])) for r in rows if float(r["se"]) > 0]
        print(
            f"\n{len(rows)} rows ({len(stoch)} stochastic); max |z| = {max(finite):.2f}; "
            f"share of stochastic rows with |z| > 2: "
            f"{sum(z > 2 for z in stoch) / max(1, len(stoch)):.3f} "
            f"(rows of a series share their paths, so they are correlated); "
            f"non-finite z: {len(zs) - len(finite)}"
        )
    if rc:
        print(f"(pytest exit code {rc}: some checks failed)", file=sys.stderr)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
