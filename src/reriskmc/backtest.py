"""Backtest: how a config's forecast fares against what happened (``docs/backtest.md``).

A *history* (``configs/history/*.toml``) records the realised path month by month: the
regime, the decisions on the config's dated events, the AI-chip concession, and the
outcomes the record settles. :func:`backtest` reports

(a) the log-probability of the realised policy path under the config and its
    percentile among the log-probabilities of the config's own simulated policy paths
    (is the record a typical path or an outlier?);
(b) the model's probability of each settled outcome, scored (Brier, log score)
    against a naive "no change" baseline;
(c) the slip outcomes again, with the realised policy path pinned: what remains wrong
    then is the supply side's error, not the policy model's.

The policy path's probability is computed here, exactly, by a forward recursion over
the regime chain (section 3.1-3.3 of ``docs/model.md``), averaged over draws of the
path parameters; the simulated policy paths come from a small sampler of the same
sections. The supply side comes from the engine (``reriskmc.simulate``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from .config import Config, ConfigError, Effect, Event, Model, months_between, parse_month

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KINDS = ("slip", "regime", "event", "concession")
#: an event's decision at a deadline, as coded in the arrays below (0: not due)
DECISIONS = {"extended": 1, "fired": 2, "not_fired": 3}
UNKNOWN = -1
#: the naive baseline gives the "no change" answer this probability
BASELINE_CONFIDENCE = 0.9
BASELINE = (
    f"no change: the state at the forecast's start persists, held with "
    f"{BASELINE_CONFIDENCE:.0%} confidence (no slip, the initial regime only, every "
    f"deadline extended, no concession)"
)
#: parameter draws averaged over in a path's probability: the same draws for the
#: realised path and the simulated ones, so that both carry the same Monte Carlo error
THETA_DRAWS = 1000


class HistoryError(ConfigError):
    """A history file that cannot be read: one line naming the file and the key."""


# --------------------------------------------------------------------------- history
@dataclass(frozen=True)
class Decision:
    month: date
    outcome: str  # extended | fired | not_fired | unknown
    months: int  # for extended: the extension, months (0 otherwise)


@dataclass(frozen=True)
class Outcome:
    kind: str
    statement: str
    happened: bool
    by: date
    start: date | None = None  # regime and event outcomes: from this month
    programme: str = ""
    months: float = 0.0  # slip threshold
    regime: str = ""
    event: str = ""
    decision: str = ""


@dataclass(frozen=True)
class History:
    path: str
    title: str
    start: date
    end: date
    regimes: tuple[str, ...]  # per month from start to end; "unknown" where not known
    decisions: dict[str, tuple[Decision, ...]]  # config event name -> decisions in order
    conceded: bool
    conceded_month: date | None
    concession_through: date | None
    outcomes: tuple[Outcome, ...]


def _month(v, file: str, key: str) -> date:
    """A month of the history (written like a config's dates)."""
    try:
        return parse_month(v, file, key)
    except ConfigError as e:
        raise HistoryError(e.file, e.key, e.message) from None


def load_history(path: str | Path) -> History:
    """Read and check a history file (its format: ``docs/backtest.md``)."""
    file = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HistoryError(file, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HistoryError(file, "", f"cannot be read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise HistoryError(file, "", f"not valid TOML ({e})") from None

    head = data.get("history")
    if not isinstance(head, dict):
        raise HistoryError(file, "history", "missing: a [history] table with start and end")
    start = _month(head.get("start"), file, "history.start")
    end = _month(head.get("end"), file, "history.end")
    if end < start:
        raise HistoryError(file, "history.end", "is before history.start")
    rows = data.get("month")
    n = months_between(start, end) + 1
    if not isinstance(rows, list) or len(rows) != n:
        got = len(rows) if isinstance(rows, list) else 0
        raise HistoryError(
            file, "month", f"needs one [[month]] per month from start to end ({n}), got {got}"
        )
    regimes = []
    for i, row in enumerate(rows):
        key = f"month[{i}]"
        want = _add_months(start, i)
        if _month(row.get("month"), file, key + ".month") != want:
            raise HistoryError(
                file, key + ".month", f"should be {want:%Y-%m} (months in order, none missing)"
            )
        r = row.get("regime")
        if not isinstance(r, str) or not r:
            raise HistoryError(file, key + ".regime", 'missing: a regime name or "unknown"')
        regimes.append(r)

    decisions = {}
    for ename, table in (data.get("events") or {}).items():
        out = []
        for i, d in enumerate(table.get("decision", [])):
            key = f"events.{ename}.decision[{i}]"
            outcome = d.get("outcome")
            if outcome not in (*DECISIONS, "unknown"):
                raise HistoryError(
                    file, key + ".outcome",
                    f"must be extended, fired, not_fired or unknown, got {outcome!r}",
                )  # fmt: skip
            months = d.get("months", 0)
            if outcome == "extended" and (not isinstance(months, int) or months < 1):
                raise HistoryError(
                    file, key + ".months", "an extension needs its length, a whole number >= 1"
                )
            out.append(Decision(_month(d.get("month"), file, key + ".month"), outcome, months))
        if any(b.month <= a.month for a, b in itertools.pairwise(out)):
            raise HistoryError(file, f"events.{ename}.decision", "must be in date order")
        decisions[ename] = tuple(out)

    lk = data.get("linkage") or {}
    conceded = bool(lk.get("conceded", False))
    c_month = _month(lk["month"], file, "linkage.month") if conceded else None
    through = _month(lk["through"], file, "linkage.through") if "through" in lk else None

    outcomes = tuple(_outcome(o, i, file) for i, o in enumerate(data.get("outcome", [])))
    return History(
        path=file,
        title=str(head.get("title", "")),
        start=start,
        end=end,
        regimes=tuple(regimes),
        decisions=decisions,
        conceded=conceded,
        conceded_month=c_month,
        concession_through=through,
        outcomes=outcomes,
    )


def _outcome(o: dict, i: int, file: str) -> Outcome:
    key = f"outcome[{i}]"
    kind = o.get("kind")
    if kind not in KINDS:
        raise HistoryError(file, key + ".kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(o.get("happened"), bool):
        raise HistoryError(file, key + ".happened", "must be true or false")
    need = {
        "slip": ("programme", "months", "by"),
        "regime": ("regime", "from", "by"),
        "event": ("event", "outcome", "from", "by"),
        "concession": ("by",),
    }[kind]
    for k in need:
        if k not in o:
            raise HistoryError(file, f"{key}.{k}", f"missing (a {kind} outcome needs it)")
    months = o.get("months", 0.0)
    if kind == "slip" and (isinstance(months, bool) or not isinstance(months, (int, float))
                           or months <= 0):  # fmt: skip
        raise HistoryError(file, key + ".months", f"must be a number > 0, got {months!r}")
    if kind == "event" and o["outcome"] not in DECISIONS:
        raise HistoryError(
            file, key + ".outcome", f"must be extended, fired or not_fired, got {o['outcome']!r}"
        )
    start = _month(o["from"], file, key + ".from") if "from" in o else None
    by = _month(o["by"], file, key + ".by")
    if start is not None and by < start:
        raise HistoryError(file, key + ".by", "is before its from")
    return Outcome(
        kind=kind,
        statement=str(o.get("statement", "")),
        happened=o["happened"],
        by=by,
        start=start,
        programme=str(o.get("programme", "")),
        months=float(months),
        regime=str(o.get("regime", "")),
        event=str(o.get("event", "")),
        decision=str(o.get("outcome", "")),
    )


def _add_months(d: date, k: int) -> date:
    m = d.year * 12 + d.month - 1 + k
    return date(m // 12, m % 12 + 1, 1)


# --------------------------------------------------------------------------- alignment
@dataclass(frozen=True)
class Record:
    """A history seen from a config: arrays indexed by the config's month ``t``.

    ``regime[t]``: regime index, or ``UNKNOWN``. ``decision[e, t]``: 0 where event
    ``e`` is not due, else its ``DECISIONS`` code. ``conceded[t]``: 1, 0 or ``UNKNOWN``.
    ``scored``: the months the policy path's probability covers (0 .. scored-1): up to
    the history's end, stopping before the first deadline whose decision is unknown.
    """

    regime: np.ndarray
    decision: np.ndarray
    conceded: np.ndarray
    scored: int
    stop_reason: str
    extensions: tuple[tuple[int, int], ...]  # (event, t) of each realised deadline's step


def align(history: History, model: Model, start: date) -> Record:
    """The history's facts as the config's months; errors name the history's keys."""
    file, T = history.path, model.n_months
    first = months_between(start, history.start)  # config month of the history's start
    last = months_between(start, history.end)
    if last < 0:
        raise HistoryError(
            file, "history.end",
            f"{history.end:%Y-%m} is before the config's start {start:%Y-%m}: nothing to score",
        )  # fmt: skip
    if first > 0:
        raise HistoryError(
            file, "history.start",
            f"{history.start:%Y-%m} is after the config's start {start:%Y-%m}: the record "
            "must begin where the forecast does",
        )  # fmt: skip
    horizon = min(T, last + 1)
    regime = np.full(T, UNKNOWN, dtype=np.int64)
    for i, name in enumerate(history.regimes):
        t = first + i
        if name == "unknown" or t < 0 or t >= T:
            continue
        if name not in model.regimes:
            raise HistoryError(
                file, f"month[{i}].regime",
                f"{name!r} is not a regime of the config ({', '.join(model.regimes)})",
            )  # fmt: skip
        regime[t] = model.regimes.index(name)

    names = [e.name for e in model.events]
    for ename in history.decisions:
        if ename not in names:
            raise HistoryError(
                file, f"events.{ename}",
                f"is not an event of the config ({', '.join(names) or 'it has none'})",
            )  # fmt: skip
    decision = np.zeros((len(model.events), T), dtype=np.int64)
    scored, stop_reason = horizon, f"the history ends ({history.end:%Y-%m})"
    steps = []
    for e, ev in enumerate(model.events):
        due = ev.month
        for i, d in enumerate(history.decisions.get(ev.name, ())):
            t = months_between(start, d.month)
            key = f"events.{ev.name}.decision[{i}].month"
            if t != due:
                raise HistoryError(
                    file, key,
                    f"{d.month:%Y-%m}, but the config's date and the extensions recorded "
                    f"before it put the deadline at {_add_months(start, due):%Y-%m}",
                )  # fmt: skip
            if d.outcome == "unknown":
                break
            if 0 <= t < T:
                decision[e, t] = DECISIONS[d.outcome]
            if d.outcome != "extended":
                due = None
                break
            steps.append((e, t))
            due = t + d.months
        if due is not None and due < scored:
            scored = due
            stop_reason = f"the decision on {ev.name} at {_add_months(start, due):%Y-%m} is unknown"
    conceded = np.full(T, UNKNOWN, dtype=np.int64)
    if history.concession_through is not None:
        through = min(months_between(start, history.concession_through), T - 1)
        conceded[: through + 1] = 0
        if history.conceded_month is not None:
            c = months_between(start, history.conceded_month)
            conceded[max(c, 0) : through + 1] = 1
    if model.linkage is not None and model.linkage.conceded_at_start:
        conceded[:] = np.where(conceded == UNKNOWN, UNKNOWN, 1)
    return Record(regime, decision, conceded, max(scored, 0), stop_reason, tuple(steps))


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Theta:
    """Draws of the policy parameters, one row per draw: (K, E) for the events' and
    (K,) for the linkage's."""

    p_extend: np.ndarray
    extend_months: np.ndarray
    p_fire: np.ndarray
    p_concession: np.ndarray


def _draw(param, u: np.ndarray) -> np.ndarray:
    if isinstance(param, (int, float)):
        return np.full(u.shape, float(param))
    return np.asarray(param.ppf(u), dtype=np.float64)


def draw_theta(model: Model, k: int, rng: np.random.Generator) -> Theta:
    E = len(model.events)

    def col(get):
        return (
            np.stack([_draw(get(ev), rng.random(k)) for ev in model.events], axis=1)
            if E
            else (np.zeros((k, 0)))
        )

    pc = model.linkage.p_concession if model.linkage is not None else 0.0
    return Theta(
        p_extend=col(lambda ev: ev.p_extend),
        extend_months=np.maximum(1, np.floor(col(lambda ev: ev.extend_months) + 0.5)),
        p_fire=col(lambda ev: ev.p_fire),
        p_concession=_draw(pc, rng.random(k)),
    )


def _concession_effects(ev: Event) -> list[Effect]:
    return [x for x in ev.effects if x.target == "linkage.p_concession"]


def _apply_concession_effects(pc: np.ndarray, ev: Event, fired: np.ndarray) -> np.ndarray:
    """``pc`` (N, K) after event ``ev``'s effects on the paths where it fired (N,)."""
    for x in _concession_effects(ev):
        if x.op == "set":
            new = np.full_like(pc, x.value)
        else:
            new = np.minimum(pc * x.value, 1.0)  # a probability: scaled, capped at 1
        pc = np.where(fired[:, None], new, pc)
    return pc


# --------------------------------------------------------------------------- probability
def log_prob(model: Model, theta: Theta, regime: np.ndarray, decision: np.ndarray,
             conceded: np.ndarray, months: int, batch: int = 256) -> np.ndarray:  # fmt: skip
    """The log-probability of each of N policy paths over months 0 .. months-1.

    ``regime`` (N, T), ``decision`` (N, E, T) and ``conceded`` (N, T) as in
    :class:`Record` (``UNKNOWN`` marks what is not observed and is summed over). The
    deadlines are those the decisions imply: an extension's length is taken as given,
    its decision is scored. Each path's probability is the average, over the draws of
    ``theta``, of its probability given the draw: a forward recursion over the hidden
    (regime, conceded) state, with the regime step, then the events in config order
    (each may fire only where its ``in_regimes`` allows the regime at that point, and
    its jump moves the regime), then the linkage.

    The paths are taken ``batch`` at a time, so that memory does not grow with N.
    """
    parts = [
        _log_prob_batch(model, theta, regime[i : i + batch], decision[i : i + batch],
                        conceded[i : i + batch], months)
        for i in range(0, regime.shape[0], batch)
    ]  # fmt: skip
    return np.concatenate(parts) if parts else np.zeros(0)


def _log_prob_batch(model: Model, theta: Theta, regime: np.ndarray, decision: np.ndarray,
             conceded: np.ndarray, months: int) -> np.ndarray:  # fmt: skip
    """:func:`log_prob` for one batch of paths."""
    N, R = regime.shape[0], len(model.regimes)
    K = theta.p_concession.shape[0]
    E = len(model.events)
    talks = np.array(model.linkage.talks if model.linkage else [False] * R, dtype=bool)
    conceded0 = bool(model.linkage and model.linkage.conceded_at_start)
    matrix = np.zeros(N, dtype=np.int64)
    used = np.zeros((N, E), dtype=np.int64)
    pc = np.broadcast_to(theta.p_concession[None, :], (N, K)).copy()
    logl = np.zeros((N, K))
    alpha = np.zeros((N, K, R, 2))
    alpha[:, :, model.initial_regime, int(conceded0)] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(months):
            if t >= 1:  # 3.1: one step of each path's current matrix
                step = model.transition[matrix]  # (N, R, R)
                alpha = np.einsum("nkrc,nrs->nksc", alpha, step)
            for e, ev in enumerate(model.events):  # 3.2
                d = decision[:, e, t]
                if not d.any():
                    continue
                left = used[:, e] < ev.max_extensions  # (N,)
                p_ext = np.where(left[:, None], theta.p_extend[None, :, e], 0.0)  # (N, K)
                allowed = np.array(ev.in_regimes, dtype=float) if any(ev.in_regimes) else np.ones(R)
                fire = theta.p_fire[None, :, e, None] * allowed[None, None, :]  # (1, K, R)
                factor = np.ones((N, K, R))
                ext, fired, held = d == 1, d == 2, d == 3
                factor[ext] = p_ext[ext][:, :, None]
                factor[fired] = (1.0 - p_ext[fired])[:, :, None] * fire
                factor[held] = (1.0 - p_ext[held])[:, :, None] * (1.0 - fire)
                alpha = alpha * factor[..., None]
                used[:, e] += ext
                if ev.jump_to >= 0 and fired.any():
                    moved = alpha[fired].sum(axis=2)  # (n, K, 2)
                    alpha[fired] = 0.0
                    alpha[fired, :, ev.jump_to, :] = moved
                if ev.matrix >= 0:
                    matrix[fired] = ev.matrix
                pc = _apply_concession_effects(pc, ev, fired)
            seen = regime[:, t] >= 0  # the month's regime, where observed
            mask = np.ones((N, R))
            mask[seen] = np.arange(R)[None, :] == regime[seen, t][:, None]
            alpha = alpha * mask[:, None, :, None]
            # 3.3: a concession is permanent and comes only out of talks
            q = pc[:, :, None] * talks[None, None, :]  # (N, K, R)
            stay = alpha[..., 0] * (1.0 - q)
            alpha = np.stack([stay, alpha[..., 1] + alpha[..., 0] * q], axis=-1)
            c = conceded[:, t]
            for v in (0, 1):
                alpha[c == v, :, :, 1 - v] = 0.0
            total = alpha.sum(axis=(2, 3))  # (N, K)
            logl += np.log(total)
            alpha = alpha / np.where(total > 0.0, total, 1.0)[..., None, None]
        top = logl.max(axis=1, keepdims=True)
        finite = np.isfinite(top[:, 0])
        out = np.full(N, -np.inf)
        out[finite] = top[finite, 0] + np.log(np.exp(logl[finite] - top[finite]).mean(axis=1))
    return out


# --------------------------------------------------------------------------- sampler
@dataclass(frozen=True)
class PolicyPaths:
    """N simulated policy paths over T months: ``regime`` (N, T), ``decision``
    (N, E, T) and ``conceded`` (N, T), coded as in :class:`Record`."""

    regime: np.ndarray
    decision: np.ndarray
    conceded: np.ndarray


def sample_policy(model: Model, n: int, months: int, rng: np.random.Generator) -> PolicyPaths:
    """N policy paths of ``model`` (sections 3.1-3.3; parameters drawn once per path)."""
    theta = draw_theta(model, n, rng)
    R, E = len(model.regimes), len(model.events)
    cum = np.cumsum(model.transition, axis=2)
    cum = cum / cum[:, :, -1:]
    talks = np.array(model.linkage.talks if model.linkage else [False] * R, dtype=bool)
    reg = np.full(n, model.initial_regime, dtype=np.int64)
    matrix = np.zeros(n, dtype=np.int64)
    deadline = np.array([[ev.month for ev in model.events]] * n, dtype=np.int64).reshape(n, E)
    pending = np.ones((n, E), dtype=bool)
    used = np.zeros((n, E), dtype=np.int64)
    conceded = np.full(n, bool(model.linkage and model.linkage.conceded_at_start))
    pc = theta.p_concession[:, None].copy()  # (n, 1): one draw per path
    out = PolicyPaths(
        regime=np.zeros((n, months), dtype=np.int64),
        decision=np.zeros((n, E, months), dtype=np.int64),
        conceded=np.zeros((n, months), dtype=np.int64),
    )
    for t in range(months):
        if t >= 1:
            u = rng.random(n)
            reg = (u[:, None] >= cum[matrix, reg][:, :-1]).sum(axis=1)
        for e, ev in enumerate(model.events):
            due = pending[:, e] & (deadline[:, e] == t)
            extended = (
                due & (used[:, e] < ev.max_extensions) & (rng.random(n) < theta.p_extend[:, e])
            )
            deadline[:, e] += np.where(extended, theta.extend_months[:, e], 0).astype(np.int64)
            used[:, e] += extended
            done = due & ~extended
            pending[:, e] &= ~done
            fired = done & (rng.random(n) < theta.p_fire[:, e])
            if any(ev.in_regimes):
                fired &= np.array(ev.in_regimes, dtype=bool)[reg]
            out.decision[:, e, t] = np.select(
                [extended, fired, done], [DECISIONS["extended"], DECISIONS["fired"],
                                          DECISIONS["not_fired"]], 0)  # fmt: skip
            if ev.jump_to >= 0:
                reg = np.where(fired, ev.jump_to, reg)
            if ev.matrix >= 0:
                matrix = np.where(fired, ev.matrix, matrix)
            pc = _apply_concession_effects(pc, ev, fired)
        conceded |= talks[reg] & (rng.random(n) < pc[:, 0])
        out.regime[:, t] = reg
        out.conceded[:, t] = conceded
    return out


# --------------------------------------------------------------------------- scores
def brier(p: np.ndarray, o: np.ndarray) -> float:
    """Mean squared difference between forecast probabilities and outcomes (0 or 1)."""
    return float(np.mean((p - o) ** 2)) if len(p) else math.nan


def log_score(p: np.ndarray, o: np.ndarray, floor: float) -> float:
    """Mean natural log of the probability given to what happened, each probability
    kept within [floor, 1 - floor] (a Monte Carlo estimate of 0 is below 1/N, not 0)."""
    if not len(p):
        return math.nan
    q = np.clip(np.where(o > 0.5, p, 1.0 - p), floor, 1.0 - floor)
    return float(np.mean(np.log(q)))


def no_change(outcome: Outcome, model: Model) -> bool:
    """The answer of "nothing changes from the forecast's start" to an outcome."""
    if outcome.kind == "regime":
        return outcome.regime == model.regimes[model.initial_regime]
    if outcome.kind == "event":
        return outcome.decision == "extended"
    return False  # no slip; no concession


# --------------------------------------------------------------------------- pinning
def pinned_model(model: Model, record: Record, history: History) -> Model:
    """``model`` with the recorded policy path imposed: every known month's regime set
    by an event that always fires (after the config's own), each config event's
    recorded decisions taken (its deadline moved to the first unknown one), and the
    concession held off while the record says it had not happened."""
    events = []
    for e, ev in enumerate(model.events):
        steps = [t for (i, t) in record.extensions if i == e]
        codes = record.decision[e]
        ended = np.flatnonzero(codes >= DECISIONS["fired"])
        if ended.size:
            t = int(ended[0])
            if codes[t] == DECISIONS["fired"]:
                events.append(dataclasses.replace(
                    ev, month=t, p_extend=0.0, max_extensions=0, p_fire=1.0, in_regimes=()
                ))  # fmt: skip
            continue  # not fired: done, nothing more happens
        if steps:
            last = history.decisions[ev.name][len(steps) - 1]
            events.append(dataclasses.replace(
                ev, month=steps[-1] + last.months,
                max_extensions=max(0, ev.max_extensions - len(steps)),
            ))  # fmt: skip
        else:
            events.append(ev)
    for t in range(model.n_months):
        r = int(record.regime[t])
        if r >= 0:
            events.append(
                Event(
                    name=f"pinned_{t}",
                    month=t,
                    p_extend=0.0,
                    extend_months=1.0,
                    max_extensions=0,
                    p_fire=1.0,
                    jump_to=r,
                    matrix=-1,
                )
            )
    linkage = model.linkage
    known = np.flatnonzero(record.conceded == 0)
    if linkage is not None and known.size and not linkage.conceded_at_start:
        pc = linkage.p_concession
        mean = pc.mean() if not isinstance(pc, (int, float)) else float(pc)
        linkage = dataclasses.replace(linkage, p_concession=0.0)
        resume = int(known[-1]) + 1
        if resume < model.n_months and mean > 0.0:
            events.append(
                Event(name="pinned_concession", month=resume, p_extend=0.0,
                      extend_months=1.0, max_extensions=0, p_fire=1.0, jump_to=-1,
                      matrix=-1, effects=(Effect("linkage.p_concession", "set", mean),))
            )  # fmt: skip
    return dataclasses.replace(model, events=tuple(events), linkage=linkage)


# --------------------------------------------------------------------------- the backtest
@dataclass
class Scored:
    outcome: Outcome
    p_model: float
    p_model_se: float
    p_baseline: float
    p_pinned: float | None = None


@dataclass
class BacktestResult:
    config: str
    history: str
    paths: int
    seed: int
    months_scored: int
    scored_from: str
    scored_to: str
    stop_reason: str
    log_prob_realised: float
    log_prob_percentile: float
    log_prob_median_simulated: float
    outcomes: list[Scored]
    skipped: list[str]
    floor: float

    def scores(self, which: str) -> tuple[float, float, int]:
        """(Brier, log score, count) of the model, the baseline or the pinned rerun
        (the pinned one over the slip outcomes only)."""
        rows = [s for s in self.outcomes if which != "pinned" or s.p_pinned is not None]
        p = np.array([getattr(s, f"p_{which}") for s in rows], dtype=float)
        o = np.array([s.outcome.happened for s in rows], dtype=float)
        return brier(p, o), log_score(p, o, self.floor), len(rows)

    def by_kind(self) -> dict[str, dict]:
        """Brier of the model and the baseline over each kind of outcome."""
        out = {}
        for kind in KINDS:
            rows = [s for s in self.outcomes if s.outcome.kind == kind]
            if rows:
                o = np.array([s.outcome.happened for s in rows], dtype=float)
                out[kind] = {
                    "n_outcomes": len(rows),
                    "brier": brier(np.array([s.p_model for s in rows]), o),
                    "brier_baseline": brier(np.array([s.p_baseline for s in rows]), o),
                }
        return out

    def as_json(self) -> dict:
        b, lg, n = self.scores("model")
        bb, lb, _ = self.scores("baseline")
        slips = [s for s in self.outcomes if s.p_pinned is not None]
        p = np.array([s.p_model for s in slips])
        o = np.array([s.outcome.happened for s in slips], dtype=float)
        bp, lp, n_pinned = self.scores("pinned")
        bs = np.array([s.p_baseline for s in slips])

        def num(x):
            return None if not math.isfinite(x) else round(float(x), 6)

        return {
            "config": self.config,
            "history": self.history,
            "paths": self.paths,
            "seed": self.seed,
            "n_outcomes": n,
            "brier": num(b),
            "brier_baseline": num(bb),
            "log_score": num(lg),
            "log_score_baseline": num(lb),
            "baseline": BASELINE,
            "log_prob_realised": num(self.log_prob_realised),
            "log_prob_percentile": num(self.log_prob_percentile),
            "log_prob_median_simulated": num(self.log_prob_median_simulated),
            "months_scored": self.months_scored,
            "scored_from": self.scored_from,
            "scored_to": self.scored_to,
            "scoring_stops_because": self.stop_reason,
            "pinned": {
                "n_outcomes": n_pinned,
                "brier": num(bp),
                "log_score": num(lp),
                "brier_unpinned": num(brier(p, o)),
                "brier_baseline": num(brier(bs, o)),
            },
            "by_kind": {
                k: {**v, "brier": num(v["brier"]), "brier_baseline": num(v["brier_baseline"])}
                for k, v in self.by_kind().items()
            },
            "outcomes": [
                {
                    "statement": s.outcome.statement,
                    "kind": s.outcome.kind,
                    "happened": s.outcome.happened,
                    "p_model": num(s.p_model),
                    "p_model_se": num(s.p_model_se),
                    "p_baseline": s.p_baseline,
                    "p_pinned": None if s.p_pinned is None else num(s.p_pinned),
                }
                for s in self.outcomes
            ],
            "skipped": self.skipped,
        }


def _base_only(config: Config, model: Model, thresholds: tuple[float, ...]) -> Config:
    base = dataclasses.replace(config.scenarios[0], model=model)
    return dataclasses.replace(config, scenarios=(base,), slip_thresholds=thresholds)


def _slip_probabilities(config: Config, model: Model, wanted, paths, seed, threads):
    """P(slip > months by month t) and its SE for each (programme, months, t) wanted,
    from an engine run of the base scenario alone."""
    from . import simulate

    thresholds = tuple(sorted({m for _, m, _ in wanted} | set(config.slip_thresholds)))
    ds = simulate(_base_only(config, model, thresholds), paths=paths, seed=seed, threads=threads)
    p = ds["p_slip"].isel(scenario=0)
    se = ds["p_slip_se"].isel(scenario=0)
    out = []
    for prog, months, t in wanted:
        sel = {"programme": prog, "slip_threshold": months}
        out.append((float(p.sel(sel).isel(month=t)), float(se.sel(sel).isel(month=t))))
    return out


def backtest(config: Config, history: History, paths: int, seed: int,
             threads: int | None = None) -> BacktestResult:  # fmt: skip
    """Score ``config``'s base scenario against ``history`` (module docstring)."""
    model = config.scenarios[0].model
    start = model.start.astype("datetime64[M]").item()
    record = align(history, model, start)
    rng = np.random.default_rng(seed)
    T = model.n_months

    def month_of(d: date) -> int:
        return months_between(start, d)

    # (a) the realised policy path, and the config's own paths, over the scored months
    S = record.scored
    theta = draw_theta(model, THETA_DRAWS, rng)
    realised = log_prob(model, theta, record.regime[None, :S], record.decision[None, :, :S],
                        record.conceded[None, :S], S)[0]  # fmt: skip
    # policy outcomes' probabilities from up to 50,000 policy paths (cheap); the
    # log-probabilities (the costly part) from the first 4,000 of them
    n_sim = min(paths, 50_000)
    n_lp = min(n_sim, 4000)
    policy_months = max([S] + [month_of(o.by) + 1 for o in history.outcomes
                               if o.kind != "slip" and 0 <= month_of(o.by) < T])  # fmt: skip
    sim = sample_policy(model, n_sim, policy_months, rng)
    hide_r = record.regime[:S] == UNKNOWN
    hide_c = record.conceded[:S] == UNKNOWN
    sims = log_prob(
        model,
        theta,
        np.where(hide_r[None, :], UNKNOWN, sim.regime[:n_lp, :S]),
        sim.decision[:n_lp, :, :S],
        np.where(hide_c[None, :], UNKNOWN, sim.conceded[:n_lp, :S]),
        S,
    )
    below = np.mean(sims < realised) + 0.5 * np.mean(sims == realised)

    # (b) outcomes; (c) slip outcomes with the policy pinned
    skipped, rows, wanted = [], [], []
    for o in history.outcomes:
        t = month_of(o.by)
        why = _unscorable(o, model, t)
        if why:
            skipped.append(f"{o.statement or o.kind}: {why}")
            continue
        base_p = BASELINE_CONFIDENCE if no_change(o, model) else 1.0 - BASELINE_CONFIDENCE
        if o.kind == "slip":
            wanted.append((o.programme, o.months, t))
            rows.append(Scored(o, math.nan, math.nan, base_p))
            continue
        hit = _policy_hit(o, model, sim, month_of)
        rows.append(Scored(o, float(hit.mean()), float(hit.std(ddof=1) / math.sqrt(n_sim)), base_p))
    slips = [s for s in rows if s.outcome.kind == "slip"]
    if wanted:
        for s, (p, se) in zip(slips, _slip_probabilities(config, model, wanted, paths, seed,
                                                        threads)):  # fmt: skip
            s.p_model, s.p_model_se = p, se
        pinned = pinned_model(model, record, history)
        for s, (p, _) in zip(slips, _slip_probabilities(config, pinned, wanted, paths, seed,
                                                       threads)):  # fmt: skip
            s.p_pinned = p
    return BacktestResult(
        config=config.path,
        history=history.path,
        paths=paths,
        seed=seed,
        months_scored=S,
        scored_from=f"{start:%Y-%m}",
        scored_to=f"{_add_months(start, S - 1):%Y-%m}" if S else "",
        stop_reason=record.stop_reason,
        log_prob_realised=float(realised),
        log_prob_percentile=float(100.0 * below),
        log_prob_median_simulated=float(np.median(sims)),
        outcomes=rows,
        skipped=skipped,
        floor=1.0 / (2.0 * paths),
    )


def _unscorable(o: Outcome, model: Model, t: int) -> str:
    if t < 0 or t >= model.n_months:
        return "settled outside the config's months"
    if o.kind == "slip":
        names = [p.name for p in model.programmes]
        if o.programme not in names:
            return f"programme {o.programme!r} is not in the config"
    if o.kind == "regime" and o.regime not in model.regimes:
        return f"regime {o.regime!r} is not in the config"
    if o.kind == "event" and o.event not in [e.name for e in model.events]:
        return f"event {o.event!r} is not in the config"
    if o.kind == "concession" and model.linkage is None:
        return "the config has no linkage"
    return ""


def _policy_hit(o: Outcome, model: Model, sim: PolicyPaths, month_of) -> np.ndarray:
    """Whether each simulated policy path meets the outcome's statement."""
    a = max(0, month_of(o.start)) if o.start is not None else 0
    b = month_of(o.by) + 1
    if o.kind == "regime":
        return (sim.regime[:, a:b] == model.regimes.index(o.regime)).any(axis=1)
    if o.kind == "event":
        e = [ev.name for ev in model.events].index(o.event)
        return (sim.decision[:, e, a:b] == DECISIONS[o.decision]).any(axis=1)
    return sim.conceded[:, b - 1] == 1


# --------------------------------------------------------------------------- report
def report_text(res: BacktestResult) -> str:
    """The backtest for a reader: the three parts, the outcomes table, the scores."""
    b, lg, n = res.scores("model")
    bb, lb, _ = res.scores("baseline")
    lines = [
        f"Backtest of {res.config} against {res.history} ({res.paths:,} paths, seed {res.seed})",
        "",
        f"(a) The realised policy path, {res.scored_from} to {res.scored_to} "
        f"({res.months_scored} months; scoring stops because {res.stop_reason}):",
        f"    log-probability {res.log_prob_realised:.2f} (the config's own paths: median "
        f"{res.log_prob_median_simulated:.2f}); {res.log_prob_percentile:.1f}% of the "
        "config's paths are less probable than the record.",
        "",
        f"(b) {n} outcomes the record settles: model against the baseline ({BASELINE}).",
    ]
    width = max([len(s.outcome.statement) for s in res.outcomes] + [9])
    width = min(width, 100)
    lines.append(f"    {'statement':<{width}}  happened  model  baseline  pinned")
    for s in res.outcomes:
        pinned = "" if s.p_pinned is None else f"{s.p_pinned:6.3f}"
        text = s.outcome.statement[:width]
        lines.append(
            f"    {text:<{width}}  {'yes' if s.outcome.happened else 'no':>8}  "
            f"{s.p_model:5.3f}  {s.p_baseline:8.2f}  {pinned}"
        )
    verdict = "beats" if b < bb else "loses to"
    lines += [
        f"    Brier {b:.4f} (baseline {bb:.4f}: the model {verdict} it); "
        f"log score {lg:.3f} (baseline {lb:.3f}); lower Brier and higher log score are better.",
    ]
    for kind, v in res.by_kind().items():
        lines.append(
            f"      {kind}: {v['n_outcomes']} outcomes, Brier {v['brier']:.4f} "
            f"(baseline {v['brier_baseline']:.4f})"
        )
    bp, _, n_p = res.scores("pinned")
    if n_p:
        slips = [s for s in res.outcomes if s.p_pinned is not None]
        p = np.array([s.p_model for s in slips])
        o = np.array([s.outcome.happened for s in slips], dtype=float)
        lines += [
            "",
            f"(c) The {n_p} slip outcomes with the realised policy path pinned: Brier "
            f"{bp:.4f} (unpinned {brier(p, o):.4f}). What the pinned run still gets wrong is "
            "the supply side's error; what pinning removes was the policy model's.",
        ]
    if res.skipped:
        lines += ["", "Not scored:"] + [f"    {s}" for s in res.skipped]
    return "\n".join(lines)
