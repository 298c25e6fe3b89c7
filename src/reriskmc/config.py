"""TOML -> validated, immutable model description, one per scenario.

Every error is a :class:`ConfigError` whose message names the file, the key path and
what was expected, on one line, e.g.::

    configs/base.toml: materials.smco.buffer_t: must be >= 0, got -3

The format is documented key by key in ``docs/config.md``; ``configs/base.toml`` is a
complete, commented example.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import numpy as np

from .distributions import Dist, DistributionError, as_float, parse_dist
from .kernels.layout import (
    FEEDSTOCK,
    MAGNET,
    MATERIAL_KINDS,
    NO_MONTH,
    PRIORITIES,
    RELEASE_FROM_DATE,
    RELEASE_RULES,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, from PyPI
    import tomli as tomllib

#: a scalar model parameter: a number, or a distribution drawn once per path
Param = float | Dist

CHANNEL_NAMES_HINT = "military, standard, green"


class ConfigError(Exception):
    """A config is invalid. ``str(err)`` is the one-line message for the user."""

    def __init__(self, file: str, key: str, message: str):
        self.file, self.key, self.message = file, key, message
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(_one_line(where + message))


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters (a TOML string or quoted key
    may hold them) so that the message stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class Schedule:
    """A value over time: nodes (month index, value), linear between two nodes, the
    first value before the first node and the last after the last. A plain value is a
    schedule of one node."""

    nodes: tuple[tuple[int, Param], ...]

    @property
    def values(self) -> tuple[Param, ...]:
        return tuple(v for _, v in self.nodes)

    @property
    def months(self) -> tuple[int, ...]:
        return tuple(m for m, _ in self.nodes)


@dataclass(frozen=True)
class Effect:
    """What an event does to a parameter when it fires: from that month on the
    parameter ``target`` (a key path, e.g. ``channels.standard.p_approve.truce``) takes
    ``value`` (``op = "set"``) or is multiplied by it (``op = "scale"``)."""

    target: str
    op: str
    value: float
    boolean: bool = False  # written as true or false (a rule's value)


@dataclass(frozen=True)
class Event:
    """A dated policy event, e.g. a tariff deadline that may be extended."""

    name: str
    month: int  # month index of the (first) deadline
    p_extend: Param  # probability the deadline is pushed back
    extend_months: Param  # by how many months (rounded to whole months, >= 1)
    max_extensions: int
    p_fire: Param  # probability the effects apply once the deadline is not extended
    jump_to: int  # regime index, or -1
    matrix: int  # transition-matrix index, or -1
    in_regimes: tuple[bool, ...] = ()  # per regime: may it fire there? (empty: anywhere)
    effects: tuple[Effect, ...] = ()


@dataclass(frozen=True)
class Rules:
    """China's rules on Chinese-origin feedstock in magnets for these programmes, as
    they stand at the start (events may switch them)."""

    military_end_use: bool = False  # barred from every maker's output for them
    extraterritorial: bool = False  # the 0.1% rule: barred from magnets made abroad


@dataclass(frozen=True)
class Linkage:
    """The AI-chip linkage: a US concession unlocks licences."""

    p_concession: Param  # per month of talks
    talks: tuple[bool, ...]  # per regime: do talks go on (can a concession happen)?
    opens_fast_track: bool  # does a concession open the fast channels to military-grade flows?
    conceded_at_start: bool


@dataclass(frozen=True)
class Dfars:
    """DFARS 252.225-7052: Chinese-origin supply barred from US defence systems: of the
    ``made_in_china`` materials always (magnets melted or produced in China, since
    2019), of the ``applies`` materials from ``month`` on (mined, refined or separated
    there, from 2027), each unless the path draws a waiver."""

    month: int  # layout.NO_MONTH: no such date
    applies: tuple[bool, ...]  # per material
    p_waiver: Param
    made_in_china: tuple[bool, ...] = ()  # per material
    p_waiver_made_in_china: Param = 0.0


@dataclass(frozen=True)
class Channel:
    name: str
    fast: bool  # a fast channel (green): closed to military-grade flows unless opened
    open_to_military_in: tuple[bool, ...]  # per regime


@dataclass(frozen=True)
class Licence:
    """The licence process of one material in one channel."""

    flow_t: Param  # t/month to defence supply chains while a licence is live
    lag_months: Param  # mean decision lag, months (>= 1)
    term_months: Param  # licence term, months (>= 1)
    p_approve: tuple[Param, ...]  # per regime
    p_approve_concession: tuple[Param, ...]  # per regime, after a chip concession
    p_revoke: tuple[Param, ...]  # per regime, monthly probability for a live licence
    live_at_start_months: Param  # a licence already live at the start, for this many months


@dataclass(frozen=True)
class Material:
    name: str
    long_name: str
    kind: int  # index into MATERIAL_KINDS: a magnet (what programmes need) or a feedstock
    feedstock: tuple[Param, ...]  # per material: t of it per t of this magnet (all 0: none)
    fast_track: bool  # may military-grade flows of it use fast channels?
    leakage: Param  # share of a closed fast channel's flow that still reaches defence users
    recycling_t: Param  # t/month
    buffer_t: Param  # contractor inventory at the start, t
    buffer_cap_t: Param  # contractor inventory ceiling, t
    stockpile_t: Param  # National Defense Stockpile, t
    release_rule: int  # index into RELEASE_RULES
    release_month: int  # for from_date
    release_lag_months: Param  # for on_shortfall
    release_t_per_month: Param  # maximum release rate
    licences: tuple[Licence, ...]  # per channel


@dataclass(frozen=True)
class Source:
    """A supply source: a separator or recycler of a feedstock, a maker of a magnet."""

    name: str
    material: int
    capacity_t_per_year: Schedule
    start_month: int  # planned start (may lie before the horizon)
    ramp_months: Param
    slip_months: Param
    yield_frac: Param
    p_qualified: Param  # probability it is qualified for military use
    qualification_months: Param  # military qualification time after first output
    defence_share: Param  # share of its output available to these programmes
    chinese: bool = False  # Chinese-origin output (subject to the DFARS rules)
    abroad: bool = False  # a maker outside the US (the extraterritorial rule reaches it)


@dataclass(frozen=True)
class Programme:
    name: str
    long_name: str
    units_per_year: Schedule
    start_month: int
    end_month: int  # inclusive
    priority: int  # index into PRIORITIES
    catch_up: Param  # extra monthly output possible when behind, as a share of the rate
    kg_per_unit: tuple[Param, ...]  # per material


@dataclass(frozen=True)
class Model:
    """One scenario, fully resolved: names are indices, dates are month indices."""

    start: np.datetime64  # first month
    n_months: int
    regimes: tuple[str, ...]
    initial_regime: int
    matrix_names: tuple[str, ...]  # "base" first
    transition: np.ndarray = field(repr=False)  # (n_matrices, n_regimes, n_regimes)
    events: tuple[Event, ...] = ()
    linkage: Linkage | None = None
    dfars: Dfars | None = None
    rules: Rules = Rules()
    channels: tuple[Channel, ...] = ()
    materials: tuple[Material, ...] = ()
    sources: tuple[Source, ...] = ()
    programmes: tuple[Programme, ...] = ()

    @property
    def months(self) -> np.ndarray:
        return self.start + np.arange(self.n_months)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    model: Model


@dataclass(frozen=True)
class Config:
    """A validated config file: run settings and its scenarios (base first)."""

    path: str
    text: str
    sha256: str
    title: str
    paths: int
    seed: int
    quantiles: tuple[float, ...]
    cvar_alpha: float
    behind_tolerance_units: float
    slip_thresholds: tuple[float, ...]  # months of output: the alarms on schedule slip
    scenarios: tuple[Scenario, ...]

    @property
    def base(self) -> Model:
        return self.scenarios[0].model

    @property
    def scenario_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scenarios)

    def entries(self, section: str) -> tuple:
        """The entries of ``section`` ("programmes", "sources" or "events") over every
        scenario, each as the first scenario that has it defines it: the base's first,
        then those scenarios add, in order."""
        out: dict[str, Any] = {}
        for sc in self.scenarios:
            for x in getattr(sc.model, section):
                out.setdefault(x.name, x)
        return tuple(out.values())

    def present(self, section: str) -> np.ndarray:
        """bool[S, n]: whether each scenario has each of :meth:`entries`."""
        names = [x.name for x in self.entries(section)]
        return np.array([[n in {x.name for x in getattr(sc.model, section)} for n in names]
                         for sc in self.scenarios])  # fmt: skip


# --------------------------------------------------------------------------- reading
_MISSING = object()

DOMAINS = {
    # name: (low, high, low inclusive, text)
    "prob": (0.0, 1.0, True, "a probability in [0, 1]"),
    "share": (0.0, 1.0, True, "a share in [0, 1]"),
    "nonneg": (0.0, math.inf, True, ">= 0"),
    "pos": (0.0, math.inf, False, "> 0"),
    "ge1": (1.0, math.inf, True, ">= 1"),
    "real": (-math.inf, math.inf, True, "a number"),
}


def _unknown(what: str, name: str, choices) -> str:
    """The message for a name that is not among ``choices``."""
    return f"unknown {what} '{name}'{_suggest(name, choices)}; defined: {', '.join(choices)}"


def _suggest(word: str, choices) -> str:
    near = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""


class _Table:
    """A TOML table being read: tracks its key path and which keys were used."""

    def __init__(self, data: Any, path: str, file: str, allow_extra: tuple[str, ...] = ()):
        self.file, self.path = file, path
        if not isinstance(data, dict):
            raise ConfigError(file, path or "(top level)", f"must be a table, got {_kind(data)}")
        self.data = data
        self.known: set[str] = set(allow_extra)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path and name else (name or self.path)

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), message)

    def raw(self, name: str, default=_MISSING):
        self.known.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            unknown = [k for k in self.data if k not in self.known]
            hint = _suggest(name, unknown)
            if hint:
                hint = (
                    f" (found '{get_close_matches(name, unknown, n=1, cutoff=0.6)[0]}': misspelt?)"
                )
            raise self.error(name, f"missing required key{hint}")
        return default

    def has(self, name: str) -> bool:
        self.known.add(name)
        return name in self.data

    def number(self, name: str, domain: str = "real", default=_MISSING, dist: bool = True) -> Param:
        if default is not _MISSING and not self.has(name):
            return default  # a default may itself be a parameter read elsewhere
        return _number(self.raw(name), domain, dist, self.file, self.key(name))

    def schedule(self, name: str, domain: str, start: date, default=_MISSING) -> Schedule:
        """A number, a distribution, or a schedule: a table of dates ("YYYY-MM") with a
        number or a distribution each (linear between them, see :class:`Schedule`)."""
        if default is not _MISSING and not self.has(name):
            return Schedule(((0, default),))
        raw = self.raw(name)
        if not _is_schedule(raw):
            return Schedule(((0, _number(raw, domain, True, self.file, self.key(name))),))
        t = _Table(raw, self.key(name), self.file)
        if not raw:
            raise self.error(name, "a schedule needs at least one date")
        nodes = {}
        for when in raw:
            m = t.key_month(when, start)
            if m in nodes:
                raise t.error(when, "two dates of this schedule fall in the same month")
            nodes[m] = t.number(when, domain)
        return Schedule(tuple(sorted(nodes.items())))

    def integer(self, name: str, low: int = 0, high: int | None = None, default=_MISSING) -> int:
        v = self.raw(name, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(name, f"must be a whole number, got {_show(v)}")
        if v < low or (high is not None and v > high):
            rng = f">= {low}" if high is None else f"between {low} and {high}"
            raise self.error(name, f"must be {rng}, got {v}")
        return v

    def boolean(self, name: str, default=_MISSING) -> bool:
        v = self.raw(name, default)
        if not isinstance(v, bool):
            raise self.error(name, f"must be true or false, got {_show(v)}")
        return v

    def string(self, name: str, default=_MISSING, choices=None) -> str:
        v = self.raw(name, default)
        if not isinstance(v, str):
            raise self.error(name, f"must be a string, got {_show(v)}")
        if choices is not None and v not in choices:
            raise self.error(
                name, f"'{v}' is not one of {', '.join(choices)}{_suggest(v, choices)}"
            )
        return v

    def name_of(self, name: str, choices, what: str, default=_MISSING) -> int:
        v = self.raw(name, default)
        if v is default and default is not _MISSING:
            return -1
        if not isinstance(v, str):
            raise self.error(name, f"must name a {what}, got {_show(v)}")
        if v not in choices:
            raise self.error(name, _unknown(what, v, choices))
        return list(choices).index(v)

    def names(self, name: str, choices, what: str, default=_MISSING) -> tuple[bool, ...]:
        v = self.raw(name, default)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.error(name, f"must be a list of {what} names, got {_show(v)}")
        for x in v:
            if x not in choices:
                raise self.error(
                    name,
                    _unknown(what, x, choices),
                )
        return tuple(c in v for c in choices)

    def month(self, name: str, start: date, default: int | None = None) -> int:
        """A date as a month index from ``start``; ``default`` is an index."""
        if default is not None and not self.has(name):
            return default
        return months_between(start, parse_month(self.raw(name), self.file, self.key(name)))

    def key_month(self, name: str, start: date) -> int:
        """A key that is itself a date (a schedule's), as a month index from ``start``."""
        return months_between(start, parse_month(name, self.file, self.key(name)))

    def sub(self, name: str, default=_MISSING) -> _Table:
        v = self.raw(name, {} if default is not _MISSING else _MISSING)
        return _Table(v, self.key(name), self.file)

    def regime_map(self, name: str, regimes, domain: str, default) -> tuple[Param, ...]:
        """A table regime -> number; regimes left out take ``default`` (a tuple or a number)."""
        raw = self.raw(name, None)
        fallback = default if isinstance(default, tuple) else (default,) * len(regimes)
        if raw is None:
            return fallback
        if not isinstance(raw, dict) or "dist" in raw:
            # one value (or one distribution) for every regime
            p = _number(raw, domain, True, self.file, self.key(name))
            return (p,) * len(regimes)
        t = _Table(raw, self.key(name), self.file)
        for k in raw:
            if k not in regimes:
                raise t.error(k, _unknown("regime", k, regimes))
        return tuple(t.number(r, domain, fallback[i]) for i, r in enumerate(regimes))

    def finish(self) -> None:
        for k in self.data:
            if k not in self.known:
                raise self.error(
                    k,
                    f"unknown key{_suggest(k, self.known)}; "
                    f"expected one of {', '.join(sorted(self.known))}",
                )


def _is_schedule(v) -> bool:
    """A table of dates (a schedule), as opposed to a number or a distribution."""
    return isinstance(v, dict) and "dist" not in v


def _kind(v) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), type(v).__name__
    )


