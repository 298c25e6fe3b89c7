"""Importance sampling proposals for a tail event, fitted by the cross-entropy method.

A path's own uniforms (stream 0: its uncertain parameters, waivers and source
qualification, ``kernels/rng.py``) are independent and uniform on (0, 1). A
:class:`Proposal` either replaces some of them by draws from piecewise-constant
densities, or draws one combination of them all, the score s = d . z along a unit
direction d of their normal scores z = ndtri(u), from a piecewise-constant density of
ndtr(s) (the rest of z unchanged); and it may move the base's regime chain by other
transition rows (``kernels/tilt.py``). Paths where the event happens then come up more
often; each path carries its likelihood ratio (the product of 1 / (B m_b) over its
tilted uniforms or its score, B bins of mass m_b, and of p / q over its regime steps),
and the weighted mean is unbiased for any proposal whose masses are above zero where
the model's are.

:func:`fit` chooses the proposal from a pilot of plain paths, by the cross-entropy
method (Rubinstein and Kroese, *The Cross-Entropy Method*, 2004). The "elite" is the
pilot's paths where the event happened, or, when fewer than ELITE_SHARE of them did,
the paths that came nearest, up to that share (the method's adaptive level). It is
broader than the event on purpose: when the monthly draws decide part of the event,
the proposal with the least variance is the model's density times the square root of
the event's chance given the path's draws, wider than the event's own law. A tilted
uniform's proposal is its elite histogram; the direction d is that of a logistic
regression of the elite on the normal scores (ridge penalty RIDGE, components below
DIRECTION_MIN then dropped), and its score's proposal the elite histogram of ndtr(s);
the chain's is the elite's transitions; each smoothed and mixed with the model's own
density (a defensive mixture, Hesterberg 1995, which bounds each factor of the weight
by 1 / share). What to tilt is chosen greedily by the estimated second moment of the
weighted estimator, E[1_A w] (the plain estimator's is p): the pilot's plain paths
estimate it as mean(1_A w), on the half of the pilot that did not fit the candidate
(two-fold cross-fitting), so that a candidate that fits only noise is not chosen for
looking good on itself; A is the event, or the elite when the pilot has fewer than
MIN_EVENTS events. Single draws and the direction are chosen apart (their maps do not
commute), and the direction is kept if its second moment is lower by MIN_GAIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from .kernels.layout import TILT_BINS
from .kernels.tilt import U_MAX, U_MIN

#: the most uniforms a proposal tilts: each tilted factor multiplies the weights'
#: spread, and more than a few rarely pay
MAX_TILTED = 8
#: a candidate joins the proposal only if it lowers the estimated second moment by at
#: least this share (and the direction is kept over single draws if it is this much lower)
MIN_GAIN = 0.03
#: the defensive mixture's shares of the model's own density tried (the best is kept)
MODEL_SHARES = (0.1, 0.3, 0.5, 0.7)
#: the share of the pilot's paths the elite holds at least: when fewer had the event,
#: the nearest paths join it (the cross-entropy method's adaptive level)
ELITE_SHARE = 0.1
#: pilot paths with the event, at least, for the choice to be judged on the event
#: itself rather than on the elite
MIN_EVENTS = 100
#: a proposal slot that stands for the score along the proposal's direction
DIRECTION = -1
#: the fit's candidate that tilts the regime chain
_CHAIN = -2
#: the ridge penalty of the direction's logistic regression (on the normal scores)
RIDGE = 1.0
#: a direction's components below this (of a unit vector) are set to 0: the ridge
#: leaves small coefficients on draws that do not matter, and moving those draws costs
#: the kernel time and gains nothing
DIRECTION_MIN = 0.05


@dataclass(frozen=True)
class Proposal:
    """What a run draws by importance sampling.

    slots : int64[n], which of a path's own uniforms are tilted, or the one entry
    DIRECTION: the score along ``direction``; masses : float64[n, TILT_BINS], each one's
    proposal (rows sum to 1, entries above 0); names : what each draws; trans :
    float64[n_matrices, R, R] or empty, the proposal's regime transition probabilities
    in the base (zero exactly where the model's are; ``kernels/tilt.py``); direction :
    float64[n_uniforms] or empty, the unit direction of the score (with slots
    [DIRECTION] only).
    """

    slots: np.ndarray
    masses: np.ndarray
    names: tuple[str, ...] = ()
    trans: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    direction: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self):
        slots = np.asarray(self.slots, dtype=np.int64).reshape(-1)
        masses = np.asarray(self.masses, dtype=np.float64).reshape(len(slots), TILT_BINS)
        direction = np.asarray(self.direction, dtype=np.float64).reshape(-1)
        if len(np.unique(slots)) != len(slots) or (slots < DIRECTION).any():
            raise ValueError("a proposal's slots must be distinct and non-negative")
        if (DIRECTION in slots) != (direction.size > 0) or (direction.size and len(slots) > 1):
            raise ValueError("a proposal tilts either single draws or one direction")
        if direction.size and not (np.isfinite(direction).all() and np.any(direction)):
            raise ValueError("a proposal's direction must be finite and not zero")
        if not (masses > 0).all() or not np.allclose(masses.sum(axis=1), 1.0, atol=1e-12):
            raise ValueError("a proposal's bin masses must be above 0 and sum to 1")
        trans = np.asarray(self.trans, dtype=np.float64)
        if trans.size and not np.allclose(trans.sum(axis=-1), 1.0, atol=1e-12):
            raise ValueError("a proposal's transition rows must sum to 1")
        if direction.size:
            direction = direction / np.linalg.norm(direction)
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "masses", masses / masses.sum(axis=1, keepdims=True))
        object.__setattr__(self, "trans", trans)
        object.__setattr__(self, "direction", direction)

    @classmethod
    def none(cls) -> Proposal:
        """Plain Monte Carlo: nothing tilted, every weight 1."""
        return cls(np.zeros(0, np.int64), np.zeros((0, TILT_BINS)))

    @property
    def tilts_regimes(self) -> bool:
        return self.trans.size > 0

    @property
    def cum(self) -> np.ndarray:
        """float64[n, TILT_BINS + 1]: cumulative masses, 0 first and exactly 1 last."""
        cum = np.zeros((len(self.slots), TILT_BINS + 1))
        cum[:, 1:] = np.cumsum(self.masses, axis=1)
        cum[:, -1] = 1.0
        return cum

    def kernel_args(self, n_regimes: int) -> tuple[np.ndarray, ...]:
        """``Packed.params(tilt=...)``'s argument: (slots, cumulative masses, cumulative
        transition rows, direction)."""
        if not self.tilts_regimes:
            return self.slots, self.cum, np.zeros((0, n_regimes, n_regimes)), self.direction
        cum = np.cumsum(self.trans, axis=-1)
        cum[..., -1] = 1.0
        return self.slots, self.cum, cum, self.direction

    def ratio(self, u: np.ndarray, trans_counts: np.ndarray | None = None, p_trans=None):
        """The likelihood ratio (model over proposal) that plain paths would carry under
        this proposal: ``u`` float64[n, >= max slot + 1 or the direction's length],
        their own uniforms; ``trans_counts`` int[n, n_matrices, R, R], the base's regime
        transitions, and ``p_trans`` the model's transition probabilities (needed when
        regimes are tilted).
        """
        w = np.ones(u.shape[0])
        for j, slot in enumerate(self.slots):
            v = score_uniform(u, self.direction) if slot == DIRECTION else u[:, slot]
            w /= TILT_BINS * self.masses[j, _bin(v)]
        if self.tilts_regimes:
            w *= np.exp(np.einsum("nmrk,mrk->n", trans_counts, _log_ratio(p_trans, self.trans)))
        return w


def normal_scores(u: np.ndarray) -> np.ndarray:
    """z = ndtri(u), with u held inside the generator's range."""
    return special.ndtri(np.clip(u, U_MIN, U_MAX))


