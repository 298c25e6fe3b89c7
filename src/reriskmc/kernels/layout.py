"""The packed-parameter layout shared by ``pack.py`` (which writes it) and the kernels
(which read it). Plain constants: importing this compiles nothing.

Every scenario's scalar parameters live in one float vector ``theta[s, :]`` and its
discrete settings in one int vector ``struct[s, :]``; each named block starts at an
offset (``off_f[F_*]``, ``off_i[I_*]``) and is laid out row-major over the dimensions
given beside it. Sizes use R regimes, C channels, M materials, K sources, P programmes,
E events.
"""

# -- tabulated quantile functions (beta, pert): TABLE_NODES values at z equally spaced
# over [-TABLE_Z, TABLE_Z] on the probit scale (distributions.quantile_table writes
# them, kernels/rng.transform reads them)
TABLE_NODES = 4097
TABLE_Z = 8.0

# -- dims[] entries
D_R, D_C, D_M, D_K, D_P, D_E, D_T, D_S, D_NMAT, D_NPS = range(10)
N_DIMS = 10

# -- float blocks: (id, name, shape in dims)
FLOAT_BLOCKS = (
    "p_concession:1",
    "p_waiver:1",
    "ev_p_extend:E",
    "ev_extend_months:E",
    "ev_p_fire:E",
    "flow:MC",
    "lag:MC",
    "term:MC",
    "live0:MC",
    "p_approve:MCR",
    "p_approve_conc:MCR",
    "p_revoke:MCR",
    "leakage:M",
    "recycling:M",
    "buffer0:M",
    "buffer_cap:M",
    "stock0:M",
    "release_lag:M",
    "release_rate:M",
    "src_capacity:K",
    "src_ramp:K",
    "src_slip:K",
    "src_yield:K",
    "src_p_qual:K",
    "src_qual_months:K",
    "src_share:K",
    "units_per_year:P",
    "catch_up:P",
    "kg:PM",
)
(
    F_P_CONCESSION,
    F_P_WAIVER,
    F_EV_P_EXTEND,
    F_EV_EXTEND_MONTHS,
    F_EV_P_FIRE,
    F_FLOW,
    F_LAG,
    F_TERM,
    F_LIVE0,
    F_P_APPROVE,
    F_P_APPROVE_CONC,
    F_P_REVOKE,
    F_LEAKAGE,
    F_RECYCLING,
    F_BUFFER0,
    F_BUFFER_CAP,
    F_STOCK0,
    F_RELEASE_LAG,
    F_RELEASE_RATE,
    F_SRC_CAPACITY,
    F_SRC_RAMP,
    F_SRC_SLIP,
    F_SRC_YIELD,
    F_SRC_P_QUAL,
    F_SRC_QUAL_MONTHS,
    F_SRC_SHARE,
    F_UNITS_PER_YEAR,
    F_CATCH_UP,
    F_KG,
) = range(len(FLOAT_BLOCKS))

# -- int blocks
INT_BLOCKS = (
    "initial:1",
    "conceded0:1",
    "opens_fast:1",
    "talks:R",
    "dfars_month:1",
    "dfars_applies:M",
    "ev_month:E",
    "ev_max_ext:E",
    "ev_jump:E",
    "ev_matrix:E",
    "ch_fast:C",
    "ch_open:CR",
    "fast_track:M",
    "release_rule:M",
    "release_month:M",
    "src_material:K",
    "src_start:K",
    "priority:P",
    "prog_start:P",
    "prog_end:P",
    "twin_china:1",
    "twin_sources:1",
)
(
    I_INITIAL,
    I_CONCEDED0,
    I_OPENS_FAST,
    I_TALKS,
    I_DFARS_MONTH,
    I_DFARS_APPLIES,
    I_EV_MONTH,
    I_EV_MAX_EXT,
    I_EV_JUMP,
    I_EV_MATRIX,
    I_CH_FAST,
    I_CH_OPEN,
    I_FAST_TRACK,
    I_RELEASE_RULE,
    I_RELEASE_MONTH,
    I_SRC_MATERIAL,
    I_SRC_START,
    I_PRIORITY,
    I_PROG_START,
    I_PROG_END,
    I_TWIN_CHINA,
    I_TWIN_SOURCES,
) = range(len(INT_BLOCKS))

# -- the blocks each supply stage reads (kernels/paths.china_stage, other_supply). A
# scenario whose blocks equal an earlier scenario's (same values or distributions, same
# random-number slots) has that stage's result on every path: its twin, found by pack
# and stored in twin_china / twin_sources (-1: none)
CHINA_FLOATS = (
    F_P_CONCESSION,
    F_P_WAIVER,
    F_EV_P_EXTEND,
    F_EV_EXTEND_MONTHS,
    F_EV_P_FIRE,
    F_FLOW,
    F_LAG,
    F_TERM,
    F_LIVE0,
    F_P_APPROVE,
    F_P_APPROVE_CONC,
    F_P_REVOKE,
    F_LEAKAGE,
    F_RECYCLING,
)
CHINA_INTS = (
    I_INITIAL,
    I_CONCEDED0,
    I_OPENS_FAST,
    I_TALKS,
    I_DFARS_MONTH,
    I_DFARS_APPLIES,
    I_EV_MONTH,
    I_EV_MAX_EXT,
    I_EV_JUMP,
    I_EV_MATRIX,
    I_CH_FAST,
    I_CH_OPEN,
    I_FAST_TRACK,
)  # and the scenario's transition matrices
SOURCE_FLOATS = (
    F_SRC_CAPACITY,
    F_SRC_RAMP,
    F_SRC_SLIP,
    F_SRC_YIELD,
    F_SRC_P_QUAL,
    F_SRC_QUAL_MONTHS,
    F_SRC_SHARE,
)
SOURCE_INTS = (I_SRC_MATERIAL, I_SRC_START)

# -- release rules (config.RELEASE_RULES order)
RELEASE_NEVER, RELEASE_ON_SHORTFALL, RELEASE_FROM_DATE = 0, 1, 2
N_PRIORITIES = 2  # DX, DO

# -- random streams: counter word 1 is 0 for the path's own draws, month + 1 for a month's
STREAM_PATH = 0


def month_slots(n_events: int, n_materials: int, n_channels: int) -> tuple[int, int, int, int]:
    """Offsets of a month's uniforms: regime step, events (2 each), concession,
    licences (3 per material and channel: revoke, approve, lag), and the total."""
    # slot 0: the regime step
    u_events = 1
    u_concession = 1 + 2 * n_events
    u_licences = u_concession + 1
    return u_events, u_concession, u_licences, u_licences + 3 * n_materials * n_channels


def block_size(shape: str, dims: dict) -> int:
    n = 1
    for ch in shape:
        if ch != "1":
            n *= dims[ch]
    return n
