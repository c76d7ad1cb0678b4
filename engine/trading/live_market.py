"""An order made to fit an exchange market before it is sent, or refused saying why.

Amounts and prices are rounded with ccxt's `amount_to_precision` /
`price_to_precision` (amounts are truncated, so an order never grows), then
checked against the market's limits: minimum and maximum amount, minimum
and maximum price, and minimum and maximum order value (cost). The market's
taker fee is what a cost estimate charges.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import ccxt

from engine.errors import OrderRejected
from engine.trading.broker import OrderRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRules:
    symbol: str
    market_id: str
    base: str
    quote: str
    taker: float
    maker: float
    amount_min: float | None
    amount_max: float | None
    market_amount_max: float | None
    price_min: float | None
    price_max: float | None
    cost_min: float | None
    cost_max: float | None

    @classmethod
    def of(cls, market: dict[str, Any]) -> "MarketRules":
        limits = market.get("limits") or {}

        def limit(kind: str, end: str) -> float | None:
            value = (limits.get(kind) or {}).get(end)
            return float(value) if value is not None and float(value) > 0 else None

        return cls(symbol=market["symbol"], market_id=str(market["id"]), base=market["base"], quote=market["quote"],
                   taker=float(market.get("taker") or 0.0), maker=float(market.get("maker") or 0.0),
                   amount_min=limit("amount", "min"), amount_max=limit("amount", "max"),
                   market_amount_max=limit("market", "max"), price_min=limit("price", "min"),
                   price_max=limit("price", "max"), cost_min=limit("cost", "min"), cost_max=limit("cost", "max"))


def fit_order(exchange: ccxt.Exchange, request: OrderRequest, reference_price: float | None) -> OrderRequest:
    """`request` rounded to the market's precision; OrderRejected naming the limit it breaks.

    `reference_price` values a market order for the minimum-cost check (the
    last price seen); a limit order is valued at its limit.
    """
    symbol = request.symbol
    if symbol not in (exchange.markets or {}):
        raise OrderRejected(f"{exchange.id} does not list {symbol!r}; order not sent")
    rules = MarketRules.of(exchange.market(symbol))
    try:
        amount = float(exchange.amount_to_precision(symbol, request.quantity))
    except ccxt.BaseError:
        amount = 0.0
    if not amount > 0:
        raise OrderRejected(f"quantity {request.quantity:.10g} {rules.base} rounds to 0 at {symbol}'s amount step; "
                            "order not sent")
    if rules.amount_min is not None and amount < rules.amount_min * (1 - 1e-9):
        raise OrderRejected(f"quantity {amount:.10g} {rules.base} is below {symbol}'s minimum "
                            f"{rules.amount_min:.10g}; order not sent")
    amount_max = rules.amount_max
    if request.order_type == "market" and rules.market_amount_max is not None:
        amount_max = min(amount_max or math.inf, rules.market_amount_max)
    if amount_max is not None and amount > amount_max * (1 + 1e-9):
        raise OrderRejected(f"quantity {amount:.10g} {rules.base} is above {symbol}'s maximum "
                            f"{amount_max:.10g} for a {request.order_type} order; order not sent")
    price = None
    if request.order_type == "limit":
        assert request.limit_price is not None
        try:
            price = float(exchange.price_to_precision(symbol, request.limit_price))
        except ccxt.BaseError:
            price = 0.0
        if not price > 0:
            raise OrderRejected(f"limit price {request.limit_price:.10g} rounds to 0 at {symbol}'s tick; "
                                "order not sent")
        if rules.price_min is not None and price < rules.price_min * (1 - 1e-9):
            raise OrderRejected(f"limit price {price:.10g} is below {symbol}'s minimum {rules.price_min:.10g}; "
                                "order not sent")
        if rules.price_max is not None and price > rules.price_max * (1 + 1e-9):
            raise OrderRejected(f"limit price {price:.10g} is above {symbol}'s maximum {rules.price_max:.10g}; "
                                "order not sent")
    value_at = price if price is not None else reference_price
    if value_at is not None and math.isfinite(value_at) and value_at > 0:
        cost = amount * value_at
        if rules.cost_min is not None and cost < rules.cost_min * (1 - 1e-9):
            raise OrderRejected(f"order value ≈{cost:.8g} {rules.quote} is below {symbol}'s minimum "
                                f"{rules.cost_min:.8g} {rules.quote}; order not sent")
        if rules.cost_max is not None and cost > rules.cost_max * (1 + 1e-9):
            raise OrderRejected(f"order value ≈{cost:.8g} {rules.quote} is above {symbol}'s maximum "
                                f"{rules.cost_max:.8g} {rules.quote}; order not sent")
    return dataclasses.replace(request, quantity=amount, limit_price=price)
