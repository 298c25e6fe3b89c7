"""Invariants on random valid configs (hypothesis).

Each example builds a config with random sizes (regimes, channels, materials, sources,
programmes, events), random values in their ranges and random distributions, then
checks the compiled engine's result dataset, and the reference model's recorded paths
for the quantities the kernel does not export (allocation, stocks).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reriskmc.config import load_config
from reriskmc.engine import simulate
from reriskmc.pack import pack
from reriskmc.reference import simulate_reference
from reriskmc.results import build_dataset

prob = st.floats(0.0, 1.0, allow_nan=False)
amount = st.floats(0.0, 20.0, allow_nan=False)


@st.composite
def maybe_dist(draw, low: float, high: float):
    """A number in [low, high], or a distribution whose support lies inside it."""
    a = draw(st.floats(low, high, allow_nan=False))
    b = draw(st.floats(low, high, allow_nan=False))
    lo, hi = min(a, b), max(a, b)
    kind = draw(st.sampled_from(["fixed", "fixed", "uniform", "triangular", "beta"]))
    if kind == "fixed" or hi - lo < 1e-3:
        return a
    if kind == "uniform":
        return {"dist": "uniform", "low": lo, "high": hi}
    if kind == "triangular":
        return {"dist": "triangular", "low": lo, "mode": draw(st.floats(lo, hi)), "high": hi}
    return {
        "dist": "beta",
        "a": draw(st.floats(0.5, 5)),
        "b": draw(st.floats(0.5, 5)),
        "low": lo,
        "high": hi,
    }


@st.composite
def configs(draw):
    R, C, M = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    P, K, E = draw(st.integers(1, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 2))
    F = draw(st.integers(0, 2))  # feedstocks
    months = draw(st.integers(6, 18))
    regimes = [f"r{i}" for i in range(R)]
    magnets = [f"m{i}" for i in range(M)]
    feedstocks = [f"f{i}" for i in range(F)]
    materials = magnets + feedstocks

    def maybe_schedule(low: float, high: float):
        """A number or distribution, or a schedule of two or three dates."""
        if draw(st.booleans()):
            return draw(maybe_dist(low, high))
        months_ = sorted(draw(st.sets(st.integers(0, months + 3), min_size=2, max_size=3)))
        return {f"{2025 + (5 + t) // 12}-{(5 + t) % 12 + 1:02d}": draw(maybe_dist(low, high))
                for t in months_}  # fmt: skip

    def row():
        w = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=R, max_size=R)))
        w = w / w.sum()
        w[-1] = 1.0 - w[:-1].sum()
        return [float(x) for x in w]

    def by_regime():
        return {r: draw(maybe_dist(0.0, 1.0)) for r in regimes if draw(st.booleans())}

    cfg = {
        "run": {"start": "2025-06", "months": months, "behind_tolerance_units": 0.01},
        "regimes": {
            "names": regimes,
            "initial": draw(st.sampled_from(regimes)),
            "transition": {r: row() for r in regimes},
            "matrices": {"alt": {r: row() for r in regimes}},
        },
        "linkage": {
            "p_concession": draw(maybe_dist(0.0, 0.5)),
            "talks_regimes": draw(st.lists(st.sampled_from(regimes), unique=True)),
            "opens_fast_track": draw(st.booleans()),
        },
        "dfars": {
            "p_waiver": draw(maybe_dist(0.0, 1.0)),
            "made_in_china": draw(st.lists(st.sampled_from(magnets), unique=True)),
            "p_waiver_made_in_china": draw(maybe_dist(0.0, 1.0)),
        },
        "rules": {"military_end_use": draw(st.booleans()), "extraterritorial": draw(st.booleans())},
        "channels": {},
        "materials": {},
        "sources": {},
        "programmes": {},
        "events": {},
    }
    barred = draw(st.lists(st.sampled_from(materials), unique=True))
    if barred:
        cfg["dfars"]["materials"] = barred
        cfg["dfars"]["date"] = f"2025-{6 + draw(st.integers(0, 5)):02d}"
    for c in range(C):
        cfg["channels"][f"c{c}"] = {
            "fast": c == 1,
            "lag_months": draw(maybe_dist(1.0, 4.0)),
            "term_months": draw(maybe_dist(1.0, 12.0)),
            "p_approve": by_regime(),
            "p_revoke": by_regime(),
            "open_to_military_in": draw(st.lists(st.sampled_from(regimes), unique=True)),
        }
    for m in materials:
        buffer_t = draw(maybe_dist(0.0, 10.0))
        rule = draw(st.sampled_from(["never", "on_shortfall", "from_date"]))
        stock = {
            "stockpile_t": draw(maybe_dist(0.0, 10.0)),
            "release": rule,
            "release_t_per_month": draw(maybe_dist(0.0, 3.0)),
            "release_lag_months": draw(maybe_dist(0.0, 4.0)),
        }
        if rule == "from_date":
            stock["release_date"] = "2025-07"
        if m in feedstocks:
            cfg["materials"][m] = {"kind": "feedstock"}
        else:
            cfg["materials"][m] = {"stockpile": stock}
            if feedstocks and draw(st.booleans()):
                cfg["materials"][m]["feedstock"] = {
                    f: draw(maybe_dist(0.0, 0.6)) for f in feedstocks if draw(st.booleans())
                }
        cfg["materials"][m] |= {
            "fast_track": draw(st.booleans()),
            "leakage": draw(maybe_dist(0.0, 1.0)),
            "recycling_t": draw(maybe_dist(0.0, 0.5)),
            "buffer_t": buffer_t,
            "buffer_cap_t": draw(maybe_dist(0.0, 15.0)),
            "licence": {
                f"c{c}": {
                    "flow_t": draw(maybe_dist(0.0, 3.0)),
                    "live_at_start_months": draw(maybe_dist(0.0, 6.0)),
                }
                for c in range(C)
            },
        }

    def made_from_feedstock(m):
        table = cfg["materials"][m].get("feedstock", {})
        return any(isinstance(a, dict) or a > 0.0 for a in table.values())

    for k in range(K):
        material = draw(st.sampled_from(materials))
        cfg["sources"][f"s{k}"] = {
            "material": material,
            "chinese": draw(st.booleans()),
            "abroad": made_from_feedstock(material) and draw(st.booleans()),
            "capacity_t_per_year": maybe_schedule(0.0, 40.0),
            "start": f"2025-{6 + draw(st.integers(0, 6)):02d}",
            "ramp_months": draw(maybe_dist(0.0, 6.0)),
            "slip_months": draw(maybe_dist(0.0, 6.0)),
            "yield": draw(maybe_dist(0.0, 1.0)),
            "p_qualified": draw(maybe_dist(0.0, 1.0)),
            "qualification_months": draw(maybe_dist(0.0, 6.0)),
        }
    for p in range(P):
        cfg["programmes"][f"p{p}"] = {
            "units_per_year": maybe_schedule(0.0, 240.0),
            "priority": draw(st.sampled_from(["DX", "DO"])),
            "catch_up": draw(maybe_dist(0.0, 1.0)),
            "kg_per_unit": {
                m: draw(maybe_dist(0.0, 100.0)) for m in magnets if draw(st.booleans())
            },
        }
    # what an event may change: (table, key path, value)
    effects = [
        ("set", "rules.military_end_use", draw(st.booleans())),
        ("set", "rules.extraterritorial", draw(st.booleans())),
        ("scale", "materials.m0.leakage", draw(st.floats(0.0, 3.0))),
        ("set", "channels.c0.flow_t", draw(st.floats(0.0, 3.0))),
        ("scale", f"channels.c0.p_approve.{regimes[-1]}", draw(st.floats(0.0, 3.0))),
        ("scale", "programmes.p0.units_per_year", draw(st.floats(0.0, 2.0))),
        ("set", "programmes.p0.kg_per_unit.m0", draw(st.floats(0.0, 50.0))),
    ]
    if K:
        effects.append(("scale", "sources.s0.capacity_t_per_year", draw(st.floats(0.0, 3.0))))
    if feedstocks:
        effects.append(("set", "materials.m0.feedstock.f0", draw(st.floats(0.0, 0.6))))
    for e in range(E):
        event = cfg["events"][f"e{e}"] = {
            "date": f"2025-{6 + draw(st.integers(0, 5)):02d}",
            "p_extend": draw(maybe_dist(0.0, 1.0)),
            "extend_months": draw(maybe_dist(1.0, 4.0)),
            "max_extensions": draw(st.integers(0, 3)),
            "p_fire": draw(maybe_dist(0.0, 1.0)),
            "matrix": draw(st.sampled_from(["base", "alt"])),
        }
        if draw(st.booleans()):
            event["jump_to"] = draw(st.sampled_from(regimes))
        if draw(st.booleans()):
            event["in_regimes"] = draw(st.lists(st.sampled_from(regimes), min_size=1, unique=True))
        for op, target, value in draw(st.lists(st.sampled_from(effects), max_size=3)):
            event.setdefault(op, {})[target] = value
    if draw(st.booleans()):
        cfg["scenarios"] = {"variant": {"materials": {materials[0]: {"buffer_t": draw(amount)}}}}
    return cfg


@settings(
    deadline=None,
    max_examples=15,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cfg=configs(), seed=st.integers(0, 2**63 - 1))
def test_random_config__engine_result_invariants(cfg, seed):
    config = load_config("random.toml", tomli_w.dumps(cfg))
    ds = build_dataset(config, simulate(config, 300, seed), seed)
    for name in ("p_shortfall", "p_stock_exhausted", "p_regime"):
        v = ds[name].values
        assert np.all((v >= 0.0) & (v <= 1.0)), name
    for name in ("p_shortfall", "p_stock_exhausted"):  # "at least once by": never falls
        assert np.all(np.diff(ds[name].values, axis=-1) >= 0.0), name
    np.testing.assert_allclose(ds["p_regime"].sum("regime"), 1.0)
    for name in ("units_short_mean", "shortfall_t_mean", "units_short_cvar"):
        assert np.all(ds[name].values >= 0.0), name
    for name in ("units_short_quantile", "shortfall_t_quantile", "units_short_peak_quantile"):
        assert np.all(np.diff(ds[name].values, axis=-1) >= 0.0), name
    for v in ds.data_vars.values():
        assert np.all(np.isfinite(v.values)), v.name


@settings(
    deadline=None,
    max_examples=15,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cfg=configs(), seed=st.integers(0, 2**32))
def test_random_config__allocation_and_stock_invariants_on_every_path(cfg, seed):
    config = load_config("random.toml", tomli_w.dumps(cfg))
    paths = simulate_reference(config, 40, seed, record=True).paths
    need, alloc = paths["need"], paths["allocated"]
    short = need - alloc
    assert np.all(alloc >= -1e-12) and np.all(
        short >= -1e-9 * (1 + need)
    )  # allocated + short = need
    assert np.all(paths["buffer"] >= -1e-12) and np.all(paths["stockpile"] >= -1e-12)
    assert np.all(paths["units_short"] >= 0.0) and np.all(paths["shortfall_t"] >= 0.0)
    # material is conserved: what programmes got in a month is at most that month's
    # supply plus what the stocks gave up (from month 1; month 0's opening stock is drawn)
    used = alloc.sum(axis=2)[..., 1:]  # over programmes: (S, n, M, T - 1)
    stocks = paths["buffer"] + paths["stockpile"]
    gave_up = np.maximum(stocks[..., :-1] - stocks[..., 1:], 0.0)
    assert np.all(used <= paths["supply"][..., 1:] + gave_up + 1e-9 * (1.0 + used))


@st.composite
def configs_with_scenarios(draw):
    """A random config and two or three scenarios, each changing one or two settings
    drawn from every stage of the model: the China side, the other sources, stocks and
    programmes."""
    cfg = draw(configs())
    m0, p0 = "m0", "p0"
    pool = [
        ("materials", m0, "buffer_t", draw(amount)),
        ("materials", m0, "recycling_t", draw(st.floats(0.0, 0.5))),
        ("materials", m0, "fast_track", not cfg["materials"][m0]["fast_track"]),
        ("linkage", None, "p_concession", draw(prob)),
        ("dfars", None, "p_waiver", draw(prob)),
        ("regimes", None, "initial", draw(st.sampled_from(cfg["regimes"]["names"]))),
        ("programmes", p0, "units_per_year", draw(st.floats(0.0, 240.0))),
    ]
    if cfg["sources"]:
        pool.append(("sources", "s0", "slip_months", draw(st.floats(0.0, 6.0))))
    if cfg["events"]:
        pool.append(("events", "e0", "p_extend", draw(prob)))
    cfg["scenarios"] = {}
    for i in range(draw(st.integers(2, 3))):
        over: dict = {}
        for table, name, key, value in draw(
            st.lists(st.sampled_from(pool), min_size=1, max_size=2)
        ):
            node = over.setdefault(table, {})
            if name is not None:
                node = node.setdefault(name, {})
            node[key] = value
        cfg["scenarios"][f"v{i}"] = over
    return cfg


@settings(
    deadline=None,
    max_examples=20,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cfg=configs_with_scenarios(), seed=st.integers(0, 2**63 - 1))
def test_random_config__scenarios_sharing_the_china_stage_match_computing_it_afresh(cfg, seed):
    """The kernel reads the China stage of an earlier scenario (its twin) when pack
    finds the stage's inputs identical; with every twin removed each stage is computed
    afresh, and every statistic must come out bit for bit the same."""
    config = load_config("random.toml", tomli_w.dumps(cfg))
    packed = pack(config)
    struct = packed.struct.copy()
    struct[:, packed.i.twin_china] = -1
    shared = simulate(config, 600, seed, packed=packed)
    afresh = simulate(config, 600, seed, packed=dataclasses.replace(packed, struct=struct))
    for f in (
        "us_sum",
        "owed_sum",
        "behind",
        "exhausted",
        "regime",
        "h_us",
        "h_peak_us",
        "h_peak_owed",
    ):
        np.testing.assert_array_equal(getattr(shared, f), getattr(afresh, f), err_msg=f)
