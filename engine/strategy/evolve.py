"""`cockpit evolve`: the persistent, resumable NSGA-II strategy search.

`run_evolve` splits the panel once: the last `holdout_fraction` of the bars
is the hold-out. The objective is built from a Market of the search period
alone (a copy: no view reaches the later bars), so no trial can read the
hold-out; only the winners are scored on it, afterwards, for the report.

Budget: `trials` is the number of COMPLETED trials the study should reach
(all workers together; a resumed run only runs the rest), `hours` a wall
clock limit for this run; either or both. `workers` > 1 starts extra
processes (spawned) on the same study — optuna's own distributed mode; more
machines join with `--storage URL`.

The winners (Pareto front, then best Sharpe; `top_k`) are reported with
their walk-forward numbers, their hold-out numbers, the deflated Sharpe
ratio (N = distinct genomes tried) and the study's PBO (CSCV over every
completed trial's out-of-sample block returns).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.panel import CandlePanel
from engine.errors import ConfigError
from engine.evaluation.splits import holdout_split
from engine.strategy import search, standings
from engine.strategy.backtest import Costs
from engine.strategy.events import EvolutionProgress, ParetoPoint, StrategyRow
from engine.strategy.fitness import Evaluator, Fitness, Folds
from engine.strategy.genome import Genome
from engine.strategy.market import Market
from engine.strategy.overfitting import PboResult, pbo_cscv

GENOME_VERSION = "genome-1"  # bump when decoding changes: old studies then refuse to resume


@dataclass(frozen=True, slots=True)
class EvolveConfig:
    holdout_fraction: float = 0.2
    n_folds: int = 5
    train_fraction: float = 0.25
    population: int = 50
    min_trades_per_fold: int = 5  # feasibility: at least n_folds × this many trades in all
    costs: Costs = field(default_factory=Costs)
    allow_short: bool = False
    top_k: int = 5
    blocks: int = 16  # time blocks for CSCV
    pbo_max_splits: int = 2000
    min_deflated_sharpe: float = 0.95  # thresholds for `passes`
    min_holdout_sharpe: float = 0.0
    heartbeat_interval: int = 60  # RDB storages only
    grace_period: int = 180
    progress_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.holdout_fraction < 0.9:
            raise ConfigError(f"evolve.holdout_fraction = {self.holdout_fraction}", hint="expected a fraction in (0, 0.9)")
        if self.population < 2 or self.n_folds < 1 or self.top_k < 1:
            raise ConfigError("evolve: population ≥ 2, n_folds ≥ 1 and top_k ≥ 1 are required")


@dataclass(frozen=True, slots=True)
class EvolveSummary:
    study: str
    storage: str
    trials_total: int  # completed trials in the study
    trials_run: int  # completed by this run
    stale_failed: int  # RUNNING trials of dead workers marked FAIL at start
    seconds: float
    trials_per_second: float
    evaluations: int  # genomes backtested by this process (repeats come from a memo)
    evaluations_per_second: float  # walk-forward evaluations (all symbols, every fold) per second of backtesting, this process
    generation: int
    search: dict[str, Any]
    holdout: dict[str, Any]
    top: tuple[StrategyRow, ...]
    pareto: tuple[ParetoPoint, ...]
    pbo: PboResult | None
    deflation: dict[str, float]  # N trials, variance of per-bar Sharpes, SR₀

    def as_dict(self) -> dict[str, Any]:
        return _json_ready(dataclasses.asdict(self))


def _json_ready(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.generic):
        return _json_ready(x.item())
    return x


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(int(ts_ns) / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fingerprint(panel: CandlePanel, folds: Folds, cfg: EvolveConfig, min_trades: int) -> dict[str, Any]:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(panel.ts).tobytes())
    for name in ("open", "high", "low", "close", "volume"):
        h.update(np.ascontiguousarray(getattr(panel, name)).tobytes())
    return {"data": h.hexdigest()[:16], "symbols": list(panel.symbols), "timeframe": panel.timeframe,
            "folds": [list(w) for w in folds.test], "fee": cfg.costs.fee, "slippage": cfg.costs.slippage,
            "min_trades": min_trades, "allow_short": cfg.allow_short, "genome": GENOME_VERSION}


def split_holdout(panel: CandlePanel, fraction: float) -> tuple[CandlePanel, int]:
    """(the search period, index of the first hold-out bar)."""
    n = panel.n_bars
    start = holdout_split(n, holdout_bars=max(1, round(n * fraction))).test_start
    return panel.slice(0, start), start


@dataclass(frozen=True, slots=True)
class _Setup:
    search_panel: CandlePanel
    holdout_start: int
    folds: Folds
    evaluator: Evaluator
    min_trades: int
    fingerprint: dict[str, Any]


def _setup(panel: CandlePanel, config: EvolveConfig) -> _Setup:
    search_panel, holdout_start = split_holdout(panel, config.holdout_fraction)
    market = Market.from_panel(search_panel)  # copies the arrays: nothing here can reach later bars
    folds = Folds.rolling(search_panel.n_bars, n_folds=config.n_folds, train_fraction=config.train_fraction)
    min_trades = config.min_trades_per_fold * config.n_folds
    return _Setup(search_panel=search_panel, holdout_start=holdout_start, folds=folds,
                  evaluator=Evaluator(market, folds.test, config.costs, blocks=config.blocks), min_trades=min_trades,
                  fingerprint=_fingerprint(search_panel, folds, config, min_trades))


def _open_study(setup: _Setup, storage_url: str | None, data_dir: Path | None, study_name: str, seed: int,
                config: EvolveConfig, *, joined: bool) -> tuple[Any, Any, dict[str, Any]]:
    """(study, its storage, this worker's identity)."""
    import optuna

    storage = search.open_storage(storage_url, data_dir, heartbeat_interval=config.heartbeat_interval,
                                  grace_period=config.grace_period)
    try:
        existing = len(optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False))
    except KeyError:
        existing = 0
    worker = search.worker_identity()
    # A resumed run must not replay the first run's random stream; joined workers must not share one.
    sampler_seed = seed + existing + (worker["pid"] if joined else 0)
    sampler = search.make_sampler(population=config.population, seed=sampler_seed % 2**32)
    return search.load_study(storage, study_name, sampler, setup.fingerprint), storage, worker


