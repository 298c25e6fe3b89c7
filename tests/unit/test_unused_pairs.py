"""The month loop skips a programme-material pair whose kg per unit is a point value of
zero (tomahawk uses no NdFeB or Dy/Tb in base.toml, jdam no SmCo, spy6 no NdFeB): with
nothing wanted there, nothing is owed or allocated, and the run must be the one that
computes the pair in full."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from reriskmc.config import load_config
from reriskmc.distributions import UNIFORM
from reriskmc.engine import replay_path, simulate
from reriskmc.kernels.layout import FIXED
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
FIELDS = ("us_sum", "owed_sum", "behind", "exhausted", "regime", "h_us", "h_peak_us", "h_peak_owed")


def _computed_in_full(packed):
    """``packed`` with every unused pair's zero kg drawn instead, as uniform(0, 0): the
    same value, but not a point value, so the month loop computes the pair."""
    lo = packed.f.kg
    unused = np.zeros(packed.th_code.shape, bool)
    unused[:, lo:] = (packed.th_code[:, lo:] == FIXED) & (packed.th_fixed[:, lo:] == 0.0)
    code, args, slot = packed.th_code.copy(), packed.th_args.copy(), packed.th_slot.copy()
    code[unused], args[unused], slot[unused] = UNIFORM, 0.0, 0
    return unused, dataclasses.replace(packed, th_code=code, th_args=args, th_slot=slot)


def test_unused_pair__skipped_gives_the_run_that_computes_it():
    config = load_config(BASE)
    packed = pack(config)
    unused, full = _computed_in_full(packed)
    assert unused.sum() == 4 * len(config.scenarios)
    skipped = simulate(config, 700, 3, packed=packed)
    computed = simulate(config, 700, 3, packed=full)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(skipped, f), getattr(computed, f), err_msg=f)


def test_unused_pair__owes_nothing_in_any_month():
    config = load_config(BASE)
    packed = pack(config)
    M = packed.dims.M
    lo = packed.f.kg
    s_idx, j_idx = np.nonzero((packed.th_code[:, lo:] == FIXED) & (packed.th_fixed[:, lo:] == 0.0))
    for path in (0, 1, 2):
        owed = replay_path(config, 5, path, packed)["shortfall_t"]  # [S, P, M, T]
        assert (owed[s_idx, j_idx // M, j_idx % M] == 0.0).all()  # every month
