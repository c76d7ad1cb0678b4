"""Genome → entry / reverse-exit signals on the base grid, from cached indicators.

Everything is computed on the genome's timeframe — indicators, crossings,
bands, filters — and only the resulting booleans are mapped to the base
grid (`engine.strategy.resample`): an event of a 4h bar (a crossing) lands
on the base bar that closes that 4h bar, a state (below the lower band, the
filter) holds from there until the next 4h bar closes. So nothing is usable
before its higher-timeframe bar has closed; the entry fills at the next
base bar's open. Indicator arrays are cached in the Market per (timeframe,
indicator, parameters) and shared between genomes (a trend filter's EMA is
the same array as an EMA entry's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.strategy import indicators as ind
from engine.strategy.genome import Genome
from engine.strategy.market import Market


@dataclass(frozen=True, slots=True)
class Signals:
    entries: np.ndarray  # (S, T) bool: enter at the next bar's open
    reverse: np.ndarray | None  # (S, T) bool: exit at the next bar's open


def series(m: Market, tf: str, name: str, *args: int) -> np.ndarray:
    """One cached indicator on its timeframe's bars: (S, Tk), (k, S, Tk) for multi-line ones, (Tk,) for the market."""
    v = m.view(tf)
    if name == "close":
        return v.close

    def compute() -> np.ndarray:
        comp = v.compactor
        if name == "ema":
            x = ind.ema(v.close, args[0], comp)
        elif name == "rsi":
            x = ind.rsi(v.close, args[0], comp)
        elif name == "macd":
            x = np.stack(ind.macd(v.close, args[0], args[1], args[2], comp))
        elif name == "bb":
            x = np.stack(ind.sma_std(v.close, args[0], comp))
        elif name == "vwap":
            x = ind.vwap(v.high, v.low, v.close, v.volume, args[0], comp)
        elif name == "volume_z":
            x = ind.volume_z(v.volume, args[0], comp)
        elif name == "vol_ratio":
            x = ind.volatility_ratio(v.close, args[0], comp)
        elif name == "regime":
            idx = ind.market_index(v.close, comp)
            x = idx - ind.ema_1d(idx, args[0])
        else:
            raise ValueError(f"unknown indicator {name!r}")
        return np.ascontiguousarray(x)

    return m.cached((tf, name, *args), compute)


def _lines(m: Market, g: Genome) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(line, baseline, upper band, lower band) on the genome's timeframe."""
    tf, entry = g.timeframe, g.entry
    if g.indicator == "ema":
        if entry == "crossover":
            fast, slow = series(m, tf, "ema", int(g.p("ema_fast"))), series(m, tf, "ema", int(g.p("ema_slow")))
            return fast, slow, slow, slow
        base = series(m, tf, "ema", int(g.p("ema_slow")))
        band = g.p("band_pct") / 100
        return series(m, tf, "close"), base, base * (1 + band), base * (1 - band)
    if g.indicator == "rsi":
        r = series(m, tf, "rsi", int(g.p("rsi_period")))
        band = g.p("rsi_band") if entry != "crossover" else 0.0
        return r, np.float64(50.0), np.float64(50.0 + band), np.float64(50.0 - band)  # type: ignore[return-value]
    if g.indicator == "macd":
        line, signal = series(m, tf, "macd", int(g.p("macd_fast")), int(g.p("macd_slow")), int(g.p("macd_signal")))
        if entry == "crossover":
            return line, signal, signal, signal
        zero = np.float64(0.0)
        if entry == "breakout":
            return line, zero, zero, zero  # type: ignore[return-value]
        width = series(m, tf, "close") * (g.p("macd_band_pct") / 100)
        return line, zero, width, -width  # type: ignore[return-value]
    if g.indicator == "bollinger":
        mean, sd = series(m, tf, "bb", int(g.p("bb_period")))
        k = g.p("bb_k") if entry != "crossover" else 0.0
        return series(m, tf, "close"), mean, mean + k * sd, mean - k * sd
    vw = series(m, tf, "vwap", int(g.p("vwap_period")))
    band = g.p("band_pct") / 100 if entry != "crossover" else 0.0
    return series(m, tf, "close"), vw, vw * (1 + band), vw * (1 - band)


def _cross_above(x: np.ndarray, level: np.ndarray | np.float64) -> np.ndarray:
    d = x - level
    out = np.zeros(d.shape, bool)
    np.logical_and(d[:, 1:] > 0, d[:, :-1] <= 0, out=out[:, 1:])
    return out


def _filter(m: Market, g: Genome) -> np.ndarray | None:
    if g.filter == "none":
        return None
    tf, n = g.timeframe, int(g.p("filter_period"))
    with np.errstate(invalid="ignore"):
        if g.filter == "volume":
            return series(m, tf, "volume_z", n) >= g.p("volume_z")
        if g.filter == "volatility":
            return series(m, tf, "vol_ratio", n) <= g.p("vol_ratio")
        if g.filter == "trend":
            gap = series(m, tf, "close") - series(m, tf, "ema", n)
        else:
            regime = series(m, tf, "regime", n)
            gap = np.broadcast_to(regime, (m.n_symbols, regime.size))
        return gap > 0 if g.direction > 0 else gap < 0


def build_signals(m: Market, g: Genome) -> Signals:
    """Entries and reverse exits on the base grid (see the module docstring for the timing)."""
    line, base, upper, lower = _lines(m, g)
    if g.direction < 0:  # mirror: a short enters where a long would exit upside down
        line, base, upper, lower = -line, -base, -lower, -upper
    with np.errstate(invalid="ignore"):
        if g.entry == "crossover":
            entries = _cross_above(line, base)
            reverse = _cross_above(-line, -base)
        elif g.entry == "breakout":
            entries = _cross_above(line, upper)
            reverse = _cross_above(-line, -base)
        else:
            entries = line < lower
            reverse = line >= base
        flt = _filter(m, g)
    if flt is not None:
        entries &= flt
    v = m.view(g.timeframe)
    to_base = v.events_to_base if g.entry != "mean_reversion" else v.states_to_base
    return Signals(entries=to_base(entries), reverse=to_base(reverse) if g.reverse_exit else None)
