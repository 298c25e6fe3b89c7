"""Scenario comparisons from a result Dataset: the paired difference A - B of an estimate
per programme (or material, or regime), its standard error and a 95% interval, against
the standard error two independent runs would give.

The result holds, for every scenario, its estimates with their standard errors and its
paired difference from the base with that difference's standard error, computed path by
path on common random numbers. Against the base (or the base against another scenario)
the paired standard error is therefore exact. For two scenarios neither of which is the
base, ``A - B = delta_A - delta_B`` exactly, but the standard error of the per-path
difference ``x_A - x_B`` is not in the file: its sample standard deviation is a
seminorm of the per-path vector, so by the Minkowski (triangle) inequality
``se(A - B) <= se(delta_A) + se(delta_B)``, and also ``<= se(A) + se(B)``. The smaller
sum is reported as an upper bound and flagged (``se_bound``); the interval built on it
is conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .summary import headline_threshold

#: how many standard errors either side make a 95% interval (normal approximation)
Z95 = 1.959963984540054


class CompareError(ValueError):
    """A comparison the result cannot answer; the message names the option."""


@dataclass(frozen=True)
class Metric:
    """An estimate that ``compare`` can difference.

    ``kind`` sets how it reads: "probability" and "share" in percentage points,
    "months", "units" and "t" in their own units."""

    variable: str
    kind: str
    label: str


METRICS: dict[str, Metric] = {
    m.variable: m
    for m in (
        Metric("p_slip", "probability", "chance of a schedule slip of more than {thr:g} months"),
        Metric("slip_months_mean", "months", "mean schedule slip"),
        Metric("share_missed_mean", "share", "mean share of the schedule not built"),
        Metric("p_shortfall", "probability", "chance of having fallen behind schedule"),
        Metric("units_short_mean", "units", "mean units behind schedule"),
        Metric("shortfall_t_mean", "t", "mean material owed to the programme"),
        Metric("p_stock_exhausted", "probability", "chance that stocks fail to cover a need"),
        Metric("p_regime", "probability", "share of paths in the policy regime"),
    )
}

#: the dimensions a metric's rows run over, in the order a row is named
ROW_DIMS = ("programme", "material", "regime")


@dataclass(frozen=True)
class Row:
    """One programme's (material's, regime's) comparison, in the variable's units."""

    key: tuple[str, ...]
    a: float
    b: float
    difference: float
    se: float
    se_independent: float

    @property
    def interval(self) -> tuple[float, float]:
        return self.difference - Z95 * self.se, self.difference + Z95 * self.se

    @property
    def se_ratio(self) -> float:
        """Paired standard error over the independent runs' (NaN when that is 0)."""
        return self.se / self.se_independent if self.se_independent > 0 else math.nan


@dataclass(frozen=True)
class Comparison:
    """Scenario A against scenario B, one row per programme (material, regime)."""

    scenario: str
    against: str
    se_bound: bool
    rows: tuple[Row, ...]
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompareResult:
    """Every comparison of one metric at one month (and slip threshold)."""

    metric: Metric
    units: str
    month: str
    threshold: float | None
    row_dims: tuple[str, ...]
    n_paths: int
    comparisons: tuple[Comparison, ...]

    @property
    def title(self) -> str:
        label = self.metric.label.format(thr=self.threshold or 0.0)
        return f"{label[0].upper()}{label[1:]} by {self.month}"

    def median_se_ratio(self) -> float:
        """Median over rows of paired / independent standard error, where the paired one
        is exact (not an upper bound); NaN if none."""
        r = [x.se_ratio for c in self.comparisons if not c.se_bound for x in c.rows]
        r = [x for x in r if not math.isnan(x)]
        return float(np.median(r)) if r else math.nan

    def as_json(self) -> dict:
        """One JSON-ready object; values in the variable's units (probabilities as
        fractions), NaN as null."""

        def num(x: float):
            return None if math.isnan(x) else float(x)

        return {
            "metric": self.metric.variable,
            "description": self.title,
            "units": self.units,
            "month": self.month,
            "slip_threshold": self.threshold,
            "n_paths": self.n_paths,
            "confidence": 0.95,
            "median_se_ratio": num(self.median_se_ratio()),
            "comparisons": [
                {
                    "scenario": c.scenario,
                    "against": c.against,
                    "se_bound": c.se_bound,
                    "absent": list(c.absent),
                    "rows": [
                        {
                            **dict(zip(self.row_dims, r.key)),
                            "a": r.a,
                            "b": r.b,
                            "difference": r.difference,
                            "ci95": list(r.interval),
                            "se": r.se,
                            "se_independent": r.se_independent,
                            "se_ratio": num(r.se_ratio),
                        }
                        for r in c.rows
                    ],
                }
                for c in self.comparisons
            ],
        }


