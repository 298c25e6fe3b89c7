"""Validated config -> flat arrays for the kernel: the only bridge between the two.

The layout (which block of ``theta`` / ``struct`` holds what) is declared in
``kernels/layout.py``; this module fills it from each scenario's :class:`Model`.
Distribution-valued parameters get a random slot in the path's own stream: one slot per
place in the config where a distribution is written (``Dist.key``), so every scenario
reads the same uniform for the same key (common random numbers).

Scenarios may add programmes, sources, events and transition matrices: the packed
arrays hold the union of every scenario's entries (the base's first), and an entry a
scenario lacks is packed as one that does nothing there (a programme never scheduled,
a source that delivers nothing, an event that never comes due).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .config import (
    Config,
    Event,
    Model,
    Param,
    Programme,
    Schedule,
    Source,
    effect_domain,
    made_from_feedstock,
)
from .distributions import Dist, quantile_table
from .kernels import layout as L
from .kernels.sketch import MONTHS_FLOOR, TONNES_FLOOR, UNITS_FLOOR


@dataclass(frozen=True)
class Packed:
    """Everything the kernel reads, as arrays (see ``kernels/layout.Params``).

    Attributes
    ----------
    dims : layout.Dims
    f, i : layout.FloatOffsets, layout.IntOffsets; each block's offset, by name
    th_fixed : float64[S, K]; fixed values (or the value 0 where drawn)
    th_code : int64[S, K]; distribution code (FIXED where fixed)
    th_args : float64[S, K, 3]; transform arguments
    th_table : int64[S, K]; row of ``tables`` for tabulated distributions, else -1
    th_slot : int64[S, K]; the path-stream slot of a drawn position, else -1
    tables : float64[n_tables, TABLE_NODES]
    struct : int64[S, I]
    cum_trans : float64[S, n_matrices, R, R]; cumulative transition rows (last entry 1)
    floors : layout.Floors
    slip_thresholds : float64[K]; months (run.slip_thresholds)
    rate_cols, rate_w, cap_cols, cap_w : the schedules' interpolation (layout.Params)
    eff_event, eff_pos, eff_op, eff_value : the events' effects (layout.Params)
    keys : tuple of str; the parameter each column of theta holds, as a key path
    slot_keys : tuple of str; the config key each path-stream slot draws (where the
        distribution is written)
    programmes, sources, events, matrix_names : the union's names, in packed order
    present : bool[S, P]; whether each scenario has each programme
    """

    dims: L.Dims
    f: L.FloatOffsets
    i: L.IntOffsets
    th_fixed: np.ndarray
    th_code: np.ndarray
    th_args: np.ndarray
    th_table: np.ndarray
    th_slot: np.ndarray
    tables: np.ndarray
    struct: np.ndarray
    cum_trans: np.ndarray
    floors: L.Floors
    slip_thresholds: np.ndarray
    rate_cols: np.ndarray
    rate_w: np.ndarray
    cap_cols: np.ndarray
    cap_w: np.ndarray
    eff_event: np.ndarray
    eff_pos: np.ndarray
    eff_op: np.ndarray
    eff_value: np.ndarray
    keys: tuple[str, ...] = ()
    slot_keys: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    matrix_names: tuple[str, ...] = ()
    present: np.ndarray | None = None

    def params(self, tilt: tuple[np.ndarray, ...] | None = None) -> L.Params:
        """The kernel's argument: every array and offset, by name.

        tilt : (slots int64[n], cum float64[n, TILT_BINS + 1], trans float64[n_matrices or
        0, R, R], direction float64[n_path_uniforms or 0]), optional: the path's uniforms
        drawn by importance sampling with their proposals' cumulative bin masses, the
        proposal's cumulative regime transition rows, and the direction of its score
        (``importance.Proposal.kernel_args``); none by default (plain Monte Carlo).
        """
        if tilt is None:
            R = self.dims.R
            tilt = (np.zeros(0, np.int64), np.zeros((0, L.TILT_BINS + 1)), np.zeros((0, R, R)),
                    np.zeros(0))  # fmt: skip
        return L.Params(
            dims=self.dims, f=self.f, i=self.i, u=self.month_slots, r=self.record_rows,
            floors=self.floors, slip_thresholds=self.slip_thresholds, th_fixed=self.th_fixed,
            th_code=self.th_code, th_args=self.th_args, th_table=self.th_table,
            th_slot=self.th_slot, th_same=self.th_same, tables=self.tables,
            struct=self.struct, cum_trans=self.cum_trans, rate_cols=self.rate_cols,
            rate_w=self.rate_w, cap_cols=self.cap_cols, cap_w=self.cap_w,
            eff_event=self.eff_event, eff_pos=self.eff_pos, eff_op=self.eff_op,
            eff_value=self.eff_value, tilt_slot=tilt[0], tilt_cum=tilt[1], tilt_trans=tilt[2],
            tilt_dir=tilt[3],
        )  # fmt: skip

    @cached_property
    def th_same(self) -> np.ndarray:
        """int64[S, K]: for each drawn position of each scenario, the first scenario that
        draws it the same way (distribution, arguments, table and uniform: the same value
        on every path, which the kernel then copies rather than transforms again), or -1.

        Derived from the fields, so a Packed made with ``dataclasses.replace`` cannot
        hold a stale one. Scenarios override a few keys of the base, so most of their
        drawn parameters are the base's.
        """
        code, args, table, slot = self.th_code, self.th_args, self.th_table, self.th_slot
        same = np.full(code.shape, -1, dtype=np.int64)
        for s in range(1, code.shape[0]):
            for q in range(s - 1, -1, -1):  # the first such scenario wins: check it last
                match = (
                    (code[s] != L.FIXED)
                    & (code[q] == code[s])
                    & (table[q] == table[s])
                    & (slot[q] == slot[s])
                    & (args[q] == args[s]).all(axis=-1)
                )
                same[s, match] = q
        return same

    @property
    def month_slots(self) -> L.MonthSlots:
        d = self.dims
        return L.month_slots(d.E, d.M, d.C)

    @property
    def record_rows(self) -> L.RecordRows:
        return L.record_rows(self.dims.P, self.dims.M)

    @property
    def n_path_uniforms(self) -> int:
        """Uniforms a path draws for itself: its parameters, two waivers, each source's
        qualification."""
        return self.dims.n_path_slots + 2 + self.dims.K

    def float_range(self, name: str) -> slice:
        """The columns of ``theta`` that float block ``name`` occupies."""
        return _block_range(self.f, name, self.th_fixed.shape[1])

    def int_range(self, name: str) -> slice:
        """The columns of ``struct`` that int block ``name`` occupies."""
        return _block_range(self.i, name, self.struct.shape[1])


def _block_range(offsets, name: str, width: int) -> slice:
    k = offsets._fields.index(name)
    end = offsets[k + 1] if k + 1 < len(offsets) else width
    return slice(int(offsets[k]), int(end))


# --------------------------------------------------------------------------- the union
_ABSENT_PROGRAMME = Programme("", "", Schedule(((0, 0.0),)), 1 << 30, -1, 1, 0.0, ())
_ABSENT_SOURCE = Source("", 0, Schedule(((0, 0.0),)), 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_ABSENT_EVENT = Event("", L.NO_MONTH, 0.0, 1.0, 0, 0.0, -1, -1)


@dataclass(frozen=True)
class _Scenario:
    """One scenario's model with its entries aligned to the union (absent: a stand-in)."""

    model: Model
    programmes: tuple[Programme, ...]
    sources: tuple[Source, ...]
    events: tuple[Event, ...]
    matrices: np.ndarray  # float64[n_matrices, R, R] in the union's order


