"""Average-cost position accounting, shared by the paper broker and the ledger.

Fees are part of the cost basis: a buy's fee raises the average price, a
sell's fee lowers its proceeds. So `realized_pnl` is net of every fee and,
with no open orders, equity = starting cash + Σ realised + Σ unrealised
exactly, where unrealised = quantity × (last price − average price).

Quantities are signed (short = negative) so a fill the exchange reports can
always be recorded, even one the paper broker would have refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.events import Side

QTY_EPS = 1e-12
"""Relative tolerance below which a quantity counts as zero."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    quantity: float = 0.0
    average_price: float = 0.0
    realized_pnl: float = 0.0

    def unrealized(self, last_price: float) -> float:
        if self.quantity == 0.0 or not math.isfinite(last_price):
            return 0.0
        return self.quantity * (last_price - self.average_price)


@dataclass(frozen=True, slots=True, kw_only=True)
class FillEffect:
    position: Position
    cash_delta: float
    realized_delta: float


def is_zero(quantity: float, reference: float) -> bool:
    return abs(quantity) <= QTY_EPS * max(1.0, abs(reference))


def apply_fill(pos: Position, side: Side | str, quantity: float, price: float, fee: float) -> FillEffect:
    """The position after one fill, the cash it moved and the PnL it realised."""
    if not (quantity > 0 and price > 0 and fee >= 0):
        raise ValueError(f"bad fill: quantity={quantity!r} price={price!r} fee={fee!r}")
    sign = 1.0 if Side(side) is Side.BUY else -1.0
    held = pos.quantity
    closing = min(quantity, abs(held)) if held * sign < 0 else 0.0
    opening = quantity - closing
    fee_close = fee * closing / quantity
    fee_open = fee - fee_close
    realized = closing * (price - pos.average_price) * (1.0 if held > 0 else -1.0) - fee_close if closing else 0.0
    remaining = held + sign * closing
    if is_zero(remaining, quantity):
        remaining = 0.0
    average = pos.average_price if remaining else 0.0
    if opening > 0:
        size = abs(remaining) + opening
        # a buy's fee raises the cost of a long; a short's fee lowers its entry
        average = (abs(remaining) * average + opening * price + sign * fee_open) / size
        remaining += sign * opening
    return FillEffect(
        position=Position(quantity=remaining, average_price=average, realized_pnl=pos.realized_pnl + realized),
        cash_delta=-sign * quantity * price - fee,
        realized_delta=realized,
    )
