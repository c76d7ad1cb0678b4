"""The portfolio as the risk rules see it, and the PortfolioSnapshot event the panes draw."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Sequence

from engine.events import PortfolioSnapshot, PositionRow, Side
from engine.trading.accounting import Position
from engine.trading.broker import OrderAck
from engine.trading.records import OrderRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    symbol: str
    quantity: float
    average_price: float
    last_price: float

    @property
    def notional(self) -> float:
        return abs(self.quantity) * self.last_price


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioState:
    """Everything a risk rule may look at, frozen at one moment."""

    now_ts: int
    bar_ns: int
    cash: float
    equity: float
    holdings: tuple[Holding, ...] = ()
    open_buy_notional: tuple[tuple[str, float], ...] = ()
    open_sell_quantity: tuple[tuple[str, float], ...] = ()
    day_start_equity: float | None = None
    halted_reason: str = ""
    last_losses: tuple[tuple[str, int], ...] = ()

    def holding(self, symbol: str) -> Holding | None:
        return next((h for h in self.holdings if h.symbol == symbol and h.quantity), None)

    def quantity(self, symbol: str) -> float:
        h = self.holding(symbol)
        return h.quantity if h else 0.0

    def pending_buy(self, symbol: str) -> float:
        return dict(self.open_buy_notional).get(symbol, 0.0)

    def pending_sell(self, symbol: str) -> float:
        return dict(self.open_sell_quantity).get(symbol, 0.0)

    def exposure(self, symbol: str) -> float:
        """Held notional at the last price plus open buy orders' notional."""
        h = self.holding(symbol)
        return (h.notional if h else 0.0) + self.pending_buy(symbol)

    def open_symbols(self) -> frozenset[str]:
        """Symbols held or with an open buy order (each counts as one open position)."""
        return frozenset(h.symbol for h in self.holdings if h.quantity) | {
            s for s, n in self.open_buy_notional if n > 0}

    @property
    def daily_pnl(self) -> float | None:
        return None if self.day_start_equity is None else self.equity - self.day_start_equity

    @property
    def halted(self) -> bool:
        return bool(self.halted_reason)


def utc_day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d")


def mark(position: Position, last: float | None) -> float:
    """The price a position is marked at: the last close, or its average price before any bar."""
    return last if last is not None and math.isfinite(last) else position.average_price


def equity(cash: float, positions: Sequence[tuple[str, Position]], last: Mapping[str, float]) -> float:
    return cash + sum(p.quantity * mark(p, last.get(s)) for s, p in positions)


def portfolio_state(*, now_ts: int, bar_ns: int, cash: float, positions: Sequence[tuple[str, Position]],
                    last: Mapping[str, float], open_orders: Sequence[OrderAck | OrderRecord],
                    day_start_equity: float | None, halted_reason: str,
                    last_losses: Mapping[str, int]) -> PortfolioState:
    buys: dict[str, float] = {}
    sells: dict[str, float] = {}
    for o in open_orders:
        remaining = o.quantity - o.filled
        if o.side is Side.BUY:
            price = o.limit_price if o.limit_price else last.get(o.symbol, math.nan)
            buys[o.symbol] = buys.get(o.symbol, 0.0) + remaining * (price if math.isfinite(price) else 0.0)
        else:
            sells[o.symbol] = sells.get(o.symbol, 0.0) + remaining
    holdings = tuple(Holding(symbol=s, quantity=p.quantity, average_price=p.average_price,
                             last_price=mark(p, last.get(s))) for s, p in positions if p.quantity)
    return PortfolioState(now_ts=now_ts, bar_ns=bar_ns, cash=cash, equity=equity(cash, positions, last),
                          holdings=holdings, open_buy_notional=tuple(sorted(buys.items())),
                          open_sell_quantity=tuple(sorted(sells.items())), day_start_equity=day_start_equity,
                          halted_reason=halted_reason, last_losses=tuple(sorted(last_losses.items())))


def snapshot(*, source: str, cycle: int, ts: int, mode: str, cash: float,
             positions: Sequence[tuple[str, Position]], last: Mapping[str, float], open_orders: int,
             fees_paid: float, halted_reason: str = "") -> PortfolioSnapshot:
    """The PortfolioSnapshot event: open positions with PnL; realised PnL over every symbol ever traded."""
    rows = []
    for symbol, p in positions:
        if not p.quantity:
            continue
        price = mark(p, last.get(symbol))
        rows.append(PositionRow(symbol=symbol, quantity=p.quantity, average_price=p.average_price,
                                last_price=price, unrealized_pnl=p.unrealized(price), realized_pnl=p.realized_pnl))
    unrealized = sum(r.unrealized_pnl for r in rows)
    return PortfolioSnapshot(source=source, cycle=cycle, ts=ts, mode=mode, cash=cash,
                             equity=equity(cash, positions, last), positions=tuple(rows), open_orders=open_orders,
                             realized_pnl=sum(p.realized_pnl for _, p in positions), unrealized_pnl=unrealized,
                             fees_paid=fees_paid, halted=bool(halted_reason), halted_reason=halted_reason)
