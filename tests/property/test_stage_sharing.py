"""Scenarios share the China stage only when the stage cannot tell them apart.

pack marks a scenario's China stage (regimes, events, linkage, licences) as a *twin*
of an earlier scenario's when the blocks the stage reads (``layout.CHINA_*``) are
identical, and the kernel then reads the twin's stage instead of computing it. That is
only sound if those lists name everything the stage reads. Here every other block is
changed in turn, in a copy of the base scenario forced to be the base's twin, and the
run must equal computing the stage afresh: a block the stage reads but the list omits
makes them differ.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from reriskmc.config import load_config
from reriskmc.engine import simulate
from reriskmc.kernels import layout as L
from reriskmc.kernels.layout import FIXED
from reriskmc.pack import pack

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
N_PATHS = 600
SEED = 7
FIELDS = ("us_sum", "owed_sum", "behind", "exhausted", "regime", "h_us", "h_peak_us", "h_peak_owed")
FLOAT_NAMES = [name for name, _ in L.FLOAT_BLOCKS]
INT_NAMES = [name for name, _ in L.INT_BLOCKS]
TWINS = {"china": ("twin_china", L.CHINA_FLOATS, L.CHINA_INTS)}


def _new_int(block, old, dims):
    """A different valid value for every entry of an int block."""
    if block in ("initial", "ev_jump"):
        return (old + 1) % dims.R
    if block == "ev_matrix":
        return (old + 1) % dims.n_matrices
    if block == "src_material":
        return (old + 1) % dims.M
    if block == "release_rule":
        return (old + 1) % 3
    if block == "ev_max_ext":
        return old + 1
    if block in ("dfars_month", "ev_month", "release_month", "src_start", "prog_start", "prog_end"):
        return old // 2
    return 1 - old  # the flags


@pytest.fixture(scope="module")
def base_only():
    """base.toml's base scenario, twice: scenario 1 is a copy of scenario 0."""
    config = load_config(BASE)
    config = dataclasses.replace(config, scenarios=config.scenarios[:1] * 2)
    return config, pack(config)


def _run(config, packed, twin_col, twin):
    struct = packed.struct.copy()
    struct[:, packed.i.twin_china] = -1
    struct[1, twin_col] = twin
    return simulate(config, N_PATHS, SEED, packed=dataclasses.replace(packed, struct=struct))


def _changed(packed, kind, block):
    """``packed`` with block ``block`` of scenario 1 changed everywhere."""
    if kind == "float":
        cols = packed.float_range(block)
        code, fixed = packed.th_code.copy(), packed.th_fixed.copy()
        code[1, cols] = FIXED
        fixed[1, cols] = 1.7  # means something in every block (a probability above 1: always)
        return dataclasses.replace(packed, th_code=code, th_fixed=fixed)
    if kind == "int":
        cols = packed.int_range(block)
        struct = packed.struct.copy()
        struct[1, cols] = _new_int(block, struct[1, cols], packed.dims)
        return dataclasses.replace(packed, struct=struct)
    cum = packed.cum_trans.copy()  # the transition matrices: every row moves to state 0
    cum[1] = 1.0
    return dataclasses.replace(packed, cum_trans=cum)


def _cases():
    for stage, (_, floats, ints) in TWINS.items():
        for name in FLOAT_NAMES:
            if name not in floats:
                yield pytest.param(stage, "float", name, id=f"{stage}-{name}")
        for name in INT_NAMES:
            if name not in ints and name != "twin_china":
                yield pytest.param(stage, "int", name, id=f"{stage}-{name}")


@pytest.mark.parametrize("stage,kind,block", list(_cases()))
def test_stage__ignores_every_block_outside_its_list(base_only, stage, kind, block):
    config, packed = base_only
    changed = _changed(packed, kind, block)
    col = getattr(packed.i, TWINS[stage][0])
    shared, afresh = _run(config, changed, col, 0), _run(config, changed, col, -1)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(shared, f), getattr(afresh, f), err_msg=f)


