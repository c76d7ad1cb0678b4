"""The evolution pane's event (to move into engine/events.py with the other events).

State-like: only the newest `EvolutionProgress` per search matters.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class ParetoPoint:
    """One non-dominated trial: walk-forward Sharpe (↑) against max drawdown (↓)."""

    trial: int
    sharpe: float
    max_drawdown: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyRow:
    """A top strategy: the search's numbers next to its hold-out and overfitting numbers."""

    trial: int
    strategy: str  # Genome.describe()
    wf_sharpe: float  # mean walk-forward out-of-sample Sharpe (annualised)
    wf_max_drawdown: float
    wf_trades: int
    wf_return: float
    deflated_sharpe: float | None  # P(true Sharpe > best of N lucky trials); None if undefined
    holdout_sharpe: float | None  # None until computed
    holdout_return: float | None
    holdout_max_drawdown: float | None
    holdout_trades: int | None
    passes: bool = False  # hold-out and deflated-Sharpe thresholds met


@dataclass(frozen=True, slots=True, kw_only=True)
class EvolutionProgress(Event):
    """Where the strategy search stands (family "strategy")."""

    study: str
    trials_done: int  # completed trials in the study (all workers)
    trials_target: int | None
    trials_per_second: float  # this worker, this run
    generation: int
    best_fitness: tuple[float, ...]  # best walk-forward Sharpe per generation, oldest first
    median_fitness: tuple[float, ...]
    pareto: tuple[ParetoPoint, ...]
    top: tuple[StrategyRow, ...]
    pbo: float | None = None  # probability of backtest overfitting (CSCV), when computed
    elapsed_s: float = 0.0
    finished: bool = False
    family: str = "strategy"

    @property
    def coalesce_key(self) -> str:
        return f"evolution:{self.source}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotedRow:
    id: str
    strategy: str
    enabled: bool
    holdout_sharpe: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotedList(Event):
    """The promoted strategies and whether each one trades (the trader can switch them off)."""

    entries: tuple[PromotedRow, ...]

    @property
    def coalesce_key(self) -> str:
        return "promoted"