def run_evolve(panel: CandlePanel, *, trials: int | None = None, hours: float | None = None,
               storage_url: str | None = None, study_name: str = "cockpit-evolve", seed: int = 7,
               progress_callback: Callable[[EvolutionProgress], None] | None = None, json_summary: bool = False,
               data_dir: Path | None = None, workers: int = 1, config: EvolveConfig = EvolveConfig()) -> EvolveSummary:
    """Run (or resume, or join) the strategy search; returns — and with `json_summary` prints — its summary.

    `workers` > 1 starts that many worker processes in all (this one included) on the same study.
    """
    import optuna

    if trials is None and hours is None:
        raise ConfigError("evolve needs a budget", hint="give --trials N or --hours H (or both)")
    if trials is not None and trials < 1:
        raise ConfigError(f"--trials {trials}", hint="expected at least 1")
    if hours is not None and not hours > 0:
        raise ConfigError(f"--hours {hours}", hint="expected a positive number")
    if workers < 1:
        raise ConfigError(f"--workers {workers}", hint="expected at least 1")
    if data_dir is None and storage_url is None:
        from engine.config import Config

        data_dir = Config().data_dir()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    setup = _setup(panel, config)
    study, storage, worker = _open_study(setup, storage_url, data_dir, study_name, seed, config,
                                         joined=storage_url is not None or workers > 1)
    stale = search.reap_stale_trials(study, storage)
    done_before = _count_complete(study)
    holdout = _HoldoutScorer(panel, setup.holdout_start, config.costs)
    tracker = _Progress(study, study_name, trials, config, holdout, progress_callback, done_before)
    objective = search.make_objective(setup.evaluator, allow_short=config.allow_short, min_trades=setup.min_trades,
                                      worker=worker)
    t0 = time.perf_counter()
    helpers = _start_helpers(panel, trials, hours, storage_url, data_dir, study_name, seed, config, workers - 1)
    try:
        if trials is None or done_before < trials:
            study.optimize(objective, timeout=hours * 3600 if hours is not None else None, callbacks=[tracker],
                           gc_after_trial=False)
    except BaseException:
        for proc in helpers:  # interrupted: the helpers' running trials are reaped by the next run
            proc.terminate()
        raise
    finally:
        for proc in helpers:
            proc.join()
    seconds = time.perf_counter() - t0

    scored = tracker.scored()
    final = tracker.snapshot(scored, finished=True, with_pbo=True)
    if progress_callback is not None:
        progress_callback(final)
    n_trials, var_sharpe = standings.sharpe_spread(scored)
    run = max(0, len(scored) - done_before)
    ev = setup.evaluator
    sp = setup.search_panel
    summary = EvolveSummary(
        study=study_name, storage=search.mask_url(storage_url) if storage_url else
        str(Path(data_dir or ".") / search.JOURNAL_FILE), trials_total=len(scored), trials_run=run,
        stale_failed=stale, seconds=round(seconds, 3), trials_per_second=run / seconds if seconds > 0 else 0.0,
        evaluations=ev.evaluations, evaluations_per_second=ev.evaluations / ev.seconds if ev.seconds > 0 else 0.0,
        generation=final.generation,
        search={"bars": sp.n_bars, "from": _iso(sp.ts[0]), "to": _iso(sp.ts[-1]), "symbols": list(panel.symbols),
                "timeframe": panel.timeframe,
                "test_windows": [[_iso(sp.ts[a]), _iso(sp.ts[b - 1])] for a, b in setup.folds.test],
                "fee": config.costs.fee, "slippage": config.costs.slippage, "min_trades": setup.min_trades,
                "workers": workers},
        holdout={"bars": panel.n_bars - setup.holdout_start, "from": _iso(panel.ts[setup.holdout_start]),
                 "to": _iso(panel.ts[-1])},
        top=final.top, pareto=final.pareto, pbo=tracker.pbo,
        deflation={"n_trials": n_trials, "var_bar_sharpe": var_sharpe,
                   "expected_max_bar_sharpe": standings.expected_max(n_trials, var_sharpe)})
    if json_summary:
        print(json.dumps(summary.as_dict()), flush=True)
    return summary


