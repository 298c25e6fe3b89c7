"""The headline table printed by ``run`` and ``summarize``: from a result Dataset, in an
analyst's words (slip in months of output, comparable across programmes)."""

from __future__ import annotations

import numpy as np


def _month(ds, i: int) -> str:
    return str(np.datetime_as_string(ds["month"].values[i], unit="M"))


def _names(ds, dim: str) -> list[str]:
    return [str(x) for x in ds[dim].values]


def headline_threshold(n_thresholds: int) -> int:
    """The index of the slip threshold every headline figure uses (the summary table,
    the report, the plots, compare's default, ``--target-se``): the middle one of
    ``run.slip_thresholds`` (3 months of the default 1, 3, 6)."""
    return n_thresholds // 2


def _threshold(ds) -> tuple[int, float]:
    """The headline slip threshold of a result: its index and its value in months."""
    k = headline_threshold(len(ds["slip_threshold"]))
    return k, float(ds["slip_threshold"].values[k])


def _table(title: str, rows: list[str], scenarios: list[str], cells, fmt, extra=None) -> list[str]:
    """A table of ``cells[row][scenario]`` under a title; ``extra``: (header, values)."""
    label_w = max(12, *(len(r) for r in rows))
    widths = [max(8, len(s)) for s in scenarios]
    head = f"{'':<{label_w}} " + " ".join(f"{s:>{w}}" for s, w in zip(scenarios, widths))
    if extra is not None:
        head += f"  {extra[0]}"
    lines = [title, head, "-" * len(head)]
    for i, r in enumerate(rows):
        line = f"{r:<{label_w}} " + " ".join(
            f"{fmt(cells[i][j]):>{w}}" for j, w in enumerate(widths)
        )
        if extra is not None:
            line += f"  {extra[1][i]:>{len(extra[0])}}"
        lines.append(line)
    return lines


def _even_chance(ds, k: int) -> list[str]:
    """Per programme, the month the base case's chance of a slip of more than the
    threshold first reaches 50%."""
    p = ds["p_slip"].isel(scenario=0, slip_threshold=k).values  # (programme, month)
    out = []
    for row in p:
        hit = np.nonzero(row >= 0.5)[0]
        out.append(_month(ds, int(hit[0])) if hit.size else "not by the end")
    return out


def headline_table(ds) -> str:
    """Per programme and scenario: the chance of a slip beyond the middle threshold by
    the end of the horizon, the month the base case's chance passes 50%, the tail of
    the peak slip in months; per material, the chance that stocks fail to cover a need;
    the scenarios' descriptions, and where a scenario raises a programme's risk."""
    scen = _names(ds, "scenario")
    progs = _names(ds, "programme")
    mats = _names(ds, "material")
    end = _month(ds, -1)
    k, thr = _threshold(ds)
    p_slip = ds["p_slip"].isel(slip_threshold=k, month=-1).values  # (scenario, programme)
    se = ds["p_slip_se"].isel(slip_threshold=k, month=-1).values
    alpha = float(ds.attrs.get("cvar_alpha", 0.95))
    lines = [
        f"{ds.attrs.get('title', '')}: {int(ds.attrs['n_paths']):,} paths, seed "
        f"{int(ds.attrs['seed'])}, {_month(ds, 0)} to {end}",
        "",
    ]
    lines += _table(
        f"Chance of a schedule slip of more than {thr:g} months of output by {end}, % of "
        f"paths (largest standard error {100 * se.max():.2f} points)",
        progs, scen, (100 * p_slip).T, lambda x: f"{x:.1f}",
        extra=("base: 50% chance by", _even_chance(ds, k)),
    )  # fmt: skip
    cvar = ds["slip_months_cvar"].values  # (scenario, programme)
    lines += [""] + _table(
        f"Average peak slip of the worst {100 * (1 - alpha):.0f}% of paths, months of output",
        progs, scen, cvar.T, lambda x: f"{x:.1f}",
    )  # fmt: skip
    exh = ds["p_stock_exhausted"].isel(month=-1).values
    lines += [""] + _table(
        f"Chance that stocks fail to cover a need by {end}, % of paths",
        mats, scen, (100 * exh).T, lambda x: f"{x:.1f}",
    )  # fmt: skip
    lines += ["", "Scenarios:"] + _descriptions(ds)
    raised = _raised_risks(ds, k, thr, end)
    if raised:
        lines += ["", "Where a scenario raises a programme's risk:"] + raised
    return "\n".join(lines)


def _descriptions(ds) -> list[str]:
    if "scenario_description" not in ds.coords:
        return [f"  {s}" for s in _names(ds, "scenario")]
    desc = [str(x) for x in ds["scenario_description"].values]
    return [f"  {s}: {d}" for s, d in zip(_names(ds, "scenario"), desc)]


