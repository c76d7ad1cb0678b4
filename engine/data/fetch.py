"""`cockpit fetch`: download candle history through ccxt into the on-disk cache.

Resumable: a symbol whose cache already reaches back to `since` is fetched
only after its last cached bar; an earlier `since` backfills the gap before
its first cached bar. Only closed bars are stored. The cache is written every
few pages and when a fetch fails, so the next run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import ccxt
import numpy as np
import pandas as pd

from engine.config import Config
from engine.data.cache import CandleCache, frame_from_rows, open_ms
from engine.data.ccxt_feed import RetryPolicy, Row, SystemWallClock, WallClock, check_symbols, iter_ohlcv, make_exchange
from engine.data.panel import timeframe_seconds
from engine.errors import CockpitError, ConfigError


@dataclass(frozen=True, slots=True)
class SymbolFetch:
    symbol: str
    rows: int  # new rows fetched
    first: str | None  # first and last new bar (open time, ISO UTC); None when nothing was new
    last: str | None
    rows_cached: int  # rows in the cache file afterwards
    path: Path


@dataclass(frozen=True, slots=True)
class FetchSummary:
    exchange: str
    timeframe: str
    symbols: tuple[SymbolFetch, ...]

    @property
    def rows_fetched(self) -> int:
        return sum(s.rows for s in self.symbols)

    def to_dict(self) -> dict:
        return {
            "exchange": self.exchange,
            "timeframe": self.timeframe,
            "rows_fetched": self.rows_fetched,
            "symbols": [{**asdict(s), "path": str(s.path)} for s in self.symbols],
        }


def parse_date_ms(text: str, label: str) -> int:
    """'2024-01-01' or an ISO time (naive = UTC) as epoch milliseconds."""
    try:
        stamp = pd.Timestamp(text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{label} {text!r} is not a date", hint="use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)") from exc
    if pd.isna(stamp):
        raise ConfigError(f"{label} {text!r} is not a date", hint="use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value // 1_000_000)


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()


def fetch_history(
    exchange: ccxt.Exchange,
    symbols: Sequence[str],
    timeframe: str,
    since: str,
    until: str | None = None,
    *,
    cache_dir: str | os.PathLike[str],
    progress: Callable[[str], None] | None = None,
    max_retries: int = 5,
    backoff_seconds: float = 1.0,
    clock: WallClock | None = None,
    flush_every: int = 10,
    seed: int | None = None,
) -> FetchSummary:
    """Download closed bars with open time in [since, until) into the cache (until defaults to now)."""
    clock = clock or SystemWallClock()
    tf_ms = timeframe_seconds(timeframe) * 1000
    start = -(-parse_date_ms(since, "--since") // tf_ms) * tf_ms
    last_closed = (int(clock.time() * 1000) // tf_ms - 1) * tf_ms
    end = last_closed if until is None else min(last_closed, -(-parse_date_ms(until, "--until") // tf_ms) * tf_ms - tf_ms)
    if start > end:
        raise ConfigError(f"--since {since} leaves no closed {timeframe} bar before "
                          f"{'--until ' + until if until else 'now'}")
    policy, rng = RetryPolicy(max_retries, backoff_seconds), random.Random(seed)
    say = progress or (lambda _msg: None)
    check_symbols(exchange, symbols, policy=policy, clock=clock, rng=rng)
    cache = CandleCache(cache_dir)
    results = []
    for symbol in symbols:
        cached = open_ms(cache.read(exchange.id, symbol, timeframe))
        fetched: list[Row] = []
        unsaved: list[Row] = []
        try:
            for lo, hi in _missing_ranges(start, end, cached, tf_ms):
                for n_page, page in enumerate(iter_ohlcv(exchange, symbol, timeframe, lo, hi,
                                                         policy=policy, clock=clock, rng=rng), start=1):
                    fetched.extend(page)
                    unsaved.extend(page)
                    say(f"{exchange.id} {symbol} {timeframe}: {len(fetched)} new bars, up to {_iso(page[-1][0])}")
                    if n_page % flush_every == 0:
                        cache.write(exchange.id, symbol, timeframe, unsaved)
                        unsaved = []
        except CockpitError:
            if unsaved:  # keep what arrived, so the next run resumes after it
                cache.write(exchange.id, symbol, timeframe, unsaved)
            raise
        merged = cache.write(exchange.id, symbol, timeframe, unsaved) if unsaved else None
        rows_cached = len(merged) if merged is not None else len(cache.read(exchange.id, symbol, timeframe))
        stamps = sorted(r[0] for r in fetched)
        results.append(SymbolFetch(
            symbol=symbol,
            rows=len(stamps),
            first=_iso(stamps[0]) if stamps else None,
            last=_iso(stamps[-1]) if stamps else None,
            rows_cached=rows_cached,
            path=cache.path(exchange.id, symbol, timeframe),
        ))
        say(f"{exchange.id} {symbol} {timeframe}: {len(stamps)} new bars, {rows_cached} cached")
    return FetchSummary(exchange.id, timeframe, tuple(results))


def _missing_ranges(start: int, end: int, cached: np.ndarray, tf_ms: int) -> list[tuple[int, int]]:
    """[lo, hi] open-time ranges of [start, end] not yet covered by the cached stamps."""
    if len(cached) == 0:
        return [(start, end)]
    first, last = int(cached[0]), int(cached[-1])
    ranges = [(start, min(end, first - tf_ms)), (max(start, last + tf_ms), end)]
    return [(lo, hi) for lo, hi in ranges if lo <= hi]


def run_fetch_cli(args: argparse.Namespace) -> int:
    """`cockpit fetch`: progress on stderr, a JSON summary on stdout with --json; returns the exit code.

    Reads args.exchange, args.symbols ("A/B,C/D" or a list), args.timeframe,
    args.since and, when present, args.until, args.cache_dir or args.data_dir,
    args.api_urls, args.timeout_ms and args.json.
    """
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    symbols = args.symbols.split(",") if isinstance(args.symbols, str) else list(args.symbols)
    symbols = [s.strip() for s in symbols if s.strip()]
    data_dir = getattr(args, "data_dir", None)
    cache_dir = getattr(args, "cache_dir", None) or Path(data_dir or Config().data_dir()) / "cache"
    exchange = None
    try:
        if not symbols:
            raise ConfigError("--symbols is empty", hint="e.g. --symbols BTC/USDT,ETH/USDT")
        exchange = make_exchange(args.exchange, api_urls=getattr(args, "api_urls", None),
                                 timeout_ms=getattr(args, "timeout_ms", None) or 10_000)
        summary = fetch_history(exchange, symbols, args.timeframe, args.since, getattr(args, "until", None),
                                cache_dir=cache_dir, progress=say)
    except CockpitError as exc:
        say(f"cockpit fetch: {exc}")
        return 2 if isinstance(exc, ConfigError) else 1
    finally:
        if exchange is not None:
            exchange.session.close()
    for item in summary.symbols:
        say(f"{item.symbol}: +{item.rows} bars → {item.path} ({item.rows_cached} rows)")
    if getattr(args, "json", False):
        print(json.dumps(summary.to_dict()))
    return 0