def _show(v) -> str:
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "a list"
    return repr(v)


def _number(v, domain: str, dist: bool, file: str, key: str) -> Param:
    lo, hi, lo_incl, text = DOMAINS[domain]
    if isinstance(v, dict):
        if not dist:
            raise ConfigError(file, key, "must be a number, not a distribution")
        try:
            d = replace(parse_dist(v), key=key)
        except DistributionError as e:
            raise ConfigError(file, key, str(e)) from None
        s_lo, s_hi = d.support()
        if s_lo < lo or (s_lo == lo and not lo_incl and d.kind != "lognormal") or s_hi > hi:
            raise ConfigError(
                file,
                key,
                f"{d.describe()} ranges over [{s_lo:g}, {s_hi:g}], but the value must be {text}",
            )
        return d
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(
            file,
            key,
            f"must be a number{' or a distribution table' if dist else ''}, got {_show(v)}",
        )
    v = as_float(v)
    if not math.isfinite(v):
        raise ConfigError(file, key, f"must be finite, got {v}")
    if v < lo or v > hi or (v == lo and not lo_incl):
        raise ConfigError(file, key, f"must be {text}, got {v:g}")
    return v


def months_between(a: date, b: date) -> int:
    """Month ``b`` as a month index from month ``a``."""
    return (b.year - a.year) * 12 + (b.month - a.month)


