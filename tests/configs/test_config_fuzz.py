"""Fuzzing the validator: a mutated config is either valid or a one-line ConfigError.

``good_minimal.toml`` is parsed, mutated (a key deleted or renamed, a value replaced
by one of another type, NaN, inf, a negative, huge or empty value, a string, list or
table, a list made longer or shorter, a key added, ...), written back as TOML and
loaded. ``load_config`` must then succeed or raise :class:`ConfigError` with a
single-line message naming the file; any other exception is a validator bug. A config
that validates must also compile for the kernel (``pack``): a scenario that slipped an
extra event or source past the validator would fail there.

The mutants are written back with ``tomli_w`` (a test dependency).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reriskmc.config import (
    ConfigError,
    load_config,
    tomllib,  # the stdlib parser, or tomli before Python 3.11
)
from reriskmc.pack import pack

HERE = Path(__file__).resolve().parent
GOOD = HERE / "good_minimal.toml"
BASE = HERE.parents[1] / "configs" / "base.toml"
GOOD_DATA = tomllib.loads(GOOD.read_text(encoding="utf-8"))
FILE = "fuzz/mutant.toml"


# --------------------------------------------------------------------------- TOML writer
dumps = tomli_w.dumps


def _same(a, b) -> bool:
    """Equality that treats NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("path", [GOOD, BASE], ids=["good_minimal", "base"])
def test_writer__round_trips_the_configs(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert _same(tomllib.loads(dumps(data)), data)
    load_config(FILE, dumps(data))  # still valid


# --------------------------------------------------------------------------- strategies
NAMES = [
    "truce",
    "breakdown",
    "deal",
    "stalemate",
    "ndfeb",
    "smco",
    "dytb",
    "military",
    "green",
    "standard",
    "retaliation",
    "base",
    "f35",
    "gmlrs",
    "dist",
    "low",
    "high",
    "mode",
    "a",
    "b",
    "DX",
    "DO",
    "never",
    "on_shortfall",
    "from_date",
    "beta",
    "normal",
    "lognormal",
    "uniform",
    "triangular",
    "pert",
    "gamma",
]
WEIRD_STRINGS = [
    "",
    " ",
    "2025-13",
    "2025-02-30",
    "2025-06",
    "2026-01",
    "2025-06-10",
    "0000-01",
    "10000-01",
    "-1-01",
    "2025-1-1-1",
    "2025-",
    "nan",
    "1e400",
    "line\nbreak",
    "tab\tbed",
    "\x00",
    "\u2028",
    "é",
    "a.b",
    "[x]",
    '"q"',
]
EDGE_NUMBERS = [
    0,
    -1,
    1,
    2,
    10**6,
    -(10**6),
    2**63 - 1,
    -(2**63),
    10**30,
    -(10**30),
    0.0,
    -0.0,
    0.5,
    1.0 + 1e-9,
    -1e-300,
    5e-324,
    1e308,
    -1e308,
    1e-9,
    math.nan,
    math.inf,
    -math.inf,
]

#: integers beyond a float's range: TOML says 64-bit, tomllib accepts any size
huge_ints = st.sampled_from([1, -1]).map(lambda sign: sign * 10**400)
keys = st.one_of(st.sampled_from(NAMES), st.text(max_size=8), st.sampled_from(WEIRD_STRINGS))
scalars = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(NAMES + WEIRD_STRINGS),
    st.text(max_size=10),
    st.dates(),
    st.datetimes(),
    st.times(),
)
numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS), st.floats(-1e3, 1e3), st.integers(-100, 100), huge_ints
)
dists = st.fixed_dictionaries(
    {
        "dist": st.sampled_from(
            ["uniform", "triangular", "beta", "pert", "lognormal", "normal", "gamma", ""]
        )
    },
    optional={
        k: st.one_of(numbers, scalars)
        for k in ("low", "mode", "high", "a", "b", "median", "sigma", "mean", "sd", "extra")
    },
)
values = st.recursive(
    st.one_of(scalars, dists),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=8,
)