@pytest.mark.parametrize("stage", list(TWINS))
def test_stage__a_block_on_its_list_does_change_the_result(base_only, stage):
    """The check above can fail: changing a block the stage reads, and sharing the
    stage anyway, gives a different run."""
    config, packed = base_only
    changed = _changed(packed, "float", "flow")
    col = getattr(packed.i, TWINS[stage][0])
    shared, afresh = _run(config, changed, col, 0), _run(config, changed, col, -1)
    assert not np.array_equal(shared.owed_sum, afresh.owed_sum)


def test_pack__finds_the_twins_of_the_shipped_scenarios():
    packed = pack(load_config(BASE))
    names = [s.name for s in load_config(BASE).scenarios]
    china = packed.struct[:, packed.i.twin_china]
    # the China side differs in the linkage, channel, talks, rules and DFARS scenarios only
    assert [names[i] for i in np.flatnonzero(china == 0)] == [
        "stockpile_release",
        "fast_ramp",
        "french_stock_small",
        "samarium_plant",
        "f35_at_156",
        "munitions_surge",
    ]
    assert china[0] == -1


def _with_th_same(packed, th_same):
    """``packed`` with its derived th_same replaced (as a stale or disabled one would be)."""
    packed = dataclasses.replace(packed)
    packed.__dict__["th_same"] = th_same  # a cached_property's value lives there
    return packed


def test_pack__copies_a_drawn_parameter_only_from_an_identical_draw():
    packed = pack(load_config(BASE))
    same = packed.th_same
    drawn = packed.th_code != FIXED
    assert (same[~drawn] == -1).all() and (same[0] == -1).all()
    for s, k in zip(*np.nonzero(same >= 0)):
        q = same[s, k]
        assert q < s
        assert packed.th_code[q, k] == packed.th_code[s, k]
        assert packed.th_slot[q, k] == packed.th_slot[s, k]
        assert packed.th_table[q, k] == packed.th_table[s, k]
        np.testing.assert_array_equal(packed.th_args[q, k], packed.th_args[s, k])
    # a draw the base makes the same way is copied from the base: the scenarios' own
    # distributions (a smaller French stock, a new plant, new schedules) are not
    as_base = (
        drawn[1:]
        & (packed.th_code[1:] == packed.th_code[0])
        & (packed.th_slot[1:] == packed.th_slot[0])
        & (packed.th_table[1:] == packed.th_table[0])
        & (packed.th_args[1:] == packed.th_args[0]).all(axis=-1)
    )
    np.testing.assert_array_equal(same[1:] == 0, as_base)
    assert (drawn[1:] & ~as_base).sum() < 0.01 * drawn[1:].sum()


def test_copied_draws__give_the_run_that_transforms_every_one():
    config = load_config(BASE)
    packed = pack(config)
    assert (packed.th_same >= 0).any()
    copied = simulate(config, N_PATHS, SEED, packed=packed)
    afresh = simulate(
        config, N_PATHS, SEED, packed=_with_th_same(packed, np.full_like(packed.th_same, -1))
    )
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(copied, f), getattr(afresh, f), err_msg=f)


def test_copied_draws__a_stale_copy_does_change_the_run(base_only):
    """The check above can fail: a scenario whose draw differs (here its arguments), but
    which copies the base's value anyway, gives a different run."""
    config, packed = base_only
    # a drawn kg per unit (the first, F-35's NdFeB: uniform 8-20 kg)
    lo = packed.f.kg
    k = lo + int(np.flatnonzero(packed.th_code[1, lo:] != FIXED)[0])
    assert packed.th_table[1, k] < 0  # its value follows its arguments
    args = packed.th_args.copy()
    args[1, k] = args[1, k] * 0.5
    changed = dataclasses.replace(packed, th_args=args)
    assert changed.th_same[1, k] == -1  # derived afresh: no longer the same draw
    stale = changed.th_same.copy()
    stale[1, k] = 0
    a = simulate(config, N_PATHS, SEED, packed=changed)
    b = simulate(config, N_PATHS, SEED, packed=_with_th_same(changed, stale))
    assert not all(np.array_equal(getattr(a, f), getattr(b, f)) for f in FIELDS)
