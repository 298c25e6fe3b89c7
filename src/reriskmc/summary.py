"""The headline table printed by ``run`` and ``summarize``: from a result Dataset."""

from __future__ import annotations

import numpy as np


def _month_label(ds, i: int) -> str:
    return str(np.datetime_as_string(ds["month"].values[i], unit="M"))


def _units(x: float) -> str:
    """Units behind schedule: whole numbers with thousands separators, or 3 figures."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def headline_table(ds) -> str:
    """Per programme and scenario: P(behind schedule by the end of the horizon), the
    month the base scenario's risk first reaches 50%, and the CVaR of peak units behind."""
    scen = [str(s) for s in ds["scenario"].values]
    progs = [str(p) for p in ds["programme"].values]
    end = _month_label(ds, -1)
    p_end = ds["p_shortfall"].isel(month=-1).values  # (scenario, programme)
    se_end = ds["p_shortfall_se"].isel(month=-1).values
    cvar = ds["units_short_cvar"].values
    alpha = float(ds.attrs.get("cvar_alpha", 0.95))
    widths = [max(8, len(s)) for s in scen]
    pw = max(9, *(len(p) for p in progs))
    lines = [
        f"P(programme falls behind schedule by {end}), % of {int(ds.attrs['n_paths']):,} paths "
        f"(largest standard error {100 * se_end.max():.2f} points)"
    ]
    head = (
        f"{'programme':<{pw}} "
        + " ".join(f"{s:>{w}}" for s, w in zip(scen, widths))
        + "  base 50% by"
    )
    lines += [head, "-" * len(head)]
    p_base = ds["p_shortfall"].sel(scenario=scen[0]).values
    for j, p in enumerate(progs):
        hit = np.nonzero(p_base[j] >= 0.5)[0]
        when = _month_label(ds, int(hit[0])) if hit.size else "never"
        lines.append(
            f"{p:<{pw}} "
            + " ".join(f"{100 * p_end[i, j]:>{w}.1f}" for i, w in enumerate(widths))
            + f"  {when:>11}"
        )
    lines += [
        "",
        f"CVaR{round(100 * alpha)} of peak units behind schedule (mean of the worst "
        f"{100 * (1 - alpha):.0f}% of paths)",
    ]
    lines += [head.rsplit("  ", 1)[0], "-" * len(head.rsplit("  ", 1)[0])]
    for j, p in enumerate(progs):
        lines.append(
            f"{p:<{pw}} " + " ".join(f"{_units(cvar[i, j]):>{w}}" for i, w in enumerate(widths))
        )
    pe = ds["p_stock_exhausted"].isel(month=-1).values
    lines += ["", f"P(stocks run out by {end}), %"]
    mats = [str(m) for m in ds["material"].values]
    mw = pw
    lines.append(f"{'material':<{mw}} " + " ".join(f"{s:>{w}}" for s, w in zip(scen, widths)))
    for k, m in enumerate(mats):
        lines.append(
            f"{m:<{mw}} " + " ".join(f"{100 * pe[i, k]:>{w}.1f}" for i, w in enumerate(widths))
        )
    return "\n".join(lines)