def parse_month(v, file: str, key: str) -> date:
    if isinstance(v, datetime):
        return v.date().replace(day=1)
    if isinstance(v, date):
        return v.replace(day=1)
    if isinstance(v, str):
        parts = v.split("-")
        try:
            if len(parts) == 2:
                return date(int(parts[0]), int(parts[1]), 1)
            if len(parts) == 3:
                return date(int(parts[0]), int(parts[1]), int(parts[2])).replace(day=1)
        except ValueError as e:
            raise ConfigError(file, key, f"impossible date '{v}' ({e})") from None
    raise ConfigError(file, key, f'must be a date like "2025-06" or 2025-06-10, got {_show(v)}')


# --------------------------------------------------------------------------- sections
TOP_KEYS = (
    "run",
    "regimes",
    "events",
    "linkage",
    "dfars",
    "channels",
    "materials",
    "sources",
    "programmes",
    "rules",
    "scenarios",
)


class _Horizon:
    """The run's months: dates become month indices from ``start``."""

    def __init__(self, start: date, n_months: int):
        self.start, self.n_months, self.end = start, n_months, n_months - 1

    def month(self, t: _Table, key: str) -> int:
        """A date that must lie within the horizon, as a month index."""
        m = t.month(key, self.start)
        if not 0 <= m <= self.end:
            raise t.error(
                key, f"date lies outside the horizon ({self.start:%Y-%m} + {self.n_months} months)"
            )
        return m


