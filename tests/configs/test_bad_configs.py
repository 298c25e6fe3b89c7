"""The bad-config corpus: every way a config can be wrong gives one line, exit 2.

Each ``bad/NN_name.toml`` is ``good_minimal.toml`` with one change, and starts with
one or two ``# expect: <substring>`` lines: the key path the message must name and,
optionally, part of the explanation. The error must be a :class:`ConfigError` whose
message is one line holding the file path and every expected substring; through the
command line it is one line on stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reriskmc.cli import main
from reriskmc.config import ConfigError, load_config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOOD = HERE / "good_minimal.toml"
BAD = sorted((HERE / "bad").glob("*.toml"))
SHIPPED = sorted((ROOT / "configs").glob("*.toml"))
#: valid configs that exercise what the validator must accept (a scenario adding entries)
GOOD_MORE = sorted((HERE / "good").glob("*.toml"))

# Run as real subprocesses (the rest go through CliRunner, in-process): one of each
# family (syntax, missing, misspelt, type, NaN, date, matrix, distribution, reference,
# scenario, top level).
SUBPROCESS = (
    "01_toml_syntax_unclosed_table",
    "13_misspelt_required_key",
    "32_nan_value",
    "38_impossible_feb30",
    "50_normal_for_probability",
    "57_undefined_material_in_source",
    "68_scenario_adds_material",
)


def expectations(path: Path) -> list[str]:
    """The ``# expect:`` substrings at the top of a corpus file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# expect:"):
            break
        out.append(line.split(":", 1)[1].strip())
    return out


def _ids(paths):
    return [p.stem for p in paths]


def _cli_validate(path: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "reriskmc.cli", "validate", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)


# --------------------------------------------------------------------------- the corpus
def test_corpus__is_large_and_well_formed():
    assert len(BAD) >= 35
    names = [p.name for p in BAD]
    numbers = [n.split("_", 1)[0] for n in names]
    assert len(set(numbers)) == len(names), "two corpus files share a number"
    for p, number in zip(BAD, numbers):
        assert number.isdigit() and "_" in p.name, p.name
        exp = expectations(p)
        assert 1 <= len(exp) <= 2 and all(exp), f"{p.name}: needs 1-2 non-empty '# expect:' lines"


@pytest.mark.parametrize("path", BAD, ids=_ids(BAD))
def test_load_config__raises_one_line_config_error(path):
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg and len(msg.splitlines()) == 1, msg
    assert msg.startswith(f"{path}: "), msg
    for expected in expectations(path):
        assert expected in msg, f"{path.name}: {expected!r} not in {msg!r}"
    # the key path is also available on its own
    assert expectations(path)[0] in f"{info.value.key}: {info.value.message}"


@pytest.mark.parametrize("path", BAD, ids=_ids(BAD))
def test_cli_validate__exit_2_one_line(path):
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reriskmc: error: ") and str(path) in lines[0]
    for expected in expectations(path):
        assert expected in lines[0]


@pytest.mark.parametrize("name", SUBPROCESS)
def test_cli_subprocess__exit_2_one_line_no_traceback(name):
    path = HERE / "bad" / f"{name}.toml"
    assert path.exists(), path
    proc = _cli_validate(path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(path) in lines[0]
    for expected in expectations(path):
        assert expected in lines[0]


def test_cli_subprocess__missing_config_file(tmp_path):
    missing = tmp_path / "no_such_config.toml"
    proc = _cli_validate(missing)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(missing) in lines[0] and "no such file" in lines[0]


def test_load_config__directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


# --------------------------------------------------------------------------- good configs
@pytest.mark.parametrize(
    "path", [GOOD, *SHIPPED, *GOOD_MORE], ids=_ids([GOOD, *SHIPPED, *GOOD_MORE])
)
def test_good_configs__validate(path):
    cfg = load_config(path)
    assert cfg.scenario_names[0] == "base"
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok:" in result.stdout


def test_good_minimal__has_the_promised_shape():
    cfg = load_config(GOOD)
    b = cfg.base
    assert len(b.regimes) == 3 and len(b.channels) == 2 and len(b.materials) == 2
    assert len(b.sources) == 1 and len(b.programmes) == 2 and len(b.events) == 1
    assert cfg.scenario_names == ("base", "chip_concession") and b.n_months == 12


def test_good_minimal__subprocess_validate_exits_0():
    proc = _cli_validate(GOOD)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "ok:" in proc.stdout


def test_corpus__each_file_is_one_edit_of_good_minimal():
    """A bad file differs from the good one in a few lines, or one removed block, only
    (its header aside)."""
    import difflib

    good = [line for line in GOOD.read_text().splitlines() if not line.startswith("#")]
    for p in BAD:
        bad = [line for line in p.read_text().splitlines() if not line.startswith("#")]
        changed = [
            d
            for d in difflib.unified_diff(good, bad, lineterm="", n=0)
            if d[:1] in "+-" and not d.startswith(("+++", "---"))
        ]
        assert 0 < len(changed) <= 30, f"{p.name}: {len(changed)} changed lines"
