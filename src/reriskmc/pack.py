"""Validated config -> flat arrays for the kernel: the only bridge between the two.

The layout (which block of ``theta`` / ``struct`` holds what) is defined in
``kernels/layout.py``; this module fills it from each scenario's :class:`Model`.
Distribution-valued parameters get a random slot in the path's own stream: one slot per
parameter position that is a distribution in *any* scenario, so every scenario reads the
same uniform for the same key (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .config import Config, Model, Param
from .distributions import FIXED, TABLE, Dist, quantile_table
from .kernels import layout as L

#: quantile sketches (kernels/reduce.py): values at or below these floors count as 0
UNITS_FLOOR = 1e-6  # units behind schedule at or below this count as zero
TONNES_FLOOR = 1e-9  # tonnes owed at or below this count as zero


@dataclass(frozen=True)
class Packed:
    """Everything the kernel reads, as arrays; see ``kernels/layout.py``.

    Attributes
    ----------
    dims : int64[N_DIMS]
    off_f, off_i : int64[n blocks]; offsets of the float and int blocks
    th_fixed : float64[S, K]; fixed values (or the value 0 where drawn)
    th_code : int64[S, K]; distribution code (FIXED where fixed)
    th_args : float64[S, K, 3]; transform arguments
    th_table : int64[S, K]; row of ``tables`` for tabulated distributions, else -1
    th_slot : int64[S, K]; the path-stream slot of a drawn position, else -1
    tables : float64[n_tables, TABLE_NODES]
    struct : int64[S, I]
    cum_trans : float64[S, n_matrices, R, R]; cumulative transition rows (last entry 1)
    sketch : float64[3]; (units floor, tonnes floor, units behind that count as behind)
    """

    dims: np.ndarray
    off_f: np.ndarray
    off_i: np.ndarray
    th_fixed: np.ndarray
    th_code: np.ndarray
    th_args: np.ndarray
    th_table: np.ndarray
    th_slot: np.ndarray
    tables: np.ndarray
    struct: np.ndarray
    cum_trans: np.ndarray
    sketch: np.ndarray

    def as_tuple(self) -> tuple:
        """The arrays in the order the kernel unpacks them."""
        return (
            self.dims,
            self.off_f,
            self.off_i,
            self.th_fixed,
            self.th_code,
            self.th_args,
            self.th_table,
            self.th_slot,
            self.tables,
            self.struct,
            self.cum_trans,
            self.sketch,
            self.th_same,
        )

    @cached_property
    def th_same(self) -> np.ndarray:
        """int64[S, K]: for each drawn position of each scenario, the first scenario that
        draws it the same way (distribution, arguments, table and uniform: the same value
        on every path, which the kernel then copies rather than transforms again), or -1.

        Derived from the fields, so a Packed made with ``dataclasses.replace`` cannot
        hold a stale one. Scenarios override a few keys of the base, so most of their
        drawn parameters are the base's (314 of base.toml's 379).
        """
        code, args, table, slot = self.th_code, self.th_args, self.th_table, self.th_slot
        same = np.full(code.shape, -1, dtype=np.int64)
        for s in range(1, code.shape[0]):
            for q in range(s - 1, -1, -1):  # the first such scenario wins: check it last
                match = (
                    (code[s] != FIXED)
                    & (code[q] == code[s])
                    & (table[q] == table[s])
                    & (slot[q] == slot[s])
                    & (args[q] == args[s]).all(axis=-1)
                )
                same[s, match] = q
        return same

    @property
    def n_month_uniforms(self) -> int:
        d = self.dims
        return L.month_slots(int(d[L.D_E]), int(d[L.D_M]), int(d[L.D_C]))[3]

    @property
    def n_path_uniforms(self) -> int:
        d = self.dims
        return int(d[L.D_NPS]) + 1 + int(d[L.D_K])


def _dims(m: Model) -> dict[str, int]:
    return {
        "R": len(m.regimes),
        "C": len(m.channels),
        "M": len(m.materials),
        "K": len(m.sources),
        "P": len(m.programmes),
        "E": len(m.events),
    }


def _offsets(blocks, dims) -> tuple[np.ndarray, int]:
    off, pos = [], 0
    for spec in blocks:
        off.append(pos)
        pos += L.block_size(spec.split(":")[1], dims)
    return np.asarray(off, dtype=np.int64), pos


def _floats(m: Model) -> list[list[Param]]:
    """Each float block's values for one scenario, in layout order."""
    R = len(m.regimes)
    lic = [lc for mat in m.materials for lc in mat.licences]  # (m, c) row-major
    lk, df = m.linkage, m.dfars
    return [
        [lk.p_concession],
        [df.p_waiver if df else 0.0],
        [e.p_extend for e in m.events],
        [e.extend_months for e in m.events],
        [e.p_fire for e in m.events],
        [x.flow_t for x in lic],
        [x.lag_months for x in lic],
        [x.term_months for x in lic],
        [x.live_at_start_months for x in lic],
        [x.p_approve[r] for x in lic for r in range(R)],
        [x.p_approve_concession[r] for x in lic for r in range(R)],
        [x.p_revoke[r] for x in lic for r in range(R)],
        [x.leakage for x in m.materials],
        [x.recycling_t for x in m.materials],
        [x.buffer_t for x in m.materials],
        [x.buffer_cap_t for x in m.materials],
        [x.stockpile_t for x in m.materials],
        [x.release_lag_months for x in m.materials],
        [x.release_t_per_month for x in m.materials],
        [x.capacity_t_per_year for x in m.sources],
        [x.ramp_months for x in m.sources],
        [x.slip_months for x in m.sources],
        [x.yield_frac for x in m.sources],
        [x.p_qualified for x in m.sources],
        [x.qualification_months for x in m.sources],
        [x.defence_share for x in m.sources],
        [x.units_per_year for x in m.programmes],
        [x.catch_up for x in m.programmes],
        [kg for x in m.programmes for kg in x.kg_per_unit],
    ]


