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
import sys
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import numpy as np

from .distributions import Dist, DistributionError, as_float, parse_dist
from .kernels.layout import PRIORITIES, RELEASE_FROM_DATE, RELEASE_RULES

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


@dataclass(frozen=True)
class Linkage:
    """The AI-chip linkage: a US concession unlocks licences."""

    p_concession: Param  # per month of talks
    talks: tuple[bool, ...]  # per regime: do talks go on (can a concession happen)?
    opens_fast_track: bool  # does a concession open the fast channels to military-grade flows?
    conceded_at_start: bool


@dataclass(frozen=True)
class Dfars:
    """DFARS 252.225-7052: Chinese-origin magnets barred from US defence systems."""

    month: int
    applies: tuple[bool, ...]  # per material
    p_waiver: Param


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
    """A non-Chinese supply source."""

    name: str
    material: int
    capacity_t_per_year: Param
    start_month: int  # planned start (may lie before the horizon)
    ramp_months: Param
    slip_months: Param
    yield_frac: Param
    p_qualified: Param  # probability it is qualified for military use
    qualification_months: Param  # military qualification time after first output
    defence_share: Param  # share of its output available to these programmes


@dataclass(frozen=True)
class Programme:
    name: str
    long_name: str
    units_per_year: Param
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
        d = _parse_month(self.raw(name), self.file, self.key(name))
        return (d.year - start.year) * 12 + (d.month - start.month)

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


def _parse_month(v, file: str, key: str) -> date:
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
            )
        )
        e.finish()
    return tuple(events)


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


def _material(mname: str, m: _Table, horizon: _Horizon, defaults, regimes) -> Material:
    licences = _licences(m, defaults, regimes)
    st = m.sub("stockpile", default={})
    rule = RELEASE_RULES.index(st.string("release", "never", RELEASE_RULES))
    release_month = horizon.month(st, "release_date") if rule == RELEASE_FROM_DATE else 0
    if rule != RELEASE_FROM_DATE and st.has("release_date"):
        raise st.error("release_date", 'only used with release = "from_date"')
    buffer_t = m.number("buffer_t", "nonneg", 0.0)
    material = Material(
        name=mname,
        long_name=m.string("long_name", mname),
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


def _dfars(top: _Table, horizon: _Horizon, material_names) -> Dfars | None:
    if not top.has("dfars"):
        return None
    df = top.sub("dfars")
    dfars = Dfars(
        month=horizon.month(df, "date"),
        applies=df.names("materials", material_names, "material"),
        p_waiver=df.number("p_waiver", "prob", 0.0),
    )
    df.finish()
    return dfars


def _sources(top: _Table, horizon: _Horizon, material_names) -> tuple[Source, ...]:
    sources = []
    for sname, s in _entries(top, "sources"):
        sources.append(
            Source(
                name=sname,
                material=s.name_of("material", material_names, "material"),
                capacity_t_per_year=s.number("capacity_t_per_year", "nonneg"),
                start_month=s.month("start", horizon.start),
                ramp_months=s.number("ramp_months", "nonneg", 0.0),
                slip_months=s.number("slip_months", "real", 0.0),
                yield_frac=s.number("yield", "share", 1.0),
                p_qualified=s.number("p_qualified", "prob", 1.0),
                qualification_months=s.number("qualification_months", "nonneg", 0.0),
                defence_share=s.number("defence_share", "share", 1.0),
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


def _programme(pname: str, p: _Table, horizon: _Horizon, material_names) -> Programme:
    start, end = _schedule_window(p, horizon)
    kg = p.sub("kg_per_unit")
    for k in kg.data:
        if k not in material_names:
            raise kg.error(
                k,
                _unknown("material", k, material_names),
            )
    kg_per_unit = tuple(kg.number(mn, "nonneg", 0.0) for mn in material_names)
    kg.finish()
    programme = Programme(
        name=pname,
        long_name=p.string("long_name", pname),
        units_per_year=p.number("units_per_year", "nonneg"),
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
    # materials (their names first: sources, programmes and dfars refer to them)
    raw_materials = top.data.get("materials")
    material_names = tuple(raw_materials) if isinstance(raw_materials, dict) else ()
    materials = tuple(
        _material(name, m, horizon, defaults, regimes)
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
        _programme(name, p, horizon, material_names)
        for name, p in _entries(top, "programmes", True, "define at least one programme")
    )
    top.finish()
    return Model(
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
    )


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


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "dist" not in v:
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


#: tables whose keys name entries (a scenario may not add one), as key paths from the top
_NAMED = {
    ("events",),
    ("channels",),
    ("materials",),
    ("sources",),
    ("programmes",),
    ("regimes", "matrices"),
}


def _check_override(
    base: dict, over: dict, file: str, path: str, keys: tuple[str, ...] = ()
) -> None:
    """A scenario may change values, never add named entries (the layout stays fixed).

    ``keys`` is where ``over`` sits below the scenario, as a tuple: a scenario or entry
    name may itself hold dots, so ``path`` (for messages) cannot be split to find it.
    """
    for k, v in over.items():
        key = f"{path}.{k}"
        if not keys and k in ("run", "scenarios"):
            raise ConfigError(
                file, key, "a scenario may not change run settings or define scenarios"
            )
        if keys in _NAMED and k not in base:
            raise ConfigError(
                file,
                key,
                f"a scenario may only change entries of the base; "
                f"'{k}' is not in the base{_suggest(k, base)}",
            )
        if keys == ("regimes",) and k == "names":
            raise ConfigError(file, key, "a scenario may not change the regimes")
        sub = base.get(k)
        if sub is None and (*keys, k) in _NAMED:
            # an optional table the base leaves out (events, sources, matrices): nothing
            # may be added to it
            sub = {}
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
        start=_parse_month(run.raw("start"), file, "run.start"),
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
            raise ConfigError(file, f"{s.path}.{e.key}" if e.key else s.path, e.message) from None
        scenarios.append(Scenario(sname, desc, model))
    return scenarios