def _shared_otherwise(d_owed) -> bool:
    """Whether a material's changes in tonnes owed (one per programme) mostly cancel:
    what some programmes are owed more, others are owed at least half of less."""
    more = d_owed[d_owed > 0].sum()
    return more > 0 and -d_owed[d_owed < 0].sum() >= 0.5 * more


def _clear_rise(delta, se):
    """Whether paired differences are rises beyond three paired standard errors (and
    half a point)."""
    return delta > np.maximum(3 * se, 0.005)


def _points(x: float) -> str:
    return f"{100 * x:.1f}"


def _raised_risks(ds, k: int, thr: float, end: str) -> list[str]:
    """A paragraph for each scenario that lowers some programmes' risk and raises
    another's, beyond their paired Monte Carlo errors, with its cause where the figures
    show one:

    - a shared material: a scenario that relieves one material lets the programmes
      that need it build more, and they then draw more of the materials they share with
      others. Named only where the programmes owed more of it are owed at least half of
      that less by others (the same supply shared otherwise);
    - a cut: stocks of a material the programme needs fail to cover a need on clearly
      more paths (a paired rise of ``p_stock_exhausted``). The programmes a cut raises
      share one paragraph; they are then owed more of everything they did not build
      with, so no shared material is named for them."""
    import textwrap

    d = ds["delta_p_slip"].isel(slip_threshold=k, month=-1).values  # (scenario, programme)
    d_se = ds["delta_p_slip_se"].isel(slip_threshold=k, month=-1).values
    d_owed = ds["delta_shortfall_t_mean"].isel(month=-1).values  # (scenario, prog, material)
    uses = (ds["shortfall_t_mean"].max(dim=("scenario", "month")) > 0).values  # (prog, mat)
    d_exh = ds["delta_p_stock_exhausted"].isel(month=-1).values  # (scenario, material)
    d_exh_se = ds["delta_p_stock_exhausted_se"].isel(month=-1).values
    scen, progs, mats = _names(ds, "scenario"), _names(ds, "programme"), _names(ds, "material")
    chance = f"chance of a slip of more than {thr:g} months"
    lines = []
    for s in range(1, len(scen)):
        up, down = _clear_rise(d[s], d_se[s]), _clear_rise(-d[s], d_se[s])
        cut = _clear_rise(d_exh[s], d_exh_se[s])
        # a cause, ("shared", (programme, material)) or ("cut", materials), -> the
        # programmes it raises
        paragraphs: dict[tuple, list[int]] = {}
        for p in np.flatnonzero(up) if down.any() else ():
            m = int(np.argmax(np.where(uses[p], d_owed[s, p], -np.inf)))
            if (
                d_owed[s, p, m] > 0
                and (down & uses[:, m]).any()
                and _shared_otherwise(d_owed[s, :, m])
            ):
                paragraphs[("shared", (int(p), m))] = [int(p)]
                continue
            cut_needed = tuple(int(x) for x in np.flatnonzero(cut & uses[p]))
            paragraphs.setdefault(("cut", cut_needed), []).append(int(p))
        for (kind, detail), raised in paragraphs.items():
            if len(raised) == 1:
                p = raised[0]
                text = (f"{scen[s]} raises {progs[p]}'s {chance} by {_points(d[s, p])} points "
                        f"(paired standard error {100 * d_se[s, p]:.2g} points).")  # fmt: skip
            else:
                each = ", ".join(f"{progs[p]} by {_points(d[s, p])}" for p in raised)
                ses = 100 * d_se[s, raised]
                text = (f"{scen[s]} raises the {chance} of {each} points (paired standard "
                        f"errors {ses.min():.2g} to {ses.max():.2g} points).")  # fmt: skip
            if kind == "shared":
                p, m = detail
                builders = [progs[q] for q in np.flatnonzero(down & uses[:, m])]
                text += (f" It is owed {d_owed[s, p, m]:.3g} t more {mats[m]} by {end}: the "
                         f"scenario lets {', '.join(builders)} build more, and they draw on "
                         f"the {mats[m]} that {progs[p]} shares with them.")  # fmt: skip
            else:
                who = "it needs" if len(raised) == 1 else "they need"
                for m in detail:
                    text += (f" Stocks of {mats[m]}, which {who}, fail to cover a need on "
                             f"{_points(d_exh[s, m])} points more of the paths (paired standard "
                             f"error {100 * d_exh_se[s, m]:.2g} points).")  # fmt: skip
            lines += textwrap.wrap(text, 96, initial_indent="  ", subsequent_indent="    ")
    return lines