def _regimes(top: _Table) -> tuple[tuple[str, ...], int, tuple[str, ...], np.ndarray]:
    """Regime names, the initial regime, the transition matrices' names and values."""
    reg = top.sub("regimes")
    raw_names = reg.raw("names")
    if (
        not isinstance(raw_names, list)
        or not raw_names
        or not all(isinstance(x, str) for x in raw_names)
    ):
        raise reg.error(
            "names", f"must be a non-empty list of regime names, got {_show(raw_names)}"
        )
    if len(set(raw_names)) != len(raw_names):
        raise reg.error("names", "regime names must be unique")
    regimes = tuple(raw_names)
    initial = reg.name_of("initial", regimes, "regime")
    mats = {"base": _matrix(reg.sub("transition"), regimes)}
    extra = reg.sub("matrices", default={})
    for mname in extra.data:
        extra.known.add(mname)
        if mname == "base":
            raise extra.error(
                mname, "'base' is the [regimes.transition] matrix; name this one otherwise"
            )
        mats[mname] = _matrix(extra.sub(mname), regimes)
    extra.finish()
    reg.finish()
    matrix_names = tuple(mats)
    return regimes, initial, matrix_names, np.stack([mats[m] for m in matrix_names])


def _entries(top: _Table, section: str, required: bool = False, hint: str = ""):
    """The named entries of a section, each as a table (marked as read)."""
    sec = top.sub(section) if required else top.sub(section, default={})
    if required and not sec.data:
        raise sec.error("", hint)
    for name in sec.data:
        sec.known.add(name)
        yield name, sec.sub(name)
    sec.finish()


def _events(top: _Table, horizon: _Horizon, regimes, matrix_names) -> tuple[Event, ...]:
    events = []
    for ename, e in _entries(top, "events"):
        in_regimes = e.names("in_regimes", regimes, "regime", []) if e.has("in_regimes") else ()
        if in_regimes and not any(in_regimes):
            raise e.error("in_regimes", "lists no regime: leave it out to allow every regime")
        events.append(
            Event(
                name=ename,
                month=horizon.month(e, "date"),
                p_extend=e.number("p_extend", "prob", 0.0),
                extend_months=e.number("extend_months", "ge1", 3.0),
                max_extensions=e.integer("max_extensions", 0, 1000, 1),
                p_fire=e.number("p_fire", "prob", 1.0),
                jump_to=e.name_of("jump_to", regimes, "regime", default=None),
                matrix=e.name_of("matrix", matrix_names, "transition matrix", default=None),
                in_regimes=in_regimes,
                effects=_effects(e, "set") + _effects(e, "scale"),
            )
        )
        ev = events[-1]
        if ev.jump_to < 0 and ev.matrix < 0 and not ev.effects:
            raise e.error("", "does nothing: give it jump_to, matrix, set or scale")
        e.finish()
    return tuple(events)


def _effects(e: _Table, op: str) -> tuple[Effect, ...]:
    """An event's ``set`` or ``scale`` table: key path -> value (checked against the
    model by :func:`_check_effects` once every section is read)."""
    t = e.sub(op, default={})
    out = []
    for target, v in t.data.items():
        t.known.add(target)
        key = t.key(target)
        if isinstance(v, bool):
            out.append(Effect(target, op, float(v), boolean=True))
            continue
        if not isinstance(v, (int, float)):
            raise ConfigError(
                t.file, key, f"must be a number (or true/false for a rule), got {_show(v)}"
            )
        v = _number(v, "nonneg" if op == "scale" else "real", False, t.file, key)
        out.append(Effect(target, op, float(v)))
    t.finish()
    return tuple(out)


def _linkage(top: _Table, regimes) -> Linkage:
    lk = top.sub("linkage", default={})
    linkage = Linkage(
        p_concession=lk.number("p_concession", "prob", 0.0),
        talks=lk.names("talks_regimes", regimes, "regime", list(regimes)),
        opens_fast_track=lk.boolean("opens_fast_track", False),
        conceded_at_start=lk.boolean("conceded_at_start", False),
    )
    lk.finish()
    return linkage


def _channels(top: _Table, regimes) -> tuple[_Table, tuple[Channel, ...], dict[str, _Table]]:
    """The channels, and each channel's table: the licence defaults its materials read
    (the caller finishes them once the materials are read)."""
    ch = top.sub("channels")
    if not ch.data:
        raise ch.error("", f"define at least one licence channel ({CHANNEL_NAMES_HINT})")
    channels, defaults = [], {}
    for cname in ch.data:
        ch.known.add(cname)
        c = ch.sub(cname)
        channels.append(
            Channel(
                name=cname,
                fast=c.boolean("fast", False),
                open_to_military_in=c.names("open_to_military_in", regimes, "regime", []),
            )
        )
        defaults[cname] = c
    return ch, tuple(channels), defaults


def _licences(m: _Table, defaults: dict[str, _Table], regimes) -> tuple[Licence, ...]:
    """A material's licence in every channel."""
    channel_names = tuple(defaults)
    lic_t = m.sub("licence", default={})
    for cname in lic_t.data:
        if cname not in channel_names:
            raise lic_t.error(
                cname,
                _unknown("channel", cname, channel_names),
            )
    licences = []
    for cname in channel_names:
        lic_t.known.add(cname)
        own = lic_t.sub(cname, default={})
        licences.append(_licence(own, defaults[cname], regimes))
        own.finish()
    lic_t.finish()
    return tuple(licences)


