"""The sensitivity analysis: the config's uncertain parameters, the design scenarios
that fix them, and end-to-end runs (API and command line) on a config with one
parameter that matters and one that cannot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from reriskmc.cli import main
from reriskmc.config import load_config
from reriskmc.sensitivity import (
    _model_dist_keys,
    design_scenario,
    group_parameters,
    sensitivity,
    uncertain_parameters,
)
from reriskmc.variants import Metric, base_data, with_variants

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "base.toml"
TWO = Path(__file__).with_name("two_unknowns.toml")


def test_uncertain_parameters__every_distribution_the_base_model_reads():
    cfg = load_config(BASE)
    params = uncertain_parameters(cfg)
    assert {p.name for p in params} == _model_dist_keys(cfg.base, set())
    assert len({p.name for p in params}) == len(params)
    # a channel default inherited by every material is one parameter, written once
    assert "channels.military.lag_months" in {p.name for p in params}
    assert not any(p.name.startswith("materials.ndfeb.licence.military.lag") for p in params)


def test_group_parameters__auto_groups_by_entry_only_when_there_are_many():
    cfg = load_config(BASE)
    params = uncertain_parameters(cfg)
    names, groups, grouped = group_parameters(params)
    assert grouped and "sources.lynas_sm" in names and "linkage" in names
    assert sorted(i for g in groups for i in g) == list(range(len(params)))
    for name, members in zip(names, groups):
        assert all(params[i].entry == name for i in members)
    names, groups, grouped = group_parameters(uncertain_parameters(load_config(TWO)))
    assert not grouped and len(names) == 2


@pytest.mark.parametrize("q", [0.0001, 0.37, 0.9999])
def test_design_scenario__fixes_every_parameter_at_its_quantile(q):
    """Every distribution of the base, schedule nodes included, becomes the number at
    quantile q; the loader validates the scenario, and its model reads no distribution."""
    cfg = load_config(BASE)
    params = uncertain_parameters(cfg)
    u = np.full(len(params), q)
    variant = with_variants(cfg, [design_scenario(base_data(cfg), params, u)], Metric())
    model = variant.scenarios[1].model
    assert _model_dist_keys(model, set()) == set()
    f35 = next(p for p in model.programmes if p.name == "f35")
    node = next(p for p in params if p.name == "programmes.f35.units_per_year.2029-05")
    assert f35.units_per_year.values[-1] == pytest.approx(float(node.dist.ppf(q)))
    assert f35.units_per_year.values[0] == 156.0  # the schedule's plain dates as written
    smco = next(m for m in model.materials if m.name == "smco")
    stock = next(p for p in params if p.name == "materials.smco.stockpile.stockpile_t")
    assert smco.stockpile_t == pytest.approx(float(stock.dist.ppf(q)))


def test_sensitivity__parameter_that_cannot_matter_has_zero_indices():
    cfg = load_config(TWO)
    res = sensitivity(cfg, n_samples=128, n_paths=400, seed=3, threads=1)
    ix = res.indices
    buffer, lag = (ix.names.index(f"materials.ndfeb.{k}") for k in
                   ("buffer_t", "stockpile.release_lag_months"))  # fmt: skip
    # common random numbers: changing a parameter the model ignores changes no path
    assert ix.first[lag] == 0.0 and ix.total[lag] == 0.0
    assert np.all(ix.total_ci[lag] == 0.0)
    # the other parameter is the only one that matters: both its indices are 1
    assert ix.first_ci[buffer][0] <= 1.0 <= ix.first_ci[buffer][1]
    assert ix.total_ci[buffer][0] <= 1.0 <= ix.total_ci[buffer][1]
    assert ix.total[buffer] > 0.7
    assert res.ranking()[0] == buffer
    assert res.programme == "gmlrs"  # the most at risk in the base
    assert 0.0 <= res.noise_share < 0.05


def test_cli_sensitivity__json_and_tornado_chart(tmp_path):
    plot = tmp_path / "tornado.png"
    result = CliRunner().invoke(
        main,
        ["sensitivity", str(TWO), "--samples", "16", "--paths", "200", "--programme", "f35",
         "--metric", "p_shortfall", "--threads", "1", "--json", "--plot", str(plot)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["programme"] == "f35" and out["metric"] == "p_shortfall"
    assert out["n_design_scenarios"] == 16 * 4
    assert [g["rank"] for g in out["groups"]] == [1, 2]
    assert out["groups"][-1]["total"] == 0.0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [plot]  # no temporary file left behind


def test_cli_sensitivity__text_names_the_threshold_it_was_given():
    result = CliRunner().invoke(
        main, ["sensitivity", str(TWO), "--samples", "4", "--paths", "100", "--threshold",
               "2.5", "--threads", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "P(slip has exceeded 2.5 months by the horizon)" in result.stdout
    assert "materials.ndfeb.buffer_t" in result.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--programme", "f53"], "unknown programme 'f53' (did you mean 'f35'?)"),
        (["--samples", "1"], "--samples: must be at least 2"),
        (["--paths", "1"], "--paths: must be at least 2"),
        (["--threshold", "0"], "--threshold: must be > 0"),
        (["--plot", "chart.txt"], "--plot: chart.txt: unknown suffix"),
        (["--plot", "no/such/folder/c.png"], "does not exist"),
        (["--metric", "p_slop"], "--metric"),
    ],
)
def test_cli_sensitivity__bad_options_one_line_exit_2(args, needle):
    result = CliRunner().invoke(main, ["sensitivity", str(TWO), *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reriskmc: error: "), result.stderr
    assert needle in lines[0]


def test_cli_sensitivity__config_without_distributions_is_a_one_line_error(tmp_path):
    text = TWO.read_text().replace('{dist = "uniform", low = 0.0, high = 12.0}', "6.0")
    text = text.replace('{dist = "uniform", low = 0.0, high = 6.0}', "3.0")
    path = tmp_path / "fixed.toml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["sensitivity", str(path)])
    assert result.exit_code == 2
    assert "no distribution-valued parameter" in result.stderr


def test_variants__batched_to_fit_memory_with_the_same_values(monkeypatch):
    """With little memory the variants run in smaller batches, and no value changes (a
    variant's paths do not depend on the others run beside it); with too little for
    one variant, a one-line error."""
    from reriskmc import engine
    from reriskmc.variants import fitting_batch, run_variants

    cfg = load_config(TWO)
    metric = Metric("p_slip", 3.0)
    variants = [{"materials": {"ndfeb": {"buffer_t": float(x)}}} for x in (0, 1, 2, 4, 8)]
    whole = run_variants(cfg, variants, metric, 600, 5, threads=1, batch=8)
    one = engine.estimate_memory_bytes(engine.prepare(with_variants(cfg, variants[:1], metric)),
                                       1, 600)  # fmt: skip
    two = engine.estimate_memory_bytes(engine.prepare(with_variants(cfg, variants[:2], metric)),
                                       1, 600)  # fmt: skip
    monkeypatch.setattr(engine, "available_memory_bytes", lambda: (one + two) // 2)
    assert fitting_batch(cfg, variants, metric, 1, 600, 8) == 1
    batched = run_variants(cfg, variants, metric, 600, 5, threads=1, batch=8)
    np.testing.assert_array_equal(batched.values, whole.values)
    np.testing.assert_array_equal(batched.se, whole.se)
    monkeypatch.setattr(engine, "available_memory_bytes", lambda: one - 1)
    with pytest.raises(ValueError, match=r"needs about .* GiB of memory"):
        fitting_batch(cfg, variants, metric, 1, 600, 8)
