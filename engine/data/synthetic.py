"""Synthetic candles for benchmarks and tests — clearly labelled, never market data.

Each symbol is a geometric random walk with its own volatility and drift and
fat-tailed (Student-t) returns; bars are continuous (open = previous close),
high and low extend past the body by a random (exponential) wick, and volume grows with the
size of the move. Everything is drawn in whole (symbols × bars) arrays.
"""

from __future__ import annotations

import numpy as np

from engine.data.panel import CandlePanel, timeframe_seconds

SECONDS_PER_YEAR = 365 * 24 * 3600
DEFAULT_START = np.datetime64("2020-01-01T00:00", "ns")
_T_DOF = 4.0  # Student-t degrees of freedom: crypto-like fat tails


def synthetic_panel(n_symbols: int, n_bars: int, *, seed: int = 0, timeframe: str = "30m") -> CandlePanel:
    """A deterministic panel of `n_symbols` random-walk symbols SYN000/USD, SYN001/USD, …"""
    if n_symbols < 1 or n_bars < 1:
        raise ValueError(f"need at least one symbol and one bar, got {n_symbols} × {n_bars}")
    step_s = timeframe_seconds(timeframe)
    rng = np.random.default_rng(seed)
    shape = (n_symbols, n_bars)
    bar_years = step_s / SECONDS_PER_YEAR

    annual_vol = rng.uniform(0.3, 1.5, size=(n_symbols, 1))
    annual_drift = rng.normal(0.0, 0.4, size=(n_symbols, 1))
    sigma = annual_vol * np.sqrt(bar_years)
    mu = (annual_drift - 0.5 * annual_vol**2) * bar_years
    first_open = np.exp(rng.uniform(np.log(0.05), np.log(50_000.0), size=(n_symbols, 1)))
    base_volume = np.exp(rng.uniform(np.log(10.0), np.log(1e6), size=(n_symbols, 1))) / first_open

    t_scale = np.sqrt((_T_DOF - 2.0) / _T_DOF)  # unit variance
    shock = rng.standard_t(_T_DOF, size=shape)  # the move in units of sigma
    shock *= t_scale
    close = shock * sigma
    close += mu
    np.cumsum(close, axis=1, out=close)
    close += np.log(first_open)
    np.exp(close, out=close)
    open_ = np.empty(shape)
    open_[:, 0] = first_open[:, 0]
    open_[:, 1:] = close[:, :-1]

    # Wicks beyond the body: exponential, scaled to half a bar's volatility.
    high = rng.standard_exponential(size=shape)
    high *= 0.5 * sigma
    np.exp(high, out=high)
    high *= np.maximum(open_, close)
    low = rng.standard_exponential(size=shape)
    low *= -0.5 * sigma
    np.exp(low, out=low)
    low *= np.minimum(open_, close)

    # Volume: log-normal noise around each symbol's base, larger on big moves.
    volume = rng.standard_normal(size=shape)
    volume *= 0.5
    np.exp(volume, out=volume)
    np.abs(shock, out=shock)
    shock += 0.5
    volume *= shock
    volume *= base_volume

    ts = DEFAULT_START.astype(np.int64) + np.arange(n_bars, dtype=np.int64) * (step_s * 1_000_000_000)
    width = max(3, len(str(n_symbols - 1)))
    return CandlePanel(
        symbols=tuple(f"SYN{i:0{width}d}/USD" for i in range(n_symbols)),
        timeframe=timeframe,
        ts=ts,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        source=f"synthetic (seed {seed}) — not market data",
        synthetic=True,
        meta=(("seed", str(seed)),),
    )