def _material(mname: str, m: _Table, horizon: _Horizon, defaults, regimes, kinds) -> Material:
    licences = _licences(m, defaults, regimes)
    kind = MATERIAL_KINDS.index(m.string("kind", "magnet", MATERIAL_KINDS))
    feedstock = _feedstock(m, kind, kinds)
    if kind == FEEDSTOCK and m.has("stockpile"):
        raise m.error("stockpile", "a feedstock has no stockpile release: hold it as buffer_t")
    st = m.sub("stockpile", default={})
    rule = RELEASE_RULES.index(st.string("release", "never", RELEASE_RULES))
    release_month = horizon.month(st, "release_date") if rule == RELEASE_FROM_DATE else 0
    if rule != RELEASE_FROM_DATE and st.has("release_date"):
        raise st.error("release_date", 'only used with release = "from_date"')
    buffer_t = m.number("buffer_t", "nonneg", 0.0)
    material = Material(
        name=mname,
        long_name=m.string("long_name", mname),
        kind=kind,
        feedstock=feedstock,
        fast_track=m.boolean("fast_track", True),
        leakage=m.number("leakage", "share", 0.0),
        recycling_t=m.number("recycling_t", "nonneg", 0.0),
        buffer_t=buffer_t,
        buffer_cap_t=m.number("buffer_cap_t", "nonneg", buffer_t),
        stockpile_t=st.number("stockpile_t", "nonneg", 0.0),
        release_rule=rule,
        release_month=release_month,
        release_lag_months=st.number("release_lag_months", "nonneg", 0.0),
        release_t_per_month=st.number("release_t_per_month", "nonneg", 0.0),
        licences=licences,
    )
    st.finish()
    m.finish()
    return material


def _feedstock(m: _Table, kind: int, kinds: dict[str, int]) -> tuple[Param, ...]:
    """A magnet's feedstock table: tonnes of each feedstock per tonne of magnet."""
    names = tuple(kinds)
    if not m.has("feedstock"):
        return (0.0,) * len(names)
    if kind != MAGNET:
        raise m.error("feedstock", "only a magnet is made from feedstock")
    t = m.sub("feedstock")
    for f in t.data:
        if f not in kinds:
            raise t.error(f, _unknown("material", f, names))
        if kinds[f] != FEEDSTOCK:
            raise t.error(f, f"'{f}' is not a feedstock (kind = \"feedstock\")")
    out = tuple(t.number(f, "nonneg", 0.0) if kinds[f] == FEEDSTOCK else 0.0 for f in names)
    t.finish()
    return out


def _dfars(top: _Table, horizon: _Horizon, material_names) -> Dfars | None:
    if not top.has("dfars"):
        return None
    df = top.sub("dfars")
    dfars = Dfars(
        month=horizon.month(df, "date") if df.has("date") else NO_MONTH,
        applies=df.names("materials", material_names, "material", []),
        p_waiver=df.number("p_waiver", "prob", 0.0),
        made_in_china=df.names("made_in_china", material_names, "material", []),
        p_waiver_made_in_china=df.number("p_waiver_made_in_china", "prob", 0.0),
    )
    if any(dfars.applies) and dfars.month == NO_MONTH:
        raise df.error("date", "missing required key: the date the rule on dfars.materials starts")
    if dfars.month != NO_MONTH and not any(dfars.applies):
        raise df.error(
            "materials", "missing required key: the materials the rule from dfars.date bars"
        )
    df.finish()
    return dfars


def _rules(top: _Table) -> Rules:
    r = top.sub("rules", default={})
    rules = Rules(
        military_end_use=r.boolean("military_end_use", False),
        extraterritorial=r.boolean("extraterritorial", False),
    )
    r.finish()
    return rules


def _sources(top: _Table, horizon: _Horizon, material_names) -> tuple[Source, ...]:
    sources = []
    for sname, s in _entries(top, "sources"):
        sources.append(
            Source(
                name=sname,
                material=s.name_of("material", material_names, "material"),
                capacity_t_per_year=s.schedule("capacity_t_per_year", "nonneg", horizon.start),
                start_month=s.month("start", horizon.start),
                ramp_months=s.number("ramp_months", "nonneg", 0.0),
                slip_months=s.number("slip_months", "real", 0.0),
                yield_frac=s.number("yield", "share", 1.0),
                p_qualified=s.number("p_qualified", "prob", 1.0),
                qualification_months=s.number("qualification_months", "nonneg", 0.0),
                defence_share=s.number("defence_share", "share", 1.0),
                chinese=s.boolean("chinese", False),
                abroad=s.boolean("abroad", False),
            )
        )
        s.finish()
    return tuple(sources)


def _schedule_window(p: _Table, horizon: _Horizon) -> tuple[int, int]:
    """A programme's first and last scheduled months, clipped to the horizon; an error
    names the key the user wrote."""
    p_start = p.month("start", horizon.start, 0)
    p_end = p.month("end", horizon.start, horizon.end)
    span = f"({horizon.start:%Y-%m} + {horizon.n_months} months)"
    if p_start > horizon.end:
        raise p.error("start", f"the schedule starts after the horizon {span} ends")
    if p.has("end") and p_end < 0:
        raise p.error("end", f"the schedule ends before the horizon {span} starts")
    if p_end < p_start:
        raise p.error("end", "the schedule ends before it starts")
    return max(p_start, 0), min(p_end, horizon.end)


def _programme(pname: str, p: _Table, horizon: _Horizon, kinds: dict[str, int]) -> Programme:
    start, end = _schedule_window(p, horizon)
    material_names = tuple(kinds)
    kg = p.sub("kg_per_unit")
    for k in kg.data:
        if k not in material_names:
            raise kg.error(k, _unknown("material", k, material_names))
        if kinds[k] != MAGNET:
            raise kg.error(k, f"'{k}' is a feedstock: programmes need magnets, makers feedstock")
    kg_per_unit = tuple(kg.number(mn, "nonneg", 0.0) for mn in material_names)
    kg.finish()
    programme = Programme(
        name=pname,
        long_name=p.string("long_name", pname),
        units_per_year=p.schedule("units_per_year", "nonneg", horizon.start),
        start_month=start,
        end_month=end,
        priority=PRIORITIES.index(p.string("priority", "DO", PRIORITIES)),
        catch_up=p.number("catch_up", "nonneg", 0.0),
        kg_per_unit=kg_per_unit,
    )
    p.finish()
    return programme


