"""Walk-forward fitness of a genome: out-of-sample Sharpe, drawdown and trades per fold.

Folds come from `engine.evaluation.splits.walk_forward_splits` (rolling
train/test windows over the data the evaluator holds). A rule-based genome
has no fitted parameters, so its train window is used for nothing but the
indicators' warm-up: indicators are causal and run over the whole period,
so a test window's signals see the history before it, never after. The
fitness comes from the TEST windows only: each window is a fresh start
(flat, capital 1.0 per symbol, trades still open at its end are closed at
its last close).

The portfolio gives each symbol 1/S of the capital (a symbol without data
stays in cash). Per fold: annualised Sharpe of the per-bar portfolio
returns, max drawdown, trades. The fitness is the mean fold Sharpe, the
worst fold drawdown and the total trade count; the per-bar returns of all
test windows together are summarised (moments for the deflated Sharpe,
block sums for CSCV) so overfitting can be estimated later without
re-running anything.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.evaluation.splits import walk_forward_splits
from engine.strategy.backtest import (
    Costs,
    Trades,
    bar_log_returns,
    find_candidates,
    settle,
    take_trades,
)
from engine.strategy.genome import Genome
from engine.strategy.market import Market
from engine.strategy.metrics import max_drawdown, moments, sharpe, simple_returns
from engine.strategy.signals import build_signals


@dataclass(frozen=True, slots=True)
class Folds:
    """Rolling walk-forward windows, as [start, stop) bar ranges."""

    train: tuple[tuple[int, int], ...]
    test: tuple[tuple[int, int], ...]

    @classmethod
    def rolling(cls, n_bars: int, *, n_folds: int = 5, train_fraction: float = 0.25) -> Folds:
        splits = walk_forward_splits(n_bars, n_folds=n_folds, train_bars=max(1, int(n_bars * train_fraction)))
        return cls(train=tuple((int(s.train[0]), int(s.train[-1]) + 1) for s in splits),
                   test=tuple((s.test_start, s.test_stop) for s in splits))


@dataclass(frozen=True, slots=True)
class Fitness:
    """What one walk-forward evaluation measured (JSON-ready through `as_dict`)."""

    sharpe: float  # mean of the folds' annualised Sharpe ratios
    max_drawdown: float  # worst fold's max drawdown, a positive fraction
    trades: int
    total_return: float  # compounded over the test windows
    win_rate: float | None
    exposure: float  # share of symbol-bars in a position
    fold_sharpe: tuple[float, ...]
    fold_drawdown: tuple[float, ...]
    fold_trades: tuple[int, ...]
    fold_return: tuple[float, ...]
    bar_moments: tuple[float, float, float, float, int]  # mean, std, skew, kurt (non-excess), n of bar returns
    blocks: tuple[tuple[int, float, float], ...]  # (n, Σr, Σr²) of the bar returns in equal time blocks

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fitness:
        d = dict(d)
        for key in ("fold_sharpe", "fold_drawdown", "fold_trades", "fold_return", "bar_moments"):
            d[key] = tuple(d[key])
        d["blocks"] = tuple(tuple(b) for b in d["blocks"])
        return cls(**d)

    @property
    def bar_sharpe(self) -> float:
        """Sharpe of the per-bar returns (not annualised), for the deflated Sharpe ratio."""
        mean, std = self.bar_moments[0], self.bar_moments[1]
        return mean / std if std > 0 else 0.0


class Evaluator:
    """Scores genomes over fixed windows of one Market (memoised per genome).

    It only ever sees the Market it was given: the search builds it from the
    search period alone, so the hold-out is out of its reach by construction.
    """

    def __init__(self, market: Market, windows: Sequence[tuple[int, int]], costs: Costs | None = None, *,
                 blocks: int = 16, memo: int = 4096) -> None:
        t = market.n_bars
        for a, b in windows:
            if not 0 <= a < b <= t:
                raise ValueError(f"window [{a}, {b}) is outside the {t} bars")
        self.market = market
        self.windows = [(int(a), int(b)) for a, b in windows]
        self.costs = costs if costs is not None else Costs()
        self.n_blocks = blocks
        self._memo: OrderedDict[Genome, Fitness] = OrderedDict()
        self._memo_size = memo
        self.evaluations = 0  # genomes actually backtested (memo hits excluded)
        self.seconds = 0.0  # time spent backtesting them

    def trades(self, genome: Genome) -> Trades:
        m = self.market
        sig = build_signals(m, genome)
        cands = find_candidates(m, sig.entries, sig.reverse, genome.exit_rules(m.timeframe), self.costs,
                                genome.direction)
        picked, window_of = take_trades(cands, self.windows, m.n_symbols, m.n_bars)
        return settle(m, cands, picked, window_of, self.windows, self.costs, genome.direction)

    def evaluate(self, genome: Genome) -> Fitness:
        hit = self._memo.get(genome)
        if hit is not None:
            self._memo.move_to_end(genome)
            return hit
        t0 = time.perf_counter()
        fit = self._evaluate(genome)
        self.seconds += time.perf_counter() - t0
        self.evaluations += 1
        self._memo[genome] = fit
        if len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
        return fit

    def _evaluate(self, genome: Genome) -> Fitness:
        m = self.market
        trades = self.trades(genome)
        logret = bar_log_returns(m, trades, self.costs, genome.direction)
        cum = np.cumsum(logret, axis=1)
        fold_sharpe, fold_dd, fold_ret, parts = [], [], [], []
        for a, b in self.windows:
            before = cum[:, a - 1:a] if a > 0 else 0.0
            equity = np.exp(cum[:, a:b] - before).mean(axis=0)
            r = simple_returns(equity)
            parts.append(r)
            fold_sharpe.append(sharpe(r, m.bars_per_year))
            fold_dd.append(max_drawdown(equity))
            fold_ret.append(float(equity[-1] - 1.0))
        fold_trades = np.bincount(trades.window, minlength=len(self.windows))
        bars = np.concatenate(parts)
        mo = moments(bars)
        blocks = tuple((int(x.size), float(x.sum()), float((x * x).sum()))
                       for x in np.array_split(bars, min(self.n_blocks, max(1, bars.size))))
        n = len(trades)
        held = int((trades.exit_bar - trades.entry_bar + 1).sum())
        return Fitness(
            sharpe=float(np.mean(fold_sharpe)), max_drawdown=float(max(fold_dd)), trades=n,
            total_return=float(np.prod(1.0 + np.array(fold_ret)) - 1.0),
            win_rate=float((trades.ret > 0).mean()) if n else None,
            exposure=held / (m.n_symbols * sum(b - a for a, b in self.windows)),
            fold_sharpe=tuple(fold_sharpe), fold_drawdown=tuple(fold_dd),
            fold_trades=tuple(int(k) for k in fold_trades), fold_return=tuple(fold_ret),
            bar_moments=(mo["mean"], mo["std"], mo["skew"], mo["kurt"], mo["n"]), blocks=blocks)
