"""The whole stack for `cockpit bench --full` and `--longrun`: built, warmed up, then timed.

One in-process Engine on a synthetic universe runs every family the
config enables (ensemble, DQN, patterns, LSTM, sentiment, promoted
strategies), the signal hub with fusion, a paper trading desk and the
niced strategy-search process — the product's threaded runtime
(`Engine.start()`: loop thread, worker pool, trainer, monitor), not a
synchronous stand-in. The feed is held shut (`GatedFeed`) until every
model has finished its first fit, so the warm-up is timed on its own.

News for the synthetic symbols comes from `SyntheticNews`, a HeadlineSource
like the file and RSS sources: each bar it releases 10–30 new, timestamped
headlines (real labelled headline texts, each tagged with one watchlist
ticker), which the sentiment model polls, dedupes, embeds and maps to
symbols exactly as it does real news.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import Config
from engine.data.panel import Bar, CandlePanel, timeframe_seconds
from engine.events import CycleStats, Event, ModelState
from engine.runtime import Engine

NS = 1_000_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class StackSpec:
    """Sizes of one whole-stack run. `history_bars` is what the first fits train on."""

    symbols: int = 500
    history_bars: int = 900
    bars: int = 100
    """Cycles replayed after the warm-up (timed, or sampled for RSS)."""
    warm_cycles: int = 3
    """Cycles run after the first fits and before timing (first-call costs)."""
    headlines: tuple[int, int] = (10, 30)
    """New headlines per bar, uniform in [low, high]."""
    tiny: bool = False
    """Tiny ensemble members and the shortest fits (smoke tests, not numbers to quote)."""
    evolution: bool = True
    warmup_timeout_s: float = 3600.0
    seed: int = 7


def stack_config(base: Config, spec: StackSpec, data_dir: Path, *, full_retrain: bool = False) -> Config:
    """`base` with every family on, fits sized to the synthetic history, and a private data dir.

    The per-cycle work (predict, fusion, proposals) keeps the configured
    settings; only the *first* fits are shortened so the warm-up stays
    minutes, not hours, on 500 symbols. `full_retrain` keeps the configured
    refit intervals (the long run exercises refits); otherwise no refit
    starts during the timed cycles.
    """
    r = dataclasses.replace
    m = base.models
    train = max(200, spec.history_bars - 64)
    never = 10**9
    ensemble = r(m.ensemble, enabled=True, train_bars=min(m.ensemble.train_bars, train),
                 tiny=spec.tiny or m.ensemble.tiny, retrain_every=m.ensemble.retrain_every if full_retrain else never)
    forecast = r(m.forecast, enabled=True, train_bars=min(m.forecast.train_bars, train),
                 epochs=1 if spec.tiny else min(m.forecast.epochs, 2),
                 windows_per_epoch=1024 if spec.tiny else min(m.forecast.windows_per_epoch, 4096),
                 retrain_every=m.forecast.retrain_every if full_retrain else never)
    rl = r(m.rl, enabled=True, train_bars=min(m.rl.train_bars, train),
           pretrain_steps=200 if spec.tiny else min(m.rl.pretrain_steps, 2000),
           chunk_steps=100 if spec.tiny else min(m.rl.chunk_steps, 500),
           episode_bars=min(m.rl.episode_bars, max(50, train // 3)),
           retrain_every=m.rl.retrain_every if full_retrain else never)
    patterns = r(m.patterns, enabled=True, train_bars=min(m.patterns.train_bars, train),
                 retrain_every=m.patterns.retrain_every if full_retrain else never)
    sentiment = r(m.sentiment, enabled=True, feeds=(), files=(), sample=False)
    strategy = r(base.strategy, background=spec.evolution, promoted=True, storage="",
                 reload_every=base.strategy.reload_every if full_retrain else never,
                 window_bars=min(base.strategy.window_bars, max(100, spec.history_bars - 100)))
    return r(base,
             data=r(base.data, source="synthetic", synthetic_symbols=spec.symbols, symbols=()),
             replay=r(base.replay, speed=0.0),
             engine=r(base.engine, seed=spec.seed),
             models=r(m, ensemble=ensemble, forecast=forecast, rl=rl, patterns=patterns, sentiment=sentiment),
             trading=r(base.trading, mode="paper"),
             strategy=strategy,
             paths=r(base.paths, data_dir=str(data_dir)))


class SyntheticNews:
    """A HeadlineSource for the synthetic universe: 10–30 new headlines per bar, deterministic.

    Bar k (market time) gets `rng(seed, k)`-many items, each a headline of the
    project's labelled set prefixed with one watchlist ticker ("SYN042: …"),
    published at evenly spread instants inside that bar. Nothing is held
    beyond the texts: items are made when polled, so memory stays flat.
    """

    sample = False
    name = "synthetic-news"

    def __init__(self, symbols: tuple[str, ...], *, timeframe: str, per_bar: tuple[int, int] = (10, 30),
                 seed: int = 7) -> None:
        from engine.sentiment.dataset import load_headlines
        from engine.sentiment.symbols import base_of

        low, high = per_bar
        if not 0 <= low <= high:
            raise ValueError(f"headlines per bar must satisfy 0 ≤ low ≤ high, got {per_bar}")
        self.per_bar = (low, high)
        self.seed = seed
        self.step_ns = timeframe_seconds(timeframe) * NS
        self._tickers = tuple(base_of(s) for s in symbols)
        self._texts = load_headlines().texts
        self._last: int | None = None
        self.served = 0

    def _interval(self, k: int) -> list:
        """The items published in ((k−1)·step, k·step] of market time."""
        from engine.sentiment.sources import RawHeadline

        rng = np.random.default_rng([self.seed, k & 0x7FFFFFFF])
        n = int(rng.integers(self.per_bar[0], self.per_bar[1] + 1))
        texts = rng.integers(0, len(self._texts), n).tolist()
        tickers = rng.integers(0, len(self._tickers), n).tolist()
        start = (k - 1) * self.step_ns
        return [RawHeadline(text=f"{self._tickers[t]}: {self._texts[x]}",
                            published=start + (i + 1) * self.step_ns // n, feed=self.name)
                for i, (x, t) in enumerate(zip(texts, tickers))]

    def poll(self, now: int) -> list:
        """Items published since the last poll, up to `now`; the first poll (or one after a
        long gap) releases only the newest few bars' worth."""
        k_now = now // self.step_ns
        first = k_now if self._last is None else self._last + 1
        out = [h for k in range(max(first, k_now - 3), k_now + 1) for h in self._interval(k)]
        self._last = k_now
        self.served += len(out)
        return out

    def status(self) -> str:
        return f"synthetic · {self.served} served"

    def close(self) -> None:
        """Nothing to release."""


