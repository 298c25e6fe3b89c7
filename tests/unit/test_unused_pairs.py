"""The month loop skips a programme-material pair whose kg per unit is a point value of
zero that no event sets (in base.toml, a programme uses only some of the magnets): with
nothing wanted there, nothing is owed or allocated, and the run must be the one that
computes the pair in full."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from reriskmc.config import load_config
from reriskmc.engine import replay_path, simulate
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
FIELDS = ("us_sum", "owed_sum", "behind", "exhausted", "regime", "h_us", "h_peak_us", "h_peak_owed")


def _computed_in_full(packed):
    """The unused pairs (bool[S, P * M]), and ``packed`` with every pair marked used, so
    that the month loop computes them."""
    P, M = packed.dims.P, packed.dims.M
    cols = slice(packed.i.kg_used, packed.i.kg_used + P * M)
    unused = packed.struct[:, cols] == 0
    struct = packed.struct.copy()
    struct[:, cols] = 1
    return unused, dataclasses.replace(packed, struct=struct)


def test_unused_pair__skipped_gives_the_run_that_computes_it():
    config = load_config(BASE)
    packed = pack(config)
    unused, full = _computed_in_full(packed)
    assert unused.any(axis=1).all()  # every scenario has some
    skipped = simulate(config, 700, 3, packed=packed)
    computed = simulate(config, 700, 3, packed=full)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(skipped, f), getattr(computed, f), err_msg=f)


def test_unused_pair__owes_nothing_in_any_month():
    config = load_config(BASE)
    packed = pack(config)
    M = packed.dims.M
    unused, _ = _computed_in_full(packed)
    s_idx, j_idx = np.nonzero(unused)
    for path in (0, 1, 2):
        owed = replay_path(config, 5, path, packed)["shortfall_t"]  # [S, P, M, T]
        assert (owed[s_idx, j_idx // M, j_idx % M] == 0.0).all()  # every month


ZERO_UNTIL_SET = """
[run]
title = "a magnet a programme starts to need"
start = "2025-01"
months = 5
behind_tolerance_units = 1e-6
[regimes]
names = ["only"]
initial = "only"
[regimes.transition]
only = [1.0]
[channels.military]
[materials.m]
[programmes.x]
units_per_year = 12.0
kg_per_unit = {m = 0.0}
[events.redesign]
date = "2025-03"
[events.redesign.set]
"programmes.x.kg_per_unit.m" = 1000.0
"""


def test_unused_pair__a_zero_kg_an_event_sets_is_computed(tmp_path):
    path = tmp_path / "zero.toml"
    path.write_text(ZERO_UNTIL_SET, encoding="utf-8")
    config = load_config(path)
    packed = pack(config)
    unused, _ = _computed_in_full(packed)
    assert not unused.any()
    short = replay_path(config, 1, 0, packed)["units_short"][0, 0]
    np.testing.assert_array_equal(short, [0.0, 0.0, 1.0, 2.0, 3.0])  # none of m from month 2
