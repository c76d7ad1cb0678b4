"""Out-of-sample metrics: classification, calibration, baselines and trading (numpy only).

Conventions: `y` holds labels 0/1 ("the move beat the cost"), `p` the
predicted probability of 1. A classifier's predicted class is 1 when
p >= 0.5 (the ensemble member's convention; trading uses its own threshold).
Callers pass only scored rows: finite `p` and known `y`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SECONDS_PER_YEAR = 365 * 24 * 3600
"""Crypto trades every day: a year is 365 × 24 h of bars."""

LOG_LOSS_EPS = 1e-15


def _pair(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels and probabilities differ in length: {y.size} vs {p.size}")
    return y, p


# -- classification -----------------------------------------------------------
def hit_rate(y: Any, p: Any) -> float:
    """Share of rows whose predicted class (p >= 0.5) equals the label; NaN for no rows."""
    y, p = _pair(y, p)
    return float(np.mean((p >= 0.5) == (y == 1))) if y.size else float("nan")


def brier(y: Any, p: Any) -> float:
    """Brier score: mean((p - y)²). 0 is perfect; 0.25 is a constant 0.5."""
    y, p = _pair(y, p)
    return float(np.mean((p - y) ** 2)) if y.size else float("nan")


def log_loss(y: Any, p: Any, *, eps: float = LOG_LOSS_EPS) -> float:
    """-mean(y·ln p + (1-y)·ln(1-p)) with p clipped to [eps, 1-eps] (ln 2 ≈ 0.693 for a constant 0.5)."""
    y, p = _pair(y, p)
    if not y.size:
        return float("nan")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def roc_auc(y: Any, p: Any) -> float:
    """Area under the ROC curve, as the Mann-Whitney statistic.

    AUC = (R₁ - n₁(n₁+1)/2) / (n₁·n₀), R₁ the sum of the ranks of the
    positives among all p (tied values share their average rank). It is the
    chance that a random positive scores above a random negative (ties count
    half). NaN when only one class is present.
    """
    y, p = _pair(y, p)
    pos = y == 1
    n1 = int(pos.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    ranks = np.empty(y.size)
    # average rank (1-based) over each run of equal values
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    ends = np.r_[starts[1:], y.size]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


@dataclass(frozen=True, slots=True)
class Reliability:
    """Reliability table: p cut into `len(count)` equal-width bins over [0, 1].

    Bin i holds edges[i] <= p < edges[i+1] (the last bin includes 1.0);
    `mean_p` and `frac_pos` are NaN for an empty bin.
    """

    edges: np.ndarray
    count: np.ndarray
    mean_p: np.ndarray
    frac_pos: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: Σ_bins (count/N)·|mean_p - frac_pos|."""
        n = self.count.sum()
        if n == 0:
            return float("nan")
        used = self.count > 0
        return float(np.sum(self.count[used] / n * np.abs(self.mean_p[used] - self.frac_pos[used])))

    def rows(self) -> list[dict[str, float | int | None]]:
        """One dict per bin (JSON-friendly: NaN becomes None)."""
        return [{"lo": float(self.edges[i]), "hi": float(self.edges[i + 1]), "count": int(self.count[i]),
                 "mean_p": _num(self.mean_p[i]), "frac_pos": _num(self.frac_pos[i])}
                for i in range(len(self.count))]


