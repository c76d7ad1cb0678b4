"""Walk-forward fitness and the overfitting estimates."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from engine.data.synthetic import synthetic_panel
from engine.strategy.backtest import Costs, backtest
from engine.strategy.fitness import Evaluator, Fitness, Folds
from engine.strategy.genome import Genome
from engine.strategy.market import Market
from engine.strategy.metrics import max_drawdown, sharpe, simple_returns
from engine.strategy.overfitting import (
    deflated_sharpe,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe,
)
from engine.strategy.signals import build_signals

PARAMS = {"timeframe": "1h", "indicator": "ema", "entry": "crossover", "exit": "trailing", "filter": "none",
          "reverse_exit": True, "period_fast": 5, "period_slow": 20, "period_signal": 9, "band": 0.3,
          "exit_a": 0.1, "exit_b": 0.3, "filter_period": 50, "filter_level": 0.5}


def test_rolling_folds_tile_the_end_and_train_before_each_test():
    f = Folds.rolling(10_000, n_folds=4, train_fraction=0.2)
    assert f.test[-1][1] == 10_000
    for (ta, tb), (a, b) in zip(f.train, f.test):
        assert tb == a and tb - ta == 2000
    assert all(f.test[k][1] == f.test[k + 1][0] for k in range(3))


def test_fitness_equals_separate_backtests_of_each_test_window():
    panel = synthetic_panel(3, 3000, seed=4)
    m = Market.from_panel(panel)
    folds = Folds.rolling(m.n_bars, n_folds=3)
    costs = Costs(fee=0.001, slippage=0.0005)
    g = Genome.from_params(PARAMS)
    fit = Evaluator(m, folds.test, costs).evaluate(g)
    sig = build_signals(m, g)
    for k, (a, b) in enumerate(folds.test):
        r = backtest(m, sig.entries, sig.reverse, rules=g.exit_rules("30m"), costs=costs, start=a, stop=b)
        equity = r.equity.mean(axis=0)
        assert fit.fold_trades[k] == len(r.trades)
        assert fit.fold_sharpe[k] == pytest.approx(sharpe(simple_returns(equity), m.bars_per_year))
        assert fit.fold_drawdown[k] == pytest.approx(max_drawdown(equity))
        assert fit.fold_return[k] == pytest.approx(equity[-1] - 1)
    assert fit.sharpe == pytest.approx(np.mean(fit.fold_sharpe))
    assert fit.trades == sum(fit.fold_trades) > 0
    assert sum(n for n, _, _ in fit.blocks) == fit.bar_moments[4] == sum(b - a for a, b in folds.test)
    assert Fitness.from_dict(fit.as_dict()) == fit


def test_probabilistic_and_deflated_sharpe():
    phi = NormalDist().cdf
    assert probabilistic_sharpe(0.1, 0.0, 1000, 0.0, 3.0) == pytest.approx(phi(0.1 * math.sqrt(999) / math.sqrt(1.005)))
    inv = NormalDist().inv_cdf
    g = 0.5772156649015329
    want = math.sqrt(0.5) * ((1 - g) * inv(1 - 1 / 100) + g * inv(1 - 1 / (100 * math.e)))
    assert expected_max_sharpe(100, 0.5) == pytest.approx(want)
    one = deflated_sharpe(0.05, 2000, -0.5, 6.0, n_trials=1, var_sharpe=0.0)
    assert one == pytest.approx(probabilistic_sharpe(0.05, 0.0, 2000, -0.5, 6.0))
    many = deflated_sharpe(0.05, 2000, -0.5, 6.0, n_trials=1000, var_sharpe=0.001)
    assert many < one  # more trials, less credit for the same Sharpe


def _blocks(returns: np.ndarray, b: int = 8) -> np.ndarray:
    return np.array([[(len(x), x.sum(), (x * x).sum()) for x in np.array_split(r, b)] for r in returns])


def test_pbo_is_high_for_noise_and_low_for_real_skill():
    noises = [np.random.default_rng(seed).normal(0, 0.01, (30, 4000)) for seed in range(8)]
    results = [pbo_cscv(_blocks(n)) for n in noises]
    assert all(r is not None and r.splits == 70 and r.trials == 30 for r in results)
    # one data set gives a noisy estimate; on average, picking the best of pure noise is a coin flip
    assert 0.35 < np.mean([r.pbo for r in results]) < 0.65
    noise = noises[0]
    skilled = noise.copy()
    skilled[7] += 0.003  # one trial with a real edge in every block
    assert pbo_cscv(_blocks(skilled)).pbo < 0.05
    assert pbo_cscv(_blocks(noise[:1])) is None