def _names(ds, dim: str) -> list[str]:
    return [str(x) for x in ds[dim].values]


def _select_month(ds, month: str | None) -> int:
    months = [str(np.datetime_as_string(m, unit="M")) for m in ds["month"].values]
    if month is None:
        return len(months) - 1
    if month not in months:
        raise CompareError(
            f"--month: {month} is not in the result (YYYY-MM, {months[0]} to {months[-1]})"
        )
    return months.index(month)


def _select_threshold(ds, metric: Metric, threshold: float | None) -> tuple[int, float] | None:
    if "slip_threshold" not in ds[metric.variable].dims:
        if threshold is not None:
            raise CompareError(f"--threshold: applies to p_slip only, not {metric.variable}")
        return None
    values = [float(x) for x in ds["slip_threshold"].values]
    thr = values[headline_threshold(len(values))] if threshold is None else threshold
    if thr not in values:
        have = ", ".join(f"{x:g}" for x in values)
        raise CompareError(f"--threshold: {thr:g} months is not in the result (it has {have})")
    return values.index(thr), thr


def _check_names(ds, dim: str, option: str, names) -> list[int]:
    have = _names(ds, dim)
    unknown = [n for n in names if n not in have]
    if unknown:
        raise CompareError(
            f"{option}: unknown {dim} {unknown[0]!r} (the result has {', '.join(have)})"
        )
    return [have.index(n) for n in names]


def _rows(ds, variable: str, row_dims: tuple[str, ...], chosen: dict) -> list[tuple[int, ...]]:
    """Index tuples of the rows: the chosen names along each row dimension; where rows
    pair two dimensions (a programme's material), only the pairs that ever hold a value."""
    import itertools

    for dim, names in chosen.items():
        if names and dim not in row_dims:
            raise CompareError(
                f"--{dim}: {variable} is per {' and '.join(row_dims)}, not per {dim}"
            )
    axes = [
        _check_names(ds, d, f"--{d}", chosen[d]) if chosen.get(d) else range(ds.sizes[d])
        for d in row_dims
    ]
    rows = list(itertools.product(*axes))
    if len(row_dims) > 1:
        other = [d for d in ds[variable].dims if d not in row_dims]
        used = (np.abs(ds[variable]).max(dim=other) > 0).transpose(*row_dims).values
        rows = [r for r in rows if used[r]]
    return rows


