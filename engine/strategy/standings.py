"""Where a study stands: per-generation fitness, the Pareto front, the top strategies.

Works on optuna FrozenTrials whose `result` user attribute holds the
walk-forward Fitness (see `engine.strategy.search.make_objective`). A trial
is feasible when it made at least the minimum number of trades.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.strategy.events import ParetoPoint, StrategyRow
from engine.strategy.fitness import Fitness
from engine.strategy.genome import Genome
from engine.strategy.overfitting import deflated_sharpe, expected_max_sharpe
from engine.strategy.search import GENERATION_ATTR, RESULT_ATTR


@dataclass(frozen=True, slots=True)
class Scored:
    """A completed trial with its decoded genome and fitness."""

    number: int
    generation: int
    genome: Genome
    fitness: Fitness


def scored_trials(trials: Sequence[Any]) -> list[Scored]:
    out = []
    for t in trials:
        result = t.user_attrs.get(RESULT_ATTR)
        if result is None or t.values is None:
            continue
        fit = Fitness.from_dict({k: v for k, v in result.items() if k != "strategy"})
        out.append(Scored(number=t.number, generation=int(t.system_attrs.get(GENERATION_ATTR, 0)),
                          genome=Genome.from_params(t.params), fitness=fit))
    return out


def by_generation(scored: Sequence[Scored]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(best, median) walk-forward Sharpe per generation, oldest first."""
    if not scored:
        return (), ()
    gens: dict[int, list[float]] = {}
    for s in scored:
        gens.setdefault(s.generation, []).append(s.fitness.sharpe)
    keys = sorted(gens)
    return (tuple(float(max(gens[k])) for k in keys), tuple(float(np.median(gens[k])) for k in keys))


def pareto_front(scored: Sequence[Scored]) -> list[Scored]:
    """Non-dominated trials on (Sharpe ↑, max drawdown ↓), best Sharpe first."""
    ordered = sorted(scored, key=lambda s: (-s.fitness.sharpe, s.fitness.max_drawdown, s.number))
    front, best_dd = [], math.inf
    for s in ordered:
        if s.fitness.max_drawdown < best_dd:
            front.append(s)
            best_dd = s.fitness.max_drawdown
    return front


def top_strategies(scored: Sequence[Scored], k: int) -> list[Scored]:
    """Pareto-front members with a positive Sharpe, best first, topped up with the next best Sharpes.

    At most `k`. Strategies with the same walk-forward record (the same
    trades: often a dormant parameter differs) are shown once, the earliest
    trial — picking among them by hold-out would leak the hold-out into the choice.
    """
    earliest: dict[tuple[float, float, int], Scored] = {}
    for s in sorted(scored, key=lambda s: s.number):
        earliest.setdefault(_record(s), s)
    seen: set[tuple[float, float, int]] = set()
    out: list[Scored] = []
    rest = sorted(scored, key=lambda s: (-s.fitness.sharpe, s.number))
    front = [s for s in pareto_front(scored) if s.fitness.sharpe > 0]
    for s in [*front, *rest]:
        if len(out) >= k:
            break
        if _record(s) not in seen:
            seen.add(_record(s))
            out.append(earliest[_record(s)])
    return out


def _record(s: Scored) -> tuple[float, float, int]:
    f = s.fitness
    return round(f.sharpe, 9), round(f.max_drawdown, 9), f.trades


def sharpe_spread(scored: Sequence[Scored]) -> tuple[int, float]:
    """(N distinct strategies tried, variance of their per-bar Sharpes) for the deflated Sharpe ratio.

    A genome tried twice (NSGA-II re-creates converged ones) is one trial.
    """
    unique = {s.genome: s.fitness.bar_sharpe for s in scored}
    srs = np.array(list(unique.values()))
    return len(srs), float(srs.var(ddof=1)) if len(srs) > 1 else 0.0


def rows(top: Sequence[Scored], *, n_trials: int, var_sharpe: float,
         holdout: Callable[[Genome], Fitness] | None, min_dsr: float, min_holdout_sharpe: float) -> list[StrategyRow]:
    out = []
    for s in top:
        f = s.fitness
        _mean, _std, skew, kurt, n = f.bar_moments
        dsr = deflated_sharpe(f.bar_sharpe, int(n), skew, kurt, n_trials=n_trials, var_sharpe=var_sharpe)
        dsr_v = None if math.isnan(dsr) else dsr
        h = holdout(s.genome) if holdout is not None else None
        passes = (h is not None and dsr_v is not None and dsr_v >= min_dsr and h.sharpe > min_holdout_sharpe
                  and h.trades > 0)
        out.append(StrategyRow(
            trial=s.number, strategy=s.genome.describe(), wf_sharpe=f.sharpe, wf_max_drawdown=f.max_drawdown,
            wf_trades=f.trades, wf_return=f.total_return, deflated_sharpe=dsr_v,
            holdout_sharpe=h.sharpe if h else None, holdout_return=h.total_return if h else None,
            holdout_max_drawdown=h.max_drawdown if h else None, holdout_trades=h.trades if h else None,
            passes=passes))
    return out


def points(front: Sequence[Scored]) -> tuple[ParetoPoint, ...]:
    return tuple(ParetoPoint(trial=s.number, sharpe=s.fitness.sharpe, max_drawdown=s.fitness.max_drawdown)
                 for s in front)


def expected_max(n_trials: int, var_sharpe: float) -> float:
    return expected_max_sharpe(n_trials, var_sharpe)
