"""One symbol's numbers out of a Candles event (pure; shared by price and watchlist)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app import format as fmt
from engine.events import Candles


@dataclass(frozen=True, slots=True)
class Quote:
    """Latest price and the change/range over the chart window. NaN = unknown."""

    symbol: str
    last: float
    change: float
    high: float
    low: float
    volume: float
    has_bar: bool
    window_ns: int


def quote(candles: Candles, symbol: str) -> Quote | None:
    """The quote for `symbol`, or None when it is not in this event."""
    try:
        i = candles.symbols.index(symbol)
    except ValueError:
        return None
    history = candles.closes[i] if i < len(candles.closes) else ()
    finite_closes = [c for c in history if fmt.finite(c)]
    bar_close = candles.close[i]
    has_bar = fmt.finite(bar_close)
    last = bar_close if has_bar else (finite_closes[-1] if finite_closes else math.nan)
    first = finite_closes[0] if finite_closes else math.nan
    change = last / first - 1 if fmt.finite(last) and fmt.finite(first) and first != 0 else math.nan
    highs = finite_closes + [v for v in (candles.high[i],) if fmt.finite(v)]
    lows = finite_closes + [v for v in (candles.low[i],) if fmt.finite(v)]
    ts = candles.history_ts
    return Quote(
        symbol=symbol,
        last=last,
        change=change,
        high=max(highs) if highs else math.nan,
        low=min(lows) if lows else math.nan,
        volume=candles.volume[i] if has_bar else math.nan,
        has_bar=has_bar,
        window_ns=(ts[-1] - ts[0]) if len(ts) >= 2 else 0,
    )


def tone(change: float) -> str:
    """The theme variable that colours a change: bull, bear or muted."""
    if not fmt.finite(change) or change == 0:
        return "muted"
    return "bull" if change > 0 else "bear"


def short_names(symbols: tuple[str, ...]) -> dict[str, str]:
    """Drop a quote currency every symbol shares ('BTC/USD' → 'BTC'), for narrow columns."""
    quotes = {s.partition("/")[2] for s in symbols}
    if len(quotes) == 1 and all("/" in s for s in symbols):
        return {s: s.partition("/")[0] for s in symbols}
    return {s: s for s in symbols}
