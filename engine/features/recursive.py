"""Recursive indicators (EMA, MACD, Wilder RSI/ATR) that skip missing bars.

A missing bar leaves every recursive state untouched and outputs NaN, so
each symbol's filter runs over its own sequence of present bars. The batch
path makes that literal: it packs each symbol's present bars to the front of
its row ("compact" time), runs `scipy.signal.lfilter` along time for all
symbols at once, and scatters the result back onto the shared grid. The
incremental path (`RecursiveState.step`) performs the same arithmetic one
bar at a time, and `batch_state` reads the state at the end of a batch so a
live engine can continue from history.

Definitions (k counts a symbol's present bars from 0):
- EMA(span): alpha = 2/(span+1), seeded with the first close; shown from k = span-1.
- MACD line = EMA(fast) - EMA(slow), from k = slow-1; signal = EMA(signal) of
  the line, seeded at k = slow-1, shown from k = slow+signal-2.
- Changes and true ranges use the previous *present* close, so they exist
  from k = 1. Wilder averages (alpha = 1/N) are seeded with the mean of the
  first N inputs (as TA-Lib does) and shown from k = N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.features.spec import FeatureSpec


def true_range(high: np.ndarray, low: np.ndarray, prev_close: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(high - low, np.abs(high - prev_close)), np.abs(low - prev_close))


def gains_losses(change: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(change, 0.0), np.maximum(-change, 0.0)


def _ema_from(x: np.ndarray, alpha: float, start: int) -> np.ndarray:
    """EMA of x[:, start:] seeded with x[:, start] (compact time); NaN before start."""
    s, t = x.shape
    out = np.full((s, t), np.nan)
    if t <= start:
        return out
    beta = 1.0 - alpha
    out[:, start] = x[:, start]
    if t > start + 1:
        from scipy.signal import lfilter  # 1.5 s import: keep it off the start-up path

        out[:, start + 1:] = lfilter([alpha], [1.0, -beta], x[:, start + 1:], axis=1,
                                     zi=beta * x[:, start:start + 1])[0]
    return out


def _wilder(g: np.ndarray, n: int) -> np.ndarray:
    """Wilder accumulator over inputs g[:, 1:] (compact time).

    Index 0 holds 0 (no input yet), 1..n-1 the running sum, n the seed
    mean, after that the Wilder average — exactly `RecursiveState`'s `acc`.
    """
    s, t = g.shape
    out = np.full((s, t), np.nan)
    if t == 0:
        return out
    out[:, 0] = 0.0
    m = min(n, t - 1)
    if m > 0:
        out[:, 1:m + 1] = np.cumsum(g[:, 1:m + 1], axis=1)
    if t > n:
        out[:, n] = out[:, n] / n
    if t > n + 1:
        alpha = 1.0 / n
        beta = 1.0 - alpha
        from scipy.signal import lfilter

        out[:, n + 1:] = lfilter([alpha], [1.0, -beta], g[:, n + 1:], axis=1, zi=beta * out[:, n:n + 1])[0]
    return out


@dataclass(slots=True)
class RecursiveState:
    """Per-symbol state of every recursive indicator (mutable, owned by one thread)."""

    n_obs: np.ndarray  # (S,) present bars seen
    prev_close: np.ndarray  # (S,) last present close
    ema: np.ndarray  # (S, E) one column per span of spec.ema_set()
    signal: np.ndarray  # (S,) MACD signal EMA
    gain: np.ndarray  # (S,) Wilder accumulators (see _wilder)
    loss: np.ndarray
    tr: np.ndarray

    @classmethod
    def fresh(cls, n_symbols: int, spec: FeatureSpec) -> "RecursiveState":
        nan = np.full(n_symbols, np.nan)
        return cls(n_obs=np.zeros(n_symbols, np.int64), prev_close=nan.copy(),
                   ema=np.full((n_symbols, len(spec.ema_set())), np.nan), signal=nan.copy(),
                   gain=np.zeros(n_symbols), loss=np.zeros(n_symbols), tr=np.zeros(n_symbols))

    @classmethod
    def concat(cls, states: list["RecursiveState"]) -> "RecursiveState":
        """Stack the states of consecutive symbol groups."""
        return cls(**{f: np.concatenate([getattr(st, f) for st in states]) for f in cls.__slots__})

    def step(self, close: np.ndarray, high: np.ndarray, low: np.ndarray, valid: np.ndarray,
             spec: FeatureSpec) -> dict[str, np.ndarray]:
        """Advance by one bar (NaN fields where `valid` is False); return that bar's outputs."""
        nan = np.nan
        self.n_obs = self.n_obs + valid
        n = self.n_obs
        spans = spec.ema_set()
        out: dict[str, np.ndarray] = {}
        for i, span in enumerate(spans):
            alpha = 2.0 / (span + 1.0)
            ema = self.ema[:, i]
            updated = np.where(valid & (n > 1), alpha * close + (1.0 - alpha) * ema,
                               np.where(valid & (n == 1), close, ema))
            self.ema[:, i] = updated
            out[f"ema_{span}"] = np.where(valid & (n >= span), updated, nan)

        line = self.ema[:, spans.index(spec.macd_fast)] - self.ema[:, spans.index(spec.macd_slow)]
        j = n - spec.macd_slow + 1
        alpha = 2.0 / (spec.macd_signal + 1.0)
        self.signal = np.where(valid & (j > 1), alpha * line + (1.0 - alpha) * self.signal,
                               np.where(valid & (j == 1), line, self.signal))
        out["macd"] = np.where(valid & (j >= 1), line, nan)
        out["signal"] = np.where(valid & (j >= spec.macd_signal), self.signal, nan)

        has_input = valid & (n >= 2)
        k = n - 1
        gain, loss = gains_losses(close - self.prev_close)
        tr = true_range(high, low, self.prev_close)
        for name, x, period in (("gain", gain, spec.rsi_period), ("loss", loss, spec.rsi_period),
                                ("tr", tr, spec.atr_period)):
            acc = getattr(self, name)
            alpha = 1.0 / period
            acc = np.where(has_input & (k < period), acc + x,
                           np.where(has_input & (k == period), (acc + x) / period,
                                    np.where(has_input & (k > period), alpha * x + (1.0 - alpha) * acc, acc)))
            setattr(self, name, acc)
            out[name] = np.where(has_input & (k >= period), acc, nan)
        self.prev_close = np.where(valid, close, self.prev_close)
        return out


