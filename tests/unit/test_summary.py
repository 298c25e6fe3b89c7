"""The lines under the headline table: where a scenario raises a programme's risk, the
shared material named only where the tonnes owed show it shared otherwise, and a cut
material named where its stocks fail to cover a need on more paths."""

from __future__ import annotations

import numpy as np
import xarray as xr

from reriskmc.summary import _raised_risks

SCENARIOS = ["base", "relief", "cut"]
PROGRAMMES = ["builder", "sharer"]
MATERIALS = ["ndfeb", "smco"]


def _dataset(
    d_owed_ndfeb: dict[str, tuple[float, float]], programmes: list[str] = PROGRAMMES
) -> xr.Dataset:
    """Programmes sharing NdFeB; in every scenario but the base the builder's chance of a
    slip falls by 5 points and the others' (sharers, who also need SmCo) rise by 10
    (paired SE 0.5 points)."""
    S, P, M = len(SCENARIOS), len(programmes), len(MATERIALS)
    d_p = np.zeros((S, P, 1, 1))
    d_p[1:, 0], d_p[1:, 1:] = -0.05, 0.10
    d_owed = np.zeros((S, P, M, 1))
    for s, (builder, sharer) in d_owed_ndfeb.items():
        d_owed[SCENARIOS.index(s), 0, 0, 0] = builder
        d_owed[SCENARIOS.index(s), 1:, 0, 0] = sharer
    owed = np.ones((S, P, M, 1))
    owed[:, 0, 1] = 0.0  # the builder needs no SmCo
    dims4 = ("scenario", "programme", "slip_threshold", "month")
    dims_t = ("scenario", "programme", "material", "month")
    dims_m = ("scenario", "material", "month")
    return xr.Dataset(
        {
            "delta_p_slip": (dims4, d_p),
            "delta_p_slip_se": (dims4, np.full_like(d_p, 0.005)),
            "delta_shortfall_t_mean": (dims_t, d_owed),
            "shortfall_t_mean": (dims_t, owed),
            "delta_p_stock_exhausted": (dims_m, np.zeros((S, M, 1))),
            "delta_p_stock_exhausted_se": (dims_m, np.zeros((S, M, 1))),
        },
        coords={"scenario": SCENARIOS, "programme": programmes, "material": MATERIALS},
    )


def test_shared_material_named_where_the_owed_tonnes_move_between_programmes():
    # relief: the builder is owed 0.5 t less NdFeB, the sharer 0.6 t more: shared otherwise
    # cut: the sharer is owed 0.6 t more and the builder only 0.05 t less: a direct cut
    ds = _dataset({"relief": (-0.5, 0.6), "cut": (-0.05, 0.6)})
    lines = _raised_risks(ds, 0, 3.0, "2029-05")
    text = " ".join(line.strip() for line in lines)
    relief, cut = text.split("cut raises")
    assert relief.startswith("relief raises sharer's chance of a slip of more than 3 months by 10")
    assert "the scenario lets builder build more" in relief and "ndfeb that sharer shares" in relief
    assert cut.startswith(" sharer's chance of a slip of more than 3 months by 10.0 points")
    assert "build more" not in cut and "shares with them" not in cut


def test_no_line_where_no_programme_gains():
    ds = _dataset({"relief": (-0.5, 0.6)})
    ds["delta_p_slip"][1:, 0] = 0.0  # nobody's risk falls: nothing is relieved
    assert _raised_risks(ds, 0, 3.0, "2029-05") == []


def test_a_cut_material_is_named_once_for_the_programmes_it_raises():
    # cut: SmCo stocks fail to cover a need on 12 points more paths (paired SE 0.4); the
    # NdFeB the sharers share with the builder moved little (a direct cut, not a relief)
    ds = _dataset({"relief": (-1.0, 0.6), "cut": (-0.05, 0.6)}, ["builder", "sharer", "other"])
    d_exh = np.zeros((len(SCENARIOS), len(MATERIALS), 1))
    d_exh[SCENARIOS.index("cut"), 1] = 0.12
    d_exh[SCENARIOS.index("cut"), 0] = 0.003  # within its error: not named
    ds["delta_p_stock_exhausted"] = (("scenario", "material", "month"), d_exh)
    ds["delta_p_stock_exhausted_se"] = (
        ("scenario", "material", "month"),
        np.full_like(d_exh, 0.004),
    )
    text = " ".join(line.strip() for line in _raised_risks(ds, 0, 3.0, "2029-05"))
    relief, cut = text.split("cut raises")
    assert relief.count("relief raises") == 2 and "Stocks" not in relief
    assert cut == (
        " the chance of a slip of more than 3 months of sharer by 10.0, other by 10.0 points"
        " (paired standard errors 0.5 to 0.5 points). Stocks of smco, which they need, fail"
        " to cover a need on 12.0 points more of the paths (paired standard error 0.4 points)."
    )
