"""Importance sampling proposals for a tail event, fitted by the cross-entropy method.

A path's own uniforms (stream 0: its uncertain parameters, waivers and source
qualification, ``kernels/rng.py``) are independent and uniform on (0, 1). A
:class:`Proposal` replaces some of them by draws from piecewise-constant densities, and
may move the base's regime chain by other transition rows (``kernels/tilt.py``), so
that paths where the event happens come up more often; each path carries its
likelihood ratio (the product of 1 / (B m_b) over its tilted uniforms, B bins of mass
m_b, and of p / q over its regime steps), and the weighted mean is unbiased for any
proposal whose masses are above zero where the model's are.

:func:`fit` chooses the proposal from a pilot of plain paths, by the cross-entropy
method (Rubinstein and Kroese, *The Cross-Entropy Method*, 2004): a tilted uniform's
proposal is the distribution of that uniform among the pilot's paths where the event
happened (its "elite"), as a histogram, and the chain's is the elite's transitions,
each smoothed and mixed with the model's own density (a defensive mixture, Hesterberg
1995, which bounds each factor of the weight by 1 / share). What to tilt is chosen
greedily by the estimated second moment of the weighted estimator, E[1_A w] (the plain
estimator's is p): the pilot's plain paths estimate it as mean(1_A w), and on the half
of the pilot that did not fit the candidate (two-fold cross-fitting), so that a uniform
whose elite histogram is only noise is not chosen for looking good on itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernels.layout import TILT_BINS

#: the most uniforms a proposal tilts: each tilted factor multiplies the weights'
#: spread, and more than a few rarely pay
MAX_TILTED = 8
#: a uniform joins the proposal only if it lowers the estimated second moment by at
#: least this share
MIN_GAIN = 0.03
#: the defensive mixture's shares of the model's own density tried (the best is kept)
MODEL_SHARES = (0.1, 0.3, 0.5, 0.7)
#: pilot paths where the event happened, at least, to fit to; rarer events are fitted
#: to the pilot's worst paths instead (the cross-entropy method's adaptive level)
MIN_ELITE = 100


@dataclass(frozen=True)
class Proposal:
    """What a run draws by importance sampling.

    slots : int64[n], which of a path's own uniforms are tilted; masses : float64[n,
    TILT_BINS], each one's proposal (rows sum to 1, entries above 0); names : what each
    draws; trans : float64[n_matrices, R, R] or empty, the proposal's regime transition
    probabilities in the base (zero exactly where the model's are; ``kernels/tilt.py``).
    """

    slots: np.ndarray
    masses: np.ndarray
    names: tuple[str, ...] = ()
    trans: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))

    def __post_init__(self):
        slots = np.asarray(self.slots, dtype=np.int64).reshape(-1)
        masses = np.asarray(self.masses, dtype=np.float64).reshape(len(slots), TILT_BINS)
        if len(np.unique(slots)) != len(slots) or (slots < 0).any():
            raise ValueError("a proposal's slots must be distinct and non-negative")
        if not (masses > 0).all() or not np.allclose(masses.sum(axis=1), 1.0, atol=1e-12):
            raise ValueError("a proposal's bin masses must be above 0 and sum to 1")
        trans = np.asarray(self.trans, dtype=np.float64)
        if trans.size and not np.allclose(trans.sum(axis=-1), 1.0, atol=1e-12):
            raise ValueError("a proposal's transition rows must sum to 1")
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "masses", masses / masses.sum(axis=1, keepdims=True))
        object.__setattr__(self, "trans", trans)

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

    def kernel_args(self, n_regimes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``Packed.params(tilt=...)``'s argument."""
        if not self.tilts_regimes:
            return self.slots, self.cum, np.zeros((0, n_regimes, n_regimes))
        cum = np.cumsum(self.trans, axis=-1)
        cum[..., -1] = 1.0
        return self.slots, self.cum, cum

    def ratio(self, u: np.ndarray, trans_counts: np.ndarray | None = None, p_trans=None):
        """The likelihood ratio (model over proposal) that plain paths would carry under
        this proposal: ``u`` float64[n, >= max slot + 1], their own uniforms;
        ``trans_counts`` int[n, n_matrices, R, R], the base's regime transitions, and
        ``p_trans`` the model's transition probabilities (needed when regimes are tilted).
        """
        w = np.ones(u.shape[0])
        for j, slot in enumerate(self.slots):
            w /= TILT_BINS * self.masses[j, _bin(u[:, slot])]
        if self.tilts_regimes:
            w *= np.exp(np.einsum("nmrk,mrk->n", trans_counts, _log_ratio(p_trans, self.trans)))
        return w


def _bin(u: np.ndarray) -> np.ndarray:
    return np.minimum((u * TILT_BINS).astype(np.int64), TILT_BINS - 1)


def _log_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """log(p / q) where p > 0, else 0 (a transition the model never makes)."""
    ok = p > 0
    return np.where(ok, np.log(np.where(ok, p, 1.0) / np.where(ok, q, 1.0)), 0.0)


def elite(event: np.ndarray, severity: np.ndarray) -> np.ndarray:
    """The pilot paths to fit to: those where the event happened, or, when fewer than
    MIN_ELITE did, the MIN_ELITE most severe (largest ``severity``; ties kept)."""
    event = np.asarray(event, dtype=bool)
    if event.sum() >= MIN_ELITE or len(event) <= MIN_ELITE:
        return event
    level = np.sort(severity)[-MIN_ELITE]
    return event | (severity >= level)


def _histogram_masses(u: np.ndarray, share_uniform: float) -> np.ndarray:
    """A uniform's proposal from its elite values ``u``: the bin counts with one added
    to each (Laplace), mixed with the uniform density."""
    counts = np.bincount(_bin(u), minlength=TILT_BINS).astype(np.float64)
    smoothed = (counts + 1.0) / (counts.sum() + TILT_BINS)
    return (1.0 - share_uniform) * smoothed + share_uniform / TILT_BINS


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
    the event happened on it; severity : float[n], how near it came (to rank paths when
    the event is too rare to fit to); names : what each uniform draws; seed : for the
    random halves of the cross-fitting; trans_counts : int[n, n_matrices, R, R], each
    path's regime transitions in the base, with p_trans float[n_matrices, R, R] the
    model's transition probabilities (without them the regimes are not tilted).

    Returns the proposal (nothing tilted when nothing helps) and a summary of the fit:
    pilot paths, elite paths, events, what was tilted and the estimated second moments
    of the plain and the weighted estimator.
    """
    u = np.asarray(u, dtype=np.float64)
    fit_to = elite(event, severity)
    n, n_uniforms = u.shape
    half = np.random.default_rng(seed).permutation(n) < n // 2
    folds = ((half, ~half), (~half, half))
    chains = trans_counts is not None and p_trans is not None
    candidates = [(j, share) for share in MODEL_SHARES for j in range(n_uniforms)]
    if chains:
        candidates += [(-1, share) for share in MODEL_SHARES]
    moment, chosen = float(np.mean(fit_to)) if n else 0.0, []
    if fit_to.sum() >= 2 and n >= 4:
        factor = _factors(u, fit_to, folds, candidates, trans_counts, p_trans)
        moment, chosen = _greedy(fit_to, factor, candidates)
    picked = [candidates[c] for c in chosen]
    slots = [j for j, _ in picked if j >= 0]
    masses = np.array([_histogram_masses(u[fit_to, j], share) for j, share in picked if j >= 0])
    trans = np.zeros((0, 0, 0))
    for j, share in picked:
        if j < 0:
            trans = _transition_proposal(trans_counts[fit_to].sum(axis=0), p_trans, share)
    proposal = Proposal(
        np.asarray(slots, dtype=np.int64),
        masses.reshape(len(slots), TILT_BINS),
        tuple(names[j] for j in slots) if names else (),
        trans,
    )
    summary = dict(
        pilot_paths=int(n),
        elite_paths=int(fit_to.sum()),
        pilot_events=int(np.sum(event)),
        tilted=[(names[j] if names else str(j)) if j >= 0 else "regimes" for j, _ in picked],
        second_moment_plain=float(np.mean(fit_to)) if n else 0.0,
        second_moment_weighted=float(moment),
    )
    return proposal, summary


def _factors(u, fit_to, folds, candidates, trans_counts, p_trans) -> np.ndarray:
    """Each pilot path's factor of the weight, 1 / g, under each candidate's proposal
    fitted to the other half's elite: float64[n, candidates]."""
    factor = np.empty((u.shape[0], len(candidates)))
    for fit_rows, eval_rows in folds:
        rows = fit_rows & fit_to
        counts = trans_counts[eval_rows] if trans_counts is not None else None
        for c, (j, share) in enumerate(candidates):
            if j >= 0:
                one = Proposal([j], _histogram_masses(u[rows, j], share))
            else:
                q = _transition_proposal(trans_counts[rows].sum(axis=0), p_trans, share)
                one = Proposal(np.zeros(0, np.int64), np.zeros((0, TILT_BINS)), (), q)
            factor[eval_rows, c] = one.ratio(u[eval_rows], counts, p_trans)
    return factor


def _greedy(fit_to, factor, candidates) -> tuple[float, list[int]]:
    """Forward selection of what to tilt, by the cross-fitted estimate of E[1_A w] (see
    the module's docstring); each uniform (and the regime chain) at most once."""
    a = fit_to.astype(np.float64)
    n = len(a)
    weight = np.ones(n)
    chosen: list[int] = []
    taken: set[int] = set()
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