def _pair(arrays: dict, ia: int, ib: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """A - B, its paired standard error and whether that is an upper bound (scenario
    axis first). Neither A nor B the base: the per-path difference's standard deviation
    is at most the sum of those of its two parts, written either as
    (x_A - x_base) - (x_B - x_base) or as x_A - x_B (Minkowski); the smaller sum bounds it."""
    dse = arrays["delta_se"]
    if ia == ib:
        return np.zeros_like(dse[ia]), np.zeros_like(dse[ia]), False
    if ib == 0:
        return arrays["x"][ia] - arrays["x"][ib], dse[ia], False
    if ia == 0:
        return arrays["x"][ia] - arrays["x"][ib], dse[ib], False
    se = arrays["se"]
    bound = np.minimum(dse[ia] + dse[ib], se[ia] + se[ib])
    return arrays["delta"][ia] - arrays["delta"][ib], bound, True


def compare(
    ds,
    scenarios: list[str] | None = None,
    against: str | None = None,
    metric: str = "p_slip",
    threshold: float | None = None,
    month: str | None = None,
    programmes: list[str] | None = None,
    materials: list[str] | None = None,
) -> CompareResult:
    """Compare scenarios of a result Dataset on one metric at one month.

    Parameters
    ----------
    ds : xarray.Dataset
        A reriskmc result.
    scenarios : list of str, optional
        The scenarios A (default: every scenario but ``against``).
    against : str, optional
        The scenario B (default: the base, the first scenario).
    metric : str
        A key of :data:`METRICS`.
    threshold : float, optional
        Slip threshold in months, for ``p_slip`` (default 3, or the middle threshold).
    month : str, optional
        ``YYYY-MM`` (default: the last month).
    programmes, materials : list of str, optional
        Restrict the rows.

    Returns
    -------
    CompareResult

    Raises
    ------
    CompareError
        A scenario, programme, material, month, threshold or metric the result has not.
    """
    if metric not in METRICS:
        raise CompareError(f"--metric: unknown metric {metric!r} (one of {', '.join(METRICS)})")
    m = METRICS[metric]
    names = _names(ds, "scenario")
    ib = _check_names(ds, "scenario", "--against", [against or names[0]])[0]
    ias = (
        _check_names(ds, "scenario", "--scenario", scenarios)
        if scenarios
        else [i for i in range(len(names)) if i != ib]
    )
    t, k = _select_month(ds, month), _select_threshold(ds, m, threshold)
    pick = {"month": t} if k is None else {"month": t, "slip_threshold": k[0]}
    row_dims = tuple(d for d in ROW_DIMS if d in ds[metric].dims)
    arrays = {
        key: ds[f"{pre}{metric}{post}"].isel(pick).transpose("scenario", *row_dims).values
        for key, pre, post in (("x", "", ""), ("se", "", "_se"), ("delta", "delta_", ""),
                               ("delta_se", "delta_", "_se"))
    }  # fmt: skip
    rows = _rows(ds, metric, row_dims, {"programme": programmes, "material": materials})
    present = _presence(ds, row_dims)
    out = []
    for ia in ias:
        diff, se, bound = _pair(arrays, ia, ib)
        keep = [r for r in rows if present[ia][r[0]] and present[ib][r[0]]]
        absent = sorted({_names(ds, row_dims[0])[r[0]] for r in rows if r not in keep})
        x, x_se = arrays["x"], arrays["se"]
        out.append(Comparison(names[ia], names[ib], bound, tuple(
            Row(tuple(_names(ds, d)[i] for d, i in zip(row_dims, r)), float(x[ia][r]),
                float(x[ib][r]), float(diff[r]), float(se[r]),
                float(math.hypot(x_se[ia][r], x_se[ib][r])))
            for r in keep), tuple(absent)))  # fmt: skip
    return CompareResult(
        m, str(ds[metric].attrs.get("units", "")), _month_name(ds, t),
        None if k is None else k[1], row_dims, int(ds.attrs.get("n_paths", 0)), tuple(out),
    )  # fmt: skip


def _presence(ds, row_dims: tuple[str, ...]) -> np.ndarray:
    """(scenario, first row dimension): whether the scenario has the row's programme (a
    scenario may add one; where it has not, its statistics are zero)."""
    n = ds.sizes[row_dims[0]]
    if row_dims[0] == "programme" and "programme_in_scenario" in ds.coords:
        return ds["programme_in_scenario"].transpose("scenario", "programme").values.astype(bool)
    return np.ones((ds.sizes["scenario"], n), dtype=bool)


def _month_name(ds, t: int) -> str:
    return str(np.datetime_as_string(ds["month"].values[t], unit="M"))


#: per kind: scale to display units, the values' unit, the difference's unit, decimals
_DISPLAY = {
    "probability": (100.0, "%", "percentage points", 1),
    "share": (100.0, "%", "percentage points", 1),
    "months": (1.0, "months", "months", 2),
    "units": (1.0, "units", "units", 1),
    "t": (1.0, "t", "t", 3),
}


def display_units(res: CompareResult) -> tuple[float, str, str, int]:
    """(scale, unit of the values, unit of the differences, decimals) for reading."""
    return _DISPLAY[res.metric.kind]


def cells(res: CompareResult, c: Comparison, r: Row) -> list[str]:
    """A row's cells as read: A, B, difference, 95% interval, paired SE (with "<=" when
    it is an upper bound), independent SE, ratio."""
    scale, _, _, dec = display_units(res)
    lo, hi = r.interval
    le = "<=" if c.se_bound else ""
    ratio = "-" if math.isnan(r.se_ratio) else f"{le}{r.se_ratio:.2f}"
    return [
        f"{scale * r.a:.{dec}f}", f"{scale * r.b:.{dec}f}", f"{scale * r.difference:+.{dec}f}",
        f"[{scale * lo:+.{dec}f}, {scale * hi:+.{dec}f}]", f"{le}{scale * r.se:.{dec + 1}f}",
        f"{scale * r.se_independent:.{dec + 1}f}", ratio,
    ]  # fmt: skip


HEADERS = ("A", "B", "difference", "95% interval", "paired SE", "independent SE", "ratio")

NOTES = (
    "Paired SE: from the per-path differences on common random numbers (the same paths "
    "in every scenario). Independent SE: sqrt(se_A^2 + se_B^2), what two separate runs "
    "would give; ratio = paired / independent (below 1: pairing pays).",
    "<= marks an upper bound: the result holds each scenario's paired difference from the "
    "base, not from each other, and se(A - B) <= se(A - base) + se(B - base), also "
    "<= se(A) + se(B) (Minkowski inequality); the smaller is shown, its interval is "
    "conservative.",
)


def _table(res: CompareResult, c: Comparison, width: int) -> list[str]:
    """One comparison's table: a heading, column headers and a line per row."""
    rows = [[" / ".join(r.key), *cells(res, c, r)] for r in c.rows]
    head = ["/".join(res.row_dims), *HEADERS]
    w = [width] + [max([len(h)] + [len(t[i]) for t in rows]) for i, h in enumerate(head) if i]
    bound = "   (SE: upper bound)" if c.se_bound else ""
    lines = [f"A: {c.scenario}   B: {c.against}{bound}"]
    for t in [head, *rows]:
        lines.append(f"{t[0]:<{w[0]}}  " + "  ".join(f"{v:>{x}}" for v, x in zip(t[1:], w[1:])))
    lines.insert(2, "-" * len(lines[1]))
    if c.absent:
        lines.append(f"not in both scenarios: {', '.join(c.absent)}")
    return lines


def compare_text(res: CompareResult) -> str:
    """The comparisons as readable tables, one per pair of scenarios."""
    import textwrap

    _, vunit, dunit, _ = display_units(res)
    lines = textwrap.wrap(
        f"{res.title}: scenario A minus scenario B, {dunit} (A and B in {vunit}); "
        f"{res.n_paths:,} paths",
        96,
    )
    keys = [" / ".join(r.key) for c in res.comparisons for r in c.rows]
    width = max([12, len("/".join(res.row_dims))] + [len(k) for k in keys])
    for c in res.comparisons:
        lines += ["", *_table(res, c, width)]
    ratio = res.median_se_ratio()
    if not math.isnan(ratio):
        lines += ["", f"Median ratio paired / independent SE: {ratio:.2f}"]
    bound = any(c.se_bound for c in res.comparisons)
    for note in NOTES[: 1 + bound]:
        lines += textwrap.wrap(note, 96)
    return "\n".join(lines)