def _model(data: dict, file: str, start: date, n_months: int) -> Model:
    """One scenario's tables -> its :class:`Model`, section by section."""
    top = _Table(data, "", file, allow_extra=("run", "scenarios"))
    horizon = _Horizon(start, n_months)
    regimes, initial, matrix_names, transition = _regimes(top)
    events = _events(top, horizon, regimes, matrix_names)
    linkage = _linkage(top, regimes)
    ch, channels, defaults = _channels(top, regimes)
    # materials (their names and kinds first: sources, programmes and dfars refer to them)
    kinds = _material_kinds(top)
    material_names = tuple(kinds)
    materials = tuple(
        _material(name, m, horizon, defaults, regimes, kinds)
        for name, m in _entries(top, "materials", True, "define at least one material")
    )
    for c in defaults.values():
        # every licence default is checked, also one that every material overrides;
        # anything left over is not a licence key
        _licence(_Table({}, c.path, file), c, regimes)
        c.finish()
    ch.finish()
    dfars = _dfars(top, horizon, material_names)
    sources = _sources(top, horizon, material_names)
    programmes = tuple(
        _programme(name, p, horizon, kinds)
        for name, p in _entries(top, "programmes", True, "define at least one programme")
    )
    rules = _rules(top)
    top.finish()
    model = Model(
        start=np.datetime64(f"{start:%Y-%m}", "M"),
        n_months=n_months,
        regimes=regimes,
        initial_regime=initial,
        matrix_names=matrix_names,
        transition=transition,
        events=events,
        linkage=linkage,
        dfars=dfars,
        channels=channels,
        materials=materials,
        sources=sources,
        programmes=programmes,
        rules=rules,
    )
    _check_effects(model, data, file)
    _check_abroad(model, file)
    return model


def made_from_feedstock(model: Model) -> tuple[bool, ...]:
    """Per material: is it a magnet made from feedstock, whose sources are makers? Its
    feedstock table has an entry that is not the number 0 (a distribution counts), or
    one of the model's events sets one."""
    set_targets = [eff.target for ev in model.events for eff in ev.effects if eff.op == "set"]
    return tuple(
        any(not isinstance(a, float) or a != 0.0 for a in m.feedstock)
        or any(x.startswith(f"materials.{m.name}.feedstock.") for x in set_targets)
        for m in model.materials
    )


def _check_abroad(model: Model, file: str) -> None:
    """``abroad`` marks a magnet maker: a source of a magnet made from feedstock."""
    made = made_from_feedstock(model)
    for k in model.sources:
        if k.abroad and not made[k.material]:
            name = model.materials[k.material].name
            raise ConfigError(
                file,
                f"sources.{k.name}.abroad",
                f"marks a magnet maker, but '{name}' is not made from feedstock "
                "(its feedstock table)",
            )


#: what an event may change from its date on: key -> the domain a set value lies in
_LICENCE_KEYS = {
    "flow_t": "nonneg",
    "lag_months": "ge1",
    "term_months": "ge1",
    "p_approve": "prob",
    "p_approve_concession": "prob",
    "p_revoke": "prob",
}
_TARGET_KEYS = {
    "materials": {"leakage": "share", "recycling_t": "nonneg", "buffer_cap_t": "nonneg"},
    "stockpile": {"release_lag_months": "nonneg", "release_t_per_month": "nonneg"},
    "sources": {"capacity_t_per_year": "nonneg", "yield": "share", "defence_share": "share"},
    "programmes": {"units_per_year": "nonneg", "catch_up": "nonneg"},
}  # fmt: skip


def effect_domain(target: str, model: Model) -> str:
    """The domain of the parameter an effect's ``target`` names ("bool" for a rule), or
    a ValueError saying why it names none. The path is split at dots; an entry whose
    name holds dots is found by its whole name (the longest that matches)."""
    parts = target.split(".")
    names = {"materials": [m.name for m in model.materials],
             "sources": [k.name for k in model.sources],
             "programmes": [p.name for p in model.programmes],
             "channels": [c.name for c in model.channels]}  # fmt: skip
    kinds = {m.name: m.kind for m in model.materials}

    def entry(i: int, section: str, kind: int | None = None) -> tuple[str, int]:
        """The entry of ``section`` named from ``parts[i]`` on, and the index after it."""
        choices = names[section]
        for j in range(len(parts), i, -1):
            name = ".".join(parts[i:j])
            if name in choices:
                break
        else:
            what = parts[i] if len(parts) > i else "(nothing)"
            raise ValueError(_unknown(section.rstrip("s"), what, choices))
        if kind is not None and kinds[name] != kind:
            has, want = MATERIAL_KINDS[kinds[name]], MATERIAL_KINDS[kind]
            raise ValueError(f"'{name}' is a {has}; this key takes a {want}")
        return name, j

    def licence_key(rest):
        if not rest or rest[0] not in _LICENCE_KEYS:
            raise ValueError(f"a licence parameter is one of {', '.join(_LICENCE_KEYS)}")
        if len(rest) == 2 and rest[0].startswith("p_"):
            if rest[1] not in model.regimes:
                raise ValueError(_unknown("regime", rest[1], model.regimes))
            return _LICENCE_KEYS[rest[0]]
        if len(rest) != 1:
            raise ValueError("names nothing an event can change")
        return _LICENCE_KEYS[rest[0]]

    head = parts[0]
    if head == "rules" and len(parts) == 2 and parts[1] in ("military_end_use", "extraterritorial"):
        return "bool"
    if parts == ["linkage", "p_concession"]:
        return "prob"
    if head == "channels":
        _, i = entry(1, "channels")
        return licence_key(parts[i:])
    if head in ("materials", "sources", "programmes"):
        _, i = entry(1, head)
        rest = parts[i:]
        if head == "materials" and rest[:1] == ["licence"]:
            _, i = entry(i + 1, "channels")
            return licence_key(parts[i:])
        stockpile = _TARGET_KEYS["stockpile"]
        if (
            head == "materials"
            and len(rest) == 2
            and rest[0] == "stockpile"
            and rest[1] in stockpile
        ):
            return stockpile[rest[1]]
        if head == "materials" and rest[:1] == ["feedstock"]:
            entry(1, "materials", MAGNET)
            _, j = entry(i + 1, "materials", FEEDSTOCK)
            if j == len(parts):
                return "nonneg"
        if head == "programmes" and rest[:1] == ["kg_per_unit"]:
            _, j = entry(i + 1, "materials", MAGNET)
            if j == len(parts):
                return "nonneg"
        if len(rest) == 1 and rest[0] in _TARGET_KEYS[head]:
            return _TARGET_KEYS[head][rest[0]]
    raise ValueError(
        "names nothing an event can change (docs/config.md lists what can: rules, "
        "licence parameters, and some of materials, sources and programmes)"
    )


