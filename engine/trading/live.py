"""LiveBroker: the Broker protocol on a real exchange through ccxt.

Idempotency. Every order carries the ledger's client order id to the
exchange (`newClientOrderId` on Binance). When a send fails in a way that
leaves its fate unknown — timeout, dropped connection, 5xx, a malformed
reply, "duplicate order" — the broker looks the order up by that id
(`origClientOrderId`) instead of sending it again. Only when the exchange
has no such order after the request's receive window has passed (a late
request is refused by the exchange after `recvWindow`) is it sent again,
with the same id. A refusal before processing (429/418 rate limits, a
timestamp outside the window) is simply sent again after the backoff.
If the exchange cannot be asked at all, the order stays in doubt ("new" in
the ledger) and each bar asks again; one never found is cancelled, never
resent late.

Reconciliation. `reconcile` (start-up) looks up every unfinished ledger
order by client id, reports their fills (the ledger ignores fills it has),
lists exchange open orders the ledger does not know and compares balances.
Until it has succeeded no order is sent; a failed attempt is retried on
every bar.

Polling. `on_bar` asks the exchange about each open order (fetch by client
id; on new executions the order's trades), so fills arrive as `FillReport`s
keyed by the exchange's trade id: a repeated trade is reported once.

Fees are the exchange's own (the trade's commission). A commission paid in
the quote currency is exact; one paid in the base currency is valued at the
fill price (the ledger's position then exceeds the exchange balance by the
fee, which reconciliation reports); one paid in a third currency (BNB) is
not counted.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import ccxt

from engine.data.ccxt_feed import RetryPolicy, SystemWallClock, WallClock, _last_response_was_json
from engine.data.panel import Bar
from engine.errors import ConfigError, ExchangeError, OrderRejected, TemporaryExchangeError
from engine.trading.broker import (
    OPEN_STATUSES,
    Balances,
    BrokerNotice,
    BrokerReport,
    FillReport,
    KnownOrder,
    OrderAck,
    OrderRequest,
    ReconcileReport,
)
from engine.trading.live_market import MarketRules, fit_order
from engine.trading.live_orders import Tracked, fill_from_trade
from engine.trading.reconcile import balance_differences, expected_after, unseen_fills
from engine.trading.retry import PARSE_ERRORS, Caller, refusal, refused_before_processing, short, temporary

_SETTLE_MARGIN_S = 0.5
"""Slack after the receive window before "not found" is believed."""
_MISSING_BARS = 3


class LiveBroker:
    """Orders on a ccxt exchange. Owns no thread; each call makes a bounded number of requests."""

    mode = "live"

    def __init__(self, exchange: ccxt.Exchange, symbols: Sequence[str], *, policy: RetryPolicy | None = None,
                 clock: WallClock | None = None, recv_window_ms: int = 5000, budget_seconds: float = 30.0,
                 redact: Callable[[str], str] = lambda text: text, seed: int | None = None) -> None:
        if not symbols:
            raise ConfigError("live trading needs at least one symbol")
        self.exchange = exchange
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.clock: WallClock = clock or SystemWallClock()
        self.recv_window_s = recv_window_ms / 1000.0
        self.redact = redact
        self.call = Caller(policy or RetryPolicy(), self.clock, budget_seconds=budget_seconds, redact=redact,
                           seed=seed)
        self.rules: dict[str, MarketRules] = {}
        self.quote = ""
        self._orders: dict[str, Tracked] = {}
        self._last: dict[str, float] = {}
        self._balances: Balances | None = None
        self._known: tuple[list[KnownOrder], float, list[tuple[str, float]]] | None = None
        self._reconciled = False
        self._reconcile_error = "not run yet"

    # -- set-up ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.exchange.id)

    def connect(self) -> Balances:
        """Load the markets, check the watchlist trades in one quote currency, fetch the balances."""
        markets = self.call.read(self.exchange.load_markets, f"{self.name} load_markets")
        missing = [s for s in self.symbols if s not in (markets or {})]
        if missing:
            raise ExchangeError(f"{self.name} does not list {missing[0]!r}; live trading cannot trade it",
                                hint="symbols look like BTC/USDT")
        self.rules = {s: MarketRules.of(self.exchange.market(s)) for s in self.symbols}
        quotes = sorted({r.quote for r in self.rules.values()})
        if len(quotes) != 1:
            raise ConfigError(f"live trading needs one quote currency for the whole watchlist (the ledger keeps one "
                              f"cash balance); got {', '.join(quotes)}")
        self.quote = quotes[0]
        return self.refresh_balances()

    def refresh_balances(self) -> Balances:
        raw = self.call.read(self.exchange.fetch_balance, f"{self.name} fetch_balance", check=self._json_ok)
        total = raw.get("total") or {}
        cash = float(total.get(self.quote) or 0.0)
        held = tuple((s, float(total.get(r.base) or 0.0)) for s, r in sorted(self.rules.items())
                     if float(total.get(r.base) or 0.0))
        self._balances = Balances(cash=cash, positions=held)
        return self._balances

    # -- the Broker protocol --------------------------------------------------------------
    def fit(self, order: OrderRequest) -> OrderRequest:
        """The order rounded to the market's precision and checked against its limits."""
        if not self.rules:
            try:
                self.connect()
            except ExchangeError as exc:
                raise OrderRejected(f"not connected to {self.name}: {exc}") from None
        if order.symbol not in self.rules:
            raise OrderRejected(f"{order.symbol!r} is not on the live watchlist ({', '.join(self.symbols)}); "
                                "order not sent")
        reference = self._last.get(order.symbol)
        if order.order_type == "market" and reference is None:
            reference = self._ticker_price(order.symbol)
        return fit_order(self.exchange, order, reference)

    def submit(self, order: OrderRequest) -> OrderAck:
        cid = order.client_order_id
        if cid in self._orders:
            return self._ack(self._orders[cid], "already sent; not sent twice")
        if not self._reconciled:
            raise OrderRejected(f"live trading waits for the start-up reconciliation with {self.name} "
                                f"({self._reconcile_error}); order not sent")
        return self._send(self.fit(order))

    def cancel(self, client_order_id: str) -> OrderAck:
        tracked = self._orders.get(client_order_id)
        if tracked is None or tracked.status not in OPEN_STATUSES or not tracked.order_id:
            raise OrderRejected(f"no open live order {client_order_id!r} to cancel")
        req = tracked.request

        def cancel() -> dict[str, Any] | None:
            try:
                return self.exchange.cancel_order("", req.symbol, {"origClientOrderId": req.client_order_id})
            except ccxt.OrderNotFound:
                return None

        raw = self.call.read(cancel, f"{self.name} cancel {client_order_id}", check=self._json_ok)
        if raw is None:  # already finished: say how
            raw = self._lookup(req)
            if raw is None:
                raise OrderRejected(f"{self.name} has no order {client_order_id!r}")
            tracked.update(raw)
            return self._ack(tracked, f"not cancelled: already {tracked.status}")
        tracked.update(raw)
        tracked.status = "cancelled"
        return self._ack(tracked, "cancelled on request")

    def on_bar(self, bar: Bar) -> list[BrokerReport]:
        for symbol, close in zip(self.symbols, bar.close):
            if math.isfinite(close):
                self._last[symbol] = float(close)
        reports: list[BrokerReport] = []
        if not self._reconciled and self._known is not None:
            reports += self._retry_reconcile()
        for tracked in [t for t in self._orders.values() if t.status in OPEN_STATUSES or t.unreported]:
            try:
                reports += self._poll(tracked) if tracked.status in OPEN_STATUSES else self._new_fills(tracked)
            except ExchangeError as exc:
                reports.append(BrokerNotice(level="warning", message=(
                    f"live: could not check order {tracked.request.client_order_id} with {self.name}: {exc}; "
                    "asked again next bar")))
                break
        if self.rules:
            try:
                self.refresh_balances()
            except ExchangeError:
                pass  # the last known balances stand; an order check above already said what is wrong
        return reports

    def open_orders(self) -> tuple[OrderAck, ...]:
        return tuple(self._ack(t) for t in self._orders.values() if t.status in OPEN_STATUSES)

    def balances(self) -> Balances:
        return self._balances if self._balances is not None else self.refresh_balances()

    def reconcile(self, orders: Sequence[KnownOrder], *, cash: float,
                  positions: Sequence[tuple[str, float]]) -> ReconcileReport:
        self._known = (list(orders), float(cash), list(positions))
        try:
            return self._reconcile_now()
        except ExchangeError as exc:
            self._reconcile_error = f"failed: {exc}"
            return ReconcileReport(differences=(
                f"could not reconcile with {self.name}: {exc}; no live order is sent until it succeeds "
                "(tried again on every bar)",))

    # -- sending --------------------------------------------------------------------------
    def _send(self, order: OrderRequest) -> OrderAck:
        what = f"{self.name} order {order.client_order_id} ({order.side} {order.quantity:.10g} {order.symbol})"
        deadline = self.clock.monotonic() + self.call.budget_seconds
        attempt = 0
        while True:
            sent_at = self.clock.time()
            try:
                raw = self._create(order)
                tracked = Tracked(order, sent_at=sent_at)
                self._orders[order.client_order_id] = tracked
                tracked.update(raw)
                return self._ack(tracked, "sent" if attempt == 0 else f"sent on attempt {attempt + 1}")
            except ccxt.BaseError as exc:
                failure: ccxt.BaseError = exc
                duplicate = isinstance(exc, ccxt.InvalidOrder) and "duplicate" in str(exc).lower()
                if not (duplicate or temporary(exc)):
                    raise refusal(exc, what, self.redact) from None
            if duplicate or not refused_before_processing(failure):
                found = self._settle(order, sent_at, failure, what)
                if found is not None:
                    return found
            wait = self.call.delay(attempt)
            if attempt >= self.call.policy.max_retries or self.clock.monotonic() + wait > deadline:
                raise OrderRejected(
                    f"{what}: not placed after {attempt + 1} attempt(s) ({type(failure).__name__}: "
                    f"{self.redact(short(failure, 120))}); {self.name} has no order with its client id",
                    hint="not retried further")
            self.clock.sleep(wait)
            attempt += 1

    def _create(self, order: OrderRequest) -> dict[str, Any]:
        try:
            raw = self.exchange.create_order(order.symbol, order.order_type, str(order.side), order.quantity,
                                             order.limit_price, {"newClientOrderId": order.client_order_id})
        except PARSE_ERRORS as exc:
            raise ccxt.BadResponse(f"ccxt could not parse the reply ({type(exc).__name__})") from exc
        if not self._json_ok() or not isinstance(raw, dict):
            raise ccxt.BadResponse("the reply to the order is not valid JSON")
        return raw

    def _settle(self, order: OrderRequest, sent_at: float, failure: BaseException, what: str) -> OrderAck | None:
        """After a send of unknown fate: the order's ack if the exchange has it, None once sure it has not."""
        cause = f"{type(failure).__name__} while sending"
        try:
            raw = self._lookup(order)
            if raw is None:
                wait = sent_at + self.recv_window_s + _SETTLE_MARGIN_S - self.clock.time()
                if wait > 0:
                    self.clock.sleep(wait)  # a late copy of the request is refused after the window
                raw = self._lookup(order)
        except ExchangeError as exc:
            self._orders[order.client_order_id] = Tracked(order, sent_at=sent_at)
            raise TemporaryExchangeError(f"{what}: {cause}, and the lookup by client id failed too ({exc})",
                                         hint="it is looked up again on every bar; not resent") from None
        if raw is None:
            return None
        tracked = Tracked(order, sent_at=sent_at)
        self._orders[order.client_order_id] = tracked
        tracked.update(raw)
        return self._ack(tracked, f"{cause}; found by its client id, not sent again")

    def _lookup(self, order: OrderRequest) -> dict[str, Any] | None:
        def fetch() -> dict[str, Any] | None:
            try:
                return self.exchange.fetch_order("", order.symbol, {"origClientOrderId": order.client_order_id})
            except ccxt.OrderNotFound:
                return None

        return self.call.read(fetch, f"{self.name} fetch_order {order.client_order_id}", check=self._json_ok)

    def _ticker_price(self, symbol: str) -> float | None:
        try:
            ticker = self.call.read(lambda: self.exchange.fetch_ticker(symbol), f"{self.name} fetch_ticker {symbol}",
                                    check=self._json_ok)
        except ExchangeError as exc:
            raise OrderRejected(f"no price to value the order: {exc}") from None
        last = ticker.get("last") or ticker.get("close")
        if not last:
            return None
        self._last[symbol] = float(last)
        return float(last)

    # -- polling --------------------------------------------------------------------------
    def _poll(self, tracked: Tracked) -> list[BrokerReport]:
        req = tracked.request
        raw = self._lookup(req)
        if tracked.status == "new":  # in doubt since a failed send
            if raw is None:
                if self.clock.time() < tracked.sent_at + self.recv_window_s + _SETTLE_MARGIN_S:
                    return []
                tracked.status = "cancelled"
                return [self._ack(tracked, f"never reached {self.name} (looked up by its client id); not resent: "
                                           "the approval was for an older price")]
            before = "new"
        elif raw is None:  # an exchange may not list an order it just took: believe it only on the 3rd bar
            tracked.missing += 1
            if tracked.missing < _MISSING_BARS:
                return [BrokerNotice(level="warning", message=f"live: {self.name} does not find order "
                                     f"{req.client_order_id} ({tracked.missing}/{_MISSING_BARS}); asked again next bar")]
            tracked.status = "cancelled"
            return [self._ack(tracked, f"{self.name} no longer knows this order")]
        else:
            before = tracked.status
        tracked.missing = 0
        tracked.update(raw)
        reports: list[BrokerReport] = list(self._new_fills(tracked))
        if tracked.status != before or before == "new":
            reports.append(self._ack(tracked, "found by its client id" if before == "new" else ""))
        return reports

    def _new_fills(self, tracked: Tracked) -> list[FillReport]:
        if not tracked.unreported or not tracked.order_id:
            return []
        fills = [f for f in self._fills(tracked) if f.fill_id not in tracked.fill_ids]
        for f in fills:
            tracked.fill_ids.add(f.fill_id)
            tracked.reported += f.quantity
        return fills

    def _fills(self, tracked: Tracked) -> list[FillReport]:
        req = tracked.request
        trades = self.call.read(
            lambda: self.exchange.fetch_my_trades(req.symbol, None, None, {"orderId": tracked.order_id}),
            f"{self.name} fetch_my_trades {req.client_order_id}", check=self._json_ok)
        fills: dict[str, FillReport] = {}
        for trade in trades or ():
            if str(trade.get("order") or "") != tracked.order_id:
                continue
            rules = self.rules.get(req.symbol) or MarketRules.of(self.exchange.market(req.symbol))
            fill = fill_from_trade(trade, tracked, rules, self.name)
            fills.setdefault(fill.fill_id, fill)  # a trade the exchange repeats counts once
        return sorted(fills.values(), key=lambda f: (f.ts, f.fill_id))

    def _ack(self, tracked: Tracked, message: str = "") -> OrderAck:
        return tracked.ack(self.redact(message))

    def _json_ok(self) -> bool:
        return _last_response_was_json(self.exchange)

    # -- reconciliation -------------------------------------------------------------------
    def _reconcile_now(self) -> ReconcileReport:
        assert self._known is not None
        orders, cash, positions = self._known
        if not self.rules:
            self.connect()
        acks: list[OrderAck] = []
        fills: list[FillReport] = []
        unseen: list[FillReport] = []
        unknown: list[str] = []
        waited = False
        for known in orders:
            req = known.request
            if req.symbol not in (self.exchange.markets or {}):
                unknown.append(req.client_order_id)
                continue  # an order for a market the exchange no longer lists
            raw = self._lookup(req)
            if raw is None and known.status == "new" and not waited:
                # the previous run may have died with this request in flight: past the window it is refused
                self.clock.sleep(self.recv_window_s + _SETTLE_MARGIN_S)
                waited = True
                raw = self._lookup(req)
            if raw is None:
                unknown.append(req.client_order_id)
                continue
            tracked = Tracked(req, order_id=known.order_id, status=known.status)
            tracked.update(raw)
            mine = self._fills(tracked) if tracked.filled > 0 else []
            tracked.fill_ids = {f.fill_id for f in mine}
            tracked.reported = sum(f.quantity for f in mine)
            self._orders[req.client_order_id] = tracked
            fills += mine
            unseen += unseen_fills(mine, known.filled)
            acks.append(self._ack(tracked, "reconciled with the exchange at start-up"))
        differences = self._stray_orders({o.request.client_order_id for o in orders})
        balances = self.refresh_balances()
        ledger_cash, ledger_held = expected_after(cash, dict(positions), unseen)
        differences += balance_differences(
            exchange_id=self.name, quote=self.quote, exchange_cash=balances.cash, ledger_cash=ledger_cash,
            exchange_held=dict(balances.positions), ledger_held=ledger_held,
            bases={s: r.base for s, r in self.rules.items()})
        self._reconciled = True
        self._reconcile_error = ""
        return ReconcileReport(orders=tuple(acks), fills=tuple(fills), unknown=tuple(unknown),
                               differences=tuple(differences))

    def _stray_orders(self, known: set[str]) -> list[str]:
        raw = self.call.read(lambda: self.exchange.fetch_open_orders(), f"{self.name} fetch_open_orders",
                             check=self._json_ok)
        out = []
        for o in raw or ():
            cid = str(o.get("clientOrderId") or "")
            if o.get("symbol") in self.rules and cid not in known:
                out.append(f"{self.name} has an open order the ledger does not know: {o.get('side')} "
                           f"{o.get('amount')} {o.get('symbol')} (client id {cid or '-'}); left alone")
        return out

    def _retry_reconcile(self) -> list[BrokerReport]:
        try:
            report = self._reconcile_now()
        except ExchangeError as exc:
            self._reconcile_error = f"failed: {exc}"
            return [BrokerNotice(level="warning", message=f"live: still not reconciled with {self.name}: {exc}; "
                                                          "no order is sent until it succeeds")]
        assert self._known is not None
        by_id = {k.request.client_order_id: k for k in self._known[0]}
        out: list[BrokerReport] = [*report.fills, *report.orders]
        for cid in report.unknown:
            known = by_id[cid]
            why = ("not sent: the engine stopped after recording it and before sending; not resent"
                   if known.status == "new" else f"{self.name} has no record of it")
            out.append(OrderAck(client_order_id=cid, order_id=known.order_id, symbol=known.request.symbol,
                                side=known.request.side, order_type=known.request.order_type,
                                quantity=known.request.quantity, limit_price=known.request.limit_price,
                                status="cancelled", message=why))
        out += [BrokerNotice(level="warning", message=f"reconcile: {d}") for d in report.differences]
        out.append(BrokerNotice(level="info", message=f"reconciled with {self.name}: {len(report.orders)} order(s) "
                                                      f"found, {len(report.unknown)} unknown; trading resumes"))
        return out
