"""Small panels and model settings shared by the forecast tests."""

from __future__ import annotations

import numpy as np

from engine.data.panel import CandlePanel
from engine.features import compute_features
from engine.models.protocol import FeatureBatch, History

TINY = {"hidden": 16, "layers": 1, "window": 16, "epochs": 3, "windows_per_epoch": 1024, "batch_size": 128,
        "train_bars": 2000, "holdout": 0.2, "patience": 5}


def panel_from_returns(returns: np.ndarray, *, timeframe: str = "1h", seed: int = 0) -> CandlePanel:
    """Candles whose closes follow `returns` (S, T) log returns; wicks and volume are noise."""
    rng = np.random.default_rng(seed)
    s, t = returns.shape
    close = 100.0 * np.exp(np.cumsum(returns, axis=1))
    open_ = np.concatenate([np.full((s, 1), 100.0), close[:, :-1]], axis=1)
    wick = np.abs(rng.normal(0.0, 0.001, (2, s, t)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = np.exp(rng.normal(5.0, 0.3, (s, t)))
    ts = np.datetime64("2021-01-01T00:00", "ns").astype(np.int64) + np.arange(t, dtype=np.int64) * 3600 * 10**9
    return CandlePanel(symbols=tuple(f"T{i}/USD" for i in range(s)), timeframe=timeframe, ts=ts, open=open_,
                       high=high, low=low, close=close, volume=volume, synthetic=True)


def planted_panel(n_symbols: int = 4, n_bars: int = 1500, *, seed: int = 0) -> CandlePanel:
    """A predictable market: each symbol's returns are a sine (period 12 bars, own phase) plus small noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_bars)
    phase = rng.uniform(0, 2 * np.pi, (n_symbols, 1))
    returns = 0.01 * np.sin(2 * np.pi * t / 12 + phase) + rng.normal(0.0, 0.001, (n_symbols, n_bars))
    return panel_from_returns(returns, seed=seed)


def noise_panel(n_symbols: int = 3, n_bars: int = 600, *, seed: int = 1) -> CandlePanel:
    rng = np.random.default_rng(seed)
    return panel_from_returns(rng.normal(0.0, 0.01, (n_symbols, n_bars)), seed=seed)


def history(panel: CandlePanel) -> History:
    block = compute_features(panel)
    return History(panel=panel, features=block.values, names=block.names)


def batch_at(panel: CandlePanel, t: int, *, cycle: int = 1) -> FeatureBatch:
    """The engine's FeatureBatch for bar t of `panel` (features from the whole panel are causal)."""
    block = compute_features(panel.slice(0, t + 1))
    values = block.values[:, -1]
    return FeatureBatch(cycle=cycle, ts=int(panel.ts[t]), symbols=panel.symbols, names=block.names,
                        values=values, valid=np.isfinite(values).all(axis=1))
