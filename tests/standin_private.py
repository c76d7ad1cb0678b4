"""The signed (account and trading) half of the Binance-spot stand-in.

Endpoints, in Binance's JSON: GET /api/v3/account (balances), POST
/api/v3/order (newClientOrderId), GET /api/v3/order (orderId or
origClientOrderId), DELETE /api/v3/order, GET /api/v3/openOrders, GET
/api/v3/myTrades. Signatures are not checked, but each signed request must
carry an X-MBX-APIKEY header (recorded in `api_keys`; when `api_key` is set
it must match), a `signature` and a `timestamp`, and like Binance it is
refused (-1021) when it is processed more than `recvWindow` ms after its
timestamp (real time), so a request held up in the network cannot create an
order after the client gave up on it.

Matching: market orders fill at once at the symbol's current price; limit
orders fill when that price crosses them (checked on every request). The
commission (`fee_rate`, Binance's 0.1 %) is charged in the quote asset.
Balances move with each fill; an order the free balance cannot cover is
refused with Binance's -2010 "insufficient balance". A client order id
already used by an open order is refused ("Duplicate order sent.");
`posts` counts order requests per client id and `created` the orders made,
so a test can prove nothing was sent or made twice.

Order-level faults (set by the public server's `inject`): "partial" makes
the next new order fill half now and the rest after `release_partials()`;
"duplicate_fill" repeats the first trade in the next myTrades reply.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

SIGNED_PATHS = ("/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades")
TERMINAL = ("FILLED", "CANCELED", "EXPIRED", "REJECTED")


@dataclass(slots=True)
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    quantity: float
    price: float  # 0 for market
    time_ms: int
    status: str = "NEW"
    executed: float = 0.0
    quote: float = 0.0
    update_ms: int = 0
    hold_rest: bool = False  # "partial": the rest fills on a later request


@dataclass(slots=True)
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: float
    qty: float
    commission: float
    commission_asset: str
    time_ms: int
    maker: bool


@dataclass(slots=True)
class Market:
    symbol: str
    base: str
    quote: str
    tick: float
    step: float
    min_notional: float
    price_dp: int
    qty_dp: int


def _err(status: int, code: int, msg: str) -> tuple[int, dict]:
    return status, {"code": code, "msg": msg}


def _fmt(x: float, dp: int = 8) -> str:
    return f"{x:.{dp}f}"


class PrivateBook:
    """Balances, orders and trades of one account; every method takes the lock."""

    def __init__(self, markets: dict[str, Market], price_of: Callable[[str], float], *,
                 balances: dict[str, float] | None = None, fee_rate: float = 0.001, api_key: str | None = None,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.markets = markets
        self.price_of = price_of
        self.fee_rate = fee_rate
        self.api_key = api_key
        self.wall_ms = wall_ms
        self.free: dict[str, float] = dict(balances or {"USDT": 10_000.0})
        self.locked: dict[str, float] = {}
        self.orders: dict[int, Order] = {}
        self.trades: list[Trade] = []
        self.posts: Counter[str] = Counter()
        self.created: Counter[str] = Counter()
        self.api_keys: list[str] = []
        self.partial_next = 0
        self.duplicate_next = 0
        self._ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)
        self._lock = threading.RLock()

    # views for tests --------------------------------------------------------------
    def balance(self, asset: str) -> float:
        with self._lock:
            return self.free.get(asset, 0.0) + self.locked.get(asset, 0.0)

    def order_by_client(self, client_id: str) -> Order | None:
        with self._lock:
            return next((o for o in self.orders.values() if o.client_id == client_id), None)

    def trades_of(self, order_id: int) -> list[Trade]:
        with self._lock:
            return [t for t in self.trades if t.order_id == order_id]

    def set_free(self, asset: str, amount: float) -> None:
        with self._lock:
            self.free[asset] = amount

    def release_partials(self) -> None:
        """Let the rest of every "partial" order fill on the next request."""
        with self._lock:
            for order in self.orders.values():
                order.hold_rest = False

    # request handling ---------------------------------------------------------------
    def handle(self, method: str, path: str, params: dict[str, str], api_key: str | None) -> tuple[int, object]:
        with self._lock:
            refused = self._check_signed(params, api_key)
            if refused:
                return refused
            self._match()
            if path == "/api/v3/account":
                return 200, self._account()
            if path == "/api/v3/openOrders" and method == "GET":
                symbol = params.get("symbol")
                return 200, [self._order_json(o) for o in self.orders.values()
                             if o.status not in TERMINAL and (symbol is None or o.symbol == symbol)]
            if path == "/api/v3/myTrades" and method == "GET":
                return self._my_trades(params)
            if path == "/api/v3/order":
                if method == "POST":
                    return self._create(params)
                order = self._find(params)
                if order is None:
                    if method == "DELETE":
                        return _err(400, -2011, "Unknown order sent.")
                    return _err(400, -2013, "Order does not exist.")
                if method == "DELETE":
                    return self._cancel(order)
                return 200, self._order_json(order)
        return _err(404, -1, f"stand-in does not serve {method} {path}")

    def _check_signed(self, params: dict[str, str], api_key: str | None) -> tuple[int, dict] | None:
        if not api_key:
            return _err(401, -2014, "API-key format invalid.")
        self.api_keys.append(api_key)
        if self.api_key is not None and api_key != self.api_key:
            return _err(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if "signature" not in params or "timestamp" not in params:
            return _err(400, -1102, "Mandatory parameter 'signature' or 'timestamp' was not sent.")
        try:
            ts = int(params["timestamp"])
            window = int(params.get("recvWindow", "5000"))
        except ValueError:
            return _err(400, -1100, "Illegal characters found in parameter 'timestamp'.")
        now = self.wall_ms()
        if ts > now + 1000:
            return _err(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - ts > window:
            return _err(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return None

    def _account(self) -> dict:
        assets = sorted(set(self.free) | set(self.locked))
        return {
            "makerCommission": int(self.fee_rate * 1e4), "takerCommission": int(self.fee_rate * 1e4),
            "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": _fmt(self.fee_rate), "taker": _fmt(self.fee_rate), "buyer": _fmt(0),
                                "seller": _fmt(0)},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.wall_ms(),
            "accountType": "SPOT",
            "balances": [{"asset": a, "free": _fmt(self.free.get(a, 0.0)), "locked": _fmt(self.locked.get(a, 0.0))}
                         for a in assets],
            "permissions": ["SPOT"], "uid": 354937868,
        }

    def _find(self, params: dict[str, str]) -> Order | None:
        symbol = params.get("symbol")
        if "orderId" in params:
            order = self.orders.get(int(params["orderId"]))
        else:
            cid = params.get("origClientOrderId", "")
            order = next((o for o in self.orders.values() if o.client_id == cid), None)
        return order if order is not None and order.symbol == symbol else None

    def _create(self, params: dict[str, str]) -> tuple[int, object]:
        cid = params.get("newClientOrderId") or f"standin-{next(self._ids)}"
        self.posts[cid] += 1
        market = self.markets.get(params.get("symbol", ""))
        if market is None:
            return _err(400, -1121, "Invalid symbol.")
        side, type_ = params.get("side", ""), params.get("type", "")
        if side not in ("BUY", "SELL") or type_ not in ("MARKET", "LIMIT"):
            return _err(400, -1116, "Invalid orderType.")
        try:
            qty = float(params["quantity"])
            price = float(params["price"]) if type_ == "LIMIT" else 0.0
        except (KeyError, ValueError):
            return _err(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        if qty <= 0 or abs(qty / market.step - round(qty / market.step)) > 1e-6:
            return _err(400, -1013, "Filter failure: LOT_SIZE")
        if type_ == "LIMIT" and (price <= 0 or abs(price / market.tick - round(price / market.tick)) > 1e-6):
            return _err(400, -1013, "Filter failure: PRICE_FILTER")
        now_price = self.price_of(market.symbol)
        if qty * (price or now_price) < market.min_notional:
            return _err(400, -1013, "Filter failure: NOTIONAL")
        if any(o.client_id == cid and o.status not in TERMINAL for o in self.orders.values()):
            return _err(400, -2010, "Duplicate order sent.")
        if side == "BUY":
            asset, need = market.quote, qty * (price or now_price) * (1 + self.fee_rate)
        else:
            asset, need = market.base, qty
        if self.free.get(asset, 0.0) + 1e-12 < need:
            return _err(400, -2010, "Account has insufficient balance for requested action.")
        now = self.wall_ms()
        order = Order(next(self._ids), cid, market.symbol, side, type_, qty, price, now, update_ms=now)
        self.orders[order.order_id] = order
        self.created[cid] += 1
        if type_ == "LIMIT":
            self._move(asset, need, lock=True)
        if self.partial_next:
            self.partial_next -= 1
            order.hold_rest = True
        fills = self._try_fill(order, now_price)
        body = self._order_json(order)
        body.update(transactTime=now, workingTime=now, fills=[
            {"price": _fmt(t.price, market.price_dp), "qty": _fmt(t.qty, market.qty_dp),
             "commission": _fmt(t.commission), "commissionAsset": t.commission_asset, "tradeId": t.trade_id}
            for t in fills])
        return 200, body

    def _cancel(self, order: Order) -> tuple[int, object]:
        if order.status in TERMINAL:
            return _err(400, -2011, "Unknown order sent.")
        market = self.markets[order.symbol]
        rest = order.quantity - order.executed
        if order.type == "LIMIT":
            if order.side == "BUY":
                self._move(market.quote, rest * order.price * (1 + self.fee_rate), lock=False)
            else:
                self._move(market.base, rest, lock=False)
        order.status, order.update_ms = "CANCELED", self.wall_ms()
        body = self._order_json(order)
        body["origClientOrderId"] = order.client_id
        body["clientOrderId"] = f"cancel-{order.order_id}"
        return 200, body

    def _my_trades(self, params: dict[str, str]) -> tuple[int, object]:
        symbol = params.get("symbol")
        if symbol not in self.markets:
            return _err(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        market = self.markets[symbol]
        rows = [t for t in self.trades if t.symbol == symbol
                and ("orderId" not in params or t.order_id == int(params["orderId"]))]
        out = [self._trade_json(t, market) for t in rows]
        if self.duplicate_next and out:
            self.duplicate_next -= 1
            out.append(dict(out[0]))
        return 200, out

    # matching ------------------------------------------------------------------------
    def _match(self) -> None:
        for order in list(self.orders.values()):
            if order.status in TERMINAL:
                continue
            self._try_fill(order, self.price_of(order.symbol))

    def _try_fill(self, order: Order, price: float) -> list[Trade]:
        if order.type == "LIMIT":
            crossed = price <= order.price if order.side == "BUY" else price >= order.price
            if not crossed:
                return []
            price = min(price, order.price) if order.side == "BUY" else max(price, order.price)
        market = self.markets[order.symbol]
        rest = order.quantity - order.executed
        if order.hold_rest and order.executed > 0:
            return []  # the rest waits for release_partials()
        if order.hold_rest:
            qty = math.floor(rest / 2 / market.step) * market.step
        else:
            qty = rest
        if qty <= 0:
            return []
        trade = self._trade(order, market, round(price, market.price_dp), qty)
        order.executed += qty
        order.quote += qty * trade.price
        order.update_ms = trade.time_ms
        order.status = "FILLED" if order.executed >= order.quantity - market.step / 2 else "PARTIALLY_FILLED"
        return [trade]

    def _trade(self, order: Order, market: Market, price: float, qty: float) -> Trade:
        commission = qty * price * self.fee_rate
        if order.side == "BUY":
            cost = qty * price + commission
            if order.type == "LIMIT":
                reserved = qty * order.price * (1 + self.fee_rate)
                self.locked[market.quote] = self.locked.get(market.quote, 0.0) - reserved
                self.free[market.quote] = self.free.get(market.quote, 0.0) + reserved - cost
            else:
                self.free[market.quote] = self.free.get(market.quote, 0.0) - cost
            self.free[market.base] = self.free.get(market.base, 0.0) + qty
        else:
            if order.type == "LIMIT":
                self.locked[market.base] = self.locked.get(market.base, 0.0) - qty
            else:
                self.free[market.base] = self.free.get(market.base, 0.0) - qty
            self.free[market.quote] = self.free.get(market.quote, 0.0) + qty * price - commission
        trade = Trade(next(self._trade_ids), order.order_id, order.symbol, order.side, price, qty, commission,
                      market.quote, self.wall_ms(), order.type == "LIMIT")
        self.trades.append(trade)
        return trade

    def _move(self, asset: str, amount: float, *, lock: bool) -> None:
        sign = 1.0 if lock else -1.0
        self.free[asset] = self.free.get(asset, 0.0) - sign * amount
        self.locked[asset] = self.locked.get(asset, 0.0) + sign * amount

    # JSON ------------------------------------------------------------------------------
    def _order_json(self, o: Order) -> dict:
        market = self.markets[o.symbol]
        return {
            "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1, "clientOrderId": o.client_id,
            "price": _fmt(o.price, market.price_dp), "origQty": _fmt(o.quantity, market.qty_dp),
            "executedQty": _fmt(o.executed, market.qty_dp), "cummulativeQuoteQty": _fmt(o.quote),
            "status": o.status, "timeInForce": "GTC", "type": o.type, "side": o.side,
            "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": o.time_ms, "updateTime": o.update_ms,
            "isWorking": True, "workingTime": o.time_ms, "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    @staticmethod
    def _trade_json(t: Trade, market: Market) -> dict:
        return {
            "symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
            "price": _fmt(t.price, market.price_dp), "qty": _fmt(t.qty, market.qty_dp),
            "quoteQty": _fmt(t.price * t.qty), "commission": _fmt(t.commission), "commissionAsset": t.commission_asset,
            "time": t.time_ms, "isBuyer": t.side == "BUY", "isMaker": t.maker, "isBestMatch": True,
        }
