"""Figures of a result Dataset, sized and lettered for slides (13.3 x 7.5 in, 16:9, text
11 pt and up): fan charts of slip, risk curves, exceedance of peak slip, stock
exhaustion and regime occupancy. matplotlib is imported inside the functions (Agg
backend: no display needed), so importing this module costs nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import write_atomic
from .summary import _threshold

FORMATS = ("png", "svg")
FIGSIZE = (13.33, 7.5)
DPI = 110


class PlotError(ValueError):
    """A plot the result cannot give; the message names the option."""


def _names(ds, dim: str) -> list[str]:
    return [str(x) for x in ds[dim].values]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
        "figure.titlesize": 15, "axes.grid": True, "grid.alpha": 0.3,
    })  # fmt: skip
    return plt


def _grid(plt, n: int, title: str, sharey: bool = False):
    """A figure of ``n`` panels in a near-square grid under ``title``; the spare
    panels are hidden."""
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=FIGSIZE, sharex=True, sharey=sharey,
                             squeeze=False, layout="constrained")  # fmt: skip
    fig.suptitle(title)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _date_axis(ax) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _percent_axis(ax) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _long_name(ds, dim: str, i: int) -> str:
    name = _names(ds, dim)[i]
    coord = f"{dim}_long_name"
    if coord in ds.coords:
        return f"{ds[coord].values[i]} ({name})"
    return name


def _scenario_colours(plt, scenarios: list[str]) -> dict[str, tuple]:
    """The base in black; the other scenarios in distinct colours, the same in every
    figure."""
    cmap = plt.get_cmap("tab20")
    return {s: (0, 0, 0, 1) if i == 0 else cmap((i - 1) % 20) for i, s in enumerate(scenarios)}


def _style(scenario: str, colours: dict) -> dict:
    """A scenario's line: the base drawn thicker and on top of the others."""
    base = scenario == next(iter(colours))
    return dict(color=colours[scenario], lw=2.2 if base else 1.3, zorder=3 if base else 2,
                label=scenario)  # fmt: skip


def _save(fig, path: Path, fmt: str) -> Path:
    """Write the figure atomically: a temporary file beside ``path``, then renamed."""
    import matplotlib.pyplot as plt

    try:
        return write_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=DPI))
    finally:
        plt.close(fig)


