"""The packed-parameter layout, and every code that config, pack, the kernels and the
reference model share. Plain Python: importing it compiles nothing.

Every scenario's scalar parameters live in one float vector ``theta[s, :]`` and its
discrete settings in one int vector ``struct[s, :]``. Each block is declared once below,
with its shape in the model's dimensions; ``pack`` fills the blocks in this order and
hands the kernel each block's offset by name (``pk.f.flow``, ``pk.i.ev_month``).
Dimensions: R regimes, C channels, M materials, K sources, P programmes, E events.
"""

from __future__ import annotations

from collections import namedtuple

# -- distribution codes: how a drawn parameter is transformed from its uniform
# (kernels/rng.transform; distributions.Dist.kernel_code)
FIXED, UNIFORM, TRIANGULAR, LOGNORMAL, NORMAL, TABLE = range(6)
#: a tabulated quantile function (beta, pert) has TABLE_NODES values at z equally spaced
#: over [-TABLE_Z, TABLE_Z] on the probit scale (distributions.quantile_table writes
#: them, kernels/rng.transform reads them)
TABLE_NODES = 4097
TABLE_Z = 8.0

# -- licence states (docs/model.md 3.4)
IDLE, PENDING, LIVE = 0, 1, 2

# -- stockpile release rules, in the order of their codes
RELEASE_RULES = ("never", "on_shortfall", "from_date")
RELEASE_NEVER, RELEASE_ON_SHORTFALL, RELEASE_FROM_DATE = range(len(RELEASE_RULES))

# -- material kinds: what programmes need, and what magnet makers need
MATERIAL_KINDS = ("magnet", "feedstock")
MAGNET, FEEDSTOCK = range(len(MATERIAL_KINDS))

# -- DPAS priorities, served in this order
PRIORITIES = ("DX", "DO")
DX, DO = range(len(PRIORITIES))

#: a month that never comes (an absent DFARS date)
NO_MONTH = 1 << 40

# -- random streams: counter word 1 is 0 for the path's own draws, month + 1 for a month's
STREAM_PATH = 0
#: importance sampling: a tilted uniform's proposal density is constant on each of this
#: many equal bins of [0, 1] (kernels/tilt.py)
TILT_BINS = 20

# -- float blocks of theta: (name, shape in dims; a digit is a fixed size). N: schedule
# nodes of the programmes' rates, Q: of the sources' capacities (scenarios' maximum)
FLOAT_BLOCKS = (
    ("p_concession", "1"),
    ("p_waiver", "1"),
    ("p_waiver_mic", "1"),
    ("rules", "2"),
    ("ev_p_extend", "E"),
    ("ev_extend_months", "E"),
    ("ev_p_fire", "E"),
    ("flow", "MC"),
    ("lag", "MC"),
    ("term", "MC"),
    ("live0", "MC"),
    ("p_approve", "MCR"),
    ("p_approve_conc", "MCR"),
    ("p_revoke", "MCR"),
    ("leakage", "M"),
    ("recycling", "M"),
    ("buffer0", "M"),
    ("buffer_cap", "M"),
    ("stock0", "M"),
    ("release_lag", "M"),
    ("release_rate", "M"),
    ("feed", "MM"),
    ("cap_nodes", "Q"),
    ("src_ramp", "K"),
    ("src_slip", "K"),
    ("src_yield", "K"),
    ("src_p_qual", "K"),
    ("src_qual_months", "K"),
    ("src_share", "K"),
    ("rate_nodes", "N"),
    ("catch_up", "P"),
    ("kg", "PM"),
)
#: the rules' places in the "rules" block
RULE_MILITARY_END_USE, RULE_EXTRATERRITORIAL = range(2)

# -- int blocks of struct
INT_BLOCKS = (
    ("initial", "1"),
    ("conceded0", "1"),
    ("opens_fast", "1"),
    ("talks", "R"),
    ("dfars_month", "1"),
    ("dfars_applies", "M"),
    ("made_in_china", "M"),
    ("ev_month", "E"),
    ("ev_max_ext", "E"),
    ("ev_jump", "E"),
    ("ev_matrix", "E"),
    ("ev_in", "ER"),
    ("ch_fast", "C"),
    ("ch_open", "CR"),
    ("kind", "M"),
    ("fast_track", "M"),
    ("release_rule", "M"),
    ("release_month", "M"),
    ("src_material", "K"),
    ("src_start", "K"),
    ("src_chinese", "K"),
    ("src_abroad", "K"),
    ("priority", "P"),
    ("prog_start", "P"),
    ("prog_end", "P"),
    ("twin_china", "1"),
    ("kg_used", "PM"),
    ("makes", "M"),
)

