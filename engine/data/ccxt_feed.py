"""Live candles from an exchange through ccxt: history, closed bars, retries.

ccxt errors are translated here (the feed boundary): the OperationFailed
family — NetworkError, RequestTimeout, ExchangeNotAvailable, DDoSProtection,
RateLimitExceeded and an exchange's "internal error, try again" codes — is
retried with exponential backoff and jitter, then raised as
`TemporaryExchangeError`; a malformed response, an unknown symbol, refused
credentials and every other ccxt error become `ExchangeError` at once.
"""

from __future__ import annotations

import difflib
import json
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, TypeVar

import ccxt
import numpy as np

from engine.data.cache import align, frame_from_rows
from engine.data.panel import FIELDS, Bar, CandlePanel, timeframe_seconds
from engine.errors import ConfigError, ExchangeError, TemporaryExchangeError

PAGE_LIMIT = 1000  # candles per request; Binance spot's maximum
_MS_TO_NS = 1_000_000


def default_options(exchange_id: str) -> dict[str, Any]:
    """ccxt options the cockpit sets unless config overrides them (a fresh dict each call)."""
    if exchange_id == "binance":
        # Spot only: the cockpit never needs the futures/options endpoints or the
        # authenticated currency list that ccxt would otherwise call on load_markets().
        return {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}
    return {}


Row = tuple[int, float, float, float, float, float]  # open time (ms), open, high, low, close, volume
T = TypeVar("T")


