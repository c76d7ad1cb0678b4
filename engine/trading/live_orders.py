"""What the live broker knows about one order, and ccxt's order and trade dicts in the broker's terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.trading.broker import FillReport, OrderAck, OrderRequest
from engine.trading.live_market import MarketRules

STATUS_OF = {"open": "submitted", "closed": "filled", "canceled": "cancelled", "cancelled": "cancelled",
             "expired": "cancelled", "rejected": "rejected"}
"""ccxt's unified order status → the ledger's."""


@dataclass(slots=True)
class Tracked:
    """One order the broker follows; `status` "new" = sent with an unknown outcome."""

    request: OrderRequest
    order_id: str = ""
    status: str = "new"
    filled: float = 0.0
    average: float | None = None
    sent_at: float = 0.0
    fill_ids: set[str] = field(default_factory=set)
    reported: float = 0.0
    """Quantity already reported as fills."""
    missing: int = 0
    """Bars in a row the exchange did not find it."""

    def update(self, raw: dict[str, Any]) -> None:
        """Adopt the exchange's view (a ccxt order dict)."""
        self.order_id = str(raw.get("id") or self.order_id)
        self.status = STATUS_OF.get(str(raw.get("status")), "submitted")
        self.filled = float(raw.get("filled") or 0.0)
        average = raw.get("average")
        self.average = float(average) if average else self.average

    @property
    def unreported(self) -> bool:
        return self.filled > self.reported * (1 + 1e-9)

    def ack(self, message: str = "") -> OrderAck:
        req = self.request
        # "filled" reaches the ledger through the fills themselves; the ack says the exchange has the order
        status = "submitted" if self.status == "filled" else self.status
        return OrderAck(client_order_id=req.client_order_id, order_id=self.order_id, symbol=req.symbol,
                        side=req.side, order_type=req.order_type, quantity=req.quantity, limit_price=req.limit_price,
                        status=status, filled=self.filled, average_price=self.average, message=message)


def fill_from_trade(trade: dict[str, Any], tracked: Tracked, rules: MarketRules, exchange_id: str) -> FillReport:
    """A ccxt trade as a fill keyed by the exchange's trade id; its commission valued in the quote currency."""
    req = tracked.request
    price, quantity = float(trade["price"]), float(trade["amount"])
    fee = trade.get("fee") or {}
    cost, currency = float(fee.get("cost") or 0.0), fee.get("currency")
    if currency == rules.base:
        cost *= price
    elif cost and currency != rules.quote:
        cost = 0.0  # paid in a third currency (e.g. BNB): not in the quote cash
    return FillReport(fill_id=f"{exchange_id}-{rules.market_id}-{trade['id']}", client_order_id=req.client_order_id,
                      order_id=tracked.order_id, symbol=req.symbol, side=req.side, quantity=quantity, price=price,
                      fee=cost, ts=int(trade.get("timestamp") or 0) * 1_000_000)