#: each float block's offset in theta, by name
FloatOffsets = namedtuple("FloatOffsets", [name for name, _ in FLOAT_BLOCKS])
#: each int block's offset in struct, by name
IntOffsets = namedtuple("IntOffsets", [name for name, _ in INT_BLOCKS])
#: the model's sizes; n_matrices transition matrices, n_path_slots uniforms drawn per
#: path for distribution-valued parameters
Dims = namedtuple(
    "Dims",
    ["R", "C", "M", "K", "P", "E", "T", "S", "N", "Q", "n_effects", "n_matrices", "n_path_slots"],
)
#: where each kind of draw sits among a month's uniforms (see :func:`month_slots`)
MonthSlots = namedtuple("MonthSlots", ["regime", "events", "concession", "licences", "total"])
#: the numbers below which the statistics count a value as zero (units behind, tonnes
#: owed, months of slip: kernels/sketch.py) or a programme as on schedule
Floors = namedtuple("Floors", ["units", "tonnes", "months", "behind_units"])
#: a slip counts as more than a threshold only beyond this many months more: a slip of
#: exactly k months, computed with rounding, must not count as more than k
SLIP_TOLERANCE = 1e-9
#: the least monthly rate, in units, that slip is measured in: a smaller one counts as
#: none (its inverse would overflow)
RATE_FLOOR = 1e-9
#: a scenario's month record: the rows where each kind of value starts (per programme:
#: units behind, slip in months, share of the schedule missed; per programme and
#: material: tonnes owed), and the rows in all, a multiple of 8 so that the record folds
#: into the sums in whole tiles (kernels/reduce.add_sums)
RecordRows = namedtuple("RecordRows", ["units", "slip", "share", "owed", "total"])

#: everything the kernel reads (``pack.Packed.params()`` makes it): dims, f, i, u, r and
#: floors as above; slip_thresholds float64[K] months; th_fixed float64[S, n_theta] point
#: values (0 where drawn); th_code int64[S, n_theta] distribution codes; th_args
#: float64[S, n_theta, 3] transform arguments; th_table int64[S, n_theta] row of
#: ``tables`` (-1: none); th_slot int64[S, n_theta] the path's uniform of a drawn
#: position (-1: none); th_same int64[S, n_theta] the first scenario drawing a position
#: the same way (-1: none); tables float64[n_tables, TABLE_NODES]; struct
#: int64[S, n_struct]; cum_trans float64[S, n_matrices, R, R] cumulative transition rows;
#: rate_cols int64[S, P, T, 2] and rate_w float64[S, P, T] (cap_* likewise [S, K, T]):
#: a schedule's value in month t is theta at the first column plus rate_w times the
#: difference of the two columns' values; eff_* [S, n_effects]: each effect's event
#: (-1: none), column in theta, operation (EFFECT_SET, EFFECT_SCALE) and value;
#: tilt_slot int64[n_tilted] and tilt_cum float64[n_tilted, TILT_BINS + 1]: the path's
#: uniforms drawn by importance sampling and their proposals (a slot below 0: the score
#: along tilt_dir float64[n_path_uniforms or 0]); tilt_trans float64[n_matrices or 0, R,
#: R]: the proposal's cumulative regime transition rows (kernels/tilt.py; none in a plain
#: run)
Params = namedtuple(
    "Params",
    [
        "dims",
        "f",
        "i",
        "u",
        "r",
        "floors",
        "slip_thresholds",
        "th_fixed",
        "th_code",
        "th_args",
        "th_table",
        "th_slot",
        "th_same",
        "tables",
        "struct",
        "cum_trans",
        "rate_cols",
        "rate_w",
        "cap_cols",
        "cap_w",
        "eff_event",
        "eff_pos",
        "eff_op",
        "eff_value",
        "tilt_slot",
        "tilt_cum",
        "tilt_trans",
        "tilt_dir",
    ],
)

# -- an effect's operation on its parameter (config.Effect.op)
EFFECT_OPS = ("set", "scale")
EFFECT_SET, EFFECT_SCALE = range(len(EFFECT_OPS))
#: a scale of a probability or share: the product is capped at 1
EFFECT_SCALE_TO_ONE = len(EFFECT_OPS)

# -- the blocks the China stage reads (kernels/paths.china_month). A scenario whose blocks
# equal an earlier scenario's (same values or distributions, same random-number slots)
# has that stage's result on every path: its twin, found by pack and stored in
# twin_china (-1: none)
CHINA_FLOATS = ("p_concession", "p_waiver", "p_waiver_mic", "ev_p_extend", "ev_extend_months",
                "ev_p_fire", "flow", "lag", "term", "live0", "p_approve", "p_approve_conc",
                "p_revoke", "leakage", "recycling")  # fmt: skip
# (and the scenario's transition matrices and its events' effects)
CHINA_INTS = ("initial", "conceded0", "opens_fast", "talks", "dfars_month", "dfars_applies",
              "made_in_china", "ev_month", "ev_max_ext", "ev_jump", "ev_matrix", "ev_in",
              "ch_fast", "ch_open", "kind", "fast_track")  # fmt: skip


def month_slots(n_events: int, n_materials: int, n_channels: int) -> MonthSlots:
    """Offsets of a month's uniforms: the regime step, the events (2 each: extension,
    firing), the concession, the licences (3 per material and channel: revocation,
    approval, lag), and the total."""
    events = 1
    concession = events + 2 * n_events
    licences = concession + 1
    return MonthSlots(0, events, concession, licences, licences + 3 * n_materials * n_channels)


def record_rows(n_programmes: int, n_materials: int) -> RecordRows:
    """The rows of a scenario's month record (see :data:`RecordRows`)."""
    P = n_programmes
    used = 3 * P + P * n_materials
    return RecordRows(0, P, 2 * P, 3 * P, -(-used // 8) * 8)


def block_size(shape: str, dims: dict) -> int:
    n = 1
    for ch in shape:
        n *= int(ch) if ch.isdigit() else dims[ch]
    return n
