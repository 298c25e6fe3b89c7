"""Validated config -> flat arrays for the kernel: the only bridge between the two.

The layout (which block of ``theta`` / ``struct`` holds what) is declared in
``kernels/layout.py``; this module fills it from each scenario's :class:`Model`.
Distribution-valued parameters get a random slot in the path's own stream: one slot per
place in the config where a distribution is written (``Dist.key``), so every scenario
reads the same uniform for the same key (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .config import Config, Model, Param
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

    def params(self) -> L.Params:
        """The kernel's argument: every array and offset, by name."""
        return L.Params(
            dims=self.dims,
            f=self.f,
            i=self.i,
            u=self.month_slots,
            r=self.record_rows,
            floors=self.floors,
            slip_thresholds=self.slip_thresholds,
            th_fixed=self.th_fixed,
            th_code=self.th_code,
            th_args=self.th_args,
            th_table=self.th_table,
            th_slot=self.th_slot,
            th_same=self.th_same,
            tables=self.tables,
            struct=self.struct,
            cum_trans=self.cum_trans,
        )

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
        """Uniforms a path draws for itself: its parameters, the waiver, each source's
        qualification."""
        return self.dims.n_path_slots + 1 + self.dims.K

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


def _dims(m: Model) -> dict[str, int]:
    return {
        "R": len(m.regimes),
        "C": len(m.channels),
        "M": len(m.materials),
        "K": len(m.sources),
        "P": len(m.programmes),
        "E": len(m.events),
    }


def _offsets(blocks, cls, dims) -> tuple:
    off, pos = [], 0
    for _, shape in blocks:
        off.append(pos)
        pos += L.block_size(shape, dims)
    return cls(*off), pos


def _floats(m: Model) -> dict[str, list[Param]]:
    """Each float block's values for one scenario, by block name (layout.FLOAT_BLOCKS)."""
    R = len(m.regimes)
    lic = [lc for mat in m.materials for lc in mat.licences]  # (m, c) row-major
    lk, df = m.linkage, m.dfars
    return {
        "p_concession": [lk.p_concession],
        "p_waiver": [df.p_waiver if df else 0.0],
        "ev_p_extend": [e.p_extend for e in m.events],
        "ev_extend_months": [e.extend_months for e in m.events],
        "ev_p_fire": [e.p_fire for e in m.events],
        "flow": [x.flow_t for x in lic],
        "lag": [x.lag_months for x in lic],
        "term": [x.term_months for x in lic],
        "live0": [x.live_at_start_months for x in lic],
        "p_approve": [x.p_approve[r] for x in lic for r in range(R)],
        "p_approve_conc": [x.p_approve_concession[r] for x in lic for r in range(R)],
        "p_revoke": [x.p_revoke[r] for x in lic for r in range(R)],
        "leakage": [x.leakage for x in m.materials],
        "recycling": [x.recycling_t for x in m.materials],
        "buffer0": [x.buffer_t for x in m.materials],
        "buffer_cap": [x.buffer_cap_t for x in m.materials],
        "stock0": [x.stockpile_t for x in m.materials],
        "release_lag": [x.release_lag_months for x in m.materials],
        "release_rate": [x.release_t_per_month for x in m.materials],
        "src_capacity": [x.capacity_t_per_year for x in m.sources],
        "src_ramp": [x.ramp_months for x in m.sources],
        "src_slip": [x.slip_months for x in m.sources],
        "src_yield": [x.yield_frac for x in m.sources],
        "src_p_qual": [x.p_qualified for x in m.sources],
        "src_qual_months": [x.qualification_months for x in m.sources],
        "src_share": [x.defence_share for x in m.sources],
        "units_per_year": [x.units_per_year for x in m.programmes],
        "catch_up": [x.catch_up for x in m.programmes],
        "kg": [kg for x in m.programmes for kg in x.kg_per_unit],
    }


