"""Fusion: every signal source's probability → one score per symbol.

Sources: the ensemble's vote (as one source), and each other family's slot
signal of THIS cycle (the DQN, the pattern CNN, sentiment from time-aligned
headlines, the LSTM forecast, promoted strategies). A signal from an older
cycle is not used: it would be stale.

Weights ("skill" weighting, the default) are each source's live scoreboard
weight — its out-of-sample Brier skill once enough rows were scored, its
hold-out prior before. With "fixed" weighting a family's configured weight
is shared equally by that family's sources (the seed's 0.3/0.2/0.2/0.3 is
the default preset). Per symbol

    fused = 0.5 + Σ wᵢ (pᵢ − 0.5) / Σ wᵢ    over the sources that scored it,

so a source with weight 0 has no say, and a symbol no weighted source
scored falls back to the ensemble vote (itself equal-weighted when no
member has measured skill). `FusionResult.shares` are the normalised
weights, and each source's `contribution` to a symbol is wᵢ (pᵢ − 0.5) / Σ w.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from engine.events import Contribution, ScoreboardRow, Signal, Votes

VOTE_SOURCE = "ensemble-vote"
VOTE_FAMILY = "vote"
FUSED_SOURCE = "fused"
FUSED_FAMILY = "fusion"
ENSEMBLE_FAMILY = "ensemble"
WEIGHTINGS = ("skill", "fixed")


@dataclass(frozen=True, slots=True, kw_only=True)
class FamilyWeights:
    """Fixed weight per family (used when `[fusion] weighting = "fixed"`)."""

    ensemble: float = 0.3
    rl: float = 0.2
    patterns: float = 0.2
    sentiment: float = 0.3
    forecast: float = 0.0
    strategy: float = 0.0

    def validate(self) -> None:
        for name in ("ensemble", "rl", "patterns", "sentiment", "forecast", "strategy"):
            if not getattr(self, name) >= 0.0:
                raise ValueError((f"fusion.fixed.{name}", f"must be ≥ 0, got {getattr(self, name)!r}"))

    def of(self, family: str) -> float:
        key = ENSEMBLE_FAMILY if family == VOTE_FAMILY else family
        return float(getattr(self, key, 0.0))


@dataclass(frozen=True, slots=True)
class SourceInput:
    """One source's probabilities for the watchlist this cycle."""

    name: str
    family: str
    probs: np.ndarray  # (S,), NaN where it has no value
    weight: float  # before normalisation


@dataclass(frozen=True, slots=True)
class FusionResult:
    symbols: tuple[str, ...]
    score: np.ndarray  # (S,)
    sources: tuple[SourceInput, ...]
    shares: np.ndarray  # (N,) weight / total weight
    fallback: bool  # no source had weight: the ensemble vote alone


def source_inputs(cycle: int, votes: Votes | None, signals: Sequence[Signal], rows: Mapping[str, ScoreboardRow], *,
                  weighting: str = "skill", fixed: FamilyWeights | None = None) -> tuple[SourceInput, ...]:
    """The fusion's sources for `cycle` with their raw weights."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    fixed = fixed or FamilyWeights()
    found: list[tuple[str, str, np.ndarray]] = []
    if votes is not None and votes.cycle == cycle:
        found.append((VOTE_SOURCE, VOTE_FAMILY, np.asarray(votes.final, dtype=np.float64)))
    for signal in signals:
        if signal.family == ENSEMBLE_FAMILY or signal.cycle != cycle:
            continue
        found.append((signal.source, signal.family, np.asarray(signal.values, dtype=np.float64)))
    if weighting == "skill":
        weights = [rows[name].weight if name in rows else 0.0 for name, _, _ in found]
    else:
        per_family: dict[str, int] = {}
        for _, family, _ in found:
            per_family[family] = per_family.get(family, 0) + 1
        weights = [fixed.of(family) / per_family[family] for _, family, _ in found]
    return tuple(SourceInput(name, family, probs, max(0.0, float(w)))
                 for (name, family, probs), w in zip(found, weights))


def fuse(symbols: tuple[str, ...], sources: Sequence[SourceInput]) -> FusionResult:
    """Weighted mean of the sources' probabilities per symbol (see the module docstring)."""
    n = len(symbols)
    if not sources:
        return FusionResult(tuple(symbols), np.full(n, np.nan), (), np.zeros(0), True)
    probs = np.vstack([np.broadcast_to(s.probs, (n,)) for s in sources])
    w = np.array([s.weight for s in sources], dtype=np.float64)
    has = np.isfinite(probs)
    wm = np.where(has, w[:, None], 0.0)
    total = wm.sum(axis=0)
    centred = np.where(has, probs - 0.5, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, 0.5 + (wm * centred).sum(axis=0) / np.where(total > 0, total, 1.0), np.nan)
    fallback = not w.sum() > 0
    vote = next((i for i, s in enumerate(sources) if s.name == VOTE_SOURCE), None)
    if vote is not None:
        score = np.where(total > 0, score, probs[vote])  # nothing weighted scored it: the vote alone
    if w.sum() > 0:
        shares = w / w.sum()
    else:
        shares = np.array([1.0 if i == vote else 0.0 for i in range(len(sources))])
    return FusionResult(tuple(symbols), score, tuple(sources), shares, fallback)


def explain(result: FusionResult, votes: Votes | None) -> dict[str, tuple[Contribution, ...]]:
    """Per symbol, every source's part: the vote's members, then the other sources.

    `weight` is the source's share of the fused score (a member's share is its
    share of the vote times the vote's share); the note gives its signed
    contribution to the score, or why it had no say.
    """
    out: dict[str, tuple[Contribution, ...]] = {}
    vote_share = next((float(result.shares[i]) for i, s in enumerate(result.sources) if s.name == VOTE_SOURCE), 0.0)
    for j, symbol in enumerate(result.symbols):
        parts: list[Contribution] = []
        has = [np.isfinite(s.probs[j]) for s in result.sources]
        total = sum(float(result.shares[i]) for i, ok in enumerate(has) if ok)
        if votes is not None:
            for member in sorted(votes.members, key=lambda m: -m.weight):
                p = member.probs[j] if j < len(member.probs) else float("nan")
                if not np.isfinite(p):
                    continue
                share = member.weight * vote_share
                parts.append(Contribution(source=member.name, family=ENSEMBLE_FAMILY, value=float(p), weight=share,
                                          note=f"in the ensemble vote ({member.weight:.0%} of it)"
                                          if member.weight > 0 else "in the ensemble vote, weight 0"))
        for i, s in enumerate(result.sources):
            p = float(s.probs[j])
            if not np.isfinite(p):
                continue
            share = float(result.shares[i])
            if share > 0 and total > 0:
                note = f"contributes {share / total * (p - 0.5):+.3f} to the score"
            else:
                note = "weight 0: no measured out-of-sample skill"
            parts.append(Contribution(source=s.name, family=s.family, value=p, weight=share, note=note))
        out[symbol] = tuple(parts)
    return out
