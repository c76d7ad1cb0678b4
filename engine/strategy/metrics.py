"""Return statistics shared by the backtester, the fitness and the reports."""

from __future__ import annotations

import numpy as np


def sharpe(returns: np.ndarray, periods_per_year: float) -> float:
    """Annualised Sharpe of simple per-bar returns (risk-free 0; 0.0 when flat or too short)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return 0.0
    sd = r.std(ddof=1)
    if not np.isfinite(sd) or sd <= 1e-15:
        return 0.0
    return float(r.mean() / sd * np.sqrt(periods_per_year))


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak as a positive fraction (the start counts as a peak of 1.0)."""
    e = np.asarray(equity, dtype=np.float64)
    if e.size == 0:
        return 0.0
    peak = np.maximum.accumulate(np.maximum(e, 1.0))
    return float(np.max(1.0 - e / peak))


def simple_returns(equity: np.ndarray) -> np.ndarray:
    """Per-bar simple returns of an equity curve that starts from 1.0 before its first bar."""
    e = np.asarray(equity, dtype=np.float64)
    prev = np.concatenate([np.ones(e.shape[:-1] + (1,)), e[..., :-1]], axis=-1)
    return e / prev - 1.0


def moments(returns: np.ndarray) -> dict[str, float]:
    """n, mean, sample std, skewness and (non-excess) kurtosis of per-bar returns."""
    r = np.asarray(returns, dtype=np.float64)
    n = int(r.size)
    if n < 2:
        return {"n": n, "mean": float(r.mean()) if n else 0.0, "std": 0.0, "skew": 0.0, "kurt": 3.0}
    mean = float(r.mean())
    dev = r - mean
    sq = dev * dev
    m2 = float(sq.sum()) / n
    if m2 <= 1e-30:
        return {"n": n, "mean": mean, "std": 0.0, "skew": 0.0, "kurt": 3.0}
    skew = float((sq * dev).sum()) / n / m2**1.5  # plain reductions: BLAS dot is slower at this size
    kurt = float((sq * sq).sum()) / n / m2**2
    return {"n": n, "mean": mean, "std": float(np.sqrt(m2 * n / (n - 1))), "skew": skew, "kurt": kurt}