def _ints(m: Model) -> dict[str, list[int]]:
    """Each int block's values for one scenario, by block name (layout.INT_BLOCKS)."""
    lk, df = m.linkage, m.dfars
    return {
        "initial": [m.initial_regime],
        "conceded0": [int(lk.conceded_at_start)],
        "opens_fast": [int(lk.opens_fast_track)],
        "talks": [int(x) for x in lk.talks],
        "dfars_month": [df.month if df else L.NO_MONTH],
        "dfars_applies": [int(x) for x in (df.applies if df else (False,) * len(m.materials))],
        "ev_month": [e.month for e in m.events],
        "ev_max_ext": [e.max_extensions for e in m.events],
        "ev_jump": [e.jump_to for e in m.events],
        "ev_matrix": [e.matrix for e in m.events],
        "ch_fast": [int(c.fast) for c in m.channels],
        "ch_open": [int(x) for c in m.channels for x in c.open_to_military_in],
        "fast_track": [int(x.fast_track) for x in m.materials],
        "release_rule": [x.release_rule for x in m.materials],
        "release_month": [x.release_month for x in m.materials],
        "src_material": [x.material for x in m.sources],
        "src_start": [x.start_month for x in m.sources],
        "priority": [x.priority for x in m.programmes],
        "prog_start": [x.start_month for x in m.programmes],
        "prog_end": [x.end_month for x in m.programmes],
        "twin_china": [-1],  # set by _find_twins
    }


def _in_layout_order(blocks, values: dict) -> list:
    assert list(values) == [name for name, _ in blocks], "layout and pack name different blocks"
    return [v for name, _ in blocks for v in values[name]]


def _find_twins(struct, col, float_arrays, matrices, float_cols, int_cols):
    """For each scenario, the first earlier one whose stage inputs are identical (every
    float parameter the same number or the same distribution on the same random-number
    slot, every integer setting the same, and the same transition matrices if given),
    written to ``struct[:, col]``; -1 if none."""
    S = struct.shape[0]

    def key(s):
        parts = [a[s, c] for a in float_arrays for c in float_cols]
        parts += [struct[s, c] for c in int_cols]
        if matrices is not None:
            parts.append(matrices[s])
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
    return th_fixed, th_code, th_args, th_table, th_slot, tables_arr, len(slot_of)


def pack(config: Config) -> Packed:
    """Compile a validated config into the kernel's arrays (all scenarios)."""
    models = [s.model for s in config.scenarios]
    base = models[0]
    dims = _dims(base)
    f, n_f = _offsets(L.FLOAT_BLOCKS, L.FloatOffsets, dims)
    i, n_i = _offsets(L.INT_BLOCKS, L.IntOffsets, dims)
    S = len(models)

    values = [_in_layout_order(L.FLOAT_BLOCKS, _floats(m)) for m in models]
    assert all(len(v) == n_f for v in values), "float layout and config disagree"
    th_fixed, th_code, th_args, th_table, th_slot, tables, n_slots = _theta(values)

    struct = np.asarray([_in_layout_order(L.INT_BLOCKS, _ints(m)) for m in models], dtype=np.int64)
    assert struct.shape == (S, n_i), "int layout and config disagree"

    cum = np.cumsum(np.stack([m.transition for m in models]), axis=-1)
    cum[..., -1] = 1.0  # guard against rows summing to 1 - 1e-16

    float_arrays = (th_fixed, th_code, th_args, th_table, th_slot)
    ranges_f = [_block_range(f, name, n_f) for name in L.CHINA_FLOATS]
    ranges_i = [_block_range(i, name, n_i) for name in L.CHINA_INTS]
    _find_twins(struct, i.twin_china, float_arrays, cum, ranges_f, ranges_i)

    return Packed(
        dims=L.Dims(
            T=base.n_months, S=S, n_matrices=len(base.matrix_names), n_path_slots=n_slots, **dims
        ),
        f=f,
        i=i,
        th_fixed=th_fixed,
        th_code=th_code,
        th_args=th_args,
        th_table=th_table,
        th_slot=th_slot,
        tables=tables,
        struct=struct,
        cum_trans=np.ascontiguousarray(cum),
        floors=L.Floors(UNITS_FLOOR, TONNES_FLOOR, MONTHS_FLOOR, config.behind_tolerance_units),
        slip_thresholds=np.asarray(config.slip_thresholds, dtype=np.float64),
    )
