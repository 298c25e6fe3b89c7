"""Fixtures of the statistical validation tests: a recorder of z-scores.

Every closed-form comparison in ``test_closed_forms.py`` records a row
(case, expected, measured, se, z). At the end of the session the rows are

- written to ``closed_form_zscores.json`` in pytest's base temporary directory (and, if
  the environment variable ``RERISKMC_ZSCORES_JSON`` names a file, to that file too);
- summarised in one line at the end of the run, or, with ``pytest --ztable``, printed
  as a table (the rows marked ``show``; the JSON has them all).

``python tests/stats/ztable.py`` runs the closed-form tests and prints the full table.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytest


@dataclass
class Row:
    case: str
    expected: float
    measured: float
    se: float
    z: float
    n_paths: int
    seed: int
    show: bool = True


@dataclass
class ZRecorder:
    rows: list[Row] = field(default_factory=list)

    def add(
        self, case: str, expected, measured, se, *, n_paths: int, seed: int, show: bool = True
    ) -> float:
        """Record one comparison and return its z-score.

        ``se == 0`` (a deterministic statistic): z is 0 when the values agree to 1e-9,
        else infinite.
        """
        expected, measured, se = float(expected), float(measured), float(se)
        diff = measured - expected
        if se > 0.0:
            z = diff / se
        else:
            z = 0.0 if abs(diff) <= 1e-9 * (1.0 + abs(expected)) else math.copysign(math.inf, diff)
        self.rows.append(Row(case, expected, measured, se, z, int(n_paths), int(seed), show))
        return z

    def add_series(
        self,
        case: str,
        expected,
        measured,
        se,
        *,
        n_paths: int,
        seed: int,
        show_at=(),
        label: str = "t",
    ) -> np.ndarray:
        """Record a series (e.g. one value per month); rows at indices ``show_at``
        are marked for the printed table. Returns the z-scores."""
        expected = np.broadcast_to(np.asarray(expected, float), np.shape(measured))
        se = np.broadcast_to(np.asarray(se, float), np.shape(measured))
        z = np.empty(np.shape(measured))
        for i in np.ndindex(*np.shape(measured)):
            idx = ",".join(str(j) for j in i)
            z[i] = self.add(
                f"{case}[{label}={idx}]",
                expected[i],
                np.asarray(measured)[i],
                se[i],
                n_paths=n_paths,
                seed=seed,
                show=(i[0] if len(i) == 1 else i) in show_at,
            )
        return z


def _table(rows: list[Row]) -> str:
    head = f"{'case':<58} {'expected':>12} {'measured':>12} {'se':>10} {'z':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.case:<58} {r.expected:>12.6g} {r.measured:>12.6g} {r.se:>10.3g} {r.z:>7.2f}"
        )
    finite = [abs(r.z) for r in rows if math.isfinite(r.z)]
    if finite:
        lines.append(
            f"{len(rows)} comparisons; max |z| = {max(finite):.2f}; "
            f"share |z| > 2: {np.mean(np.asarray(finite) > 2):.3f}; "
            f"non-finite z: {sum(not math.isfinite(r.z) for r in rows)}"
        )
    return "\n".join(lines)


_RECORDER = ZRecorder()


@pytest.fixture(scope="session")
def zscores() -> ZRecorder:
    return _RECORDER


def pytest_sessionfinish(session, exitstatus):
    if not _RECORDER.rows:
        return
    rows = [
        {
            k: (v if not isinstance(v, float) or math.isfinite(v) else repr(v))
            for k, v in asdict(r).items()
        }
        for r in _RECORDER.rows
    ]
    payload = json.dumps(rows, indent=1)
    targets = []
    try:
        base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
        targets.append(Path(base) / "closed_form_zscores.json")
    except Exception:  # pragma: no cover - tmp dir unavailable
        pass
    if os.environ.get("RERISKMC_ZSCORES_JSON"):
        targets.append(Path(os.environ["RERISKMC_ZSCORES_JSON"]))
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(payload, encoding="utf-8")
    session.config._reriskmc_z_paths = targets  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _RECORDER.rows:
        return
    tr = terminalreporter
    paths = getattr(config, "_reriskmc_z_paths", [])
    if config.getoption("--ztable"):
        tr.section("closed-form checks: z-scores")
        tr.write_line(_table([r for r in _RECORDER.rows if r.show]))
        for path in paths:
            tr.write_line(f"all {len(_RECORDER.rows)} rows: {path}")
        return
    finite = [abs(r.z) for r in _RECORDER.rows if math.isfinite(r.z)]
    where = f"; every row: {paths[0]}" if paths else ""
    tr.write_line(
        f"closed-form checks: {len(_RECORDER.rows)} comparisons, max |z| = "
        f"{max(finite, default=0.0):.2f} (--ztable prints them){where}"
    )


__all__ = ["Row", "ZRecorder"]