def _nodes(node, path=()):
    """Every (path, value) below the root, depth first."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k), v
            yield from _nodes(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i), v
            yield from _nodes(v, (*path, i))


def _parent(data, path):
    for p in path[:-1]:
        data = data[p]
    return data


OPS = (
    "delete",
    "rename",
    "replace",
    "replace_number",
    "negate",
    "list_length",
    "add_key",
    "copy_sibling",
    "wrap_in_list",
    "stringify",
    "to_scenario",
    "to_scenario",
)
SCENARIO = ("scenarios", "chip_concession")


def _to_scenario(data: dict, draw) -> None:
    """Write a table of the base (a section or an entry) into the scenario: as it is
    (a scenario that changes it), renamed (adds a new entry) or taken out of the base
    (adds what the base lacks, e.g. events when the base has none)."""
    tables = [
        p
        for p, v in _nodes(data)
        if isinstance(v, dict)
        and len(p) <= 2
        and p[0] not in ("run", "scenarios")
        and all(isinstance(k, str) for k in p)  # not a table inside a list
    ]
    if not tables:
        return
    path = draw(st.sampled_from(tables), label="table")
    value = _parent(data, path)[path[-1]]
    how = draw(st.sampled_from(["keep", "rename", "take out"]), label="how")
    if how == "rename":
        path = (*path[:-1], path[-1] + "_new")
    elif how == "take out":
        del _parent(data, path)[path[-1]]
    node = data
    for p in (*SCENARIO, *path[:-1]):
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            return
    node[path[-1]] = copy.deepcopy(value)


def mutate(data: dict, draw) -> dict:
    """Apply one random mutation to ``data`` (in place) and return it."""
    nodes = list(_nodes(data))
    path, value = draw(st.sampled_from(nodes), label="node")
    parent, last = _parent(data, path), path[-1]
    op = draw(st.sampled_from(OPS), label="op")
    if op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        new = draw(
            st.one_of(
                keys,
                st.sampled_from(
                    [last[:-1], last + "s", last[1:], last.upper(), last.replace("_", "")]
                ),
            ),
            label="new key",
        )
        if new not in parent:
            parent[new] = parent.pop(last)
    elif op == "replace_number":
        parent[last] = draw(numbers, label="number")
    elif op == "negate" and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[last] = -value if value else -1
    elif op == "list_length" and isinstance(value, list):
        if value and draw(st.booleans(), label="shorter"):
            value.pop(draw(st.integers(0, len(value) - 1), label="index"))
        else:
            value.append(copy.deepcopy(value[-1]) if value else draw(scalars, label="item"))
    elif op == "add_key" and isinstance(value, dict):
        value[draw(keys, label="key")] = draw(values, label="value")
    elif op == "copy_sibling" and isinstance(parent, dict) and len(parent) > 1:
        other = draw(st.sampled_from([k for k in parent if k != last]), label="sibling")
        parent[last] = copy.deepcopy(parent[other])
    elif op == "wrap_in_list":
        parent[last] = [value]
    elif op == "stringify" and not isinstance(value, (dict, list)):
        parent[last] = tomli_w.dumps({"x": value})[len("x = ") :].strip().strip('"')
    elif op == "to_scenario":
        _to_scenario(data, draw)
    else:  # "replace", and the fallback of an op that does not apply here
        parent[last] = draw(values, label="value")
    return data


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_config__is_valid_or_a_one_line_config_error(data):
    mutant = copy.deepcopy(GOOD_DATA)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        mutate(mutant, data.draw)
    text = dumps(mutant)
    assert _same(tomllib.loads(text), mutant)  # the writer wrote what was meant
    try:
        config = load_config(FILE, text)
    except ConfigError as e:
        msg = str(e)
        assert len(msg.splitlines()) == 1 and "\n" not in msg, repr(msg)
        assert msg.startswith(f"{FILE}: "), msg
    else:
        pack(config)
