"""`cockpit bench` rows for the strategy family.

- `strategy.walk_forward`: walk-forward evaluations per second — one
  evaluation = one genome backtested on all embedded symbols over every
  test fold of the search period (cold: a fresh Market, its indicator cache
  and lookup tables filling as it goes), random genomes as in the search's
  first generation (later generations reuse more cached indicators).
- `strategy.search`: completed optuna trials per second of a short search
  (journal storage in a temporary directory, one worker process).
- `strategy.backtest.ema_cross`: our backtester's candles per second on an
  EMA(12/48) crossover, signals precomputed, all symbols at once.
- `strategy.backtesting_py.ema_cross`: backtesting.py's candles per second on
  the same strategy and one symbol, next to ours on that symbol (the ratio).
  backtesting.py is optional; without it the row says so.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.bench import BenchResult
from engine.data.panel import CandlePanel


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _genomes(n: int, seed: int) -> list:
    import optuna

    from engine.strategy.genome import Genome, suggest_params

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(Genome.from_params(suggest_params(trial)))
        study.tell(trial, 0.0)
    return out


def bench_walk_forward(panel: CandlePanel, *, genomes: int = 100, seed: int = 7) -> BenchResult:
    from engine.strategy import indicators
    from engine.strategy.evolve import EvolveConfig, _setup

    cfg = EvolveConfig()
    probe = np.ones((1, 8))
    indicators.ema(probe, 3, indicators.Compactor.of(probe > 0))  # imports scipy.signal (~2-4 s), off the clock
    setup = _setup(panel, cfg)
    ev = setup.evaluator
    batch = _genomes(genomes, seed)
    t0 = time.perf_counter()
    for g in batch:
        ev.evaluate(g)
    seconds = time.perf_counter() - t0
    n = ev.evaluations
    return BenchResult("strategy.walk_forward.embedded", "strategy", panel.n_symbols, seconds / max(1, n), _rss_mb(),
                       n / seconds if seconds > 0 else None, "evaluations",
                       {"evaluations": n, "folds": len(setup.folds.test), "search_bars": setup.search_panel.n_bars,
                        "cache_hits": ev.market.cache_hits, "cache_misses": ev.market.cache_misses})


def bench_search(panel: CandlePanel, *, trials: int = 100, seed: int = 7) -> BenchResult:
    from engine.strategy.evolve import run_evolve

    with tempfile.TemporaryDirectory(prefix="cockpit-bench-evolve-") as tmp:
        summary = run_evolve(panel, trials=trials, data_dir=Path(tmp), seed=seed, study_name="bench")
    return BenchResult("strategy.search.embedded", "strategy", panel.n_symbols,
                       summary.seconds / max(1, summary.trials_run), _rss_mb(), summary.trials_per_second, "trials",
                       {"trials": summary.trials_run, "workers": 1, "storage": "journal file",
                        "evaluations_per_second": round(summary.evaluations_per_second, 2)})


def _ema_cross_signals(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    from engine.strategy import indicators as ind

    valid = np.isfinite(close)
    comp = ind.Compactor.of(valid)
    d = ind.ema(close, fast, comp) - ind.ema(close, slow, comp)
    up = np.zeros(d.shape, bool)
    down = np.zeros(d.shape, bool)
    up[:, 1:] = (d[:, 1:] > 0) & (d[:, :-1] <= 0)
    down[:, 1:] = (d[:, 1:] < 0) & (d[:, :-1] >= 0)
    return up, down


def bench_backtester(panel: CandlePanel, *, repeats: int = 5) -> list[BenchResult]:
    """Our candles/s on all symbols, and on one symbol next to backtesting.py's (if installed)."""
    from engine.strategy.backtest import Costs, backtest
    from engine.strategy.market import Market

    market = Market.from_panel(panel)
    up, down = _ema_cross_signals(market.close, 12, 48)
    costs = Costs(fee=0.001, slippage=0.0)
    backtest(market, up, down, costs=costs)
    ours = _median_time(lambda: backtest(market, up, down, costs=costs), repeats)
    candles = panel.n_symbols * panel.n_bars
    rows = [BenchResult("strategy.backtest.ema_cross", "strategy", panel.n_symbols, ours, _rss_mb(), candles / ours,
                        "candles", {"bars": panel.n_bars, "trades": len(backtest(market, up, down, costs=costs).trades)})]

    one = panel.select(panel.symbols[:1])
    m1 = Market.from_panel(one)
    up1, down1 = up[:1], down[:1]
    ours1 = _median_time(lambda: backtest(m1, up1, down1, costs=costs), repeats)
    theirs = _backtesting_py_seconds(one)
    extra: dict[str, object] = {"bars": one.n_bars, "symbol": one.symbols[0], "ours_seconds": round(ours1, 6),
                                "ours_candles_per_s": round(one.n_bars / ours1)}
    if theirs is None:
        extra["note"] = "backtesting.py not installed: no comparison"
        rows.append(BenchResult("strategy.backtesting_py.ema_cross", "strategy", 1, 0.0, _rss_mb(), None, "candles",
                                extra))
    else:
        extra["ratio_ours_vs_backtesting_py"] = round(theirs / ours1, 1)
        rows.append(BenchResult("strategy.backtesting_py.ema_cross", "strategy", 1, theirs, _rss_mb(),
                                one.n_bars / theirs, "candles", extra))
    return rows


def _backtesting_py_seconds(panel: CandlePanel) -> float | None:
    """backtesting.py's run time on an EMA(12/48) crossover (its own EMA and crossover helpers)."""
    try:
        import warnings

        import pandas as pd
        from backtesting import Backtest, Strategy
        from backtesting.lib import crossover
    except ImportError:
        return None

    ok = np.isfinite(panel.close[0]) & np.isfinite(panel.open[0])
    df = pd.DataFrame({"Open": panel.open[0][ok], "High": panel.high[0][ok], "Low": panel.low[0][ok],
                       "Close": panel.close[0][ok], "Volume": panel.volume[0][ok]},
                      index=pd.to_datetime(panel.ts[ok], utc=True).tz_localize(None))

    def ema(values: np.ndarray, span: int) -> np.ndarray:
        return pd.Series(values).ewm(span=span, adjust=False).mean().to_numpy()

    class EmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(ema, self.data.Close, 12)
            self.slow = self.I(ema, self.data.Close, 48)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(df, EmaCross, cash=1e12, commission=0.001, trade_on_close=False, exclusive_orders=True,
                      finalize_trades=True)
        return _median_time(bt.run, 1)


def bench_strategy(panel: CandlePanel | None = None, *, genomes: int = 100, trials: int = 100) -> list[BenchResult]:
    """Every strategy-family row, on the embedded data unless a panel is given."""
    if panel is None:
        from engine.data.embedded import load_embedded

        panel = load_embedded()
    rows = [bench_walk_forward(panel, genomes=genomes)]
    if trials:
        rows.append(bench_search(panel, trials=trials))
    rows += bench_backtester(panel)
    return rows
