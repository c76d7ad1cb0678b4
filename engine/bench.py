"""`cockpit bench`: measured speed and memory, per part of the stack.

Rows: {"name", "family", "symbols", "seconds", "rss_mb", "throughput", "unit", …}.
`family` is a model family name or "engine" for the shared machinery.
Numbers are medians of repeats on the machine at hand; nothing is assumed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.config import Config


@dataclass(frozen=True, slots=True)
class BenchResult:
    name: str
    family: str
    symbols: int
    seconds: float
    rss_mb: float
    throughput: float | None
    unit: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "extra"}
        d.update(self.extra)
        return d


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


def machine_info() -> dict[str, Any]:
    import numpy

    from engine.pi_sensors import describe_platform

    p = describe_platform()
    return {
        "machine": p.machine,
        "model": p.model,
        "raspberry_pi": p.is_raspberry_pi,
        "cores": p.cores,
        "python": p.python_version,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "threads_cap": os.environ.get("OMP_NUM_THREADS", ""),
    }


def bench_features(label: str, panel, repeats: int = 3) -> list[BenchResult]:  # noqa: ANN001 - CandlePanel
    from engine.features import FeatureSpec, IncrementalFeatures, compute_features

    spec = FeatureSpec()
    seconds = _median_time(lambda: compute_features(panel, spec), repeats)
    cells = panel.n_symbols * panel.n_bars
    rows = [BenchResult(f"features.batch.{label}", "engine", panel.n_symbols, seconds, _rss_mb(),
                        cells / seconds, "symbol-bars", {"bars": panel.n_bars})]
    split = max(1, panel.n_bars - 200)
    inc = IncrementalFeatures.from_history(panel.slice(0, split), spec)
    bars = [panel.bar(i) for i in range(split, panel.n_bars)]
    t0 = time.perf_counter()
    for bar in bars:
        inc.update(bar)
    per_bar = (time.perf_counter() - t0) / max(1, len(bars))
    rows.append(BenchResult(f"features.incremental.{label}", "engine", panel.n_symbols, per_bar, _rss_mb(),
                            1.0 / per_bar, "bars", {"bars": len(bars)}))
    return rows


def bench_engine(label: str, config: Config, feed, bars: int) -> BenchResult:  # noqa: ANN001 - Feed
    from engine.assembly import build_models
    from engine.runtime import Engine

    models, retrain = build_models(config)
    engine = Engine(config, feed=feed, models=models, retrain_every={k: 10**9 for k in retrain})
    t_prep = time.perf_counter()
    engine.prepare()
    prepare_s = time.perf_counter() - t_prep
    summary = engine.run_bars(bars)
    engine.stop()
    per_cycle = summary.seconds / max(1, summary.bars)
    model_ms = {m.name: m.mean_ms for m in summary.models}
    return BenchResult(f"engine.cycle.{label}", "engine", len(engine.symbols), per_cycle, _rss_mb(),
                       summary.bars / summary.seconds if summary.seconds else None, "bars",
                       {"bars": summary.bars, "prepare_seconds": round(prepare_s, 3), "model_mean_ms": model_ms})


PARTS = ("engine", "ensemble", "rl", "forecast", "patterns", "sentiment", "strategy")


def run_bench(config: Config, *, symbols: int | None = None, bars: int | None = None, as_json: bool = False,
              quick: bool = False, only: tuple[str, ...] | None = None, full: bool = False,
              longrun: bool = False) -> int:
    """Measure and print. `quick` uses tiny models and fewer repeats (a smoke run, not a measurement to quote).

    `full`: the whole stack in one engine (engine.bench_full); `longrun`: RSS over a long replay
    (engine.bench_longrun). Defaults: 500 symbols × 200 bars; --full 100 timed cycles; --longrun
    50 symbols × 10,000 bars.
    """
    if full:
        from engine.bench_full import run_full

        return run_full(config, symbols=symbols or 500, bars=bars or 100, as_json=as_json, quick=quick)
    if longrun:
        from engine.bench_longrun import run_longrun

        return run_longrun(config, symbols=symbols or 50, bars=bars or 10_000, as_json=as_json, quick=quick)
    symbols, bars = symbols or 500, bars or 200
    from engine.data.embedded import load_embedded
    from engine.data.replay import ReplayFeed
    from engine.data.synthetic import synthetic_panel
    from engine.threads import cap_threads

    cap_threads(config.engine.threads)
    parts = only or PARTS
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        from engine.errors import ConfigError

        raise ConfigError(f"bench: unknown part(s) {', '.join(unknown)}", hint="choose from " + ", ".join(PARTS))
    log = (lambda s: print(s, file=sys.stderr)) if as_json else print
    results: list[BenchResult] = []

    embedded = load_embedded()
    synthetic = synthetic_panel(symbols, 2000, seed=config.engine.seed)
    if "engine" in parts:
        results += bench_features("embedded", embedded)
        results += bench_features(f"synthetic{symbols}", synthetic)

    ensemble = config.models.ensemble
    if quick:
        ensemble = dataclasses.replace(ensemble, tiny=True, train_bars=min(ensemble.train_bars, 1000))
    config = dataclasses.replace(config, models=dataclasses.replace(config.models, ensemble=ensemble))
    small = dataclasses.replace(config, models=dataclasses.replace(
        config.models, ensemble=dataclasses.replace(ensemble, train_bars=min(ensemble.train_bars, 300))))
    if "engine" in parts:
        log("timing one engine cycle (ensemble of "
            f"{len(ensemble.members) or 'all'} members{' (tiny)' if ensemble.tiny else ''})…")
        results.append(bench_engine("embedded", config, ReplayFeed(embedded, start=None, speed=0.0), bars))
        results.append(bench_engine(f"synthetic{symbols}", small,
                                    ReplayFeed(synthetic, start=synthetic.n_bars - bars, speed=0.0), bars))
    if ensemble.enabled and "ensemble" in parts:
        from engine.bench_ensemble import bench_ensemble

        log("timing ensemble training and batch-vs-loop prediction…")
        results += bench_ensemble(symbols, tiny=ensemble.tiny, names=ensemble.members or None,
                                  train_bars=ensemble.train_bars, loop_symbols=10 if quick else 50,
                                  repeats=2 if quick else 5, seed=config.engine.seed)
    if config.models.rl.enabled and "rl" in parts:
        from engine.rl.bench_rl import bench_rl

        log("timing the DQN: Q-values for 500 symbols, fp32 vs int8…")
        results += bench_rl(symbols, tiny=quick, repeats=2 if quick else 7, seed=config.engine.seed)
    if config.models.forecast.enabled and "forecast" in parts:
        from engine.forecast.bench_forecast import bench_forecast

        log("timing the LSTM forecaster: 500 symbols, fp32 vs int8…")
        results += bench_forecast(symbols=symbols, threads=1, repeats=2 if quick else 5)
    if config.models.patterns.enabled and "patterns" in parts:
        from engine.patterns.bench_patterns import bench_patterns

        log("timing the pattern CNN: render + classify 500 symbols, fp32 vs int8…")
        results += bench_patterns(symbols, repeats=2 if quick else 7, threads=config.engine.threads)
    if config.models.sentiment.enabled and "sentiment" in parts:
        from engine.sentiment.bench_sentiment import bench_sentiment

        log("timing headline sentiment (MiniLM, in a subprocess for a clean RSS figure)…")
        results += bench_sentiment(threads=config.engine.threads, repeats=1 if quick else 3)
    if "strategy" in parts:
        from engine.strategy.bench_strategy import bench_strategy

        log("timing the strategy search: walk-forward evaluations/s and our backtester vs backtesting.py…")
        results += bench_strategy(embedded)
    for r in results:
        log(_row(r))
    if as_json:
        print(json.dumps({"machine": machine_info(), "results": [r.as_dict() for r in results]}))
    return 0


def _row(r: BenchResult) -> str:
    rate = f"{r.throughput:,.0f} {r.unit}/s" if r.throughput else "-"
    return f"{r.name:<42} {r.symbols:>5} sym  {r.seconds * 1000:>10.3f} ms  {rate:>24}  rss {r.rss_mb:7.1f} MB"