class GatedFeed:
    """A Feed that delivers nothing until `open()` (the warm-up runs with the gate shut)."""

    def __init__(self, inner: Any) -> None:  # any Feed
        self._inner = inner
        self._gate = threading.Event()
        self.symbols = inner.symbols
        self.timeframe = inner.timeframe
        self.source = inner.source
        self.synthetic = inner.synthetic

    def open(self) -> None:
        self._gate.set()

    def history(self) -> CandlePanel:
        return self._inner.history()

    def next_bar(self, timeout: float | None = None) -> Bar | None:
        if not self._gate.wait(timeout):
            return None
        return self._inner.next_bar(timeout)

    @property
    def exhausted(self) -> bool:
        return self._inner.exhausted

    def status(self) -> str:
        return self._inner.status() if self._gate.is_set() else "held for the warm-up"

    def close(self) -> None:
        self._gate.set()
        self._inner.close()


@dataclass(frozen=True, slots=True)
class Stack:
    engine: Engine
    feed: GatedFeed
    families: dict[str, str]
    """model name → family."""
    warmup_s: float
    news: SyntheticNews | None


def build_stack(config: Config, spec: StackSpec, *, log: Callable[[str], None]) -> Stack:
    """Build the whole stack on a synthetic panel and start it; returns once every model is ready.

    Raises RuntimeError naming the models that faulted or did not get ready in time.
    """
    from engine.assembly import build_desk, build_evolution, build_hub, build_models
    from engine.data.replay import ReplayFeed
    from engine.data.synthetic import synthetic_panel
    from engine.monitor import Monitor
    from engine.sentiment.model import SentimentModel
    from engine.threads import cap_threads

    cap_threads(config.engine.threads)
    total = spec.history_bars + spec.warm_cycles + spec.bars + 1
    panel = synthetic_panel(spec.symbols, total, seed=spec.seed)
    feed = GatedFeed(ReplayFeed(panel, start=spec.history_bars, speed=0.0))
    models, retrain = build_models(config)
    news = None
    for model in models:
        if isinstance(model, SentimentModel):
            news = SyntheticNews(panel.symbols, timeframe=panel.timeframe, per_bar=spec.headlines, seed=spec.seed)
            model.attach_sources((news,))
    engine = Engine(config, feed=feed, models=models, retrain_every=retrain,
                    monitor=Monitor(slow_interval=config.monitor.slow_interval_seconds),
                    hub=build_hub(config, feed.symbols), desk=build_desk(config, feed),
                    evolution=build_evolution(config))
    log(f"warming up {len(models)} models on {spec.symbols} synthetic symbols × {spec.history_bars} bars…")
    t0 = time.perf_counter()
    engine.start()
    _wait_ready(engine, spec.warmup_timeout_s, log)
    return Stack(engine=engine, feed=feed, families=dict(engine.model_names), warmup_s=time.perf_counter() - t0,
                 news=news)


