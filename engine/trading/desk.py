"""TradingDesk: the one object the runtime calls each cycle.

Per cycle, on the engine's loop thread:
1. `on_bar(bar, cycle)` — the broker fills what was ordered before this bar
   (next-bar rule), the ledger records it, positions are marked to the
   close, the daily-loss kill switch is checked, overdue proposals expire,
   and a `PortfolioSnapshot` closes the list;
2. `propose(...)` — after the models have scored this bar;
3. between cycles, `approve(id)` / `reject(id, reason)` for the trader's
   commands (they raise `ProposalNotFound` for an unknown or decided id: the
   runtime answers with `CommandRejected`), and `expire()` on a wall-clock
   tick so a timeout fires even when bars are slow.
`start()` (called by the first of these if the runtime did not) reconciles
the ledger with the broker and expires proposals a previous run left pending.
Every method returns the events to publish; the desk owns no threads and is
meant to be called from one thread (the engine's loop); its ledger alone is
safe to share.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from engine.data.panel import Bar, timeframe_seconds
from engine.events import (
    Contribution,
    Event,
    JournalEntry,
    JournalPage,
    LogMessage,
    OrderUpdate,
    PortfolioSnapshot,
    TradeProposal,
)
from engine.trading.broker import Broker
from engine.trading.ledger import Ledger
from engine.trading.orders import OrderRouter
from engine.trading.paper import PaperBroker
from engine.trading.portfolio import PortfolioState, equity, portfolio_state, snapshot, utc_day
from engine.trading.proposals import ProposalBook
from engine.trading.risk import RiskRules
from engine.trading.settings import RiskSettings, TradingSettings

__all__ = ["RiskSettings", "TradingDesk", "TradingSettings"]


class TradingDesk:
    def __init__(self, settings: TradingSettings, risk: RiskSettings, *, ledger: Ledger, broker: Broker,
                 symbols: Sequence[str], timeframe: str, source: str = "trading",
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.ledger = ledger
        self.broker = broker
        self.source = source
        self.mode = settings.mode
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.risk = RiskRules(risk)
        self.router = OrderRouter(ledger, broker, source=source)
        self.book = ProposalBook(settings, ledger=ledger, router=self.router, risk=self.risk, state=self.state,
                                 source=source, clock=clock)
        self._bar_ns = timeframe_seconds(timeframe) * 1_000_000_000
        self._last: dict[str, float] = {}
        self.cycle = 0
        self.ts = 0
        self._started = False

    @classmethod
    def paper(cls, data_dir: str | Path, settings: TradingSettings | None = None, risk: RiskSettings | None = None,
              *, symbols: Sequence[str], timeframe: str, clock: Callable[[], float] = time.time,
              ledger: Ledger | None = None) -> "TradingDesk":
        """A desk on `<data_dir>/ledger.sqlite` with a paper broker restored from it."""
        settings = settings or TradingSettings()
        ledger = ledger or Ledger.in_dir(data_dir, mode="paper", starting_cash=settings.starting_cash, clock=clock)
        broker = PaperBroker(symbols, fee_bps=settings.fee_bps, slippage_bps=settings.slippage_bps,
                             cash=ledger.cash(), positions=ledger.positions())
        return cls(settings, risk or RiskSettings(), ledger=ledger, broker=broker, symbols=symbols,
                   timeframe=timeframe, clock=clock)

    def start(self) -> list[Event]:
        """Reconcile with the broker before any trading (idempotent)."""
        if self._started:
            return []
        self._started = True
        events = self.router.reconcile(cycle=self.cycle, ts=self.ts)
        events += self.book.recover(cycle=self.cycle, ts=self.ts)
        problems = self.ledger.audit()
        if problems:
            events.append(LogMessage(source=self.source, cycle=self.cycle, ts=self.ts, level="error",
                                     message="ledger audit: " + "; ".join(problems)))
        return events

    def close(self) -> None:
        self.ledger.close()

    # -- each cycle ------------------------------------------------------------
    def on_bar(self, bar: Bar, cycle: int) -> list[Event]:
        events = self.start()
        self.cycle, self.ts = cycle, bar.ts
        day = utc_day(bar.ts)
        if self.ledger.day(day) is None:
            self.ledger.start_day(day, self._equity())  # marked at the closes before this bar
        events += self.router.apply(self.broker.on_bar(bar), cycle=cycle, ts=bar.ts)
        for symbol, close in zip(self.symbols, bar.close, strict=True):
            if math.isfinite(close):
                self._last[symbol] = float(close)
        events += self._check_halt(day)
        events += self.book.expire(cycle=cycle, ts=bar.ts)
        events.append(self.snapshot())
        return events

    def propose(self, cycle: int, ts: int, symbols: Sequence[str], scores: Sequence[float],
                contributions_by_symbol: Mapping[str, Sequence[Contribution]], prices: Sequence[float],
                rank_key: Mapping[str, float] | None = None) -> list[Event]:
        events = self.start()
        self.cycle, self.ts = cycle, ts
        for symbol, price in zip(symbols, prices):
            if math.isfinite(price):
                self._last.setdefault(symbol, float(price))
        events += self.book.propose(cycle=cycle, ts=ts, symbols=symbols, scores=scores,
                                    contributions_by_symbol=contributions_by_symbol, prices=prices,
                                    rank_key=rank_key)
        if any(isinstance(e, OrderUpdate) for e in events):  # auto-approved: an order is open
            events.append(self.snapshot())
        return events

    def approve(self, proposal_id: str) -> list[Event]:
        events = self.start() + self.book.approve(proposal_id, cycle=self.cycle, ts=self.ts)
        return events + [self.snapshot()]

    def reject(self, proposal_id: str, reason: str = "rejected by the trader") -> list[Event]:
        return self.start() + self.book.reject(proposal_id, reason, cycle=self.cycle, ts=self.ts)

    def expire(self, now: float | None = None) -> list[Event]:
        return self.book.expire(now, cycle=self.cycle, ts=self.ts)

    def cancel(self, client_order_id: str) -> list[Event]:
        return self.router.cancel(client_order_id, cycle=self.cycle, ts=self.ts) + [self.snapshot()]

    # -- views -----------------------------------------------------------------
    def pending(self) -> tuple[TradeProposal, ...]:
        return self.book.pending()

    def journal(self, limit: int = 50) -> JournalPage:
        """The newest journal rows; each summary ends with the votes behind it ("source value×weight")."""
        rows = self.ledger.journal(limit)
        entries = tuple(JournalEntry(ts=r.ts, proposal_id=r.proposal_id, symbol=r.symbol, side=r.side,
                                     outcome=r.outcome,
                                     reason=f"{r.rule}: {r.reason}" if r.rule else r.reason,
                                     summary=_with_votes(r.summary, r.contributions)) for r in rows)
        return JournalPage(source=self.source, cycle=self.cycle, ts=self.ts, entries=entries)

    def state(self) -> PortfolioState:
        day = self.ledger.day(utc_day(self.ts)) if self.ts else None
        return portfolio_state(now_ts=self.ts, bar_ns=self._bar_ns, cash=self.ledger.cash(),
                               positions=self.ledger.positions(), last=self._last,
                               open_orders=self.ledger.unfinished_orders(),
                               day_start_equity=day[0] if day else None, halted_reason=day[1] if day else "",
                               last_losses=self.ledger.last_losses())

    def snapshot(self) -> PortfolioSnapshot:
        account = self.ledger.account()
        day = self.ledger.day(utc_day(self.ts)) if self.ts else None
        return snapshot(source=self.source, cycle=self.cycle, ts=self.ts, mode=self.mode, cash=account.cash,
                        positions=self.ledger.positions(), last=self._last,
                        open_orders=len(self.ledger.unfinished_orders()), fees_paid=account.fees_paid,
                        halted_reason=day[1] if day else "")

    def _equity(self) -> float:
        return equity(self.ledger.cash(), self.ledger.positions(), self._last)

    def _check_halt(self, day: str) -> list[Event]:
        state = self.state()
        if state.halted:
            return []
        reason = self.risk.halt_reason(state, day)
        if not reason:
            return []
        self.ledger.halt_day(day, reason)
        return [LogMessage(source=self.source, cycle=self.cycle, ts=self.ts, level="warning",
                           message=f"trading halted: {reason}")]


def _with_votes(summary: str, contributions: Sequence[Mapping[str, object]]) -> str:
    votes = []
    for c in contributions:
        value, weight = c.get("value"), c.get("weight")
        if isinstance(value, (int, float)):
            scale = f"×{weight:.2f}" if isinstance(weight, (int, float)) else ""
            votes.append(f"{c.get('source')} {value:.2f}{scale}")
    return f"{summary} · votes: {', '.join(votes)}" if votes else summary
