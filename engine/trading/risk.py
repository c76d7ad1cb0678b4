"""Risk rules: each configurable (a limit ≤ 0 switches it off) and named in every refusal.

Entries (buys) pass through, in order: the daily-loss kill switch, the
cooldown after a losing exit, max open positions, max notional per position.
Exits (sells that reduce a held position) are always allowed, even when
halted: risk never traps the trader in a position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.events import Side, TradeProposal
from engine.trading.portfolio import PortfolioState
from engine.trading.settings import RiskSettings

RULES = ("max_daily_loss", "cooldown", "max_open_positions", "max_position_notional", "long_only")


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskDecision:
    allowed: bool
    rule: str = ""
    reason: str = ""


class RiskRules:
    def __init__(self, settings: RiskSettings | None = None) -> None:
        self.settings = settings or RiskSettings()

    def check(self, proposal: TradeProposal, state: PortfolioState) -> RiskDecision:
        held = state.quantity(proposal.symbol) - state.pending_sell(proposal.symbol)
        if proposal.side is Side.SELL:
            if proposal.quantity <= held * (1 + 1e-9) + 1e-12:
                return RiskDecision(allowed=True, rule="exit", reason="exits are always allowed")
            return RiskDecision(allowed=False, rule="long_only",
                                reason=f"sell of {proposal.quantity:g} {proposal.symbol} exceeds the "
                                       f"{max(held, 0.0):g} held (no short selling)")
        for rule in (self._daily_loss, self._cooldown, self._open_positions, self._position_notional):
            decision = rule(proposal, state)
            if decision is not None:
                return decision
        return RiskDecision(allowed=True, reason="within every limit")

    def halt_reason(self, state: PortfolioState, day: str) -> str:
        """Why new entries must stop for the rest of `day` ("" while the loss is within the limit)."""
        limit = self.settings.max_daily_loss
        pnl = state.daily_pnl
        if limit <= 0 or pnl is None or -pnl < limit:
            return ""
        return (f"daily loss {-pnl:.2f} reached the limit {limit:.2f} on {day} UTC: "
                f"new entries halted until 00:00 UTC, exits still allowed")

    def headroom(self, symbol: str, state: PortfolioState) -> float:
        """Notional one more buy of `symbol` may add under max_position_notional (inf when off)."""
        limit = self.settings.max_position_notional
        return math.inf if limit <= 0 else max(0.0, limit - state.exposure(symbol))

    # -- the rules ---------------------------------------------------------------
    def _daily_loss(self, p: TradeProposal, state: PortfolioState) -> RiskDecision | None:
        if state.halted_reason:
            return RiskDecision(allowed=False, rule="max_daily_loss", reason=state.halted_reason)
        reason = self.halt_reason(state, "today")
        return RiskDecision(allowed=False, rule="max_daily_loss", reason=reason) if reason else None

    def _cooldown(self, p: TradeProposal, state: PortfolioState) -> RiskDecision | None:
        bars = self.settings.cooldown_bars
        loss_ts = dict(state.last_losses).get(p.symbol)
        if bars <= 0 or loss_ts is None or state.bar_ns <= 0:
            return None
        elapsed = (state.now_ts - loss_ts) // state.bar_ns
        if 0 <= elapsed < bars:
            return RiskDecision(allowed=False, rule="cooldown",
                                reason=f"{p.symbol} closed at a loss {elapsed} bar(s) ago; "
                                       f"no new entry for {bars - elapsed} more bar(s) (cooldown {bars})")
        return None

    def _open_positions(self, p: TradeProposal, state: PortfolioState) -> RiskDecision | None:
        limit = self.settings.max_open_positions
        open_now = state.open_symbols()
        if limit <= 0 or p.symbol in open_now or len(open_now) < limit:
            return None
        return RiskDecision(allowed=False, rule="max_open_positions",
                            reason=f"{len(open_now)} positions open ({', '.join(sorted(open_now))}), "
                                   f"the limit is {limit}")

    def _position_notional(self, p: TradeProposal, state: PortfolioState) -> RiskDecision | None:
        limit = self.settings.max_position_notional
        if limit <= 0:
            return None
        after = state.exposure(p.symbol) + p.notional
        if after <= limit * (1 + 1e-9):
            return None
        return RiskDecision(allowed=False, rule="max_position_notional",
                            reason=f"{p.symbol} exposure would be {after:.2f}, the limit is {limit:.2f}")