def _check_effects(model: Model, data: dict, file: str) -> None:
    """Every effect names a parameter an event can change, with a value it may take."""
    for ev in model.events:
        for eff in ev.effects:
            key = f"events.{ev.name}.{eff.op}.{eff.target}"
            try:
                domain = effect_domain(eff.target, model)
            except ValueError as e:
                raise ConfigError(file, key, str(e)) from None
            if domain == "bool" and eff.op != "set":
                raise ConfigError(file, key, "a rule is set to true or false (in set), not scaled")
            if domain == "bool" and not eff.boolean:
                raise ConfigError(file, key, f"a rule is set to true or false, got {eff.value:g}")
            if domain != "bool" and eff.boolean:
                got = "true" if eff.value else "false"
                raise ConfigError(file, key, f"must be a number, got {got}")
            if domain != "bool" and eff.op == "set":
                _number(eff.value, domain, False, file, key)


def _material_kinds(top: _Table) -> dict[str, int]:
    """Each material's kind, by name, read ahead of the materials themselves."""
    raw = top.data.get("materials")
    if not isinstance(raw, dict):
        return {}
    kinds = {}
    for name, table in raw.items():
        kind = table.get("kind", "magnet") if isinstance(table, dict) else "magnet"
        kinds[name] = MATERIAL_KINDS.index(kind) if kind in MATERIAL_KINDS else MAGNET
    return kinds


def _licence(own: _Table, defaults: _Table, regimes) -> Licence:
    """A material's licence in a channel: its own keys, else the channel's defaults."""

    def pick(key: str) -> _Table:
        defaults.known.add(key)
        own.known.add(key)
        return own if key in own.data else defaults

    p_approve = pick("p_approve").regime_map("p_approve", regimes, "prob", 0.0)
    return Licence(
        flow_t=pick("flow_t").number("flow_t", "nonneg", 0.0),
        lag_months=pick("lag_months").number("lag_months", "ge1", 2.0),
        term_months=pick("term_months").number("term_months", "ge1", 12.0),
        p_approve=p_approve,
        p_approve_concession=pick("p_approve_concession").regime_map(
            "p_approve_concession", regimes, "prob", p_approve
        ),
        p_revoke=pick("p_revoke").regime_map("p_revoke", regimes, "prob", 0.0),
        live_at_start_months=pick("live_at_start_months").number(
            "live_at_start_months", "nonneg", 0.0
        ),
    )


def _matrix(t: _Table, regimes) -> np.ndarray:
    rows = []
    for r in regimes:
        row = t.raw(r)
        key = t.key(r)
        if not isinstance(row, list) or len(row) != len(regimes):
            raise ConfigError(
                t.file,
                key,
                f"must be a list of {len(regimes)} probabilities "
                f"(one per regime: {', '.join(regimes)})",
            )
        vals = []
        for i, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ConfigError(t.file, f"{key}[{i}]", f"must be a number, got {_show(x)}")
            x = as_float(x)
            if not math.isfinite(x) or not 0.0 <= x <= 1.0:
                raise ConfigError(
                    t.file, f"{key}[{i}]", f"must be a probability in [0, 1], got {x:g}"
                )
            vals.append(x)
        s = sum(vals)
        if abs(s - 1.0) > 1e-6:
            raise ConfigError(t.file, key, f"row must sum to 1, sums to {s:.6g}")
        rows.append(vals)
    t.finish()
    return np.asarray(rows, dtype=np.float64)


#: keys whose table is a schedule: a scenario's schedule replaces the base's whole
SCHEDULE_KEYS = ("units_per_year", "capacity_t_per_year")
_DATE_KEY = re.compile(r"^\d{4}-\d{1,2}")


def _deep_merge(base: dict, over: dict) -> dict:
    """``base`` with ``over``'s values in its place, table by table. A distribution's
    table takes single parameters; a schedule (a table of dates) replaces the base's
    whole value."""
    out = dict(base)
    for k, v in over.items():
        merge = isinstance(v, dict) and isinstance(out.get(k), dict) and "dist" not in v
        if merge and k in SCHEDULE_KEYS:
            merge = "dist" in out[k] and not any(_DATE_KEY.match(x) for x in v)
        out[k] = _deep_merge(out[k], v) if merge else v
    return out


#: tables whose keys name entries, as key paths from the top: a scenario may add entries
#: to some (what a user asks about: a plant, a programme, an event), not to the others
_NAMED = {
    ("events",),
    ("channels",),
    ("materials",),
    ("sources",),
    ("programmes",),
    ("regimes", "matrices"),
}
_ADDABLE = {("events",), ("sources",), ("programmes",), ("regimes", "matrices")}


def _check_override(
    base: dict, over: dict, file: str, path: str, keys: tuple[str, ...] = ()
) -> None:
    """A scenario may change values and add programmes, sources, events and transition
    matrices, but not add materials or channels, change the regimes or the run.

    ``keys`` is where ``over`` sits below the scenario, as a tuple: a scenario or entry
    name may itself hold dots, so ``path`` (for messages) cannot be split to find it.
    """
    for k, v in over.items():
        key = f"{path}.{k}"
        if not keys and k in ("run", "scenarios"):
            raise ConfigError(
                file, key, "a scenario may not change run settings or define scenarios"
            )
        if keys in _NAMED and keys not in _ADDABLE and k not in base:
            raise ConfigError(
                file,
                key,
                f"a scenario may not add {keys[-1]}; '{k}' is not in the base{_suggest(k, base)}",
            )
        if keys == ("regimes",) and k == "names":
            raise ConfigError(file, key, "a scenario may not change the regimes")
        sub = base.get(k)
        if sub is None and (*keys, k) in _NAMED:
            sub = {}  # an optional table the base leaves out (events, sources, matrices)
        if isinstance(v, dict) and "dist" not in v and isinstance(sub, dict) and "dist" not in sub:
            _check_override(sub, v, file, key, (*keys, k))


