"""Where every model's Signal is scored live and the ensemble votes.

Owned by the engine loop thread: each cycle it scores past predictions whose
horizon has now passed, records the new ones, and turns the ensemble
members' signals into one `Votes` event weighted by measured skill.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.data.panel import Bar
from engine.events import Contribution, Event, ScoreboardRow, Signal, Votes
from engine.scoreboard import Scoreboard
from engine.slot import ModelSlot
from engine.vote import EnsembleVoter, MemberInput

ENSEMBLE = "ensemble"


class SignalHub:
    def __init__(self, symbols: tuple[str, ...], *, horizon: int, cost_bps: float, window: int = 0,
                 min_scored: int = 50) -> None:
        self.symbols = symbols
        self.scoreboard = Scoreboard(symbols, horizon=horizon, cost_bps=cost_bps,
                                     window=window or max(500, 100 * len(symbols)), min_scored=min_scored)
        self.voter = EnsembleVoter(ENSEMBLE, horizon=horizon)
        self.last_votes: Votes | None = None
        self.last_signals: dict[str, Signal] = {}

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
        if members:
            votes = self.voter.vote(cycle=cycle, ts=bar.ts, symbols=self.symbols,
                                    members=[MemberInput.from_slot(s, signals.get(s.name)) for s in members],
                                    scores=rows)
            self.last_votes = votes
            out.append(votes)
        return out

    def score_rows(self) -> tuple[ScoreboardRow, ...]:
        return self.scoreboard.rows()


def contributions(votes: Votes, others: Sequence[Signal] = (),
                  weights: dict[str, float] | None = None) -> dict[str, tuple[Contribution, ...]]:
    """Per symbol, how each voting ensemble member contributed (for proposals).

    The other families' latest signals for the symbol are listed after them
    with their measured scoreboard weight, marked as not in the vote: they are
    shown so the trader sees them, and join the score only through fusion.
    """
    weights = weights or {}
    out: dict[str, tuple[Contribution, ...]] = {}
    for i, symbol in enumerate(votes.symbols):
        parts = []
        for member in votes.members:
            p = member.probs[i]
            if member.weight > 0 and np.isfinite(p):
                parts.append(Contribution(source=member.name, family=ENSEMBLE, value=float(p), weight=member.weight,
                                          note=f"live hit {member.live_hit_rate:.0%}" if member.live_hit_rate is not None else ""))
        parts.sort(key=lambda c: -c.weight)
        for signal in others:
            if symbol in signal.symbols:
                p = signal.values[signal.symbols.index(symbol)]
                if np.isfinite(p):
                    parts.append(Contribution(source=signal.source, family=signal.family, value=float(p),
                                              weight=weights.get(signal.source, 0.0),
                                              note="shown, not in the vote"))
        out[symbol] = tuple(parts)
    return out