def score_uniform(u: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """ndtr(d . ndtri(u)) per row of ``u`` [n, >= len(d)]: uniform when u is (d a unit
    vector), the draw a direction's proposal tilts."""
    return special.ndtr(normal_scores(u[:, : len(direction)]) @ direction)


def _bin(u: np.ndarray) -> np.ndarray:
    return np.minimum((u * TILT_BINS).astype(np.int64), TILT_BINS - 1)


def _log_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """log(p / q) where p > 0, else 0 (a transition the model never makes)."""
    ok = p > 0
    return np.where(ok, np.log(np.where(ok, p, 1.0) / np.where(ok, q, 1.0)), 0.0)


def elite(event: np.ndarray, severity: np.ndarray) -> np.ndarray:
    """The pilot paths to fit to: those where the event happened, or, when fewer than
    ELITE_SHARE of the pilot did, with the most severe (largest ``severity``; ties
    kept) up to that share, but never those at the least severity (they came nowhere
    near)."""
    event = np.asarray(event, dtype=bool)
    k = int(np.ceil(ELITE_SHARE * len(event)))
    if event.sum() >= k:
        return event
    severity = np.asarray(severity, dtype=np.float64)
    level = np.sort(severity)[-k]
    least = severity.min()
    return event | (severity >= level if level > least else severity > least)


def _histogram_masses(u: np.ndarray, share_uniform: float) -> np.ndarray:
    """A uniform's proposal from its elite values ``u`` [n] (or each column's, [n, k]:
    masses [k, TILT_BINS]): the bin counts with one added to each (Laplace), mixed with
    the uniform density."""
    b = _bin(u).reshape(len(u), -1)
    k = b.shape[1]
    counts = np.bincount((b + TILT_BINS * np.arange(k)).ravel(), minlength=k * TILT_BINS)
    counts = counts.reshape(k, TILT_BINS).astype(np.float64)
    smoothed = (counts + 1.0) / (len(u) + TILT_BINS)
    masses = (1.0 - share_uniform) * smoothed + share_uniform / TILT_BINS
    return masses if np.ndim(u) == 2 else masses[0]


def _transition_proposal(counts: np.ndarray, p: np.ndarray, share_model: float) -> np.ndarray:
    """The regime chain's proposal from the elite's transition counts [n_matrices, R, R]:
    each row's observed transitions (with the model's row added as one pseudo-count, so
    a row never seen keeps the model's), mixed with the model's row."""
    seen = counts + p
    q = seen / seen.sum(axis=-1, keepdims=True)
    q = np.where(p > 0, q, 0.0)
    q /= q.sum(axis=-1, keepdims=True)
    return share_model * p + (1.0 - share_model) * q


def fit(
    u: np.ndarray,
    event: np.ndarray,
    severity: np.ndarray,
    names: tuple[str, ...] = (),
    seed: int = 0,
    trans_counts: np.ndarray | None = None,
    p_trans: np.ndarray | None = None,
) -> tuple[Proposal, dict]:
    """The proposal for an event, from a pilot of plain paths.

    u : float64[n, n_uniforms], each pilot path's own uniforms; event : bool[n], whether
    the event happened on it; severity : float[n], how near it came (to rank paths for
    the elite); names : what each uniform draws; seed : for the random halves of the
    cross-fitting; trans_counts : int[n, n_matrices, R, R], each path's regime
    transitions in the base, with p_trans float[n_matrices, R, R] the model's transition
    probabilities (without them the regimes are not tilted).

    Returns the proposal (nothing tilted when nothing helps) and a summary of the fit:
    pilot paths, elite paths, events, what was tilted and the estimated second moments
    of the plain and the weighted estimator (of the event, or of the elite when the
    pilot has fewer than MIN_EVENTS events).
    """
    u = np.asarray(u, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    fit_to = elite(event, severity)
    judged = event if event.sum() >= MIN_EVENTS else fit_to
    n, n_uniforms = u.shape
    z = normal_scores(u)
    half = np.random.default_rng(seed).permutation(n) < n // 2
    folds = ((half, ~half), (~half, half))
    kinds = list(range(n_uniforms)) + [DIRECTION] * (n_uniforms > 0)
    if trans_counts is not None and p_trans is not None:
        kinds.append(_CHAIN)
    candidates = [(j, share) for share in MODEL_SHARES for j in kinds]
    plain = float(np.mean(judged)) if n else 0.0
    moment, chosen = plain, []
    if fit_to.sum() >= 2 and n >= 4:
        factor = _factors(u, z, fit_to, folds, candidates, trans_counts, p_trans)
        draws = _greedy(judged, factor, candidates, lambda j: j != DIRECTION)
        score = _greedy(judged, factor, candidates, lambda j: j in (DIRECTION, _CHAIN))
        moment, chosen = score if score[0] < (1.0 - MIN_GAIN) * draws[0] else draws
    slots, masses, slot_titles, titles = [], [], [], []
    direction, trans = np.zeros(0), np.zeros((0, 0, 0))
    for j, share in (candidates[c] for c in chosen):
        if j == _CHAIN:
            trans = _transition_proposal(trans_counts[fit_to].sum(axis=0), p_trans, share)
            titles.append("regimes")
            continue
        if j == DIRECTION:
            direction = _direction(z, fit_to)
            values = special.ndtr(z @ direction)[fit_to]
            title = _direction_title(direction, names)
        else:
            values, title = u[fit_to, j], names[j] if names else str(j)
        slots.append(j)
        masses.append(_histogram_masses(values, share))
        slot_titles.append(title)
        titles.append(title)
    proposal = Proposal(
        np.asarray(slots, dtype=np.int64),
        np.reshape(masses, (len(slots), TILT_BINS)),
        tuple(slot_titles) if names else (),
        trans,
        direction,
    )
    summary = dict(
        pilot_paths=int(n),
        elite_paths=int(fit_to.sum()),
        pilot_events=int(np.sum(event)),
        tilted=titles,
        second_moment_plain=plain,
        second_moment_weighted=float(moment),
    )
    return proposal, summary


def _direction(z: np.ndarray, label: np.ndarray) -> np.ndarray | None:
    """The unit direction of a ridge-penalised logistic regression of ``label`` on the
    normal scores ``z`` [n, k] (intercept not penalised), without its components below
    DIRECTION_MIN, or None when it has none."""
    y = np.asarray(label, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max():
        return None

    def loss(b):
        s = b[0] + z @ b[1:]
        r = special.expit(s) - y
        value = np.sum(np.logaddexp(0.0, s) - y * s) + 0.5 * RIDGE * b[1:] @ b[1:]
        return value, np.concatenate(([r.sum()], z.T @ r + RIDGE * b[1:]))

    b = optimize.minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B").x[1:]
    norm = float(np.linalg.norm(b))
    if not (np.isfinite(norm) and norm > 0):
        return None
    b = np.where(np.abs(b) >= DIRECTION_MIN * norm, b / norm, 0.0)
    return b / np.linalg.norm(b)


def _direction_title(direction: np.ndarray, names: tuple[str, ...], lead: int = 3) -> str:
    """The direction as a user reads it: its largest components, signed."""
    top = np.argsort(-np.abs(direction))[:lead]
    parts = [f"{names[j] if names else j} {direction[j]:+.2f}" for j in top]
    return f"score along {', '.join(parts)}, ..."


def _factors(u, z, fit_to, folds, candidates, trans_counts, p_trans) -> np.ndarray:
    """Each pilot path's factor of the weight, 1 / g, under each candidate's proposal
    fitted to the other half's elite: float64[n, candidates] (1 where a candidate cannot
    be fitted: too few elite paths in the half). The factors of single draws and of the
    direction are :meth:`Proposal.ratio`'s, 1 / (TILT_BINS m_b) for the bin b of the
    uniform or the score, computed here for all single draws at once."""
    factor = np.ones((u.shape[0], len(candidates)))
    bins = _bin(u)
    for fit_rows, eval_rows in folds:
        rows = fit_rows & fit_to
        counts = trans_counts[eval_rows] if trans_counts is not None else None
        direction = None
        if any(j == DIRECTION for j, _ in candidates):
            direction = _direction(z[fit_rows], fit_to[fit_rows])
        if direction is not None:
            v = special.ndtr(z @ direction)  # the score's uniform
        singles = {}
        for c, (j, share) in enumerate(candidates):
            if j >= 0:
                if share not in singles:
                    masses = _histogram_masses(u[rows], share)  # [uniforms, bins]
                    singles[share] = 1.0 / (TILT_BINS * np.take_along_axis(
                        masses.T, bins[eval_rows], axis=0))  # fmt: skip
                factor[eval_rows, c] = singles[share][:, j]
                continue
            if j == _CHAIN:
                q = _transition_proposal(trans_counts[rows].sum(axis=0), p_trans, share)
                one = Proposal(np.zeros(0, np.int64), np.zeros((0, TILT_BINS)), (), q)
                factor[eval_rows, c] = one.ratio(u[eval_rows], counts, p_trans)
            elif direction is not None:
                masses = _histogram_masses(special.ndtr(z[rows] @ direction), share)
                factor[eval_rows, c] = 1.0 / (TILT_BINS * masses[_bin(v[eval_rows])])
    return factor


def _greedy(judged, factor, candidates, allowed) -> tuple[float, list[int]]:
    """Forward selection of what to tilt among the candidates whose kind ``allowed``
    admits, by the cross-fitted estimate of E[1_A w] (see the module's docstring); each
    uniform (and the regime chain, and the direction) at most once."""
    a = judged.astype(np.float64)
    n = len(a)
    weight = np.ones(n)
    chosen: list[int] = []
    taken = {j for j, _ in candidates if not allowed(j)}
    moment = float(np.mean(a))
    while len(chosen) < MAX_TILTED:
        trial = (a * weight) @ factor / n  # E[1_A w] with each candidate added
        for c, (j, _) in enumerate(candidates):
            if j in taken:
                trial[c] = np.inf
        c = int(np.argmin(trial))
        if not trial[c] < (1.0 - MIN_GAIN) * moment:
            break
        chosen.append(c)
        taken.add(candidates[c][0])
        weight *= factor[:, c]
        moment = float(trial[c])
    return moment, chosen
