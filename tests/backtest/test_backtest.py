"""The backtest on a tiny hand-checked case (``docs/backtest.md``): the realised path's
probability worked out by hand, the probabilities of every path summing to one, the
sampler against closed forms, the scores against hand arithmetic, and the CLI."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reriskmc.backtest import (
    DECISIONS,
    UNKNOWN,
    HistoryError,
    align,
    backtest,
    brier,
    draw_theta,
    load_history,
    log_prob,
    log_score,
    pinned_model,
    sample_policy,
)
from reriskmc.config import load_config

# Two regimes; a deadline in month 1 that may be extended once by 2 months, else fires
# and jumps to storm; a concession possible only in calm. One programme whose magnet
# has no supply at all: it slips one more month every month, on every path.
CONFIG = """
[run]
start = "2025-01"
months = 4
slip_thresholds = [1.0, 3.0]

[regimes]
names = ["calm", "storm"]
initial = "calm"
[regimes.transition]
calm = [0.8, 0.2]
storm = [0.5, 0.5]

[events.deadline]
date = "2025-02"
p_extend = 0.5
extend_months = 2
max_extensions = 1
jump_to = "storm"

[linkage]
p_concession = 0.1
talks_regimes = ["calm"]

[channels.standard]
[materials.mag]
[programmes.only]
units_per_year = 12.0
kg_per_unit = {mag = 1000.0}
"""

HISTORY = """
[history]
title = "tiny"
start = "2025-01"
end = "2025-04"

[[month]]
month = "2025-01"
regime = "calm"
[[month]]
month = "2025-02"
regime = "calm"
[[month]]
month = "2025-03"
regime = "unknown"
[[month]]
month = "2025-04"
regime = "storm"

[[events.deadline.decision]]
month = "2025-02"
outcome = "extended"
months = 2
[[events.deadline.decision]]
month = "2025-04"
outcome = "fired"

[linkage]
conceded = false
through = "2025-04"

[[outcome]]
kind = "regime"
statement = "storm at least once in February or March"
regime = "storm"
from = "2025-02"
by = "2025-03"
happened = false

[[outcome]]
kind = "event"
statement = "the deadline extended in February"
event = "deadline"
outcome = "extended"
from = "2025-02"
by = "2025-02"
happened = true

[[outcome]]
kind = "slip"
statement = "more than 1 month behind by February"
programme = "only"
months = 1.0
by = "2025-02"
happened = false