def reliability(y: Any, p: Any, n_bins: int = 10) -> Reliability:
    """Bin rows by predicted probability and compare the mean prediction with the observed rate."""
    y, p = _pair(y, p)
    if n_bins < 1:
        raise ValueError(f"n_bins must be ≥ 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.floor(p * n_bins).astype(np.int64), 0, n_bins - 1) if p.size else np.zeros(0, np.int64)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, weights=p, minlength=n_bins) / count
        frac_pos = np.bincount(idx, weights=y, minlength=n_bins) / count
    return Reliability(edges=edges, count=count, mean_p=mean_p, frac_pos=frac_pos)


def expected_calibration_error(y: Any, p: Any, n_bins: int = 10) -> float:
    """ECE over `n_bins` equal-width bins (see `Reliability.ece`)."""
    return reliability(y, p, n_bins).ece


@dataclass(frozen=True, slots=True)
class ClassificationMetrics:
    n: int
    hit_rate: float
    brier: float
    log_loss: float
    auc: float
    ece: float

    def to_dict(self) -> dict[str, float | int | None]:
        return {"hit_rate": _num(self.hit_rate), "brier": _num(self.brier), "log_loss": _num(self.log_loss),
                "auc": _num(self.auc), "ece": _num(self.ece), "n_test": self.n}


def classification_metrics(y: Any, p: Any, *, n_bins: int = 10) -> ClassificationMetrics:
    y, p = _pair(y, p)
    return ClassificationMetrics(n=int(y.size), hit_rate=hit_rate(y, p), brier=brier(y, p), log_loss=log_loss(y, p),
                                 auc=roc_auc(y, p), ece=expected_calibration_error(y, p, n_bins))


# -- baselines ------------------------------------------------------------------
def base_rate(train_labels: Any) -> float:
    """Share of 1s among the TRAINING labels: the no-skill probability a baseline predicts."""
    y = np.asarray(train_labels, dtype=np.float64).ravel()
    if not y.size:
        raise ValueError("no training labels to fit a baseline on")
    return float(y.mean())


def majority_class(train_labels: Any) -> int:
    """The TRAINING labels' most common class (1 on a tie, as p >= 0.5 predicts 1)."""
    return int(base_rate(train_labels) >= 0.5)


# -- trading --------------------------------------------------------------------
def bars_per_year(bar_seconds: float) -> float:
    return SECONDS_PER_YEAR / float(bar_seconds)


@dataclass(frozen=True, slots=True)
class TradingMetrics:
    """Outcome of holding `positions` over the bars' `returns` (see `trading_metrics`)."""

    n_bars: int
    total_return: float
    sharpe: float
    max_drawdown: float
    turnover: float
    trades: int
    fees_paid: float
    slippage_paid: float
    exposure: float
    equity: np.ndarray  # portfolio value after each bar, starting from 1.0

    def to_dict(self) -> dict[str, float | int | None]:
        return {"total_return": _num(self.total_return), "sharpe": _num(self.sharpe),
                "max_drawdown": _num(self.max_drawdown), "turnover": _num(self.turnover), "trades": self.trades,
                "fees_paid": _num(self.fees_paid), "slippage_paid": _num(self.slippage_paid),
                "exposure": _num(self.exposure), "n_bars": self.n_bars}


def trading_metrics(positions: Any, returns: Any, *, bar_seconds: float, fee_rate: float = 0.0,
                    slippage_rate: float = 0.0) -> TradingMetrics:
    """Equal-weight sleeves, one per symbol, each trading its own position series.

    `positions[s, u]` in [0, 1] is the share of symbol s's sleeve held during
    bar u, `returns[s, u]` the symbol's simple return over bar u (NaN = no
    price: counts as 0). 1-D inputs are one symbol. Before the first bar
    every sleeve is flat in cash and holds 1/S of the capital (1.0 in all).

    Per sleeve, with Δ_u = |pos_u - pos_{u-1}| (pos_{-1} = 0) and
    c = fee_rate + slippage_rate charged on the traded notional at the start
    of the bar:  E_u = E_{u-1} · (1 - c·Δ_u) · (1 + pos_u · r_u).
    Sleeves are not rebalanced against each other. The portfolio P_u = Σ E_u.

    - total_return = P_last - 1
    - sharpe = mean(g) / std(g, ddof=1) · sqrt(bars per year), g_u = P_u/P_{u-1} - 1,
      risk-free 0, a year of 365 days; 0 when std is 0, NaN under 2 bars
    - max_drawdown = max_u (1 - P_u / max_{v<=u} P_v), with P_{-1} = 1 in the peaks
    - turnover = Σ_u (Σ_s E_{s,u-1}·Δ_{s,u}) / P_{u-1}: traded notional in
      multiples of the portfolio (an entry and an exit of everything = 2)
    - trades = number of (symbol, bar) where the position changes
    - fees_paid / slippage_paid = Σ rate · traded notional, as a share of the
      starting capital
    - exposure = mean_u Σ_s E_{s,u-1}·pos_{s,u} / P_{u-1}: the average invested share
    No position is closed at the end.
    """
    pos = np.atleast_2d(np.asarray(positions, dtype=np.float64))
    ret = np.atleast_2d(np.asarray(returns, dtype=np.float64))
    if pos.shape != ret.shape:
        raise ValueError(f"positions {pos.shape} and returns {ret.shape} differ in shape")
    if not np.all(np.isfinite(pos)):
        raise ValueError("positions must be finite (use 0 for flat)")
    if np.any(pos < 0) or np.any(pos > 1):
        raise ValueError("positions must lie in [0, 1] (long-only sleeves)")
    ret = np.where(np.isfinite(ret), ret, 0.0)
    n_sym, n = pos.shape
    if n == 0:
        nan = float("nan")
        return TradingMetrics(n_bars=0, total_return=0.0, sharpe=nan, max_drawdown=0.0, turnover=0.0, trades=0,
                              fees_paid=0.0, slippage_paid=0.0, exposure=nan, equity=np.zeros(0))

    prev = np.concatenate([np.zeros((n_sym, 1)), pos[:, :-1]], axis=1)
    delta = np.abs(pos - prev)
    cost = fee_rate + slippage_rate
    growth = (1.0 - cost * delta) * (1.0 + pos * ret)
    sleeve_after = np.cumprod(growth, axis=1) / n_sym
    sleeve_before = np.concatenate([np.full((n_sym, 1), 1.0 / n_sym), sleeve_after[:, :-1]], axis=1)
    equity = sleeve_after.sum(axis=0)
    before = sleeve_before.sum(axis=0)

    notional = (sleeve_before * delta).sum(axis=0)
    bar_ret = equity / before - 1.0
    if n < 2:
        sharpe = float("nan")
    else:
        sd = float(np.std(bar_ret, ddof=1))
        sharpe = 0.0 if sd == 0.0 else float(np.mean(bar_ret) / sd * np.sqrt(bars_per_year(bar_seconds)))
    peaks = np.maximum.accumulate(np.concatenate([[1.0], equity]))
    drawdown = float(np.max(1.0 - np.concatenate([[1.0], equity]) / peaks))
    equity.setflags(write=False)
    return TradingMetrics(
        n_bars=n,
        total_return=float(equity[-1] - 1.0),
        sharpe=sharpe,
        max_drawdown=drawdown,
        turnover=float(np.sum(notional / before)),
        trades=int(np.count_nonzero(delta)),
        fees_paid=float(fee_rate * notional.sum()),
        slippage_paid=float(slippage_rate * notional.sum()),
        exposure=float(np.mean((sleeve_before * pos).sum(axis=0) / before)),
        equity=equity,
    )


def _num(x: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    x = float(x)
    return x if np.isfinite(x) else None