def _aligned(config: Config):
    models = [s.model for s in config.scenarios]
    names = {section: tuple(x.name for x in config.entries(section))
             for section in ("programmes", "sources", "events")}  # fmt: skip
    matrix_names: dict[str, None] = {}
    for m in models:
        for name in m.matrix_names:
            matrix_names.setdefault(name, None)
    matrix_names = tuple(matrix_names)
    out = []
    for m in models:
        R = len(m.regimes)
        mats = np.stack([np.eye(R)] * len(matrix_names))  # a matrix it lacks: never used
        for j, name in enumerate(m.matrix_names):
            mats[matrix_names.index(name)] = m.transition[j]
        remap = {j: matrix_names.index(name) for j, name in enumerate(m.matrix_names)}
        events = {e.name: e for e in m.events}
        own = [events.get(n) for n in names["events"]]
        own = [_ABSENT_EVENT if e is None else _remap_matrix(e, remap) for e in own]
        progs = {p.name: p for p in m.programmes}
        srcs = {k.name: k for k in m.sources}
        out.append(_Scenario(
            model=m,
            programmes=tuple(progs.get(n, _absent_programme(m)) for n in names["programmes"]),
            sources=tuple(srcs.get(n, _ABSENT_SOURCE) for n in names["sources"]),
            events=tuple(own),
            matrices=mats,
        ))  # fmt: skip
    return out, names, matrix_names


