"""The forecasts the LSTM must beat, each with a band of the same levels.

- **persistence**: "the next hours look like now" — a zero log return; its
  band is the training span's empirical quantiles of the volatility-scaled
  return (× rvol_t·√h at the forecast bar), i.e. recent volatility, no view.
- **EMA drift**: the exponential average of one-bar log returns, carried
  forward h bars (momentum); band from its scaled training residuals.
- **LightGBM**: one quantile regressor per horizon and level on the LSTM's
  inputs at the forecast bar (the newest row of its window).

Everything is fitted on training rows only; predictions are log returns,
shape (N, H, Q).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def ema_of_returns(ret_1: np.ndarray, span: int) -> np.ndarray:
    """Causal EMA (alpha = 2/(span+1)) of one-bar log returns along time, per symbol (S, T).

    A missing return leaves the average where it was; the value at that bar is NaN.
    """
    alpha = 2.0 / (span + 1.0)
    out = np.full(ret_1.shape, np.nan)
    state = np.full(ret_1.shape[0], np.nan)
    for t in range(ret_1.shape[1]):
        r = ret_1[:, t]
        ok = np.isfinite(r)
        fresh = ok & ~np.isfinite(state)
        state = np.where(fresh, r, np.where(ok, state + alpha * (r - state), state))
        out[:, t] = np.where(ok, state, np.nan)
    return out


def _band(residual: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """(H, Q) empirical quantiles of scaled residuals (n, H); the median level is pinned to 0."""
    if len(residual) == 0:
        raise ValueError("no training rows to fit a band on")
    band = np.quantile(residual, levels, axis=0).T
    band[:, levels.index(0.5)] = 0.0
    return band


@dataclass(frozen=True, slots=True)
class BandedPoint:
    """A point forecast plus a fixed band of scaled residual quantiles."""

    band: np.ndarray  # (H, Q), scaled units

    @staticmethod
    def fit(point: np.ndarray, y: np.ndarray, scale: np.ndarray, levels: tuple[float, ...]) -> "BandedPoint":
        """point, y, scale: (n, H) training rows in log-return units."""
        return BandedPoint(band=_band((y - point) / scale, levels))

    def predict(self, point: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return point[..., None] + self.band[None] * scale[..., None]


def persistence_point(n: int, horizons: tuple[int, ...]) -> np.ndarray:
    return np.zeros((n, len(horizons)))


def drift_point(drift: np.ndarray, horizons: tuple[int, ...]) -> np.ndarray:
    """h × the EMA of one-bar returns, per row (n,) → (n, H)."""
    return drift[:, None] * np.asarray(horizons, dtype=float)[None, :]


class LightGBMQuantiles:
    """LightGBM quantile regressors of the scaled return, one per (horizon, level).

    One thread each: on two shared cores LightGBM's OpenMP team was 15× slower
    than a single thread while other work ran (measured here, 19 s vs 1.3 s).
    """

    def __init__(self, levels: tuple[float, ...], *, seed: int, n_estimators: int = 200) -> None:
        self.levels = levels
        self.seed = seed
        self.n_estimators = n_estimators
        self.models_: list[list[Any]] = []

    def fit(self, X: np.ndarray, y_scaled: np.ndarray) -> "LightGBMQuantiles":
        from lightgbm import LGBMRegressor

        self.models_ = [
            [LGBMRegressor(objective="quantile", alpha=q, n_estimators=self.n_estimators, learning_rate=0.05,
                           num_leaves=15, min_child_samples=100, subsample=0.8, subsample_freq=1,
                           colsample_bytree=0.8, random_state=self.seed, n_jobs=1, verbose=-1,
                           deterministic=True, force_row_wise=True).fit(X, y_scaled[:, k])
             for q in self.levels]
            for k in range(y_scaled.shape[1])
        ]
        return self

    def predict(self, X: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """(n, H, Q) log returns; quantiles sorted per row so they never cross."""
        out = np.stack([np.stack([m.predict(X) for m in per_h], axis=-1) for per_h in self.models_], axis=1)
        return np.sort(out, axis=-1) * scale[..., None]