class WallClock(Protocol):
    """engine.clock.Clock plus wall time (which bar is closed depends on the date)."""

    def time(self) -> float: ...  # wall clock, seconds since the epoch

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemWallClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt + 1` (equal jitter)."""
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2**attempt)
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


def make_exchange(
    exchange_id: str,
    *,
    api_urls: Mapping[str, str] | None = None,
    timeout_ms: int = 10_000,
    options: Mapping[str, Any] | None = None,
    rate_limit_ms: int | None = None,
) -> ccxt.Exchange:
    """A rate-limited ccxt exchange; `api_urls` re-points `urls['api']` entries."""
    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        raise ConfigError(f"unknown exchange {exchange_id!r}",
                          hint=f"did you mean {', '.join(close)}?" if close else "see ccxt.exchanges")
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "enableLastJsonResponse": True,  # lets a page tell a malformed body from an empty one
        "timeout": int(timeout_ms),
        "options": {**default_options(exchange_id), **(options or {})},
    }
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    exchange = getattr(ccxt, exchange_id)(config)
    if api_urls:
        current = exchange.urls.get("api")
        if not isinstance(current, dict):
            raise ConfigError(f"{exchange_id} has a single API URL; api_urls cannot override entries of it")
        unknown = sorted(set(api_urls) - set(current))
        if unknown:
            raise ConfigError(f"{exchange_id} has no API URL entry {unknown[0]!r}",
                              hint="known entries: " + ", ".join(sorted(current)))
        exchange.urls = {**exchange.urls, "api": {**current, **api_urls}}
    return exchange


# --- calls with retries and error translation ---------------------------------------------

def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.OperationFailed) and not isinstance(exc, ccxt.BadResponse)


def translate_error(exc: ccxt.BaseError, what: str) -> ExchangeError:
    """A non-retryable ccxt error as the cockpit's ExchangeError."""
    kind = type(exc).__name__
    if isinstance(exc, ccxt.BadSymbol):
        return ExchangeError(f"{what}: the exchange does not list this symbol ({_short(exc)})",
                             hint="check the symbol, written like BTC/USDT")
    if isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)):
        return ExchangeError(f"{what}: the exchange refused the credentials ({kind}: {_short(exc)})",
                             hint="check the API key and secret")
    if isinstance(exc, ccxt.BadResponse):
        return ExchangeError(f"{what}: malformed response from the exchange ({_short(exc)})",
                             hint="the exchange or a proxy sent something that is not the expected JSON")
    return ExchangeError(f"{what}: {kind}: {_short(exc)}")


def call_exchange(
    fn: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy,
    clock: WallClock,
    rng: random.Random,
    deadline: float | None = None,
) -> T:
    """`fn()` with retries on temporary ccxt errors; `deadline` is on clock.monotonic()."""
    attempt = 0
    while True:
        try:
            return fn()
        except ccxt.BaseError as exc:
            if not _retryable(exc):
                raise translate_error(exc, what) from exc
            delay = policy.delay(attempt, rng)
            out_of_time = deadline is not None and clock.monotonic() + delay > deadline
            if attempt >= policy.max_retries or out_of_time:
                raise TemporaryExchangeError(
                    f"{what} failed after {attempt + 1} attempt(s): {type(exc).__name__}: {_short(exc)}",
                    hint="the exchange or the network is having trouble; try again later",
                ) from exc
            clock.sleep(delay)
            attempt += 1


def _validated(raw: object, timeframe_ms: int) -> list[Row]:
    """ccxt's OHLCV list checked and sorted; raises ccxt.BadResponse when it is not OHLCV."""
    if not isinstance(raw, list):
        raise ccxt.BadResponse(f"expected a list of candles, got {type(raw).__name__}")
    rows: list[Row] = []
    for i, item in enumerate(raw):
        try:
            ts = int(item[0])
            ohlc = [float(item[k]) for k in range(1, 5)]
            volume = math.nan if item[5] is None else float(item[5])
        except (TypeError, ValueError, IndexError):
            raise ccxt.BadResponse(f"candle {i} is not [time, open, high, low, close, volume]: {item!r:.80}") from None
        if ts % timeframe_ms or not all(math.isfinite(x) for x in ohlc):
            raise ccxt.BadResponse(f"candle {i} is off the time grid or not finite: {item!r:.80}")
        rows.append((ts, *ohlc, volume))
    rows.sort(key=lambda r: r[0])
    return rows


def _last_response_was_json(exchange: ccxt.Exchange) -> bool:
    body = getattr(exchange, "last_http_response", None)
    if not isinstance(body, str):
        return True  # not recorded: nothing to check
    if getattr(exchange, "enableLastJsonResponse", False):
        return exchange.last_json_response is not None
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def fetch_ohlcv_page(
    exchange: ccxt.Exchange, symbol: str, timeframe: str, since: int | None, limit: int, *,
    policy: RetryPolicy, clock: WallClock, rng: random.Random, deadline: float | None = None,
) -> list[Row]:
    """One validated page of candles with open time ≥ `since` (ms), oldest first."""
    tf_ms = timeframe_seconds(timeframe) * 1000

    def call() -> list[Row]:
        try:
            raw = exchange.fetch_ohlcv(symbol, timeframe, since=since, limit=limit)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise ccxt.BadResponse(f"ccxt could not parse the response ({type(exc).__name__}: {exc})") from exc
        if not _last_response_was_json(exchange):
            # ccxt hands an unparsable body on as text and "parses" its characters as candles
            raise ccxt.BadResponse(f"not JSON: {str(exchange.last_http_response)[:80]!r}")
        return _validated(raw, tf_ms)

    return call_exchange(call, what=f"{exchange.id} fetch_ohlcv {symbol} {timeframe}",
                         policy=policy, clock=clock, rng=rng, deadline=deadline)


def iter_ohlcv(
    exchange: ccxt.Exchange, symbol: str, timeframe: str, start: int, end: int, *,
    policy: RetryPolicy, clock: WallClock, rng: random.Random,
) -> Iterator[list[Row]]:
    """Pages of candles with open time in [start, end] (ms), paginating forward from `start`."""
    tf_ms = timeframe_seconds(timeframe) * 1000
    since = start
    for _ in range((end - start) // tf_ms // PAGE_LIMIT + 3):
        page = fetch_ohlcv_page(exchange, symbol, timeframe, since, PAGE_LIMIT, policy=policy, clock=clock, rng=rng)
        fresh = [r for r in page if since <= r[0] <= end]
        if fresh:
            yield fresh
        if not fresh or page[-1][0] >= end:
            return
        since = page[-1][0] + tf_ms


def check_symbols(exchange: ccxt.Exchange, symbols: Iterable[str], *, policy: RetryPolicy,
                  clock: WallClock, rng: random.Random) -> None:
    """Load the markets (with retries) and fail clearly on a symbol the exchange lacks."""
    markets = call_exchange(exchange.load_markets, what=f"{exchange.id} load_markets",
                            policy=policy, clock=clock, rng=rng)
    if not markets:
        raise ExchangeError(f"{exchange.id} returned no markets",
                            hint="the market list response was empty or malformed")
    for symbol in symbols:
        if symbol not in markets:
            close = difflib.get_close_matches(symbol, list(markets), n=3)
            raise ExchangeError(f"{exchange.id} does not list {symbol!r}",
                                hint=f"did you mean {', '.join(close)}?" if close else "symbols look like BTC/USDT")


# --- the feed ------------------------------------------------------------------------------

class CcxtFeed:
    """A live Feed over ccxt: closed bars only, one shared grid, NaN for missing bars.

    The feed owns `exchange` (close() closes its HTTP session). next_bar()
    never raises on exchange trouble: a failed poll marks the feed stale,
    keeps the error for status() and returns None.
    """

    synthetic = False

    def __init__(
        self,
        exchange: ccxt.Exchange,
        symbols: Sequence[str],
        timeframe: str,
        *,
        history_bars: int = 500,
        poll_seconds: float = 10.0,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
        clock: WallClock | None = None,
        grace_seconds: float | None = None,
        seed: int | None = None,
    ) -> None:
        if not symbols:
            raise ConfigError("a ccxt feed needs at least one symbol")
        if history_bars < 1 or poll_seconds <= 0 or max_retries < 0 or backoff_seconds < 0:
            raise ConfigError("history_bars ≥ 1, poll_seconds > 0, max_retries ≥ 0 and backoff_seconds ≥ 0 "
                              f"(got {history_bars}, {poll_seconds}, {max_retries}, {backoff_seconds})")
        self.exchange = exchange
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.source = f"ccxt:{exchange.id}"
        self._tf_ms = timeframe_seconds(timeframe) * 1000
        self._history_bars = history_bars
        self._poll_seconds = poll_seconds
        # How long a closed bar waits for a lagging symbol before going out with NaN for it.
        self._grace_ms = int(1000 * (min(self._tf_ms / 1000, 3 * poll_seconds)
                                     if grace_seconds is None else grace_seconds))
        self._policy = RetryPolicy(max_retries, backoff_seconds)
        self._clock: WallClock = clock or SystemWallClock()
        self._rng = random.Random(seed)
        self._markets_checked = False
        self._cursor: int | None = None  # open time (ms) of the next bar to deliver
        self._seen: dict[str, int] = {}  # per symbol: newest closed bar open time received
        self._pending: dict[int, dict[str, Row]] = {}
        self._last_bar_ms: int | None = None
        self._last_poll: float | None = None  # clock.monotonic() of the last poll
        self._error: str | None = None  # short, for status()
        self._error_detail: str | None = None
        self._closed = False

    # Feed protocol -----------------------------------------------------------------------
    @property
    def exhausted(self) -> bool:
        return False

    def history(self) -> CandlePanel:
        """The last `history_bars` closed bars of every symbol."""
        self._check_markets()
        end = self._last_closed_open(self._now_ms())
        start = end - (self._history_bars - 1) * self._tf_ms
        frames = {symbol: frame_from_rows(list(self._fetch_range(symbol, start, end).values()))
                  for symbol in self.symbols}
        panel = align(self.symbols, self.timeframe, frames, source=self.source)
        self._cursor = end + self._tf_ms
        self._seen = {symbol: end for symbol in self.symbols}
        self._pending.clear()
        if panel.n_bars:
            self._last_bar_ms = int(panel.ts[-1]) // _MS_TO_NS
        self._error = self._error_detail = None
        return panel

    def next_bar(self, timeout: float | None = None) -> Bar | None:
        """The next closed bar of every symbol, or None if none closed within `timeout` s."""
        if self._closed:
            return None
        clock = self._clock
        deadline = None if timeout is None else clock.monotonic() + max(0.0, timeout)
        if self._cursor is None:
            try:
                self._check_markets()
            except TemporaryExchangeError as exc:
                self._fail(exc)
                return None
            self._cursor = self._last_closed_open(self._now_ms()) + self._tf_ms
            self._seen = {symbol: self._cursor - self._tf_ms for symbol in self.symbols}
        while True:
            bar = self._pop_ready()
            if bar is not None:
                return bar
            wait = self._seconds_until_poll()
            if wait > 0:
                if deadline is not None:
                    remaining = deadline - clock.monotonic()
                    if remaining <= 0:
                        return None
                    wait = min(wait, remaining)
                clock.sleep(wait)
                continue
            if not self._poll(deadline):
                return None

    def status(self) -> str:
        name = self.exchange.id
        if self._last_bar_ms is None:
            line = f"{name} · waiting for the first bar"
            return f"{line} · {self._error}" if self._error else line
        age = max(0, round(self._clock.time() - (self._last_bar_ms + self._tf_ms) / 1000))
        if self._error:
            return f"{name} · stale {age}s · {self._error}"
        if age > 2 * self._tf_ms / 1000:
            return f"{name} · stale {age}s"
        opened = datetime.fromtimestamp(self._last_bar_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")
        return f"{name} · last bar {opened} UTC · {age}s ago"

    def close(self) -> None:
        self._closed = True
        session = getattr(self.exchange, "session", None)
        if session is not None:
            session.close()

    @property
    def last_error(self) -> str | None:
        """The full text of the error behind a stale status (None once a poll succeeds)."""
        return self._error_detail

    # internals --------------------------------------------------------------------------
    def _fail(self, exc: ExchangeError) -> None:
        cause = exc.__cause__
        if isinstance(cause, ccxt.BadResponse):
            self._error = "malformed response"
        elif isinstance(cause, ccxt.BaseError):
            self._error = type(cause).__name__
        else:
            self._error = _short(exc, 60)
        self._error_detail = str(exc)

    def _now_ms(self) -> int:
        return int(self._clock.time() * 1000)

    def _last_closed_open(self, now_ms: int) -> int:
        return (now_ms // self._tf_ms) * self._tf_ms - self._tf_ms

    def _check_markets(self) -> None:
        if not self._markets_checked:
            check_symbols(self.exchange, self.symbols, policy=self._policy, clock=self._clock, rng=self._rng)
            self._markets_checked = True

    def _fetch_range(self, symbol: str, start: int, end: int) -> dict[int, Row]:
        pages = iter_ohlcv(self.exchange, symbol, self.timeframe, start, end,
                           policy=self._policy, clock=self._clock, rng=self._rng)
        return {row[0]: row for page in pages for row in page}

    def _seconds_until_poll(self) -> float:
        assert self._cursor is not None
        until_close = (self._cursor + self._tf_ms - self._now_ms()) / 1000
        since_poll = math.inf if self._last_poll is None else self._clock.monotonic() - self._last_poll
        return max(0.0, until_close, self._poll_seconds - since_poll)

    def _unresolved(self, ts: int) -> list[str]:
        """Symbols for which bar `ts` has neither arrived nor been skipped by the exchange."""
        have = self._pending.get(ts, {})
        return [s for s in self.symbols if s not in have and self._seen.get(s, ts - 1) <= ts]

    def _pop_ready(self) -> Bar | None:
        assert self._cursor is not None
        now = self._now_ms()
        while self._cursor + self._tf_ms <= now:
            ts = self._cursor
            have = self._pending.get(ts, {})
            unresolved = self._unresolved(ts)
            if unresolved and not (have and now >= ts + self._tf_ms + self._grace_ms):
                return None
            self._pending.pop(ts, None)
            self._cursor = ts + self._tf_ms
            if have:
                self._last_bar_ms = ts
                cols = np.full((len(FIELDS), len(self.symbols)), np.nan)
                for s, symbol in enumerate(self.symbols):
                    if symbol in have:
                        cols[:, s] = have[symbol][1:]
                return Bar(ts * _MS_TO_NS, *cols)
        return None

    def _poll(self, deadline: float | None) -> bool:
        """Fetch new closed bars for the symbols still missing the next bar; False on failure."""
        assert self._cursor is not None
        self._last_poll = self._clock.monotonic()
        now = self._now_ms()
        try:
            for symbol in self._unresolved(self._cursor):
                since = max(self._seen[symbol] + self._tf_ms, self._cursor)
                limit = max(1, min(PAGE_LIMIT, (now - since) // self._tf_ms + 2))
                page = fetch_ohlcv_page(self.exchange, symbol, self.timeframe, since, limit, policy=self._policy,
                                        clock=self._clock, rng=self._rng, deadline=deadline)
                for row in page:
                    if row[0] >= self._cursor and row[0] + self._tf_ms <= now:
                        self._pending.setdefault(row[0], {})[symbol] = row
                        self._seen[symbol] = max(self._seen[symbol], row[0])
        except ExchangeError as exc:
            self._fail(exc)
            return False
        self._error = self._error_detail = None
        return True