def _remap_matrix(e: Event, remap: dict[int, int]) -> Event:
    from dataclasses import replace

    return replace(e, matrix=remap[e.matrix]) if e.matrix >= 0 else e


def _absent_programme(m: Model) -> Programme:
    from dataclasses import replace

    return replace(_ABSENT_PROGRAMME, kg_per_unit=(0.0,) * len(m.materials))


# --------------------------------------------------------------------------- blocks
def _dims(sc: _Scenario, n_rate: int, n_cap: int) -> dict[str, int]:
    m = sc.model
    return {"R": len(m.regimes), "C": len(m.channels), "M": len(m.materials),
            "K": len(sc.sources), "P": len(sc.programmes), "E": len(sc.events),
            "N": n_rate, "Q": n_cap}  # fmt: skip


def _offsets(blocks, cls, dims) -> tuple:
    off, pos = [], 0
    for _, shape in blocks:
        off.append(pos)
        pos += L.block_size(shape, dims)
    return cls(*off), pos


def _nodes(schedules: list[Schedule], prefix: list[str], width: int) -> list[tuple[str, Param]]:
    """Every schedule's node values, one after another, padded to ``width``."""
    out = [(f"{k}.{n}", v) for k, sch in zip(prefix, schedules) for n, v in enumerate(sch.values)]
    return out + [("", 0.0)] * (width - len(out))


def _floats(sc: _Scenario, dims: dict) -> dict[str, list[tuple[str, Param]]]:
    """Each float block's (key path, value) pairs for one scenario (layout.FLOAT_BLOCKS)."""
    m = sc.model
    mats, chans, regimes = m.materials, m.channels, m.regimes
    lic = [(f"materials.{mt.name}.licence.{c.name}", lc)
           for mt in mats for c, lc in zip(chans, mt.licences)]  # fmt: skip
    lk, df, ev = m.linkage, m.dfars, sc.events
    evk = [f"events.{e.name}" for e in ev]
    src = [(f"sources.{n}", x) for n, x in zip(_names(sc.sources), sc.sources)]
    prg = [(f"programmes.{n}", x) for n, x in zip(_names(sc.programmes), sc.programmes)]

    def per(items, key, get):
        return [(f"{k}.{key}", get(x)) for k, x in items]

    def by_regime(key):
        return [(f"{k}.{key}.{r}", getattr(x, key if key != "p_approve_conc" else
                                           "p_approve_concession")[j])
                for k, x in lic for j, r in enumerate(regimes)]  # fmt: skip

    return {
        "p_concession": [("linkage.p_concession", lk.p_concession)],
        "p_waiver": [("dfars.p_waiver", df.p_waiver if df else 0.0)],
        "p_waiver_mic": [("dfars.p_waiver_made_in_china",
                          df.p_waiver_made_in_china if df else 0.0)],
        "rules": [("rules.military_end_use", float(m.rules.military_end_use)),
                  ("rules.extraterritorial", float(m.rules.extraterritorial))],
        "ev_p_extend": [(f"{k}.p_extend", e.p_extend) for k, e in zip(evk, ev)],
        "ev_extend_months": [(f"{k}.extend_months", e.extend_months) for k, e in zip(evk, ev)],
        "ev_p_fire": [(f"{k}.p_fire", e.p_fire) for k, e in zip(evk, ev)],
        "flow": per(lic, "flow_t", lambda x: x.flow_t),
        "lag": per(lic, "lag_months", lambda x: x.lag_months),
        "term": per(lic, "term_months", lambda x: x.term_months),
        "live0": per(lic, "live_at_start_months", lambda x: x.live_at_start_months),
        "p_approve": by_regime("p_approve"),
        "p_approve_conc": [(k.replace("p_approve_conc", "p_approve_concession"), v)
                           for k, v in by_regime("p_approve_conc")],
        "p_revoke": by_regime("p_revoke"),
        **{blk: [(f"materials.{x.name}.{key}", getattr(x, attr)) for x in mats]
           for blk, key, attr in _MATERIAL_FLOATS},
        "feed": [(f"materials.{x.name}.feedstock.{y.name}", x.feedstock[j])
                 for x in mats for j, y in enumerate(mats)],
        "cap_nodes": _nodes([x.capacity_t_per_year for _, x in src],
                            [f"{k}.capacity_t_per_year" for k, _ in src], dims["Q"]),
        **{blk: per(src, key, lambda x, a=attr: getattr(x, a))
           for blk, key, attr in _SOURCE_FLOATS},
        "rate_nodes": _nodes([x.units_per_year for _, x in prg],
                             [f"{k}.units_per_year" for k, _ in prg], dims["N"]),
        "catch_up": per(prg, "catch_up", lambda x: x.catch_up),
        "kg": [(f"{k}.kg_per_unit.{mt.name}", x.kg_per_unit[j])
               for k, x in prg for j, mt in enumerate(mats)],
    }  # fmt: skip


