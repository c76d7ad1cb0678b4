"""fetch_history into the cache through the real ccxt client and the loopback stand-in."""

from __future__ import annotations

import argparse
import json

import pytest

from engine.data.cache import CandleCache
from engine.data.ccxt_feed import make_exchange
from engine.data.fetch import fetch_history, run_fetch_cli
from engine.errors import ConfigError, ExchangeError
from tests.standin_exchange import DEFAULT_START_MS, FakeClock, StandinExchange

H_MS = 3_600_000
NOW_S = DEFAULT_START_MS / 1000 + 3000 * 3600 + 1800  # half-way through bar 3000
LAST_CLOSED_MS = DEFAULT_START_MS + 2999 * H_MS
SINCE = "2024-01-01"  # = DEFAULT_START_MS: 3000 closed bars, three pages


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW_S)


@pytest.fixture
def standin(clock: FakeClock):
    with StandinExchange(now=clock.time, timeout_fault_seconds=1.0) as server:
        yield server


@pytest.fixture
def exchange(standin):
    ex = make_exchange("binance", api_urls=standin.api_urls(), timeout_ms=3000, rate_limit_ms=1)
    ex.session.trust_env = False
    yield ex
    ex.session.close()


def run(exchange, clock, tmp_path, symbols=("BTC/USDT",), since=SINCE, until=None, **kw):
    return fetch_history(exchange, symbols, "1h", since, until, cache_dir=tmp_path, clock=clock,
                         backoff_seconds=0.01, seed=3, **kw)


def test_fetch_fills_the_cache_with_closed_bars(exchange, standin, clock, tmp_path):
    lines: list[str] = []
    summary = run(exchange, clock, tmp_path, ("BTC/USDT", "ETH/USDT"), progress=lines.append)

    btc = summary.symbols[0]
    assert btc.symbol == "BTC/USDT" and btc.rows == 3000 and btc.rows_cached == 3000
    assert btc.first == "2024-01-01T00:00:00+00:00"
    assert btc.path == tmp_path / "binance" / "BTC-USDT_1h.parquet" and btc.path.is_file()
    assert summary.rows_fetched == 6000
    assert len(standin.kline_requests("BTCUSDT")) == 3
    assert any("BTC/USDT 1h: 1000 new bars" in line for line in lines)

    frame = CandleCache(tmp_path).read("binance", "ETH/USDT", "1h")
    served = standin.candles("ETHUSDT", "1h", DEFAULT_START_MS, LAST_CLOSED_MS)
    assert frame["close"].tolist() == [float(r[4]) for r in served]
    assert int(frame["date"].iloc[-1].value // 1_000_000) == LAST_CLOSED_MS  # the forming bar is not stored


def test_second_fetch_resumes_after_the_last_cached_bar(exchange, standin, clock, tmp_path):
    run(exchange, clock, tmp_path)
    clock.advance(5 * 3600)
    standin.reset_counts()

    summary = run(exchange, clock, tmp_path)
    assert summary.symbols[0].rows == 5 and summary.symbols[0].rows_cached == 3005
    requests = standin.kline_requests("BTCUSDT")
    assert len(requests) == 1 and int(requests[0]["startTime"]) == LAST_CLOSED_MS + H_MS

    standin.reset_counts()
    again = run(exchange, clock, tmp_path)
    assert again.symbols[0].rows == 0 and again.symbols[0].first is None
    assert standin.kline_requests() == []  # nothing missing, nothing asked


def test_earlier_since_backfills_only_the_gap(exchange, standin, clock, tmp_path):
    run(exchange, clock, tmp_path, since="2024-04-01")
    standin.reset_counts()
    summary = run(exchange, clock, tmp_path, since="2024-03-31T20:00")
    assert summary.symbols[0].rows == 4
    frame = CandleCache(tmp_path).read("binance", "BTC/USDT", "1h")
    assert frame["date"].is_monotonic_increasing and frame["date"].is_unique
    assert frame["date"].iloc[0].isoformat() == "2024-03-31T20:00:00+00:00"
    assert len(standin.kline_requests()) == 1


def test_until_is_exclusive(exchange, clock, tmp_path):
    summary = run(exchange, clock, tmp_path, since="2024-01-02", until="2024-01-03")
    assert summary.symbols[0].rows == 24
    assert summary.symbols[0].last == "2024-01-02T23:00:00+00:00"


def test_fetch_retries_rate_limits(exchange, standin, clock, tmp_path):
    standin.inject("429", times=2, path="klines")
    summary = run(exchange, clock, tmp_path)
    assert summary.symbols[0].rows == 3000
    assert len(standin.kline_requests()) == 5


def test_interrupted_fetch_keeps_flushed_pages_and_resumes(exchange, standin, clock, tmp_path):
    standin.inject("500", times=5, path="klines", after=2)  # the third page keeps failing
    with pytest.raises(ExchangeError, match="failed after 2 attempt"):
        run(exchange, clock, tmp_path, max_retries=1)
    cache = CandleCache(tmp_path)
    assert len(cache.read("binance", "BTC/USDT", "1h")) == 2000  # the two pages that arrived

    standin.clear_faults()
    standin.reset_counts()
    summary = run(exchange, clock, tmp_path)
    assert summary.symbols[0].rows == 1000 and summary.symbols[0].rows_cached == 3000
    assert len(standin.kline_requests()) == 1


def test_malformed_page_is_a_clear_error(exchange, standin, clock, tmp_path):
    standin.inject("malformed", path="klines")
    with pytest.raises(ExchangeError, match="malformed response"):
        run(exchange, clock, tmp_path, since="2024-05-04")  # a short page: ccxt is slow on garbage
    assert len(standin.kline_requests()) == 1
    assert not CandleCache(tmp_path).exists("binance", "BTC/USDT", "1h")


def test_bad_dates_and_symbols_are_clear(exchange, clock, tmp_path):
    with pytest.raises(ConfigError, match="--since 'yesterday-ish' is not a date"):
        run(exchange, clock, tmp_path, since="yesterday-ish")
    with pytest.raises(ConfigError, match="leaves no closed 1h bar"):
        run(exchange, clock, tmp_path, since="2030-01-01")
    with pytest.raises(ExchangeError, match="does not list 'BTC/EUR'"):
        run(exchange, clock, tmp_path, ("BTC/EUR",))


def test_run_fetch_cli(standin, tmp_path, capsys):
    args = argparse.Namespace(exchange="binance", symbols="BTC/USDT, ETH/USDT", timeframe="1d",
                              since="2024-01-01", until="2024-02-01", cache_dir=tmp_path,
                              api_urls=standin.api_urls(), json=True)
    assert run_fetch_cli(args) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert [s["rows"] for s in summary["symbols"]] == [31, 31]
    assert "BTC/USDT: +31 bars" in err

    args.symbols = "BTC/USDX"
    assert run_fetch_cli(args) == 1
    assert "does not list 'BTC/USDX'" in capsys.readouterr().err
