"""Where every model's Signal is scored live, the ensemble votes and the sources are fused.

Owned by the engine loop thread: each cycle it scores past predictions whose
horizon has now passed, records the new ones, turns the ensemble members'
signals into one `Votes` event weighted by measured skill, fuses the vote
with every other family's signal (engine/fusion.py) and lets the selector
trial (engine/selector.py) decide who ranks the entries. The vote and the
fused score are scored like any source ("ensemble-vote", "fused"), so the
fusion's own live record is on the scoreboard next to its inputs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.data.panel import Bar
from engine.events import Contribution, Event, FusionSource, FusionStatus, ScoreboardRow, Signal, Votes
from engine.fusion import (
    FUSED_FAMILY,
    FUSED_SOURCE,
    VOTE_FAMILY,
    VOTE_SOURCE,
    FamilyWeights,
    FusionResult,
    explain,
    fuse,
    source_inputs,
)
from engine.scoreboard import Scoreboard
from engine.selector import SelectorTrial
from engine.slot import ModelSlot
from engine.vote import EnsembleVoter, MemberInput

ENSEMBLE = "ensemble"


class SignalHub:
    def __init__(self, symbols: tuple[str, ...], *, horizon: int, cost_bps: float, window: int = 0,
                 min_scored: int = 50, weighting: str = "skill", fixed: FamilyWeights | None = None,
                 selector: SelectorTrial | None = None, buy_threshold: float = 0.6, max_picks: int = 3) -> None:
        self.symbols = symbols
        self.horizon = horizon
        self.scoreboard = Scoreboard(symbols, horizon=horizon, cost_bps=cost_bps,
                                     window=window or max(500, 100 * len(symbols)), min_scored=min_scored)
        self.voter = EnsembleVoter(ENSEMBLE, horizon=horizon)
        self.weighting = weighting
        self.fixed = fixed or FamilyWeights()
        self.selector = selector or SelectorTrial(mode="auto", horizon=horizon, cost_bps=cost_bps)
        self.buy_threshold = buy_threshold
        self.max_picks = max_picks
        self.last_votes: Votes | None = None
        self.last_signals: dict[str, Signal] = {}
        self.last_fusion: FusionResult | None = None
        self.last_selection: tuple[tuple[str, ...], str] = ((), "rank")

    def on_cycle(self, cycle: int, bar: Bar, events: Sequence[Event], slots: Sequence[ModelSlot]) -> list[Event]:
        """Score, record and vote; returns the Votes and ScoreboardRow events."""
        self.scoreboard.observe(cycle, bar.close)
        signals = {e.source: e for e in events if isinstance(e, Signal)}
        self.last_signals.update({k: v for k, v in signals.items() if v.family != ENSEMBLE})
        for slot in slots:
            prior = getattr(slot.model, "holdout_skill", None)
            self.scoreboard.register(slot.name, slot.family, prior=prior if prior is not None else 0.0)
        for signal in signals.values():
            self.scoreboard.record(signal.source, signal.family, signal.cycle, signal.symbols,
                                   np.asarray(signal.values, dtype=float), horizon=signal.horizon)
        rows = {row.source: row for row in self.scoreboard.rows()}
        out: list[Event] = list(rows.values())
        members = [s for s in slots if s.family == ENSEMBLE]
        votes = None
        if members:
            votes = self.voter.vote(cycle=cycle, ts=bar.ts, symbols=self.symbols,
                                    members=[MemberInput.from_slot(s, signals.get(s.name)) for s in members],
                                    scores=rows)
            self.last_votes = votes
            out.append(votes)
        out += self._fuse(cycle, bar, votes, [s for s in signals.values() if s.family != ENSEMBLE], rows, slots)
        return out

    def _fuse(self, cycle: int, bar: Bar, votes: Votes | None, others: Sequence[Signal],
              rows: dict[str, ScoreboardRow], slots: Sequence[ModelSlot]) -> list[Event]:
        self.selector.observe(cycle, bar.close)
        if votes is not None:
            priors = [getattr(s.model, "holdout_skill", None) for s in slots if s.family == ENSEMBLE]
            known = [p for p in priors if p is not None]
            self.scoreboard.register(VOTE_SOURCE, VOTE_FAMILY, prior=float(np.mean(known)) if known else 0.0)
            self.scoreboard.record(VOTE_SOURCE, VOTE_FAMILY, cycle, self.symbols, np.asarray(votes.final),
                                   horizon=votes.horizon)
        sources = source_inputs(cycle, votes, others, rows, weighting=self.weighting, fixed=self.fixed)
        if not sources:
            self.last_fusion = None
            return []
        result = fuse(self.symbols, sources)
        self.last_fusion = result
        self.scoreboard.register(FUSED_SOURCE, FUSED_FAMILY, prior=0.0)
        self.scoreboard.record(FUSED_SOURCE, FUSED_FAMILY, cycle, self.symbols, result.score, horizon=self.horizon)
        dqn = next((np.asarray(s.values, dtype=np.float64) for s in others if s.family == "rl"), None)
        picks, used = self.selector.choose(cycle, result.score, dqn, threshold=self.buy_threshold,
                                           n=self.max_picks)
        self.last_selection = (tuple(self.symbols[i] for i in picks), used)
        verdict = self.selector.verdict()
        fused_row, vote_row = rows.get(FUSED_SOURCE), rows.get(VOTE_SOURCE)
        status = FusionStatus(
            source="fusion", cycle=cycle, ts=bar.ts, weighting=self.weighting, fallback=result.fallback,
            symbols=self.symbols, score=tuple(result.score.tolist()),
            sources=tuple(FusionSource(name=s.name, family=s.family, share=float(result.shares[i]),
                                       scored=rows[s.name].scored if s.name in rows else 0)
                          for i, s in enumerate(result.sources)),
            selector=verdict.used, selector_reason=verdict.reason, selector_outcomes=verdict.outcomes,
            rank_mean_bp=verdict.rank_mean_bp, dqn_mean_bp=verdict.dqn_mean_bp,
            fused_hit_rate=fused_row.hit_rate if fused_row else None,
            vote_hit_rate=vote_row.hit_rate if vote_row else None,
            fused_scored=fused_row.scored if fused_row else 0)
        return [status]

    def explanation(self) -> dict[str, tuple[Contribution, ...]]:
        """Per symbol, every source's contribution to the latest fused score."""
        if self.last_fusion is None:
            return {}
        return explain(self.last_fusion, self.last_votes)

    def rank_key(self) -> dict[str, float] | None:
        """When the DQN selects: its picks in order (higher = first); None = rank by the fused score."""
        picks, used = self.last_selection
        if used != "dqn":
            return None
        return {symbol: float(len(picks) - i) for i, symbol in enumerate(picks)}

    def score_rows(self) -> tuple[ScoreboardRow, ...]:
        return self.scoreboard.rows()