# --------------------------------------------------------------------------- entry point
def load_config(path: str | Path, text: str | None = None) -> Config:
    """Read and validate a config file.

    Parameters
    ----------
    path : str or Path
        The TOML file; used in error messages.
    text : str, optional
        The file's text, if already read.

    Raises
    ------
    ConfigError
        On the first problem found, with a one-line message.
    """
    file = str(path)
    text, data = _read_toml(path, file, text)
    top = _Table(data, "", file)
    for k in data:
        if k not in TOP_KEYS:
            raise top.error(
                k, f"unknown section{_suggest(k, TOP_KEYS)}; expected one of {', '.join(TOP_KEYS)}"
            )
    run = _run_settings(top.sub("run"), file)
    start, n_months = run.pop("start"), run.pop("n_months")
    base_model = _model(data, file, start, n_months)
    scenarios = [Scenario("base", "the config as written", base_model)]
    scenarios += _variants(data, top, file, start, n_months)
    return Config(
        path=file,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        scenarios=tuple(scenarios),
        **run,
    )


def _read_toml(path, file: str, text: str | None) -> tuple[str, dict]:
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(file, "", "no such file") from None
        except IsADirectoryError:
            raise ConfigError(file, "", "is a directory, not a config file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(file, "", f"cannot read: {e}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "", f"TOML syntax error: {e}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(
            file, "", "TOML syntax error: arrays or inline tables nested too deeply"
        ) from None


def _run_settings(run: _Table, file: str) -> dict:
    """The [run] table: the horizon and the run's defaults and statistics settings."""
    out = dict(
        start=parse_month(run.raw("start"), file, "run.start"),
        n_months=run.integer("months", 1, 600),
        title=run.string("title", "reriskmc run"),
        paths=run.integer("paths", 2, 10**10, 100_000),  # `run` needs two (a standard error)
        seed=run.integer("seed", 0, 2**63 - 1, 20250610),
    )
    q_raw = run.raw("quantiles", [0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    if (
        not isinstance(q_raw, list)
        or not q_raw
        or not all(isinstance(q, (int, float)) and not isinstance(q, bool) for q in q_raw)
    ):
        raise run.error(
            "quantiles", f"must be a non-empty list of numbers in [0, 1], got {_show(q_raw)}"
        )
    quantiles = tuple(as_float(q) for q in q_raw)
    if any(not (0.0 <= q <= 1.0) for q in quantiles):
        raise run.error("quantiles", "every quantile must lie in [0, 1]")
    if list(quantiles) != sorted(set(quantiles)):
        raise run.error("quantiles", "must be increasing, without repeats")
    out["quantiles"] = quantiles
    cvar_alpha = float(run.number("cvar_alpha", "prob", 0.95, dist=False))
    if not 0.0 < cvar_alpha < 1.0:
        raise run.error("cvar_alpha", f"must lie strictly between 0 and 1, got {cvar_alpha:g}")
    out["cvar_alpha"] = cvar_alpha
    out["behind_tolerance_units"] = float(
        run.number("behind_tolerance_units", "pos", 0.5, dist=False)
    )
    out["slip_thresholds"] = _increasing(run, "slip_thresholds", [1.0, 3.0, 6.0], "months > 0")
    run.finish()
    return out


def _increasing(t: _Table, key: str, default: list, what: str) -> tuple[float, ...]:
    """A non-empty, increasing list of positive numbers."""
    raw = t.raw(key, default)
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw)
    ):
        raise t.error(key, f"must be a non-empty list of {what}, got {_show(raw)}")
    values = tuple(as_float(x) for x in raw)
    if any(not (math.isfinite(x) and x > 0.0) for x in values):
        raise t.error(key, f"every entry must be {what}")
    if list(values) != sorted(set(values)):
        raise t.error(key, "must be increasing, without repeats")
    return values


def _added_by_mistake(base: dict, over: dict, key: str) -> str:
    """For an error in an entry a scenario adds whose name is close to one of the base's
    (a misspelling, more likely than a new entry): a hint naming the base's entry."""
    for keys in _ADDABLE:
        have, new = base, over
        for k in keys:
            have = have.get(k, {}) if isinstance(have, dict) else {}
            new = new.get(k, {}) if isinstance(new, dict) else {}
        if not (isinstance(have, dict) and isinstance(new, dict)):
            continue
        for name in new:
            head = ".".join((*keys, name))
            if name not in have and (key == head or key.startswith(head + ".")):
                near = _suggest(name, have)
                return f"; '{name}' is not in the base{near}" if near else ""
    return ""


def _variants(data: dict, top: _Table, file: str, start: date, n_months: int) -> list[Scenario]:
    """The [scenarios.*] variants: each the base with its keys overridden."""
    scenarios = []
    sc = top.sub("scenarios", default={})
    for sname in sc.data:
        sc.known.add(sname)
        if sname == "base":
            raise sc.error(sname, "'base' is the config itself; name the variant otherwise")
        s = sc.sub(sname)
        over = {k: v for k, v in s.data.items() if k != "description"}
        desc = s.string("description", sname)
        _check_override(data, over, file, s.path)
        merged = _deep_merge({k: v for k, v in data.items() if k != "scenarios"}, over)
        try:
            model = _model(merged, file, start, n_months)
        except ConfigError as e:
            message = e.message + _added_by_mistake(data, over, e.key)
            raise ConfigError(file, f"{s.path}.{e.key}" if e.key else s.path, message) from None
        scenarios.append(Scenario(sname, desc, model))
    return scenarios