def _names(entries) -> list[str]:
    return [x.name for x in entries]


_MATERIAL_FLOATS = (
    ("leakage", "leakage", "leakage"),
    ("recycling", "recycling_t", "recycling_t"),
    ("buffer0", "buffer_t", "buffer_t"),
    ("buffer_cap", "buffer_cap_t", "buffer_cap_t"),
    ("stock0", "stockpile.stockpile_t", "stockpile_t"),
    ("release_lag", "stockpile.release_lag_months", "release_lag_months"),
    ("release_rate", "stockpile.release_t_per_month", "release_t_per_month"),
)
_SOURCE_FLOATS = (
    ("src_ramp", "ramp_months", "ramp_months"),
    ("src_slip", "slip_months", "slip_months"),
    ("src_yield", "yield", "yield_frac"),
    ("src_p_qual", "p_qualified", "p_qualified"),
    ("src_qual_months", "qualification_months", "qualification_months"),
    ("src_share", "defence_share", "defence_share"),
)


def _ints(sc: _Scenario) -> dict[str, list[int]]:
    """Each int block's values for one scenario, by block name (layout.INT_BLOCKS)."""
    m = sc.model
    lk, df, R = m.linkage, m.dfars, len(m.regimes)
    no = (False,) * len(m.materials)
    return {
        "initial": [m.initial_regime],
        "conceded0": [int(lk.conceded_at_start)],
        "opens_fast": [int(lk.opens_fast_track)],
        "talks": [int(x) for x in lk.talks],
        "dfars_month": [df.month if df else L.NO_MONTH],
        "dfars_applies": [int(x) for x in (df.applies if df else no)],
        "made_in_china": [int(x) for x in (df.made_in_china if df and df.made_in_china else no)],
        "ev_month": [e.month for e in sc.events],
        "ev_max_ext": [e.max_extensions for e in sc.events],
        "ev_jump": [e.jump_to for e in sc.events],
        "ev_matrix": [e.matrix for e in sc.events],
        "ev_in": [int(x) for e in sc.events for x in (e.in_regimes or (True,) * R)],
        "ch_fast": [int(c.fast) for c in m.channels],
        "ch_open": [int(x) for c in m.channels for x in c.open_to_military_in],
        "kind": [x.kind for x in m.materials],
        "fast_track": [int(x.fast_track) for x in m.materials],
        "release_rule": [x.release_rule for x in m.materials],
        "release_month": [x.release_month for x in m.materials],
        "src_material": [x.material for x in sc.sources],
        "src_start": [x.start_month for x in sc.sources],
        "src_chinese": [int(x.chinese) for x in sc.sources],
        "src_abroad": [int(x.abroad) for x in sc.sources],
        "priority": [x.priority for x in sc.programmes],
        "prog_start": [x.start_month for x in sc.programmes],
        "prog_end": [x.end_month for x in sc.programmes],
        "twin_china": [-1],  # set by _find_twins
        "kg_used": _kg_used(sc),
        "makes": [int(x) for x in made_from_feedstock(sc.model)],
    }


def _may_be_nonzero(value, target: str, events) -> bool:
    """Whether a parameter may be non-zero on some path and month: drawn, non-zero, or
    set by an event."""
    if not isinstance(value, float) or value != 0.0:
        return True
    return any(eff.target == target and eff.op == "set" for e in events for eff in e.effects)


def _kg_used(sc: _Scenario) -> list[int]:
    """Per programme and material: does the programme use the material (the kernel
    skips the pairs that do not)?"""
    names = [x.name for x in sc.model.materials]
    return [
        int(_may_be_nonzero(kg, f"programmes.{p.name}.kg_per_unit.{m}", sc.events))
        for p in sc.programmes
        for m, kg in zip(names, p.kg_per_unit)
    ]


def _in_layout_order(blocks, values: dict) -> list:
    assert list(values) == [name for name, _ in blocks], "layout and pack name different blocks"
    return [v for name, _ in blocks for v in values[name]]