def _wait_ready(engine: Engine, timeout_s: float, log: Callable[[str], None]) -> None:
    deadline = time.monotonic() + timeout_s
    last_note = 0.0
    while True:
        states = {s.name: s.state for s in engine.slots}
        faulted = [f"{s.name}: {s.error}" for s in engine.slots if s.state == ModelState.FAULTED]
        if faulted:
            engine.stop()
            raise RuntimeError("warm-up failed: " + "; ".join(faulted))
        waiting = [n for n, st in states.items() if st != ModelState.RUNNING]
        if not waiting:
            return
        if time.monotonic() > deadline:
            engine.stop()
            raise RuntimeError(f"warm-up did not finish in {timeout_s:.0f} s: still waiting for {', '.join(waiting)}")
        if time.monotonic() - last_note > 30.0:
            last_note = time.monotonic()
            log(f"  still fitting: {', '.join(waiting)}")
        time.sleep(0.2)


class CycleRecorder:
    """Subscribes to the engine and counts CycleStats (keeping them unless `keep=False`, so a
    long run's own bookkeeping does not grow); `wait(n)` blocks until n cycles ran."""

    def __init__(self, engine: Engine, *, keep: bool = True,
                 on_cycle: Callable[[CycleStats], None] | None = None) -> None:
        self.stats: list[CycleStats] = []
        self.count = 0
        self._keep = keep
        self._done = threading.Condition()
        self._on_cycle = on_cycle
        self._unsubscribe = engine.subscribe(self._event)

    def _event(self, event: Event) -> None:
        if isinstance(event, CycleStats):
            if self._on_cycle is not None:
                self._on_cycle(event)
            with self._done:
                self.count += 1
                if self._keep:
                    self.stats.append(event)
                self._done.notify_all()

    def wait(self, n: int, timeout_s: float) -> bool:
        with self._done:
            return self._done.wait_for(lambda: self.count >= n, timeout_s)

    def close(self) -> None:
        self._unsubscribe()
