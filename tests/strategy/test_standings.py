"""Pareto front, top strategies and the progress event."""

from __future__ import annotations

import dataclasses

import pytest

from engine.strategy.events import EvolutionProgress, ParetoPoint
from engine.strategy.fitness import Fitness
from engine.strategy.genome import Genome
from engine.strategy.standings import (
    Scored,
    by_generation,
    pareto_front,
    sharpe_spread,
    top_strategies,
)

BASE = {"timeframe": "4h", "indicator": "ema", "entry": "crossover", "exit": "trailing", "filter": "none",
        "reverse_exit": False, "period_fast": 12, "period_slow": 48, "period_signal": 9, "band": 0.5,
        "exit_a": 0.26, "exit_b": 0.3, "filter_period": 200, "filter_level": 0.5}


def scored(number: int, sharpe: float, dd: float, trades: int = 30, gen: int = 0, fast: int | None = None) -> Scored:
    fit = Fitness(sharpe=sharpe, max_drawdown=dd, trades=trades, total_return=0.0, win_rate=None, exposure=0.1,
                  fold_sharpe=(sharpe,), fold_drawdown=(dd,), fold_trades=(trades,), fold_return=(0.0,),
                  bar_moments=(sharpe / 1000, 0.01, 0.0, 3.0, 1000), blocks=((1000, 0.0, 0.1),))
    genome = Genome.from_params({**BASE, "period_fast": fast if fast is not None else 3 + number})
    return Scored(number=number, generation=gen, genome=genome, fitness=fit)


def test_pareto_front_keeps_the_non_dominated():
    pts = [scored(0, 1.0, 0.10), scored(1, 2.0, 0.20), scored(2, 1.5, 0.30), scored(3, 0.5, 0.05),
           scored(4, 2.0, 0.25)]
    assert [s.number for s in pareto_front(pts)] == [1, 0, 3]


def test_top_strategies_prefer_the_positive_front_and_show_twins_once():
    pts = [scored(0, 1.0, 0.10), scored(1, 2.0, 0.20), scored(2, -0.5, 0.01), scored(3, 1.8, 0.40),
           scored(4, 2.0, 0.20)]  # 4 is a twin of 1: same walk-forward record
    assert [s.number for s in top_strategies(pts, 3)] == [1, 0, 3]
    assert [s.number for s in top_strategies(pts, 10)] == [1, 0, 3, 2]


def test_generation_stats_and_distinct_trials():
    pts = [scored(0, 1.0, 0.1, gen=0), scored(1, 3.0, 0.1, gen=0), scored(2, 2.0, 0.1, gen=1, fast=3)]
    best, median = by_generation(pts)
    assert best == (3.0, 2.0) and median == (2.0, 2.0)
    n, var = sharpe_spread(pts)  # trial 2 repeats trial 0's genome: it counts once, with its latest result
    assert n == 2 and var == pytest.approx(((2.0 - 3.0) / 10) ** 2 / 2)  # bar Sharpe = mean/std = sharpe/10


def test_progress_is_a_frozen_state_like_event():
    ev = EvolutionProgress(source="evolution", study="s", trials_done=3, trials_target=10, trials_per_second=1.5,
                           generation=0, best_fitness=(1.0,), median_fitness=(0.5,),
                           pareto=(ParetoPoint(trial=1, sharpe=1.0, max_drawdown=0.1),), top=())
    assert ev.coalesce_key == "evolution:evolution" and ev.family == "strategy"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.trials_done = 4  # type: ignore[misc]