def _start_helpers(panel: CandlePanel, trials: int | None, hours: float | None, storage_url: str | None,
                   data_dir: Path | None, study_name: str, seed: int, config: EvolveConfig, n: int) -> list[Any]:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = []
    for i in range(n):
        proc = ctx.Process(target=_helper_main, name=f"evolve-worker-{i + 1}", daemon=True,
                           args=(panel, trials, hours, storage_url, data_dir, study_name, seed + 7919 * (i + 1),
                                 config, os.getpid()))
        proc.start()
        procs.append(proc)
    return procs


def _helper_main(panel: CandlePanel, trials: int | None, hours: float | None, storage_url: str | None,
                 data_dir: Path | None, study_name: str, seed: int, config: EvolveConfig, parent: int) -> None:
    """An extra worker process: same study, same objective, no reporting; stops with its parent."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    setup = _setup(panel, config)
    study, _, worker = _open_study(setup, storage_url, data_dir, study_name, seed, config, joined=True)
    objective = search.make_objective(setup.evaluator, allow_short=config.allow_short, min_trades=setup.min_trades,
                                      worker=worker)

    def stop_when_done(study: Any, trial: Any) -> None:
        if os.getppid() != parent or _reached(study, trial, trials):
            study.stop()

    if trials is None or _count_complete(study) < trials:
        study.optimize(objective, timeout=hours * 3600 if hours is not None else None, callbacks=[stop_when_done])


def _reached(study: Any, trial: Any, target: int | None) -> bool:
    """Has the study completed `target` trials? (Counted only once trial numbers get there: O(N).)"""
    return target is not None and trial.number + 1 >= target and _count_complete(study) >= target


def _count_complete(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


class _HoldoutScorer:
    """Scores winners on the hold-out bars (full history for the indicators' warm-up). Never used by the objective."""

    def __init__(self, panel: CandlePanel, start: int, costs: Costs) -> None:
        self._panel, self._start, self._costs = panel, start, costs
        self._evaluator: Evaluator | None = None

    def __call__(self, genome: Genome) -> Fitness:
        if self._evaluator is None:
            market = Market.from_panel(self._panel)
            self._evaluator = Evaluator(market, [(self._start, market.n_bars)], self._costs, blocks=1)
        return self._evaluator.evaluate(genome)


class _Progress:
    """An optuna callback that turns the study's state into EvolutionProgress events (throttled)."""

    def __init__(self, study: Any, name: str, target: int | None, cfg: EvolveConfig, holdout: _HoldoutScorer,
                 sink: Callable[[EvolutionProgress], None] | None, done_before: int) -> None:
        self.study, self.name, self.target, self.cfg = study, name, target, cfg
        self.holdout, self.sink = holdout, sink
        self.started = time.perf_counter()
        self.done_before = done_before
        self.run_trials = 0
        self._scored: dict[int, standings.Scored] = {}  # completed trials never change: decode each once
        self.last_emit = 0.0
        self.last_generation = -1
        self.top: tuple[StrategyRow, ...] = ()
        self.pbo: PboResult | None = None

    def __call__(self, study: Any, trial: Any) -> None:
        from optuna.trial import TrialState

        if trial.state == TrialState.COMPLETE:
            self.run_trials += 1
        if _reached(study, trial, self.target):
            study.stop()  # what optuna's MaxTrialsCallback does, without a second deepcopy per trial
        if self.sink is None:
            return
        now = time.perf_counter()
        generation = int(trial.system_attrs.get(search.GENERATION_ATTR, 0))
        new_generation = generation != self.last_generation
        if not new_generation and now - self.last_emit < self.cfg.progress_interval_s:
            return
        self.last_emit = now
        self.sink(self.snapshot(self.scored(), finished=False, with_holdout=new_generation))
        self.last_generation = generation

    def scored(self) -> list[standings.Scored]:
        """Every completed trial of the study (all workers), decoded."""
        from optuna.trial import TrialState

        fresh = [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                 if t.number not in self._scored]
        for s in standings.scored_trials(fresh):
            self._scored[s.number] = s
        return sorted(self._scored.values(), key=lambda s: s.number)

    def snapshot(self, scored: list[standings.Scored], *, finished: bool, with_holdout: bool = True,
                 with_pbo: bool = False) -> EvolutionProgress:
        cfg = self.cfg
        min_trades = cfg.min_trades_per_fold * cfg.n_folds
        feasible = [s for s in scored if s.fitness.trades >= min_trades]
        best, median = standings.by_generation(scored)
        front = standings.pareto_front(feasible)
        if with_holdout or not self.top:
            n_trials, var_sharpe = standings.sharpe_spread(scored)
            self.top = tuple(standings.rows(standings.top_strategies(feasible, cfg.top_k), n_trials=n_trials,
                                            var_sharpe=var_sharpe, holdout=self.holdout,
                                            min_dsr=cfg.min_deflated_sharpe,
                                            min_holdout_sharpe=cfg.min_holdout_sharpe))
        if with_pbo and len(scored) >= 2:
            blocks = np.array([s.fitness.blocks for s in scored if len(s.fitness.blocks) == cfg.blocks])
            self.pbo = pbo_cscv(blocks, max_splits=cfg.pbo_max_splits) if len(blocks) >= 2 else None
        elapsed = time.perf_counter() - self.started
        return EvolutionProgress(
            source="evolution", study=self.name, trials_done=len(scored), trials_target=self.target,
            trials_per_second=max(0, len(scored) - self.done_before) / elapsed if elapsed > 0 else 0.0,
            generation=max((s.generation for s in scored), default=0), best_fitness=best, median_fitness=median,
            pareto=standings.points(front), top=self.top, pbo=self.pbo.pbo if self.pbo else None,
            elapsed_s=elapsed, finished=finished)


def format_progress(ev: EvolutionProgress) -> str:
    """One status line for the terminal."""
    best = f"{max(ev.best_fitness):+.2f}" if ev.best_fitness else "-"
    target = f"/{ev.trials_target}" if ev.trials_target else ""
    lead = ev.top[0].strategy if ev.top else "-"
    return (f"evolve {ev.study}: {ev.trials_done}{target} trials · gen {ev.generation} · "
            f"{ev.trials_per_second:.1f} trials/s · best WF Sharpe {best} · {lead}")


def format_summary(s: EvolveSummary) -> str:
    """The human-readable end-of-run report."""
    lines = [f"study     {s.study} ({s.storage})",
             (f"trials    {s.trials_total} completed ({s.trials_run} this run, {s.trials_per_second:.1f}/s; "
              f"{s.evaluations_per_second:.1f} walk-forward evaluations/s of backtesting)"),
             (f"search    {s.search['from']} → {s.search['to']} ({s.search['bars']} bars, "
              f"{len(s.search['test_windows'])} test windows) · hold-out {s.holdout['from']} → {s.holdout['to']}"),
             f"overfit   PBO {s.pbo.pbo:.2f} over {s.pbo.splits} CSCV splits" if s.pbo else "overfit   PBO -",
             "top       WF Sharpe  WF maxDD  trades │ hold-out Sharpe  return  maxDD  trades │ DSR   strategy"]
    for r in s.top:
        def f(x: float | None, fmt: str) -> str:
            return format(x, fmt) if x is not None else "-"
        lines.append(f"  #{r.trial:<5} {r.wf_sharpe:+7.2f}  {r.wf_max_drawdown:7.1%} {r.wf_trades:7d} │ "
                     f"{f(r.holdout_sharpe, '+15.2f')} {f(r.holdout_return, '+7.1%')} "
                     f"{f(r.holdout_max_drawdown, '6.1%')} {f(r.holdout_trades, '7d')} │ "
                     f"{f(r.deflated_sharpe, '4.2f')} {'✓' if r.passes else ' '} {r.strategy}")
    return "\n".join(lines)


def print_progress(ev: EvolutionProgress) -> None:  # pragma: no cover - a convenience for the CLI
    print(format_progress(ev), file=sys.stderr, flush=True)


__all__ = ["EvolveConfig", "EvolveSummary", "format_progress", "format_summary", "print_progress", "run_evolve",
           "split_holdout"]