NO_MONTH = 1 << 40  # a month that never comes


def _ints(m: Model) -> list[list[int]]:
    lk, df = m.linkage, m.dfars
    return [
        [m.initial_regime],
        [int(lk.conceded_at_start)],
        [int(lk.opens_fast_track)],
        [int(x) for x in lk.talks],
        [df.month if df else NO_MONTH],
        [int(x) for x in (df.applies if df else (False,) * len(m.materials))],
        [e.month for e in m.events],
        [e.max_extensions for e in m.events],
        [e.jump_to for e in m.events],
        [e.matrix for e in m.events],
        [int(c.fast) for c in m.channels],
        [int(x) for c in m.channels for x in c.open_to_military_in],
        [int(x.fast_track) for x in m.materials],
        [x.release_rule for x in m.materials],
        [x.release_month for x in m.materials],
        [x.material for x in m.sources],
        [x.start_month for x in m.sources],
        [x.priority for x in m.programmes],
        [x.start_month for x in m.programmes],
        [x.end_month for x in m.programmes],
        [-1],  # twin_china and twin_sources: set by _find_twins
        [-1],
    ]


def _ranges(blocks, off, n) -> list[slice]:
    """The column ranges of the given blocks (block ids index ``off``)."""
    ends = list(off[1:]) + [n]
    return [slice(int(off[b]), int(ends[b])) for b in blocks]


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


def pack(config: Config) -> Packed:
    """Compile a validated config into the kernel's arrays (all scenarios)."""
    models = [s.model for s in config.scenarios]
    base = models[0]
    dims = _dims(base)
    off_f, n_f = _offsets(L.FLOAT_BLOCKS, dims)
    off_i, n_i = _offsets(L.INT_BLOCKS, dims)
    S = len(models)

    values = [[v for block in _floats(m) for v in block] for m in models]
    for v in values:
        assert len(v) == n_f, "float layout and config disagree"
    th_fixed = np.zeros((S, n_f))
    th_code = np.full((S, n_f), FIXED, dtype=np.int64)
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
                if th_code[s, k] == TABLE:
                    if v not in table_of:
                        table_of[v] = len(tables)
                        tables.append(quantile_table(v))
                    th_table[s, k] = table_of[v]
            else:
                th_fixed[s, k] = float(v)

    struct = np.asarray([[x for block in _ints(m) for x in block] for m in models], dtype=np.int64)
    assert struct.shape == (S, n_i), "int layout and config disagree"

    cum = np.cumsum(np.stack([m.transition for m in models]), axis=-1)
    cum[..., -1] = 1.0  # guard against rows summing to 1 - 1e-16

    float_arrays = (th_fixed, th_code, th_args, th_table, th_slot)
    _find_twins(
        struct,
        off_i[L.I_TWIN_CHINA],
        float_arrays,
        cum,
        _ranges(L.CHINA_FLOATS, off_f, n_f),
        _ranges(L.CHINA_INTS, off_i, n_i),
    )
    _find_twins(
        struct,
        off_i[L.I_TWIN_SOURCES],
        float_arrays,
        None,
        _ranges(L.SOURCE_FLOATS, off_f, n_f),
        _ranges(L.SOURCE_INTS, off_i, n_i),
    )

    d = np.zeros(L.N_DIMS, dtype=np.int64)
    d[L.D_R], d[L.D_C], d[L.D_M] = dims["R"], dims["C"], dims["M"]
    d[L.D_K], d[L.D_P], d[L.D_E] = dims["K"], dims["P"], dims["E"]
    d[L.D_T], d[L.D_S], d[L.D_NMAT] = base.n_months, S, len(base.matrix_names)
    d[L.D_NPS] = len(slot_of)

    from .distributions import TABLE_NODES

    return Packed(
        dims=d,
        off_f=off_f,
        off_i=off_i,
        th_fixed=th_fixed,
        th_code=th_code,
        th_args=th_args,
        th_table=th_table,
        th_slot=th_slot,
        tables=np.stack(tables) if tables else np.zeros((1, TABLE_NODES)),
        struct=struct,
        cum_trans=np.ascontiguousarray(cum),
        sketch=np.array([UNITS_FLOOR, TONNES_FLOOR, config.behind_tolerance_units]),
    )
