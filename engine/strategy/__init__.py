"""Strategy evolution: a verified vectorised backtester and an NSGA-II search that judges out-of-sample.

- `backtest`: signals → trades → equity for every symbol at once, next-bar
  execution, fees/slippage, stop/target/trailing/time exits (cross-checked
  against backtesting.py in the tests). `market`, `passage`: the prepared
  arrays and first-passage tables it runs on.
- `genome`, `signals`, `resample`, `indicators`: what a strategy is, and its
  signals on any timeframe without lookahead.
- `fitness`: walk-forward fitness; `overfitting`: deflated Sharpe and PBO.
- `search`, `evolve`: the optuna study (persistent, resumable, shared by
  worker processes) and `run_evolve`, the `cockpit evolve` command.
- `events`: `EvolutionProgress` for the evolution pane; `bench_strategy`: bench rows.

Heavy libraries (optuna, scipy.signal) load on first use, not on import.
"""

from engine.strategy.backtest import BacktestResult, Costs, ExitRules, backtest
from engine.strategy.genome import Genome

__all__ = ["BacktestResult", "Costs", "ExitRules", "Genome", "backtest"]