def _find_twins(struct, col, float_arrays, extra, float_cols, int_cols):
    """For each scenario, the first earlier one whose stage inputs are identical (every
    float parameter the same number or the same distribution on the same random-number
    slot, every integer setting the same, and the same ``extra`` arrays), written to
    ``struct[:, col]``; -1 if none."""
    S = struct.shape[0]

    def key(s):
        parts = [a[s, c] for a in float_arrays for c in float_cols]
        parts += [struct[s, c] for c in int_cols]
        parts += [a[s] for a in extra]
        return parts

    keys = [key(s) for s in range(S)]
    for s in range(S):
        struct[s, col] = next(
            (s2 for s2 in range(s) if all(np.array_equal(a, b) for a, b in zip(keys[s], keys[s2]))),
            -1,
        )


def _theta(values: list[list[Param]]):
    """Per scenario and position: the point value, or how the kernel draws it."""
    S, n_f = len(values), len(values[0])
    th_fixed = np.zeros((S, n_f))
    th_code = np.full((S, n_f), L.FIXED, dtype=np.int64)
    th_args = np.zeros((S, n_f, 3))
    th_table = np.full((S, n_f), -1, dtype=np.int64)
    th_slot = np.full((S, n_f), -1, dtype=np.int64)
    tables: list[np.ndarray] = []
    table_of: dict[Dist, int] = {}
    slot_of: dict[str, int] = {}  # one uniform per place a distribution is written
    for k in range(n_f):
        for s in range(S):
            v = values[s][k]
            if isinstance(v, Dist):
                th_slot[s, k] = slot_of.setdefault(v.key, len(slot_of))
                th_code[s, k] = v.kernel_code()
                th_args[s, k] = v.kernel_args()
                if th_code[s, k] == L.TABLE:
                    if v not in table_of:
                        table_of[v] = len(tables)
                        tables.append(quantile_table(v))
                    th_table[s, k] = table_of[v]
            else:
                th_fixed[s, k] = float(v)
    tables_arr = np.stack(tables) if tables else np.zeros((1, L.TABLE_NODES))
    return th_fixed, th_code, th_args, th_table, th_slot, tables_arr, tuple(slot_of)


# --------------------------------------------------------------------------- schedules
def _interpolation(schedules_by_scenario, first_col: int, T: int):
    """For each scenario, entry and month: the two node columns of theta around the
    month and the weight of the second (linear between nodes, flat outside)."""
    S, n = len(schedules_by_scenario), len(schedules_by_scenario[0])
    cols = np.zeros((S, max(n, 1), T, 2), dtype=np.int64)
    w = np.zeros((S, max(n, 1), T))
    for s, schedules in enumerate(schedules_by_scenario):
        col = first_col
        for j, sch in enumerate(schedules):
            months = np.asarray(sch.months, dtype=np.float64)
            for t in range(T):
                i1 = int(np.searchsorted(months, t, side="right"))  # first node after t
                i0 = max(i1 - 1, 0)
                i1 = min(i1, len(months) - 1)
                cols[s, j, t] = (col + i0, col + i1)
                if i1 > i0:
                    w[s, j, t] = (t - months[i0]) / (months[i1] - months[i0])
            col += len(months)
    return cols, w


# --------------------------------------------------------------------------- effects
def _target_columns(target: str, keys: tuple[str, ...], sc: _Scenario) -> list[int]:
    """The columns of theta an effect's key path names (``channels.C.x`` names the
    licence of every material in channel C)."""
    if target.startswith("channels."):
        channel = max(
            (c.name for c in sc.model.channels if target.startswith(f"channels.{c.name}.")), key=len
        )
        rest = target[len(f"channels.{channel}.") :]
        heads = [f"materials.{m.name}.licence.{channel}.{rest}" for m in sc.model.materials]
    else:
        heads = [target]
    return [
        j for j, key in enumerate(keys) if any(key == h or key.startswith(h + ".") for h in heads)
    ]


