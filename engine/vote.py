"""The ensemble's soft vote, weighted by each member's measured live skill.

Only running members with a signal for this very cycle vote; paused,
faulted, loading or stopped members leave the vote and show with weight 0.
A member's weight is its scoreboard weight (Brier skill on the rolling live
window, or its prior before enough rows are scored); a member with weight 0
has no say. If every voting member has weight 0 the vote falls back to equal
weights among them, so the ensemble still answers; `EnsembleVoter.last_fallback`
says whether the latest vote did.

Per symbol, `final` is the weighted mean probability over the members that
scored that symbol, and `agreement` the weighted share of them on the same
side of 0.5 as `final` (a probability of exactly 0.5 counts as "up").
`MemberVote.weight` is the member's share of the total weight in this vote
(shares of the voting members sum to 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from engine.events import MemberVote, ModelState, ScoreboardRow, Signal, Votes


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberInput:
    """What the voter needs to know about one member this cycle."""

    name: str
    state: str
    signal: Signal | None
    trained_at_cycle: int | None = None

    @classmethod
    def from_slot(cls, slot: Any, signal: Signal | None) -> "MemberInput":
        """From an `engine.slot.ModelSlot` (name, state, trained_at_cycle)."""
        return cls(name=slot.name, state=str(slot.state), signal=signal, trained_at_cycle=slot.trained_at_cycle)


@dataclass(frozen=True, slots=True)
class SoftVote:
    final: np.ndarray  # (S,)
    agreement: np.ndarray  # (S,)
    shares: np.ndarray  # (M,) each member's share of the total weight, 0 if it did not vote
    fallback: bool


def soft_vote(probs: np.ndarray, weights: np.ndarray, voting: np.ndarray) -> SoftVote:
    """Weighted soft vote of M members over S symbols.

    probs (M, S) with NaN where a member has no value; weights (M,) ≥ 0;
    voting (M,) bool. Falls back to equal weights if every voting member's
    weight is 0.
    """
    probs = np.asarray(probs, dtype=np.float64)
    m, s = probs.shape
    w = np.where(np.asarray(voting, dtype=bool), np.clip(np.asarray(weights, dtype=np.float64), 0.0, None), 0.0)
    fallback = bool(np.any(voting)) and not w.sum() > 0.0
    if fallback:
        w = np.asarray(voting, dtype=np.float64)
    has = np.isfinite(probs)
    wm = np.where(has, w[:, None], 0.0)  # (M, S)
    total = wm.sum(axis=0)
    p = np.where(has, probs, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        final = np.where(total > 0, (wm * p).sum(axis=0) / np.where(total > 0, total, 1.0), np.nan)
        side = p >= 0.5
        final_side = final >= 0.5
        agree = (wm * (side == final_side[None, :])).sum(axis=0)
        agreement = np.where(total > 0, agree / np.where(total > 0, total, 1.0), np.nan)
    shares = w / w.sum() if w.sum() > 0 else np.zeros(m)
    return SoftVote(final=final, agreement=agreement, shares=shares, fallback=fallback)


class EnsembleVoter:
    """Turns the members' signals, states and scoreboard rows into a `Votes` event."""

    def __init__(self, source: str = "ensemble", *, horizon: int) -> None:
        self.source = source
        self.horizon = horizon
        self.last_fallback = False

    def vote(self, *, cycle: int, ts: int, symbols: tuple[str, ...], members: Sequence[MemberInput],
             scores: Mapping[str, ScoreboardRow]) -> Votes:
        n = len(symbols)
        probs = np.full((len(members), n), np.nan)
        voting = np.zeros(len(members), dtype=bool)
        weights = np.zeros(len(members))
        for i, member in enumerate(members):  # one row per member; the symbols stay vectorised
            signal = member.signal
            row = scores.get(member.name)
            weights[i] = row.weight if row is not None else 0.0
            if member.state != ModelState.RUNNING or signal is None or signal.cycle != cycle:
                continue
            if tuple(signal.symbols) != tuple(symbols):
                raise ValueError(f"{member.name}: signal symbols differ from the vote's watchlist")
            probs[i] = np.asarray(signal.values, dtype=np.float64)
            voting[i] = True
        result = soft_vote(probs, weights, voting)
        self.last_fallback = result.fallback
        rows = []
        for i, member in enumerate(members):
            row = scores.get(member.name)
            rows.append(MemberVote(
                name=member.name, probs=tuple(probs[i].tolist()), weight=float(result.shares[i]), state=member.state,
                live_hit_rate=row.hit_rate if row is not None else None,
                live_baseline_hit_rate=row.baseline_hit_rate if row is not None else None,
                scored=row.scored if row is not None else 0, trained_at_cycle=member.trained_at_cycle))
        return Votes(source=self.source, cycle=cycle, ts=ts, symbols=tuple(symbols), members=tuple(rows),
                     final=tuple(result.final.tolist()), agreement=tuple(result.agreement.tolist()),
                     horizon=self.horizon, equal_weight_fallback=result.fallback)