def render(fig, fmt: str = "png") -> bytes:
    """The figure's file content in ``fmt``, in memory (the figure is closed)."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt, dpi=DPI)
    finally:
        plt.close(fig)
    return buf.getvalue()


def fan_chart(plt, ds, scenario: str):
    """Per programme, the slip in months over time in one scenario: the median, the
    mean and bands between symmetric quantiles (e.g. 5-95% and 25-75%)."""
    s = _names(ds, "scenario").index(scenario)
    q = ds["slip_months_quantile"].isel(scenario=s).transpose("programme", "month", "quantile")
    qs = [float(x) for x in ds["quantile"].values]
    bands = [(lo, 1 - lo) for lo in qs if lo < 0.5 and any(abs(h - (1 - lo)) < 1e-9 for h in qs)]
    months = ds["month"].values
    mean = ds["slip_months_mean"].isel(scenario=s).transpose("programme", "month").values
    fig, axes = _grid(plt, ds.sizes["programme"], f"Schedule slip, scenario {scenario}: "
                      "median, mean and quantile bands over paths")  # fmt: skip
    for p, ax in enumerate(axes):
        for j, (lo, hi) in enumerate(sorted(bands)):
            ax.fill_between(months, q.values[p, :, qs.index(lo)],
                            q.values[p, :, [abs(x - hi) < 1e-9 for x in qs].index(True)],
                            color="tab:blue", alpha=0.15 + 0.15 * j, lw=0,
                            label=f"{100 * lo:g}-{100 * hi:g}% of paths")  # fmt: skip
        if 0.5 in qs:
            ax.plot(months, q.values[p, :, qs.index(0.5)], color="tab:blue", lw=2, label="median")
        ax.plot(months, mean[p], color="black", lw=1.2, ls="--", label="mean")
        ax.set_title(_long_name(ds, "programme", p))
        ax.set_ylim(bottom=0)
        _date_axis(ax)
    for ax in axes[:: int(np.ceil(np.sqrt(len(axes))))]:
        ax.set_ylabel("slip, months of output")
    axes[0].legend(loc="upper left")
    return fig


def risk_curves(plt, ds, scenarios: list[str]):
    """Per programme, P(slip beyond the headline threshold at least once by the month),
    one line per scenario."""
    k, thr = _threshold(ds)
    colours = _scenario_colours(plt, _names(ds, "scenario"))
    p = ds["p_slip"].isel(slip_threshold=k).transpose("scenario", "programme", "month")
    fig, axes = _grid(plt, ds.sizes["programme"], f"Chance of a schedule slip of more than "
                      f"{thr:g} months by each month, by scenario", sharey=True)  # fmt: skip
    for i, ax in enumerate(axes):
        for s in scenarios:
            ax.plot(ds["month"].values, p.sel(scenario=s).values[i], **_style(s, colours))
        ax.set_title(_long_name(ds, "programme", i))
        ax.set_ylim(0, 1)
        _percent_axis(ax)
        _date_axis(ax)
    for ax in axes[:: int(np.ceil(np.sqrt(len(axes))))]:
        ax.set_ylabel("% of paths")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper")
    return fig


def exceedance_curves(plt, ds, scenarios: list[str]):
    """Per programme, the chance that the peak slip over the horizon exceeds x months,
    read off the peak-slip quantiles (level q: exceeded by 1 - q of paths)."""
    colours = _scenario_colours(plt, _names(ds, "scenario"))
    qs = ds["quantile"].values
    peak = ds["slip_months_peak_quantile"].transpose("scenario", "programme", "quantile")
    fig, axes = _grid(plt, ds.sizes["programme"], "Chance that the peak schedule slip over "
                      "the horizon exceeds x months, by scenario", sharey=True)  # fmt: skip
    for i, ax in enumerate(axes):
        for s in scenarios:
            ax.plot(peak.sel(scenario=s).values[i], 1 - qs, marker="o", ms=3.5,
                    **_style(s, colours))  # fmt: skip
        ax.set_title(_long_name(ds, "programme", i))
        ax.set_yscale("log")
        _percent_axis(ax)
        ax.set_xlim(left=0)
        ax.tick_params(labelbottom=True)
    n_cols = int(np.ceil(np.sqrt(len(axes))))
    for ax in axes[::n_cols]:
        ax.set_ylabel("% of paths exceeding")
    for ax in axes[-n_cols:]:
        ax.set_xlabel("peak slip x, months of output")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper")
    return fig


def stock_exhaustion(plt, ds, scenarios: list[str]):
    """Per material, P(stocks have failed to cover a need at least once by the
    month), one line per scenario."""
    colours = _scenario_colours(plt, _names(ds, "scenario"))
    p = ds["p_stock_exhausted"].transpose("scenario", "material", "month")
    fig, axes = _grid(plt, ds.sizes["material"], "Chance that stocks have failed to cover "
                      "a need by each month, by scenario", sharey=True)  # fmt: skip
    for i, ax in enumerate(axes):
        for s in scenarios:
            ax.plot(ds["month"].values, p.sel(scenario=s).values[i], **_style(s, colours))
        ax.set_title(_long_name(ds, "material", i), fontsize=11, wrap=True)
        ax.set_ylim(0, 1)
        _percent_axis(ax)
        _date_axis(ax)
        ax.tick_params(labelbottom=True)
    for ax in axes[:: int(np.ceil(np.sqrt(len(axes))))]:
        ax.set_ylabel("% of paths")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper")
    return fig


def regime_occupancy(plt, ds, scenario: str):
    """The share of paths in each policy regime, month by month, stacked to 100%."""
    p = ds["p_regime"].sel(scenario=scenario).transpose("regime", "month").values
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.stackplot(ds["month"].values, p, labels=_names(ds, "regime"),
                 colors=plt.get_cmap("Set2").colors[: len(p)], alpha=0.9)  # fmt: skip
    ax.set_title(f"Policy regime occupancy, scenario {scenario}: share of paths in each "
                 "regime during the month")  # fmt: skip
    ax.set_ylabel("% of paths")
    ax.set_xlabel("month")
    ax.set_ylim(0, 1)
    ax.set_xlim(ds["month"].values[0], ds["month"].values[-1])
    _percent_axis(ax)
    _date_axis(ax)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def figures(ds, scenarios: list[str] | None = None) -> list[tuple[str, object]]:
    """Every figure of a result as (file stem, matplotlib Figure), in reading order.

    ``scenarios``: the fan charts and regime occupancy are drawn for each of them
    (default: the base), the by-scenario figures show them with the base (default:
    every scenario)."""
    names = _names(ds, "scenario")
    for s in scenarios or ():
        if s not in names:
            raise PlotError(f"--scenario: unknown scenario {s!r} (the result has "
                            f"{', '.join(names)})")  # fmt: skip
    own = list(scenarios) if scenarios else [names[0]]
    shown = [s for s in names if not scenarios or s == names[0] or s in scenarios]
    plt = _pyplot()
    _, thr = _threshold(ds)
    out = [(f"fan_{s}", lambda s=s: fan_chart(plt, ds, s)) for s in own]
    out += [
        (f"risk_slip_over_{thr:g}_months", lambda: risk_curves(plt, ds, shown)),
        ("exceedance_peak_slip", lambda: exceedance_curves(plt, ds, shown)),
        ("stock_exhaustion", lambda: stock_exhaustion(plt, ds, shown)),
    ]
    out += [(f"regime_{s}", lambda s=s: regime_occupancy(plt, ds, s)) for s in own]
    return out


def write_plots(ds, out_dir: str | Path, fmt: str = "png", scenarios=None) -> list[Path]:
    """Write every figure of ``figures`` into ``out_dir`` (made if need be) as
    ``<stem>.<fmt>``, each atomically; returns the paths written."""
    if fmt not in FORMATS:
        raise PlotError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    todo = figures(ds, scenarios)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [_save(make(), out / f"{stem}.{fmt}", fmt) for stem, make in todo]