def _effects(scenarios: list[_Scenario], keys_by_scenario: list[tuple[str, ...]]):
    """Every scenario's effects as flat arrays: (event, column, operation, value), one
    row per column an effect changes, in event order."""
    rows = []
    for sc, keys in zip(scenarios, keys_by_scenario):
        own = []
        for e, ev in enumerate(sc.events):
            for eff in ev.effects:
                op = L.EFFECT_OPS.index(eff.op)
                bounded = effect_domain(eff.target, sc.model) in ("prob", "share")
                op = L.EFFECT_SCALE_TO_ONE if op == L.EFFECT_SCALE and bounded else op
                own += [(e, j, op, eff.value) for j in _target_columns(eff.target, keys, sc)]
        rows.append(own)
    n = max(1, max(len(r) for r in rows))
    out = (np.full((len(rows), n), -1, np.int64), np.zeros((len(rows), n), np.int64),
           np.zeros((len(rows), n), np.int64), np.zeros((len(rows), n)))  # fmt: skip
    for s, own in enumerate(rows):
        for j, (e, col, op, v) in enumerate(own):
            out[0][s, j], out[1][s, j], out[2][s, j], out[3][s, j] = e, col, op, v
    return out, max(len(r) for r in rows)


# --------------------------------------------------------------------------- entry point
def pack(config: Config) -> Packed:
    """Compile a validated config into the kernel's arrays (all scenarios)."""
    models = [s.model for s in config.scenarios]
    scenarios, names, matrix_names = _aligned(config)
    base = models[0]
    T = base.n_months
    n_rate = max(
        1, max(sum(len(p.units_per_year.nodes) for p in sc.programmes) for sc in scenarios)
    )
    n_cap = max(
        1, max(sum(len(k.capacity_t_per_year.nodes) for k in sc.sources) for sc in scenarios)
    )
    dims = _dims(scenarios[0], n_rate, n_cap)
    f, n_f = _offsets(L.FLOAT_BLOCKS, L.FloatOffsets, dims)
    i, n_i = _offsets(L.INT_BLOCKS, L.IntOffsets, dims)
    S = len(models)

    pairs = [_in_layout_order(L.FLOAT_BLOCKS, _floats(sc, dims)) for sc in scenarios]
    assert all(len(v) == n_f for v in pairs), "float layout and config disagree"
    keys = [tuple(k for k, _ in v) for v in pairs]
    th_fixed, th_code, th_args, th_table, th_slot, tables, slot_keys = _theta(
        [[v for _, v in row] for row in pairs]
    )
    struct = np.asarray([_in_layout_order(L.INT_BLOCKS, _ints(sc)) for sc in scenarios], np.int64)
    assert struct.shape == (S, n_i), "int layout and config disagree"

    cum = np.cumsum(np.stack([sc.matrices for sc in scenarios]), axis=-1)
    cum[..., -1] = 1.0  # guard against rows summing to 1 - 1e-16
    (eff_event, eff_pos, eff_op, eff_value), n_effects = _effects(scenarios, keys)
    rate_cols, rate_w = _interpolation(
        [[p.units_per_year for p in sc.programmes] for sc in scenarios], f.rate_nodes, T
    )
    cap_cols, cap_w = _interpolation(
        [[k.capacity_t_per_year for k in sc.sources] for sc in scenarios], f.cap_nodes, T
    )

    ranges_f = [_block_range(f, name, n_f) for name in L.CHINA_FLOATS]
    ranges_i = [_block_range(i, name, n_i) for name in L.CHINA_INTS]
    _find_twins(struct, i.twin_china, (th_fixed, th_code, th_args, th_table, th_slot),
                (cum, eff_event, eff_pos, eff_op, eff_value), ranges_f, ranges_i)  # fmt: skip

    return Packed(
        dims=L.Dims(
            T=T,
            S=S,
            n_effects=max(n_effects, 1),
            n_matrices=len(matrix_names),
            n_path_slots=len(slot_keys),
            **dims,
        ),
        f=f,
        i=i,
        th_fixed=th_fixed,
        th_code=th_code,
        th_args=th_args,
        th_table=th_table,
        th_slot=th_slot,
        slot_keys=slot_keys,
        tables=tables,
        struct=struct,
        cum_trans=np.ascontiguousarray(cum),
        floors=L.Floors(UNITS_FLOOR, TONNES_FLOOR, MONTHS_FLOOR, config.behind_tolerance_units),
        slip_thresholds=np.asarray(config.slip_thresholds, dtype=np.float64),
        rate_cols=rate_cols,
        rate_w=rate_w,
        cap_cols=cap_cols,
        cap_w=cap_w,
        eff_event=eff_event,
        eff_pos=eff_pos,
        eff_op=eff_op,
        eff_value=eff_value,
        keys=keys[0],
        programmes=names["programmes"],
        sources=names["sources"],
        events=names["events"],
        matrix_names=matrix_names,
        present=config.present("programmes"),
    )
