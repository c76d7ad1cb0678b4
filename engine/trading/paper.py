"""PaperBroker: a simulated exchange that fills on the NEXT bar's prices.

Fill rules (no lookahead):
- An order fills only on a bar the broker had not yet seen when the order was
  placed: `on_bar(bar)` skips orders placed while `bar.ts` was already the
  latest bar. In the cockpit's cycle (on_bar, then models, then proposals and
  approvals) an order decided on bar t therefore fills on bar t+1 at the
  earliest, never on t. Orders resumed after a restart fill on the first bar
  the restarted broker sees (even when a replay went back in time).
- Market: fills the whole quantity at the bar's open × (1 + slippage) for a
  buy, × (1 − slippage) for a sell.
- Limit buy at L: fills when the bar's low ≤ L, at min(L, open) (a gap down
  fills at the better open). Limit sell at L: when high ≥ L, at max(L, open).
  No slippage on limits; they rest until filled or cancelled.
- A symbol without a bar (NaN open) fills nothing on that bar.
- Fee on every fill: fee_bps × price × quantity (no maker/taker split).
- Long-only by default: a sell larger than the position (minus other open
  sells) is rejected at submit. A buy whose estimated cost (last close or
  limit, plus slippage and fee) exceeds the cash not already reserved by
  open buys is rejected at submit; a market buy that no longer fits the cash
  at the fill price (a gap up) is rejected at the fill, not partly filled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from engine.data.panel import Bar
from engine.errors import OrderRejected
from engine.events import Side
from engine.trading.accounting import Position, apply_fill
from engine.trading.broker import (
    Balances,
    BrokerReport,
    FillReport,
    KnownOrder,
    OrderAck,
    OrderRequest,
    ReconcileReport,
)

_CASH_EPS = 1e-9


@dataclass(slots=True)
class _Working:
    request: OrderRequest
    order_id: str
    placed_ts: int | None
    quantity: float  # still to fill


class PaperBroker:
    """Simulated fills; state lives in memory and is restored from the ledger via `reconcile`."""

    mode = "paper"

    def __init__(self, symbols: Sequence[str], *, fee_bps: float = 10.0, slippage_bps: float = 5.0,
                 cash: float = 10_000.0, positions: Sequence[tuple[str, Position]] = (),
                 long_only: bool = True) -> None:
        self.symbols: tuple[str, ...] = tuple(symbols)
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self.fee_rate = fee_bps / 1e4
        self.slip_rate = slippage_bps / 1e4
        self.long_only = long_only
        self._cash = float(cash)
        self._positions: dict[str, Position] = dict(positions)
        self._orders: dict[str, _Working] = {}
        self._last_ts: int | None = None
        self._last_close: dict[str, float] = {}

    # -- the Broker protocol ----------------------------------------------------
    def submit(self, order: OrderRequest) -> OrderAck:
        if order.client_order_id in self._orders:
            return self._ack(self._orders[order.client_order_id], "submitted", "already open (not sent twice)")
        working = _Working(order, f"P-{order.client_order_id}", self._last_ts, order.quantity)
        reason = self._refusal(order)
        if reason:
            return self._ack(working, "rejected", reason)
        self._orders[order.client_order_id] = working
        return self._ack(working, "submitted")

    def cancel(self, client_order_id: str) -> OrderAck:
        working = self._orders.pop(client_order_id, None)
        if working is None:
            raise OrderRejected(f"no open paper order {client_order_id!r} to cancel")
        return self._ack(working, "cancelled", "cancelled on request")

    def on_bar(self, bar: Bar) -> list[BrokerReport]:
        reports: list[BrokerReport] = []
        for cid, working in list(self._orders.items()):
            if working.placed_ts == bar.ts:
                continue  # placed while this bar was already known: wait for the next one
            price = self._fill_price(working.request, bar)
            if price is None:
                continue
            reports.extend(self._fill(working, price, bar.ts))
            del self._orders[cid]
        for symbol, i in self._index.items():
            close = float(bar.close[i])
            if math.isfinite(close):
                self._last_close[symbol] = close
        self._last_ts = bar.ts
        return reports

    def open_orders(self) -> tuple[OrderAck, ...]:
        return tuple(self._ack(w, "submitted") for w in self._orders.values())

    def balances(self) -> Balances:
        return Balances(cash=self._cash, positions=tuple(
            (s, p.quantity) for s, p in sorted(self._positions.items()) if p.quantity))

    def reconcile(self, orders: Sequence[KnownOrder], *, cash: float,
                  positions: Sequence[tuple[str, float]]) -> ReconcileReport:
        """Adopt the ledger's book: the ledger is where the paper exchange persists.

        Orders the ledger has as submitted/partially filled are resumed (they
        fill on the next bar); orders still "new" never reached this broker
        (the process stopped between writing and sending) and come back as
        unknown. Cash and position quantities that differ are reported, then
        the ledger's values are taken.
        """
        differences = []
        if abs(self._cash - cash) > _CASH_EPS * max(1.0, abs(cash)):
            differences.append(f"paper cash {self._cash:.2f} ≠ ledger cash {cash:.2f}; using the ledger's")
        self._cash = float(cash)
        ledger_qty = dict(positions)
        for symbol in sorted(set(ledger_qty) | {s for s, p in self._positions.items() if p.quantity}):
            mine = self._positions.get(symbol, Position()).quantity
            theirs = ledger_qty.get(symbol, 0.0)
            if abs(mine - theirs) > 1e-9 * max(1.0, abs(theirs)):
                differences.append(f"paper {symbol} {mine:g} ≠ ledger {theirs:g}; using the ledger's")
                self._positions[symbol] = Position(quantity=theirs)
        acks, unknown = [], []
        for known in orders:
            cid = known.request.client_order_id
            if cid in self._orders:
                acks.append(self._ack(self._orders[cid], "submitted"))
            elif known.status in ("submitted", "partially_filled"):
                remaining = known.request.quantity - known.filled
                working = _Working(known.request, known.order_id or f"P-{cid}", None, remaining)
                self._orders[cid] = working
                acks.append(self._ack(working, "submitted", "resumed after restart"))
            else:
                unknown.append(cid)
        return ReconcileReport(orders=tuple(acks), unknown=tuple(unknown), differences=tuple(differences))

    # -- paper-only views -----------------------------------------------------
    def position(self, symbol: str) -> Position:
        return self._positions.get(symbol, Position())

    def last_price(self, symbol: str) -> float:
        return self._last_close.get(symbol, math.nan)

    def unrealized_pnl(self) -> float:
        return sum(p.unrealized(self._last_close.get(s, p.average_price)) for s, p in self._positions.items())

    def realized_pnl(self) -> float:
        return sum(p.realized_pnl for p in self._positions.values())

    def equity(self) -> float:
        """Cash plus every position marked to its last close (its average price before any bar)."""
        return self._cash + sum(p.quantity * self._last_close.get(s, p.average_price)
                                for s, p in self._positions.items())

    # -- internals ----------------------------------------------------------------
    def _refusal(self, order: OrderRequest) -> str:
        if order.symbol not in self._index:
            return f"unknown symbol {order.symbol!r} (paper broker trades {', '.join(self.symbols)})"
        if order.side is Side.SELL:
            held = self.position(order.symbol).quantity
            selling = sum(w.quantity for w in self._orders.values()
                          if w.request.symbol == order.symbol and w.request.side is Side.SELL)
            if self.long_only and order.quantity > (held - selling) * (1 + 1e-9) + 1e-12:
                return (f"sell of {order.quantity:g} {order.symbol} exceeds the position "
                        f"{held - selling:g} (long-only: short selling is off)")
            return ""
        ref = order.limit_price if order.order_type == "limit" else self._last_close.get(order.symbol)
        if ref is None:
            return ""  # no price seen yet: checked at the fill
        need = self._buy_cost(order.quantity, ref, order.order_type)
        available = self._cash - sum(self._buy_cost(w.quantity, self._reference(w.request), w.request.order_type)
                                     for w in self._orders.values() if w.request.side is Side.BUY)
        if need > available + _CASH_EPS:
            return f"insufficient cash: the buy needs ≈{need:.2f}, {max(available, 0.0):.2f} available"
        return ""

    def _reference(self, request: OrderRequest) -> float:
        if request.order_type == "limit" and request.limit_price is not None:
            return request.limit_price
        return self._last_close.get(request.symbol, 0.0)

    def _buy_cost(self, quantity: float, price: float, order_type: str) -> float:
        slip = self.slip_rate if order_type == "market" else 0.0
        return quantity * price * (1 + slip) * (1 + self.fee_rate)

    def _fill_price(self, request: OrderRequest, bar: Bar) -> float | None:
        i = self._index[request.symbol]
        o, h, lo = float(bar.open[i]), float(bar.high[i]), float(bar.low[i])
        if not math.isfinite(o):
            return None
        buy = request.side is Side.BUY
        if request.order_type == "market":
            return o * (1 + self.slip_rate) if buy else o * (1 - self.slip_rate)
        limit = float(request.limit_price)  # type: ignore[arg-type]
        if buy:
            return min(limit, o) if math.isfinite(lo) and lo <= limit else None
        return max(limit, o) if math.isfinite(h) and h >= limit else None

    def _fill(self, working: _Working, price: float, ts: int) -> list[BrokerReport]:
        req, qty = working.request, working.quantity
        fee = qty * price * self.fee_rate
        pos = self.position(req.symbol)
        if req.side is Side.BUY and qty * price + fee > self._cash + _CASH_EPS:
            why = f"insufficient cash at the fill: needs {qty * price + fee:.2f}, has {self._cash:.2f}"
            return [self._ack(working, "rejected", why, ts)]
        if req.side is Side.SELL and self.long_only and qty > pos.quantity * (1 + 1e-9) + 1e-12:
            return [self._ack(working, "rejected", f"position {pos.quantity:g} too small to sell {qty:g}", ts)]
        effect = apply_fill(pos, req.side, qty, price, fee)
        self._positions[req.symbol] = effect.position
        self._cash += effect.cash_delta
        fill = FillReport(fill_id=f"{req.client_order_id}-fill", client_order_id=req.client_order_id,
                          order_id=working.order_id, symbol=req.symbol, side=req.side, quantity=qty,
                          price=price, fee=fee, ts=ts)
        done = req.quantity - qty
        average = price if done <= 0 else None
        return [fill, OrderAck(client_order_id=req.client_order_id, order_id=working.order_id, symbol=req.symbol,
                               side=req.side, order_type=req.order_type, quantity=req.quantity,
                               limit_price=req.limit_price, status="filled", filled=req.quantity,
                               average_price=average, ts=ts)]

    def _ack(self, working: _Working, status: str, message: str = "", ts: int | None = None) -> OrderAck:
        req = working.request
        return OrderAck(client_order_id=req.client_order_id, order_id=working.order_id, symbol=req.symbol,
                        side=req.side, order_type=req.order_type, quantity=req.quantity,
                        limit_price=req.limit_price, status=status, filled=req.quantity - working.quantity,
                        message=message, ts=(self._last_ts or 0) if ts is None else ts)