[[outcome]]
kind = "slip"
statement = "more than 3 months behind by February"
programme = "only"
months = 3.0
by = "2025-02"
happened = false
"""


@pytest.fixture
def case(tmp_path):
    cfg_path = tmp_path / "tiny.toml"
    cfg_path.write_text(CONFIG, encoding="utf-8")
    hist_path = tmp_path / "history.toml"
    hist_path.write_text(HISTORY, encoding="utf-8")
    return load_config(cfg_path), load_history(hist_path), cfg_path, hist_path


def _theta(model, k=8):
    return draw_theta(model, k, np.random.default_rng(0))


def test_realised_path_probability_by_hand(case):
    config, history, *_ = case
    model = config.base
    rec = align(history, model, model.start.astype("datetime64[M]").item())
    # month 0: calm, no concession (0.9). Month 1: stays calm (0.8), extended (0.5), no
    # concession (0.9). Month 2, regime unknown: calm 0.8 * 0.9 = 0.72, storm 0.2.
    # Month 3: the deadline (1 + 2) comes due with no extension left, fires and jumps
    # to storm whatever the step did: 0.72 + 0.2 = 0.92; storm holds no talks.
    expected = 0.9 * (0.8 * 0.5 * 0.9) * 0.92
    got = log_prob(model, _theta(model), rec.regime[None], rec.decision[None],
                   rec.conceded[None], rec.scored)[0]  # fmt: skip
    assert rec.scored == 4
    assert got == pytest.approx(math.log(expected), abs=1e-12)


def test_every_path_probability_sums_to_one(tmp_path):
    """Over every fully observed path of 3 months (regimes, the deadline's decision,
    the concession's month), the probabilities sum to 1, with p_extend a distribution
    and the event allowed only in calm."""
    text = CONFIG.replace("p_extend = 0.5", 'p_extend = {dist = "beta", a = 2, b = 3}')
    text = text.replace('jump_to = "storm"', 'jump_to = "storm"\nin_regimes = ["calm"]\n'
                        "p_fire = 0.7").replace("months = 4", "months = 3")  # fmt: skip
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    model = load_config(path).base
    T = 3
    regimes, decisions, conceded = [], [], []
    for r in itertools.product(range(2), repeat=T):
        for d in (1, 2, 3):
            for c0 in range(T + 1):  # conceded from month c0 (T: never)
                regimes.append(r)
                dec = np.zeros((1, T), dtype=np.int64)
                dec[0, 1] = d
                decisions.append(dec)
                conceded.append([int(t >= c0) for t in range(T)])
    lp = log_prob(model, _theta(model, 50), np.array(regimes), np.array(decisions),
                  np.array(conceded), T)  # fmt: skip
    assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-12)


def test_sampler_against_closed_forms(case):
    config, *_ = case
    model = config.base
    n = 40_000
    sim = sample_policy(model, n, 4, np.random.default_rng(5))
    # storm in month 1: the step (0.2), or else not extended and fired (0.8 * 0.5)
    # storm at least once in months 1-2: 0.6 + 0.4 * 0.2 = 0.68
    for p_hat, p in (
        ((sim.regime[:, 1] == 1).mean(), 0.6),
        ((sim.regime[:, 1:3] == 1).any(axis=1).mean(), 0.68),
        ((sim.decision[:, 0, 1] == DECISIONS["extended"]).mean(), 0.5),
    ):
        assert abs(p_hat - p) <= 4 * math.sqrt(p * (1 - p) / n)


def test_scores_by_hand():
    p = np.array([0.9, 0.2, 0.0])
    o = np.array([1.0, 0.0, 1.0])
    assert brier(p, o) == pytest.approx((0.01 + 0.04 + 1.0) / 3)
    # the 0 probability given to what happened is kept at the floor 0.01
    assert log_score(p, o, 0.01) == pytest.approx((math.log(0.9) + math.log(0.8)
                                                   + math.log(0.01)) / 3)  # fmt: skip


def test_backtest_on_the_tiny_case(case):
    config, history, *_ = case
    res = backtest(config, history, paths=2000, seed=3, threads=1)
    out = res.as_json()
    by = {o["statement"]: o for o in out["outcomes"]}
    storm = by["storm at least once in February or March"]
    assert abs(storm["p_model"] - 0.68) <= 4 * math.sqrt(0.68 * 0.32 / 2000)
    assert by["the deadline extended in February"]["p_baseline"] == 0.9
    assert storm["p_baseline"] == pytest.approx(0.1)
    # no supply: behind 2 units = 2 months by February, on every path, pinned or not
    assert by["more than 1 month behind by February"]["p_model"] == 1.0
    assert by["more than 1 month behind by February"]["p_pinned"] == 1.0
    assert by["more than 3 months behind by February"]["p_model"] == 0.0
    assert out["n_outcomes"] == 4
    p = np.array([o["p_model"] for o in out["outcomes"]])
    o = np.array([o["happened"] for o in out["outcomes"]], dtype=float)
    assert out["brier"] == pytest.approx(np.mean((p - o) ** 2), abs=1e-6)
    assert out["brier_baseline"] == pytest.approx((0.1**2 + 0.1**2 + 0.1**2 + 0.1**2) / 4)
    assert out["log_prob_realised"] == pytest.approx(math.log(0.9 * 0.36 * 0.92), abs=1e-6)
    assert 0.0 <= out["log_prob_percentile"] <= 100.0


def test_pinned_model_forces_the_recorded_regimes(case):
    config, history, *_ = case
    model = config.base
    rec = align(history, model, model.start.astype("datetime64[M]").item())
    pinned = pinned_model(model, rec, history)
    sim = sample_policy(pinned, 5000, 4, np.random.default_rng(1))
    for t in (0, 1, 3):
        assert (sim.regime[:, t] == rec.regime[t]).all()
    assert (sim.conceded == 0).all()  # the record says no concession through April
    assert (sim.regime[:, 2] == 1).any() and (sim.regime[:, 2] == 0).any()  # unknown month


def test_history_errors_name_file_and_key(case, tmp_path):
    config, _, _, hist_path = case
    model = config.base
    start = model.start.astype("datetime64[M]").item()
    bad = hist_path.read_text().replace(
        'regime = "storm"\n\n[[events', 'regime = "stomr"\n\n[[events'
    )
    p = tmp_path / "bad.toml"
    p.write_text(bad, encoding="utf-8")
    with pytest.raises(HistoryError, match=r"bad.toml: month\[3\].regime: 'stomr' is not a regime"):
        align(load_history(p), model, start)
    p.write_text(hist_path.read_text().replace('month = "2025-04"\noutcome = "fired"',
                                               'month = "2025-05"\noutcome = "fired"'))  # fmt: skip
    with pytest.raises(HistoryError, match=r"decision\[1\].month: 2025-05, but .* at 2025-04"):
        align(load_history(p), model, start)
    p.write_text(
        hist_path.read_text().replace('month = "2025-03"\nregime', 'month = "2025-06"\nregime')
    )
    with pytest.raises(HistoryError, match=r"month\[2\].month: should be 2025-03"):
        load_history(p)


def test_unknown_decision_stops_the_scoring(case, tmp_path):
    config, _, _, hist_path = case
    p = tmp_path / "h.toml"
    p.write_text(hist_path.read_text().replace('outcome = "fired"', 'outcome = "unknown"'))
    model = config.base
    rec = align(load_history(p), model, model.start.astype("datetime64[M]").item())
    assert rec.scored == 3 and "deadline at 2025-04 is unknown" in rec.stop_reason
    assert rec.decision[0, 3] == 0 and rec.regime[2] == UNKNOWN


def test_cli_json_and_errors(case, tmp_path):
    _, _, cfg_path, hist_path = case
    run = [sys.executable, "-m", "reriskmc", "backtest", str(cfg_path), str(hist_path)]
    out = subprocess.run(run + ["--paths", "500", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    for key in ("brier", "brier_baseline", "log_prob_realised", "log_prob_percentile",
                "n_outcomes"):  # fmt: skip
        assert key in obj
    text = subprocess.run(run + ["--paths", "500"], capture_output=True, text=True)
    assert text.returncode == 0 and "(c) The 2 slip outcomes" in text.stdout
    bad = subprocess.run(run[:-1] + [str(Path(tmp_path) / "nope.toml")], capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "nope.toml: no such file" in bad.stderr


def test_scores_by_kind_add_up(case):
    config, history, *_ = case
    res = backtest(config, history, paths=500, seed=4, threads=1)
    kinds = res.by_kind()
    assert {k: v["n_outcomes"] for k, v in kinds.items()} == {"slip": 2, "regime": 1, "event": 1}
    total = sum(v["brier"] * v["n_outcomes"] for v in kinds.values()) / 4
    assert total == pytest.approx(res.scores("model")[0])


def test_shipped_history_against_base():
    """The shipped record reads against the shipped forecast: every outcome scored."""
    root = Path(__file__).resolve().parents[2]
    history = root / "configs" / "history" / "2025-06_to_2026-11.toml"
    cmd = [sys.executable, "-m", "reriskmc", "backtest", str(root / "configs" / "base.toml"),
           str(history), "--paths", "300", "--json"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["skipped"] == [] and obj["n_outcomes"] == len(load_history(history).outcomes)
    assert obj["months_scored"] == 17 and obj["log_prob_realised"] is not None


def test_sampler_agrees_with_the_engine_on_base():
    """The policy sampler's regime occupancy against the engine's ``p_regime`` on
    base.toml, month by month, within 4.5 standard errors of the difference."""
    import reriskmc

    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "base.toml")
    n_engine, n_sim, T = 4000, 20_000, 24
    ds = reriskmc.simulate(config, paths=n_engine, seed=11, threads=1)
    p_engine = ds["p_regime"].sel(scenario="base").values[:, :T]  # (R, T)
    sim = sample_policy(config.base, n_sim, T, np.random.default_rng(12))
    p_sim = np.stack([(sim.regime == r).mean(axis=0) for r in range(p_engine.shape[0])])
    p = (p_engine * n_engine + p_sim * n_sim) / (n_engine + n_sim)
    se = np.sqrt(p * (1 - p) * (1 / n_engine + 1 / n_sim))
    assert np.all(np.abs(p_engine - p_sim) <= 4.5 * se + 1e-12)
