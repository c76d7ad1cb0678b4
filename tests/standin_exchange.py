"""A loopback stand-in for Binance spot's REST API, for ccxt tests.

`StandinExchange` serves `/api/v3/{ping,time,exchangeInfo,klines,ticker/24hr,
ticker/price}` on 127.0.0.1 (ephemeral port) with deterministic synthetic
candles: a seeded random walk per (symbol, interval) on the interval grid,
starting at `start_ms`. Candles are served only up to "now" (a callable, so
a test can share a fake clock with the code under test); the bar containing
"now" is served as still forming (partial close and volume), as Binance does.
A symbol's current price is the forming 1h candle's close, unless a test
sets it with `set_price`. The signed account and trading endpoints live in
`tests/standin_private.py` (`book`).

Faults are queued with `inject(kind, times=..., path=..., method=..., after=...)`
and hit the next matching requests once `after` of them went through:
"timeout" (hold the request past the client timeout, then process it),
"429"/"418" (Binance's rate-limit JSON), "500" (Binance's internal-error
JSON), "503" (an HTML page, as a CDN sends), "malformed" (process, then send
truncated JSON with status 200), "reset" (drop the connection unprocessed),
"lost" (process, then drop the connection: accepted but the reply lost),
"hold" (process, then keep the reply until `release()`), "401" (signature
refused: a wrong secret), "permission" (key lacks the permission), "invalid" (a LOT_SIZE
filter failure). "partial" and "duplicate_fill" are order-level faults of
the book (the next order fills in two parts; the next myTrades reply
repeats a trade). Every request is counted per path in `counts` and recorded
in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlparse

import numpy as np

from tests.standin_private import SIGNED_PATHS, Market, PrivateBook

INTERVAL_SECONDS = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400,
}
FAULT_KINDS = ("timeout", "429", "418", "500", "503", "malformed", "reset", "lost", "hold", "401", "permission",
               "invalid", "partial", "duplicate_fill")
BOOK_FAULTS = ("partial", "duplicate_fill")
CHUNK = 4096
DEFAULT_START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


@dataclass(frozen=True, slots=True)
class SpotMarket:
    symbol: str
    base: str
    quote: str
    price: float  # first open of the random walk
    tick: str  # PRICE_FILTER tickSize
    step: str  # LOT_SIZE stepSize
    min_notional: str


MARKETS = (
    SpotMarket("BTCUSDT", "BTC", "USDT", 42000.0, "0.01000000", "0.00001000", "5.00000000"),
    SpotMarket("ETHUSDT", "ETH", "USDT", 2300.0, "0.01000000", "0.00010000", "5.00000000"),
    SpotMarket("SOLUSDT", "SOL", "USDT", 100.0, "0.01000000", "0.00100000", "5.00000000"),
    SpotMarket("ETHBTC", "ETH", "BTC", 0.055, "0.00001000", "0.00010000", "0.00010000"),
)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    path: str | None  # applies to request paths ending with this; None = any path
    method: str | None = None  # "GET", "POST", "DELETE"; None = any method


def _decimals(step: str) -> int:
    digits = step.rstrip("0").split(".")[1] if "." in step.rstrip("0") else ""
    return len(digits)


def _market_info(m: SpotMarket) -> dict:
    return {
        "symbol": m.symbol,
        "status": "TRADING",
        "baseAsset": m.base,
        "baseAssetPrecision": 8,
        "quoteAsset": m.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": m.tick, "maxPrice": "1000000.00000000", "tickSize": m.tick},
            {"filterType": "LOT_SIZE", "minQty": m.step, "maxQty": "9000.00000000", "stepSize": m.step},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": m.min_notional, "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


class _Walk:
    """Deterministic candles for one (symbol, interval), generated chunk by chunk."""

    def __init__(self, seed: int, sym_index: int, interval_s: int, market: SpotMarket) -> None:
        self._key = (seed, sym_index, interval_s)
        self._vol = 0.004 * (interval_s / 3600) ** 0.5
        self._price = market.price
        self._chunks: list[np.ndarray] = []  # each (CHUNK, 5): open, high, low, close, volume

    def rows(self, i0: int, i1: int) -> np.ndarray:
        """Rows for bar indices [i0, i1)."""
        while len(self._chunks) * CHUNK < i1:
            self._chunks.append(self._make_chunk(len(self._chunks)))
        allrows = np.concatenate(self._chunks[i0 // CHUNK: (i1 - 1) // CHUNK + 1])
        base = (i0 // CHUNK) * CHUNK
        return allrows[i0 - base: i1 - base]

    def _make_chunk(self, k: int) -> np.ndarray:
        rng = np.random.default_rng([*self._key, k])
        first_open = self._chunks[-1][-1, 3] if self._chunks else self._price
        ret = rng.normal(0.0, self._vol, CHUNK)
        close = first_open * np.exp(np.cumsum(ret))
        open_ = np.concatenate([[first_open], close[:-1]])
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, self._vol / 2, CHUNK)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, self._vol / 2, CHUNK)))
        volume = rng.lognormal(3.0, 0.5, CHUNK)
        return np.column_stack([open_, high, low, close, volume])


class StandinExchange:
    """The server and its state; use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        seed: int = 7,
        start_ms: int = DEFAULT_START_MS,
        now: Callable[[], float] = time.time,
        listed_ms: dict[str, int] | None = None,
        gaps: dict[str, set[int]] | None = None,
        timeout_fault_seconds: float = 2.0,
        balances: dict[str, float] | None = None,
        api_key: str | None = None,
        fee_rate: float = 0.001,
    ) -> None:
        self.seed = seed
        self.start_ms = start_ms
        self.now = now
        self.listed_ms = dict(listed_ms or {})
        self.gaps = {k: set(v) for k, v in (gaps or {}).items()}
        self.timeout_fault_seconds = timeout_fault_seconds
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._faults: deque[list] = deque()  # [Fault, matching requests still to let through]
        self._walks: dict[tuple[str, str], _Walk] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._released = threading.Event()
        self.prices: dict[str, float] = {}
        self.book = PrivateBook({m.symbol: _book_market(m) for m in MARKETS}, self.price,
                                balances=balances, fee_rate=fee_rate, api_key=api_key)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------
    def start(self) -> "StandinExchange":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="standin-exchange", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "StandinExchange":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "stand-in not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def api_urls(self, exchange_id: str = "binance") -> dict[str, str]:
        """Every `urls['api']` entry of the ccxt class, re-pointed at this server.

        All entries are overridden (not just the spot ones) so a stray call
        can only ever reach the loopback server, where it is counted.
        """
        return api_urls_for(self.base_url, exchange_id)

    def order_posts(self, client_order_id: str) -> int:
        """Order requests received with this client id (faulted ones included)."""
        with self._lock:
            return sum(1 for path, p in self.requests
                       if path == "/api/v3/order" and p.get("newClientOrderId") == client_order_id)

    # test controls ---------------------------------------------------------
    def inject(self, kind: str, *, times: int = 1, path: str | None = None, after: int = 0,
               method: str | None = None) -> None:
        """Fail the next `times` requests matching `path` (and `method`), once `after` matching ones went through."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULT_KINDS}")
        if kind == "partial":
            self.book.partial_next += times
            return
        if kind == "duplicate_fill":
            self.book.duplicate_next += times
            return
        with self._lock:
            self._faults.extend([Fault(kind, path, method), after if i == 0 else 0] for i in range(times))

    def release(self) -> None:
        """Send every reply a "hold" fault is keeping."""
        self._released.set()

    def set_price(self, market_id: str, price: float) -> None:
        """Fix a symbol's current price (orders fill at it) instead of the forming candle's close."""
        self.prices[market_id] = price

    def price(self, market_id: str) -> float:
        if market_id in self.prices:
            return self.prices[market_id]
        now = self.now_ms()
        return float(self.candles(market_id, "1h", now - 3_600_000, now)[-1][4])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.requests.clear()

    def kline_requests(self, symbol: str | None = None) -> list[dict[str, str]]:
        """Query parameters of every klines request so far (for one symbol if given)."""
        with self._lock:
            return [p for path, p in self.requests
                    if path == "/api/v3/klines" and (symbol is None or p.get("symbol") == symbol)]

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def candles(self, symbol: str, interval: str, start: int, stop: int) -> list[list]:
        """Binance kline rows with open time in [start, stop], as the server sends them."""
        market = self._market(symbol)
        assert market is not None
        tf = INTERVAL_SECONDS[interval] * 1000
        now = self.now_ms()
        lo = max(self._first_open(symbol, tf), -(-start // tf) * tf)
        hi = min(stop, now)
        if hi < lo:
            return []
        i0, i1 = (lo - self.start_ms) // tf, (hi - self.start_ms) // tf + 1
        with self._lock:
            walk = self._walks.get((symbol, interval))
            if walk is None:
                walk = _Walk(self.seed, MARKETS.index(market), INTERVAL_SECONDS[interval], market)
                self._walks[(symbol, interval)] = walk
            rows = walk.rows(i0, i1)
        gaps = self.gaps.get(symbol, set())
        price_dp, qty_dp = _decimals(market.tick), _decimals(market.step)
        out = []
        for j, (o, h, lo_, c, v) in enumerate(rows):
            t = self.start_ms + (i0 + j) * tf
            if t in gaps:
                continue
            if t + tf > now:  # still forming: partial move and volume
                frac = (now - t) / tf
                c_now = o + (c - o) * frac
                h = max(o, c_now) + (h - max(o, c)) * frac
                lo_ = min(o, c_now) - (min(o, c) - lo_) * frac
                c, v = c_now, v * frac
            out.append([
                t, f"{o:.{price_dp}f}", f"{h:.{price_dp}f}", f"{lo_:.{price_dp}f}", f"{c:.{price_dp}f}",
                f"{v:.{qty_dp}f}", t + tf - 1, f"{v * c:.8f}", 100 + j % 50,
                f"{v / 2:.{qty_dp}f}", f"{v * c / 2:.8f}", "0",
            ])
        return out

    # request handling --------------------------------------------------------
    def _first_open(self, symbol: str, tf: int) -> int:
        first = max(self.start_ms, self.listed_ms.get(symbol, self.start_ms))
        return -(-first // tf) * tf

    @staticmethod
    def _market(symbol: str) -> SpotMarket | None:
        return next((m for m in MARKETS if m.symbol == symbol), None)

    def _take_fault(self, path: str, method: str = "GET") -> Fault | None:
        with self._lock:
            for i, (fault, skip) in enumerate(self._faults):
                if (fault.path is None or path.endswith(fault.path)) and fault.method in (None, method):
                    if skip:
                        self._faults[i][1] = skip - 1
                        return None
                    del self._faults[i]
                    return fault
        return None

    def _record(self, path: str, params: dict[str, str]) -> None:
        with self._lock:
            self.counts[path] += 1
            self.requests.append((path, params))

    def respond(self, path: str, params: dict[str, str], method: str = "GET",
                api_key: str | None = None) -> tuple[int, object]:
        if path in SIGNED_PATHS:
            return self.book.handle(method, path, params, api_key)
        if path in ("/api/v3/ticker/24hr", "/api/v3/ticker/price"):
            return self._ticker(path, params)
        if path == "/api/v3/ping":
            return 200, {}
        if path == "/api/v3/time":
            return 200, {"serverTime": self.now_ms()}
        if path == "/api/v3/exchangeInfo":
            return 200, {
                "timezone": "UTC",
                "serverTime": self.now_ms(),
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
                ],
                "exchangeFilters": [],
                "symbols": [_market_info(m) for m in MARKETS],
            }
        if path == "/api/v3/klines":
            return self._klines(params)
        return 404, {"code": -1, "msg": f"stand-in does not serve {path}"}

    def _ticker(self, path: str, params: dict[str, str]) -> tuple[int, object]:
        market = self._market(params.get("symbol", ""))
        if market is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        price = f"{self.price(market.symbol):.{_decimals(market.tick)}f}"
        if path.endswith("price"):
            return 200, {"symbol": market.symbol, "price": price}
        now = self.now_ms()
        return 200, {"symbol": market.symbol, "priceChange": "0", "priceChangePercent": "0",
                     "weightedAvgPrice": price, "prevClosePrice": price, "lastPrice": price, "lastQty": "1",
                     "bidPrice": price, "bidQty": "1", "askPrice": price, "askQty": "1", "openPrice": price,
                     "highPrice": price, "lowPrice": price, "volume": "0", "quoteVolume": "0",
                     "openTime": now - 86_400_000, "closeTime": now, "firstId": 0, "lastId": 0, "count": 0}

    def _klines(self, params: dict[str, str]) -> tuple[int, object]:
        symbol = params.get("symbol", "")
        if not symbol:
            return 400, {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}
        if self._market(symbol) is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        interval = params.get("interval", "")
        if interval not in INTERVAL_SECONDS:
            return 400, {"code": -1120, "msg": "Invalid interval."}
        try:
            limit = int(params.get("limit", "500"))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in a parameter."}
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Invalid data sent for a parameter."}
        tf = INTERVAL_SECONDS[interval] * 1000
        stop = self.now_ms() if end is None else end
        if start is not None:  # the first `limit` bars at or after startTime, however late they begin
            start = max(start, self._first_open(symbol, tf))
            rows = self.candles(symbol, interval, start, min(stop, start + (limit + 1) * tf))[:limit]
        else:
            rows = self.candles(symbol, interval, stop - (limit + 1) * tf, stop)[-limit:]
        return 200, rows


def api_urls_for(base_url: str, exchange_id: str = "binance") -> dict[str, str]:
    """Every `urls['api']` entry of the ccxt class re-pointed at `base_url` (usable in another process)."""
    import ccxt

    original = getattr(ccxt, exchange_id)().urls["api"]
    return {key: base_url + urlparse(url).path for key, url in original.items()}


def _book_market(m: SpotMarket) -> Market:
    return Market(m.symbol, m.base, m.quote, float(m.tick), float(m.step), float(m.min_notional),
                  _decimals(m.tick), _decimals(m.step))


class _Handler(BaseHTTPRequestHandler):
    server_version = "standin-binance/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802 - stdlib name
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        standin: StandinExchange = self.server.standin  # type: ignore[attr-defined]
        url = urlparse(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8", "replace")
            params.update({k: v[-1] for k, v in parse_qs(body).items()})
        standin._record(url.path, params)
        fault = standin._take_fault(url.path, method)
        kind = fault.kind if fault else None
        if kind == "timeout":
            standin._stopping.wait(standin.timeout_fault_seconds)
        if kind == "reset":
            self.close_connection = True
            return  # no status line at all: the client sees the connection drop
        if kind == "401":  # what a wrong secret gets
            self._send(401, {"code": -1022, "msg": "Signature for this request is not valid."})
            return
        if kind == "permission":
            self._send(400, {"code": -2015, "msg": "This API key has no operation privilege for this action."})
            return
        if kind == "invalid":
            self._send(400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"})
            return
        if kind in ("429", "418"):
            self._send(int(kind), {"code": -1003, "msg": "Too many requests; current limit of IP is 6000 "
                                                       "requests per minute. Please use WebSocket Streams."},
                       extra={"Retry-After": "1"})
            return
        if kind == "500":
            self._send(500, {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."})
            return
        if kind == "503":  # what the CDN in front of the API sends: not JSON at all
            self._send_raw(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>",
                           content_type="text/html")
            return
        status, body = standin.respond(url.path, params, method, self.headers.get("X-MBX-APIKEY"))
        if kind == "lost":
            self.close_connection = True
            return  # processed, but the client never hears
        if kind == "hold":
            while not (standin._released.wait(0.05) or standin._stopping.is_set()):
                pass
        if kind == "malformed":
            self._send_raw(200, json.dumps(body)[: max(1, len(json.dumps(body)) // 2)].encode())
            return
        self._send(status, body)

    def _send(self, status: int, body: object, extra: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(body).encode(), extra)

    def _send_raw(self, status: int, data: bytes, extra: dict[str, str] | None = None,
                  content_type: str = "application/json;charset=UTF-8") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout fault): nothing to tell it


class FakeClock:
    """Wall and monotonic time that only move when someone sleeps or advances."""

    def __init__(self, start: float) -> None:
        self._wall = start
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        self.slept.append(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._wall += seconds
            self._mono += seconds
