"""One self-contained HTML page of a result: the headline table, the scenarios against
the base with their paired intervals, the figures (embedded as data: URIs), the model's
assumptions and the run's provenance. No script, no network: it opens anywhere, offline,
and prints as it shows."""

from __future__ import annotations

import base64
import math
from html import escape
from pathlib import Path

from .io import write_atomic
from .summary import _descriptions, _even_chance, _month, _names, _threshold

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.up { background: #fde2e1; } td.down { background: #e1f3e4; }
div.wide { overflow-x: auto; } th { white-space: nowrap; }
figure { margin: 1.5em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; } .note { font-size: 0.9em; color: #555; }
dl.prov dt { font-weight: 600; float: left; clear: left; width: 11em; }
dl.prov dd { margin-left: 12em; font-family: monospace; overflow-wrap: anywhere; }
"""

#: what the model is, in brief (docs/model.md has the full specification)
MODEL = (
    "Each path is one monthly future from the start month to the horizon. A Markov chain "
    "of negotiation regimes (truce, stalemate, breakdown, escalation, deal) moves once a "
    "month; dated events (tariff deadlines, the AI-chip linkage, rule changes) may be "
    "extended or fire, switching regimes, transition matrices or parameters. Chinese "
    "export licences per material and channel are granted, renewed or revoked with "
    "regime-dependent probabilities; non-Chinese plants slip, ramp and qualify; magnet "
    "makers turn feedstock into magnets; contractor inventory and the National Defense "
    "Stockpile buffer shortfalls; DPAS-rated programmes are served first and the rest "
    "pro rata; programmes build what their allocated material allows. Uncertain "
    "parameters are drawn once per path. Every scenario runs on the same random numbers "
    "(common random numbers), so scenario differences are paired path by path."
)

SIMPLIFICATIONS = (
    "Units are continuous; a programme counts as behind once it is more than the "
    "config's tolerance behind schedule.",
    "One licence per material and channel stands for all applicants in that channel.",
    "Regime moves, licence decisions and revocations happen monthly, nothing within a month.",
    "Supply beyond the inventory ceiling leaves the model (sold to civilian users).",
    "Chinese-origin supply stops counting under the DFARS rules; stocks already held "
    "keep counting.",
)


def _cell(cell) -> str:
    """A cell's HTML: text, or (text, smaller second line)."""
    if isinstance(cell, tuple):
        return f"{escape(cell[0])}<br><small>{escape(cell[1])}</small>"
    return escape(str(cell))


def _table(caption: str, header: list[str], rows: list[list], classes=None) -> str:
    """An HTML table, scrolling sideways on its own if it is wider than the page; the
    first cell of each row is its header, the rest numbers (``classes``: optional CSS
    class per cell)."""
    out = [f'<div class="wide"><table><caption>{escape(caption)}</caption><thead><tr>']
    out += [f"<th>{escape(h)}</th>" for h in header] + ["</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        out.append(f"<tr><th>{escape(str(row[0]))}</th>")
        for j, cell in enumerate(row[1:]):
            cls = f"num {classes[i][j]}" if classes else "num"
            out.append(f'<td class="{cls.strip()}">{_cell(cell)}</td>')
        out.append("</tr>")
    return "".join(out) + "</tbody></table></div>"


def _headline(ds) -> str:
    """The headline table of ``summary.headline_table`` as HTML tables, one scenario a
    row (programmes or materials across)."""
    scen, progs, mats = _names(ds, "scenario"), _names(ds, "programme"), _names(ds, "material")
    end = _month(ds, -1)
    k, thr = _threshold(ds)
    p = ds["p_slip"].isel(slip_threshold=k, month=-1).transpose("scenario", "programme").values
    se = ds["p_slip_se"].isel(slip_threshold=k, month=-1).values
    rows = [[s, *(f"{100 * x:.1f}" for x in p[i])] for i, s in enumerate(scen)]
    rows.append(["base: 50% chance by", *_even_chance(ds, k)])
    out = [_table(f"Chance of a schedule slip of more than {thr:g} months of output by "
                  f"{end}, % of paths (largest standard error {100 * se.max():.2f} points)",
                  ["scenario", *progs], rows)]  # fmt: skip
    alpha = float(ds.attrs.get("cvar_alpha", 0.95))
    cvar = ds["slip_months_cvar"].transpose("scenario", "programme").values
    rows = [[s, *(f"{x:.1f}" for x in cvar[i])] for i, s in enumerate(scen)]
    out.append(_table(f"Average peak slip of the worst {100 * (1 - alpha):.0f}% of paths, "
                      "months of output", ["scenario", *progs], rows))  # fmt: skip
    exh = ds["p_stock_exhausted"].isel(month=-1).transpose("scenario", "material").values
    rows = [[s, *(f"{100 * x:.1f}" for x in exh[i])] for i, s in enumerate(scen)]
    out.append(_table(f"Chance that stocks fail to cover a need by {end}, % of paths",
                      ["scenario", *mats], rows))  # fmt: skip
    return "\n".join(out)


def _comparison(ds) -> str:
    """Every scenario against the base: the paired difference in P(slip > 3 months) at
    the horizon with its 95% interval, shaded where the interval excludes zero."""
    from .compare import compare

    res = compare(ds)
    progs = [r.key[0] for r in res.comparisons[0].rows] if res.comparisons else []
    rows, classes = [], []
    for c in res.comparisons:
        row, cls = [c.scenario], []
        for r in c.rows:
            lo, hi = r.interval
            row.append((f"{100 * r.difference:+.1f}", f"[{100 * lo:+.1f}, {100 * hi:+.1f}]"))
            cls.append("up" if lo > 0 else "down" if hi < 0 else "")
        rows.append(row)
        classes.append(cls)
    caption = f"{res.title}: scenario minus base, percentage points, with 95% interval"
    table = _table(caption, ["scenario", *progs], rows, classes)
    ratio = res.median_se_ratio()
    note = (
        "Each difference is paired: both scenarios ran on the same random numbers, and its "
        "standard error comes from the per-path differences. Red: the scenario raises the "
        "chance beyond its interval; green: it lowers it. "
        + ("" if math.isnan(ratio) else f"Median ratio of the paired standard error to "
           f"the one two independent runs would give: {ratio:.2f}.")
    )  # fmt: skip
    return f'{table}\n<p class="note">{escape(note)}</p>'


def _figures(ds) -> str:
    """Every figure of ``plot.figures`` as an embedded PNG with its caption."""
    from .plot import figures, render

    out = []
    for stem, make in figures(ds):
        fig = make()
        title = fig.texts[0].get_text() if fig.texts else fig.axes[0].get_title()
        data = base64.b64encode(render(fig, "png")).decode("ascii")
        out.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(title)}">'
            f"<figcaption>{escape(title)} ({escape(stem)})</figcaption></figure>"
        )
    return "\n".join(out)


def _assumptions(ds) -> str:
    items = "".join(f"<li>{escape(s)}</li>" for s in SIMPLIFICATIONS)
    scen = "".join(f"<li>{escape(line.strip())}</li>" for line in _descriptions(ds))
    return (
        f"<p>{escape(MODEL)}</p><p>Among its simplifications:</p><ul>{items}</ul>"
        f"<p>Scenarios of this run:</p><ul>{scen}</ul>"
    )


def _provenance(ds) -> str:
    a = ds.attrs
    fields = [("title", a.get("title", "")), ("config file", a.get("config_file", "")),
              ("config SHA-256", a.get("config_sha256", "")), ("seed", a.get("seed", "")),
              ("paths", f"{int(a.get('n_paths', 0)):,}"),
              ("reriskmc version", a.get("reriskmc_version", "")),
              ("created", a.get("created", "")),
              ("months", f"{_month(ds, 0)} to {_month(ds, -1)}")]  # fmt: skip
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in fields)
    return f'<dl class="prov">{body}</dl>'


def report_html(ds) -> str:
    """The whole page as one HTML string."""
    title = str(ds.attrs.get("title", "reriskmc result"))
    sections = [
        ("Headline", _headline(ds)),
        ("Scenarios against the base", _comparison(ds)),
        ("Figures", _figures(ds)),
        ("The model and its assumptions", _assumptions(ds)),
        ("Provenance", _provenance(ds)),
    ]
    body = "\n".join(f"<section><h2>{escape(h)}</h2>\n{s}</section>" for h, s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>"
        f"<h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def write_report(ds, path: str | Path) -> Path:
    """Write the page to ``path`` atomically (a temporary file beside it, renamed)."""
    text = report_html(ds)
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
