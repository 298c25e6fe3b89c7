"""Invariants of the model on configs/base.toml, path by path and on the result dataset.

Path by path (``replay_path``): quantities that cannot be negative are not, stocks once
exhausted stay exhausted, regimes are valid and follow the config's deterministic parts.
On the dataset of a small run: probabilities "by month t" never decrease, regime shares
sum to one, quantiles increase with their level. And a comparative static: more
stockpile never means more shortfall on any path, where the model implies it (see
``test_more_stockpile__base_toml_per_programme`` for where it does not).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from reriskmc.config import load_config
from reriskmc.engine import replay_path, simulate
from reriskmc.kernels.layout import MAGNET, RELEASE_FROM_DATE
from reriskmc.pack import pack
from reriskmc.results import build_dataset

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, from PyPI
    import tomli as tomllib

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.toml"
SEED = 4242
N_REPLAY = 50
N_RUN = 2000


@pytest.fixture(scope="module")
def config():
    return load_config(BASE)


@pytest.fixture(scope="module")
def replays(config):
    packed = pack(config)
    return [replay_path(config, SEED, i, packed) for i in range(N_REPLAY)]


@pytest.fixture(scope="module")
def dataset(config):
    return build_dataset(config, simulate(config, N_RUN, SEED), SEED)


def _index(names, name):
    return list(names).index(name)


# --------------------------------------------------------------------------- per path
def test_paths__units_short_and_tonnes_owed_are_finite_and_non_negative(replays):
    for i, r in enumerate(replays):
        assert np.all(np.isfinite(r["units_short"])), i
        assert np.all(r["units_short"] >= 0.0), i
        assert np.all(np.isfinite(r["shortfall_t"])), i
        assert np.all(r["shortfall_t"] >= 0.0), i


def test_paths__stock_exhausted_never_goes_back(replays):
    for i, r in enumerate(replays):
        exh = r["stock_exhausted"]  # (S, M, T)
        assert not np.any(exh[..., :-1] & ~exh[..., 1:]), i


def test_paths__regimes_are_valid(config, replays):
    R = len(config.base.regimes)
    for i, r in enumerate(replays):
        assert r["regime"].dtype.kind == "i"
        assert np.all((r["regime"] >= 0) & (r["regime"] < R)), i


def test_paths__month_zero_is_the_initial_regime(config, replays):
    # no event falls due in month 0 in base.toml, and t = 0 takes no regime step
    assert all(e.month > 0 for e in config.base.events)
    for r in replays:
        assert np.all(r["regime"][:, 0] == config.base.initial_regime)


def test_paths__talks_breakdown_jumps_to_breakdown_at_the_deadline(config, replays):
    # scenario talks_breakdown: p_extend = 0 and p_fire = 1, so the truce lapses at its
    # first deadline and the regime jumps to breakdown that month, on every path
    s = _index(config.scenario_names, "talks_breakdown")
    ev = config.scenarios[s].model.events[0]
    assert ev.p_extend == 0.0 and ev.p_fire == 1.0
    for r in replays:
        assert r["regime"][s, ev.month] == ev.jump_to


def test_paths__scenarios_that_leave_regimes_alone_share_the_regime_path(config, replays):
    # common random numbers: only talks_breakdown changes the regime dynamics
    for name in ("chip_concession", "green_channel_military", "stockpile_release", "fast_ramp"):
        s = _index(config.scenario_names, name)
        for r in replays:
            assert np.array_equal(r["regime"][s], r["regime"][0]), name


def test_paths__units_short_never_exceed_units_scheduled(config, replays):
    # ddg51 has a fixed rate (2/yr): it cannot be more than (t+1) rate behind
    p = _index([x.name for x in config.base.programmes], "ddg51")
    rate = config.base.programmes[p].units_per_year.values[0] / 12.0  # a plain value
    t = np.arange(config.base.n_months)
    for r in replays:
        assert np.all(r["units_short"][:, p] <= (t + 1) * rate * (1 + 1e-12))


def test_paths__nothing_is_owed_of_a_material_a_programme_does_not_use(config, replays):
    base = config.base
    unused = [
        (p, m)
        for p, prog in enumerate(base.programmes)
        for m, kg in enumerate(prog.kg_per_unit)
        if kg == 0.0
    ]
    assert unused  # a programme uses only some of the magnets (jdam: NdFeB only)
    for r in replays:
        for p, m in unused:
            assert np.all(r["shortfall_t"][:, p, m] == 0.0)


# --------------------------------------------------------------------------- dataset
def test_dataset__probabilities_by_month_never_decrease(dataset):
    for name in ("p_shortfall", "p_stock_exhausted"):
        v = dataset[name].values
        assert np.all(np.diff(v, axis=-1) >= 0.0), name


def test_dataset__probabilities_lie_in_the_unit_interval(dataset):
    for name in ("p_shortfall", "p_stock_exhausted", "p_regime"):
        v = dataset[name].values
        assert np.all((v >= 0.0) & (v <= 1.0)), name


def test_dataset__regime_shares_sum_to_one(dataset):
    np.testing.assert_allclose(dataset.p_regime.sum("regime").values, 1.0, rtol=0, atol=1e-12)


def test_dataset__standard_errors_are_non_negative_and_finite(dataset):
    for name in dataset.data_vars:
        if name.endswith("_se"):
            v = dataset[name].values
            assert np.all(np.isfinite(v) & (v >= 0.0)), name


def test_dataset__means_are_non_negative(dataset):
    for name in ("units_short_mean", "shortfall_t_mean"):
        assert np.all(dataset[name].values >= 0.0), name


def test_dataset__quantiles_increase_with_their_level(dataset):
    for name in ("units_short_quantile", "units_short_peak_quantile", "shortfall_t_quantile"):
        v = dataset[name].values  # quantile is the last dim
        assert dataset[name].dims[-1] == "quantile"
        assert np.all(np.diff(v, axis=-1) >= 0.0), name


def test_dataset__peak_quantiles_dominate_monthly_quantiles(dataset):
    peak = dataset.units_short_peak_quantile.values  # (S, P, Q)
    monthly = dataset.units_short_quantile.values.max(axis=2)  # max over months, (S, P, Q)
    assert np.all(peak >= monthly)


def test_dataset__cvar_is_at_least_the_quantile_at_its_level(config, dataset):
    qs = list(dataset["quantile"].values)
    assert config.cvar_alpha in qs
    q = dataset.units_short_peak_quantile.values[..., qs.index(config.cvar_alpha)]
    cvar = dataset.units_short_cvar.values
    assert np.all(cvar >= q * (1 - 1e-12))


# --------------------------------------------------------------------------- more stockpile
FIXED_STOCKPILE = 2.0  # t of every magnet, released from the start month


def _config(added: float, single_material: bool):
    """base.toml with every magnet's stockpile a fixed ``FIXED_STOCKPILE + added`` t
    released from the start month; with ``single_material`` every programme needs
    NdFeB only (its other kg per unit set to 0)."""
    data = tomllib.loads(BASE.read_text(encoding="utf-8"))
    for mat in data["materials"].values():
        if "stockpile" in mat:
            mat["stockpile"] |= {"stockpile_t": FIXED_STOCKPILE + added, "release": "from_date",
                                 "release_date": data["run"]["start"]}  # fmt: skip
    if single_material:
        for prog in data["programmes"].values():
            prog["kg_per_unit"] = {m: (kg if m == "ndfeb" else 0.0)
                                   for m, kg in prog["kg_per_unit"].items()}  # fmt: skip
    cfg = load_config(f"base+{added}t.toml", text=tomli_w.dumps(data))
    for mat in cfg.base.materials:
        if mat.kind == MAGNET:
            assert mat.stockpile_t == FIXED_STOCKPILE + added
            assert mat.release_rule == RELEASE_FROM_DATE and mat.release_month == 0
    return cfg


def _assert_no_more_shortfall(lo, hi, paths, seed, *, tonnes: bool = True):
    plo, phi = pack(lo), pack(hi)
    for i in paths:
        a = replay_path(lo, seed, i, plo)
        b = replay_path(hi, seed, i, phi)
        worse = b["units_short"] - a["units_short"]
        assert worse.max() <= 1e-9 * (1.0 + np.abs(a["units_short"]).max()), (
            f"path {i}: units short rise by {worse.max():.6g} at (scenario, programme, month) "
            f"{np.unravel_index(worse.argmax(), worse.shape)}"
        )
        if tonnes:
            owed = b["shortfall_t"] - a["shortfall_t"]
            assert owed.max() <= 1e-9 * (1.0 + np.abs(a["shortfall_t"]).max()), (
                f"path {i}: tonnes owed rise"
            )
            assert not np.any(b["stock_exhausted"] & ~a["stock_exhausted"]), (
                f"path {i}: exhausted earlier"
            )


@pytest.fixture(scope="module")
def single_material_base():
    return _config(0.0, single_material=True)


@settings(deadline=None, max_examples=10, derandomize=True)
@given(
    added=st.floats(min_value=1e-3, max_value=50.0, allow_nan=False),
    paths=st.lists(st.integers(min_value=0, max_value=10**6), min_size=8, max_size=8, unique=True),
)
def test_more_stockpile__never_more_shortfall_on_any_path(single_material_base, added, paths):
    """Each programme needs one material (NdFeB): adding the same tonnage to every
    stockpile never raises units short, tonnes owed or stock exhaustion, on any path,
    in any scenario, in any month."""
    _assert_no_more_shortfall(
        single_material_base, _config(added, single_material=True), paths, SEED
    )


def test_more_stockpile__never_more_shortfall_on_the_first_paths(single_material_base):
    _assert_no_more_shortfall(
        single_material_base, _config(1.0, single_material=True), range(40), SEED
    )


def test_more_stockpile__can_starve_a_single_material_programme():
    """With several materials per programme the property holds for the system, not per
    programme (docs/model.md, section 5): more SmCo lets the SmCo+NdFeB programmes build
    (Leontief, 3.8), so they use their NdFeB kits and request more NdFeB, which DPAS
    (3.7.3) gives to DX programmes first and shares pro rata, leaving less for NdFeB-only
    JDAM. The NumPy reference model shows the same. This pins the documented case."""
    lo, hi = _config(0.0, single_material=False), _config(5.0, single_material=False)
    j = [p.name for p in lo.base.programmes].index("jdam")
    rise = [
        (replay_path(hi, 7, i)["units_short"] - replay_path(lo, 7, i)["units_short"])
        for i in range(40)
    ]
    worst = max(r.max() for r in rise)
    assert worst > 1000.0  # on one of these paths some programme is much further behind
    assert max(r[:, j].max() for r in rise) == worst  # and it is NdFeB-only JDAM