def recursive_batch(close: np.ndarray, high: np.ndarray, low: np.ndarray, valid: np.ndarray,
                    spec: FeatureSpec) -> tuple[dict[str, np.ndarray], RecursiveState]:
    """Every recursive output on the (S, T) grid, and the state after the last bar."""
    s, t = close.shape
    n_valid = valid.sum(axis=1)
    dense = bool(valid.all())  # no missing bar anywhere: compact time is the grid
    # Flat positions of present bars on the grid and in compact time (each
    # symbol's present bars packed to the front of its row), in the same order.
    on_grid = np.flatnonzero(valid)
    packed = np.flatnonzero(np.arange(t)[None, :] < n_valid[:, None])

    def compact(x: np.ndarray) -> np.ndarray:
        if dense:
            return x
        c = np.full((s, t), np.nan)
        c.ravel()[packed] = x.ravel()[on_grid]
        return c

    slot = packed % t if t else packed  # compact index of each present bar

    def expand(c: np.ndarray, warmup: int) -> np.ndarray:
        """Back onto the grid, hiding the first `warmup` present bars of each symbol."""
        if dense:
            o = c.copy()
            o[:, :warmup] = np.nan
            return o
        vals = c.ravel()[packed]
        vals[slot < warmup] = np.nan
        o = np.full((s, t), np.nan)
        o.ravel()[on_grid] = vals
        return o

    cc, ch, cl = compact(close), compact(high), compact(low)
    outs: dict[str, np.ndarray] = {}
    raws: dict[str, np.ndarray] = {}
    for span in spec.ema_set():
        raws[f"ema_{span}"] = _ema_from(cc, 2.0 / (span + 1.0), 0)
        outs[f"ema_{span}"] = expand(raws[f"ema_{span}"], span - 1)
    start = spec.macd_slow - 1
    line = raws[f"ema_{spec.macd_fast}"] - raws[f"ema_{spec.macd_slow}"]
    raws["signal"] = _ema_from(line, 2.0 / (spec.macd_signal + 1.0), start)
    outs["signal"] = expand(raws["signal"], start + spec.macd_signal - 1)
    outs["macd"] = expand(line, start)

    prev = np.full((s, t), np.nan)
    prev[:, 1:] = cc[:, :-1]
    gain, loss = gains_losses(cc - prev)
    tr = true_range(ch, cl, prev)
    for name, x, period in (("gain", gain, spec.rsi_period), ("loss", loss, spec.rsi_period),
                            ("tr", tr, spec.atr_period)):
        raws[name] = _wilder(x, period)
        outs[name] = expand(raws[name], period)
    return outs, _final_state(raws, cc, n_valid, spec)


def _final_state(raws: dict[str, np.ndarray], cc: np.ndarray, n_valid: np.ndarray,
                 spec: FeatureSpec) -> RecursiveState:
    state = RecursiveState.fresh(len(n_valid), spec)
    state.n_obs = n_valid.astype(np.int64)
    rows = np.flatnonzero(n_valid > 0)
    last = n_valid[rows] - 1
    state.prev_close[rows] = cc[rows, last]
    for i, span in enumerate(spec.ema_set()):
        state.ema[rows, i] = raws[f"ema_{span}"][rows, last]
    state.signal[rows] = raws["signal"][rows, last]
    for name in ("gain", "loss", "tr"):
        getattr(state, name)[rows] = raws[name][rows, last]
    return state
