"""CcxtFeed through the real ccxt binance client against the loopback stand-in."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from engine.data.ccxt_feed import CcxtFeed, make_exchange
from engine.data.feed import Feed
from engine.errors import ConfigError, ExchangeError, TemporaryExchangeError
from tests.standin_exchange import DEFAULT_START_MS, FakeClock, StandinExchange

H_MS = 3_600_000
# "Now" is half-way through the 3000th hourly bar after the stand-in's first bar.
NOW_S = DEFAULT_START_MS / 1000 + 3000 * 3600 + 1800
FORMING_MS = DEFAULT_START_MS + 3000 * H_MS  # open time of the bar still forming at NOW_S
LAST_CLOSED_MS = FORMING_MS - H_MS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW_S)


@pytest.fixture
def standin(clock: FakeClock):
    with StandinExchange(now=clock.time, timeout_fault_seconds=1.0) as server:
        yield server


def exchange_for(standin: StandinExchange, *, timeout_ms: int = 3000):
    exchange = make_exchange("binance", api_urls=standin.api_urls(), timeout_ms=timeout_ms, rate_limit_ms=1)
    exchange.session.trust_env = False  # never route loopback requests through a proxy
    return exchange


def make_feed(standin, clock, symbols=("BTC/USDT", "ETH/USDT"), *, timeout_ms=3000, **kw) -> CcxtFeed:
    params = dict(history_bars=50, poll_seconds=5.0, max_retries=3, backoff_seconds=0.01, clock=clock, seed=1)
    params.update(kw)
    return CcxtFeed(exchange_for(standin, timeout_ms=timeout_ms), symbols, "1h", **params)


def closes(standin: StandinExchange, market_id: str, start_ms: int, stop_ms: int) -> dict[int, float]:
    return {row[0]: float(row[4]) for row in standin.candles(market_id, "1h", start_ms, stop_ms)}


def test_is_a_feed_and_loads_only_spot_endpoints(standin, clock):
    feed = make_feed(standin, clock)
    assert isinstance(feed, Feed)
    feed.history()
    assert set(standin.counts) == {"/api/v3/exchangeInfo", "/api/v3/klines"}
    assert standin.counts["/api/v3/exchangeInfo"] == 1
    feed.close()


def test_history_paginates_past_1000_bars_and_aligns_symbols(clock):
    gap = LAST_CLOSED_MS - 10 * H_MS
    listed = LAST_CLOSED_MS - 99 * H_MS  # SOL has only the last 100 bars
    with StandinExchange(now=clock.time, gaps={"ETHUSDT": {gap}}, listed_ms={"SOLUSDT": listed}) as standin:
        feed = make_feed(standin, clock, ("BTC/USDT", "ETH/USDT", "SOL/USDT"), history_bars=1500)
        panel = feed.history()

        assert panel.n_bars == 1500 and panel.symbols == ("BTC/USDT", "ETH/USDT", "SOL/USDT")
        assert panel.ts[-1] == LAST_CLOSED_MS * 1_000_000  # the forming bar is left out
        assert np.all(np.diff(panel.ts) == H_MS * 1_000_000)
        assert len(standin.kline_requests("BTCUSDT")) == 2  # 1000 + 500
        assert all(int(p["limit"]) <= 1000 for p in standin.kline_requests())

        first_ms = LAST_CLOSED_MS - 1499 * H_MS
        btc = closes(standin, "BTCUSDT", first_ms, LAST_CLOSED_MS)
        assert list(panel.close[0]) == [btc[t] for t in sorted(btc)]
        eth_gap = panel.index_at_or_after(gap * 1_000_000)
        assert all(math.isnan(panel.field(f)[1, eth_gap]) for f in ("open", "high", "low", "close", "volume"))
        assert np.isfinite(panel.close[1]).sum() == 1499  # missing stays missing, never filled
        sol_first = panel.index_at_or_after(listed * 1_000_000)
        assert np.isnan(panel.close[2, :sol_first]).all() and np.isfinite(panel.close[2, sol_first:]).all()


def test_next_bar_returns_only_closed_bars(standin, clock):
    feed = make_feed(standin, clock)
    feed.history()
    standin.reset_counts()

    assert feed.next_bar(timeout=0) is None  # the current bar is still forming
    assert standin.counts["/api/v3/klines"] == 0  # no point polling before it can close

    bar = feed.next_bar(timeout=2 * 3600)
    assert bar is not None and bar.ts == FORMING_MS * 1_000_000
    assert clock.time() * 1000 >= FORMING_MS + H_MS
    final = closes(standin, "BTCUSDT", FORMING_MS, FORMING_MS)[FORMING_MS]
    assert bar.close[0] == final  # the closed value, not the partial one served while forming
    assert np.isfinite(bar.close).all()
    assert len(standin.kline_requests("BTCUSDT")) == 1

    clock.advance(3 * 3600)  # three more bars closed while nobody asked
    got = [feed.next_bar(timeout=0) for _ in range(3)]
    assert [b.ts // 1_000_000 for b in got] == [FORMING_MS + k * H_MS for k in (1, 2, 3)]
    assert feed.next_bar(timeout=0) is None


def test_next_bar_sends_a_bar_a_symbol_lacks_as_nan_after_the_grace(clock):
    with StandinExchange(now=clock.time, gaps={"ETHUSDT": {FORMING_MS}}) as standin:
        feed = make_feed(standin, clock, grace_seconds=60)
        feed.history()
        bar = feed.next_bar(timeout=2 * 3600)
        assert bar is not None and bar.ts == FORMING_MS * 1_000_000
        assert np.isfinite(bar.close[0]) and np.isnan(bar.close[1])
        assert clock.time() * 1000 >= FORMING_MS + H_MS + 60_000


def test_next_bar_without_history_waits_for_the_bar_now_forming(standin, clock):
    feed = make_feed(standin, clock)
    bar = feed.next_bar(timeout=3600)
    assert bar is not None and bar.ts == FORMING_MS * 1_000_000


@pytest.mark.parametrize("fault", ["429", "500", "503", "reset"])
def test_retries_a_temporary_failure(standin, clock, fault):
    feed = make_feed(standin, clock)
    standin.inject(fault, path="klines")
    panel = feed.history()
    assert np.isfinite(panel.close).all()
    assert len(standin.kline_requests("BTCUSDT")) == 2  # the failed request and its retry
    assert len(clock.slept) == 1 and 0.005 <= clock.slept[0] <= 0.01  # backoff with jitter


def test_timeout_fault_is_retried(standin, clock):
    feed = make_feed(standin, clock, timeout_ms=500)
    standin.timeout_fault_seconds = 3.0
    standin.inject("timeout", path="klines")
    started = time.monotonic()
    feed.history()
    assert time.monotonic() - started < 2.5  # one client timeout, not the server's full hold
    assert len(standin.kline_requests("BTCUSDT")) == 2


def test_retries_are_bounded_then_temporary_error(standin, clock):
    feed = make_feed(standin, clock, max_retries=2, backoff_seconds=1.0)
    standin.inject("503", times=5, path="klines")
    with pytest.raises(TemporaryExchangeError, match=r"after 3 attempt.*ExchangeNotAvailable"):
        feed.history()
    assert len(standin.kline_requests()) == 3
    assert 0.5 <= clock.slept[0] <= 1.0 and 1.0 <= clock.slept[1] <= 2.0  # exponential


def test_timeouts_exhausting_retries_raise_temporary_error(standin, clock):
    feed = make_feed(standin, clock, timeout_ms=500, max_retries=1)
    standin.inject("timeout", times=2, path="klines")
    with pytest.raises(TemporaryExchangeError, match="RequestTimeout"):
        feed.history()


def test_malformed_json_is_a_clear_error_without_retry(standin, clock):
    feed = make_feed(standin, clock)
    standin.inject("malformed", path="klines")
    with pytest.raises(ExchangeError, match="malformed response") as info:
        feed.history()
    assert not isinstance(info.value, TemporaryExchangeError)
    assert "fetch_ohlcv BTC/USDT 1h" in str(info.value)
    assert len(standin.kline_requests()) == 1


def test_malformed_market_list_is_a_clear_error(standin, clock):
    feed = make_feed(standin, clock)
    standin.inject("malformed", path="exchangeInfo")
    with pytest.raises(ExchangeError, match="returned no markets"):
        feed.history()


def test_unknown_symbol_names_it_and_suggests(standin, clock):
    feed = make_feed(standin, clock, ("ETH/USDC",))
    with pytest.raises(ExchangeError, match=r"does not list 'ETH/USDC'.*did you mean.*ETH/USDT"):
        feed.history()
    assert standin.counts["/api/v3/klines"] == 0


def test_stale_status_after_repeated_failures_then_recovery(standin, clock):
    feed = make_feed(standin, clock, max_retries=1)
    feed.history()
    assert feed.status().startswith("binance · last bar")

    standin.inject("503", times=50, path="klines")
    assert feed.next_bar(timeout=2 * 3600) is None
    status = feed.status()
    assert "stale" in status and "ExchangeNotAvailable" in status
    assert "failed after 2 attempt(s)" in feed.last_error

    standin.clear_faults()
    bar = feed.next_bar(timeout=3600)
    assert bar is not None and bar.ts == FORMING_MS * 1_000_000
    assert "stale" not in feed.status()


def test_status_goes_stale_when_no_bar_for_two_timeframes(standin, clock):
    feed = make_feed(standin, clock)
    feed.history()
    clock.advance(3 * 3600)
    assert feed.status() == f"binance · stale {round(clock.time() - (LAST_CLOSED_MS + H_MS) / 1000)}s"


def test_next_bar_never_blocks_past_its_timeout_on_failures(standin, clock):
    feed = make_feed(standin, clock, max_retries=10, backoff_seconds=100.0)
    feed.history()
    clock.advance(3600)
    standin.inject("500", times=20, path="klines")
    before = clock.monotonic()
    assert feed.next_bar(timeout=30) is None
    assert clock.monotonic() - before <= 30
    assert "stale" in feed.status()


def test_make_exchange_rejects_unknown_names():
    with pytest.raises(ConfigError, match="did you mean.*binance"):
        make_exchange("binanse")
    with pytest.raises(ConfigError, match="no API URL entry 'nope'"):
        make_exchange("binance", api_urls={"nope": "http://127.0.0.1:1"})


def test_feed_rejects_bad_settings(standin, clock):
    with pytest.raises(ConfigError):
        make_feed(standin, clock, history_bars=0)
    with pytest.raises(ConfigError, match="timeframe"):
        CcxtFeed(exchange_for(standin), ("BTC/USDT",), "7m")
