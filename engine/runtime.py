"""Engine: owns the feed, the features, the model slots and the threads.

Threads (started by `start()`): the loop (commands → next bar → one cycle),
the trainer (advances background fits one chunk at a time, so pausing never
interrupts a thread), the monitor (resource gauges), and a worker pool that
runs every unpaused model's predict for the whole watchlist. Tests drive it
synchronously instead: `prepare()` then `step(bar)`, with fits run inline.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np

from engine.bus import EventBus
from engine.command_router import apply_command
from engine.commands import Command
from engine.config import Config
from engine.data.feed import Feed
from engine.data.panel import Bar
from engine.data.window import RollingPanel
from engine.events import (
    Candles,
    CommandRejected,
    CycleStats,
    EngineError,
    Event,
    FeedEnded,
    LogMessage,
    ModelState,
)
from engine.features import FeatureSpec, IncrementalFeatures, compute_features
from engine.governor import Governor
from engine.governor_apply import GovernorLink, evolution_status
from engine.heap import HeapSettled, StartupSettler
from engine.models.protocol import FeatureBatch, Feedback, History, Model, ModelContext
from engine.process_memory import ENGINE_MALLOC_ARENAS, HeapTrimmer, cap_malloc_arenas, release_free_heap
from engine.run_summary import ModelRunStats, RunSummary, resource_sample
from engine.signals_hub import SignalHub
from engine.slot import ModelSlot
from engine.threads import set_thread_nice, thread_nice_target
from engine.trading.desk import TradingDesk


class Engine:
    """The headless engine. The app only subscribes to events and submits commands."""

    def __init__(self, config: Config, *, feed: Feed, models: Sequence[Model] = (),
                 monitor: object | None = None, retrain_every: dict[str, int] | None = None,
                 hub: SignalHub | None = None, desk: TradingDesk | None = None,
                 evolution: object | None = None, governor: Governor | None = None) -> None:
        self.config = config
        self.feed = feed
        self.symbols: tuple[str, ...] = feed.symbols
        self.source: str = feed.source
        self.timeframe: str = feed.timeframe
        self.mode: str = config.trading.mode
        self._bus = EventBus()
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        ctx = ModelContext(checkpoint_dir=str(config.data_dir() / "checkpoints"), seed=config.engine.seed,
                           threads=config.engine.threads)
        self._ctx = ctx
        self.slots: tuple[ModelSlot, ...] = tuple(ModelSlot(m, ctx=ctx, publish=self._bus.publish) for m in models)
        names = [s.name for s in self.slots]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got {names}")
        self.model_names: tuple[tuple[str, str], ...] = tuple((s.name, s.family) for s in self.slots)
        self._retrain_every = dict(retrain_every or {})
        self._monitor = monitor
        self.hub = hub
        self.desk = desk
        self.evolution = evolution  # a niced background search process (engine.strategy.background)
        self.evolution_paused_by = ""  # who paused the search: "trader", "governor" (engine.slot)
        self.governor = governor
        self._governance = GovernorLink(self, governor) if governor is not None else None
        train_need = max([getattr(m, "train_bars", 0) + getattr(m, "horizon", 0) for m in models] or [0])
        self._window = RollingPanel(self.symbols, self.timeframe, max(train_need + 64, config.engine.chart_bars, 256),
                                    source=feed.source, synthetic=feed.synthetic)
        self._features: IncrementalFeatures | None = None
        self._window_bars = max([int(getattr(m, "window_bars", 0)) for m in models] or [0])
        self.selected = config.ui.symbol if config.ui.symbol in self.symbols else self.symbols[0]
        self.cycle = 0
        self._last_candles_wall = 0.0
        self._last_status_wall = 0.0
        self._stop = threading.Event()
        self._wake_trainer = threading.Event()
        self._refits: queue.SimpleQueue[ModelSlot] = queue.SimpleQueue()
        self._fit_history: History | None = None  # shared by the fits that begin in one cycle
        self.heap_trimmer = HeapTrimmer()
        """Hands the heap the cycles freed back to the system once RSS grew (engine.process_memory)."""
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self._synchronous = True
        self._ended = False
        self._prepared = False
        self.thread_nice = 0
        """Nice levels the engine's threads run below the thread that calls `start()` (Linux).
        The cockpit sets it so that its UI thread wins the CPU (`cockpit bench --ui`)."""
        self.settle_heap = False
        """Freeze the long-lived heap as models load and once the first fits are done
        (`engine.heap`); for the process that owns the engine, not a library or a test."""

    # -- the app-facing surface ---------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self._bus.subscribe(callback)

    def submit(self, command: Command) -> None:
        self._commands.put(command)

    def start(self) -> None:
        """Start the engine threads (idempotent)."""
        if self._threads:
            return
        self._synchronous = False
        cap_malloc_arenas(ENGINE_MALLOC_ARENAS)  # before the threads below allocate (engine.process_memory)
        if self.evolution is not None:
            try:
                self.evolution.start()  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - the cockpit runs without the search
                self._publish(EngineError(source="evolution", kind=type(exc).__name__, message=str(exc)))
                self.evolution = None
        nice = thread_nice_target(self.thread_nice)
        self._pool = ThreadPoolExecutor(self.config.engine.workers, thread_name_prefix="cockpit-model",
                                        initializer=set_thread_nice, initargs=(nice,))
        for name, target in (("cockpit-loop", self._loop), ("cockpit-trainer", self._trainer),
                             ("cockpit-monitor", self._monitor_loop)):
            thread = threading.Thread(target=_niced, args=(nice, target), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake_trainer.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self.evolution is not None:
            self.evolution.stop(timeout=min(timeout, 5.0))  # type: ignore[attr-defined]
        for slot in self.slots:
            if slot.state != ModelState.STOPPED:
                slot.stop()
            save = getattr(slot.model, "save_on_stop", None)
            if callable(save):
                try:
                    save(self._ctx.checkpoint_dir)
                except Exception as exc:  # noqa: BLE001 - a failed save must not block shutdown
                    self._publish(EngineError(source=slot.name, kind=type(exc).__name__,
                                              message=f"checkpoint on stop failed: {exc}"))
        self.feed.close()
        if self.desk is not None:
            self.desk.close()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float) -> list[str]:
        """Wait after `stop()` for threads still finishing a step; the names of those still alive."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self._threads if t.is_alive()]

    # -- preparing and stepping -----------------------------------------------
    def prepare(self) -> None:
        """Load history into the window and features, and start every model's fit."""
        if self._prepared:
            return
        self._prepared = True
        history = self.feed.history()
        self._window.extend(history)
        self._features = IncrementalFeatures.from_history(self._window.snapshot(), _spec())
        self._publish(LogMessage(source="engine", level="info",
                                 message=f"{len(self.symbols)} symbols · {history.n_bars} history bars · {self.source}"))
        if self.desk is not None:
            for event in self.desk.start():
                self._publish(event)
            self._publish(self.desk.snapshot())
        for slot in self.slots:
            self._refits.put(slot)
        if self._synchronous:
            self.train_pending()
        else:
            self._wake_trainer.set()

    def train_pending(self) -> None:
        """Run every queued fit to completion on this thread (synchronous mode)."""
        while True:
            try:
                slot = self._refits.get_nowait()
            except queue.Empty:
                return
            self._begin_fit(slot)
            while slot.advance_fit():
                pass
            release_free_heap()

    def _history(self) -> History:
        """The fit history of this cycle: one read-only copy shared by every fit that begins in it."""
        shared = self._fit_history
        if shared is not None and shared.cycle == self.cycle:
            return shared
        panel = self._window.snapshot()
        block = compute_features(panel, _spec())
        block.values.setflags(write=False)
        self._fit_history = History(panel=panel, features=block.values, names=block.names, cycle=self.cycle)
        return self._fit_history

    def _begin_fit(self, slot: ModelSlot) -> None:
        try:
            history = self._history()
        except Exception as exc:  # noqa: BLE001
            self._publish(EngineError(source="engine", kind=type(exc).__name__, message=f"features for {slot.name}: {exc}"))
            return
        if slot.state == ModelState.FAULTED:
            slot.retry(history)
        else:
            slot.start_fit(history)

    def step(self, bar: Bar) -> tuple[Event, ...]:
        """One cycle: append the bar, update features, run every active model."""
        if self._features is None:
            self.prepare()
        assert self._features is not None
        t0 = time.perf_counter()
        self.cycle += 1
        self._fit_history = None  # the fits that began with it hold it; freed when the last one ends
        previous_close = self._window.last_closes(1)[1][:, -1] if len(self._window) else None
        self._window.append(bar)
        if self.desk is not None:
            for event in self.desk.on_bar(bar, self.cycle):
                self._publish(event)
        values = self._features.update(bar)
        t_feat = time.perf_counter()
        batch = FeatureBatch(cycle=self.cycle, ts=bar.ts, symbols=self.symbols, names=self._features.names,
                             values=values, valid=np.isfinite(values).all(axis=1),
                             window=self._window.snapshot(self._window_bars) if self._window_bars else None)
        events: list[Event] = []
        timings: list[tuple[str, float]] = []
        active = [s for s in self.slots if s.state == ModelState.RUNNING and not s.paused]
        if previous_close is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                realised = bar.close / previous_close - 1.0
            feedback = Feedback(cycle=self.cycle, symbols=self.symbols, realised_return=realised)
            for slot in active:
                slot.update(feedback)
        if self._pool is None or len(active) < 2:
            results = [(s, self._timed(s, batch)) for s in active]
        else:
            futures = [(s, self._pool.submit(self._timed, s, batch)) for s in active]
            results = [(s, f.result()) for s, f in futures]
        for slot, (out, ms) in results:
            events.extend(out)
            timings.append((slot.name, ms))
        for event in events:
            self._publish(event)
        t_fusion = time.perf_counter()
        if self.hub is not None:
            for event in self.hub.on_cycle(self.cycle, bar, events, self.slots):
                self._publish(event)
            fused = self.hub.last_fusion
            if self.desk is not None and fused is not None:
                for event in self.desk.propose(self.cycle, bar.ts, self.symbols, fused.score,
                                               self.hub.explanation(), bar.close, rank_key=self.hub.rank_key()):
                    self._publish(event)
        fusion_ms = (time.perf_counter() - t_fusion) * 1000.0 if self.hub is not None else None
        self._schedule_refits()
        self._publish_statuses()
        self._publish_candles(bar)
        self.heap_trimmer.tick()
        total_ms = (time.perf_counter() - t0) * 1000.0
        self._publish(CycleStats(source="engine", cycle=self.cycle, ts=bar.ts, bars_done=self.cycle,
                                 cycle_ms=total_ms, features_ms=(t_feat - t0) * 1000.0,
                                 model_ms=tuple(timings), feed_status=self.feed.status(), fusion_ms=fusion_ms))
        if self._governance is not None:
            self._governance.tick(total_ms)
        return tuple(events)

    @staticmethod
    def _timed(slot: ModelSlot, batch: FeatureBatch) -> tuple[Sequence[Event], float]:
        t0 = time.perf_counter()
        out = slot.predict(batch)
        return out, (time.perf_counter() - t0) * 1000.0

    def _schedule_refits(self) -> None:
        for slot in self.slots:
            every = self._retrain_every.get(slot.name)
            if not every or slot.fitting or slot.paused or slot.state != ModelState.RUNNING:
                continue
            if self.cycle - (slot.trained_at_cycle or 0) >= every:
                self.request_fit(slot)

    def _publish_statuses(self) -> None:
        """Refresh every slot's timing in the UI, at most twice a second."""
        now = time.monotonic()
        if not self._synchronous and now - self._last_status_wall < 0.5:
            return
        self._last_status_wall = now
        for slot in self.slots:
            slot.emit_status()
            listing = getattr(slot.model, "listing", None)
            if callable(listing) and slot.model.ready:
                self._publish(listing(self.cycle))  # state-like: e.g. the promoted strategies and their on/off
        if self.evolution is not None:
            self._publish(evolution_status(self))

    def _publish_candles(self, bar: Bar) -> None:
        now = time.monotonic()
        if not self._synchronous and now - self._last_candles_wall < 0.1 and not self.feed.exhausted:
            return  # state-like: the app only ever draws the newest
        self._last_candles_wall = now
        ts, closes = self._window.last_closes(self.config.engine.chart_bars)
        self._publish(Candles(
            source="feed", cycle=self.cycle, ts=bar.ts, symbols=self.symbols, timeframe=self.timeframe,
            open=tuple(bar.open.tolist()), high=tuple(bar.high.tolist()), low=tuple(bar.low.tolist()),
            close=tuple(bar.close.tolist()), volume=tuple(bar.volume.tolist()),
            history_ts=tuple(ts.tolist()), closes=tuple(tuple(row) for row in closes.tolist()),
            feed_status=self.feed.status(), synthetic=self.feed.synthetic,
        ))

    # -- commands -------------------------------------------------------------
    def apply_commands(self) -> None:
        """Apply every queued command (between cycles, on the loop thread)."""
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            reason = self._apply(command)
            if reason:
                self._publish(CommandRejected(source="engine", cycle=self.cycle, command_id=command.id, reason=reason))

    def _apply(self, command: Command) -> str | None:
        return apply_command(self, command)

    def slot(self, name: str) -> ModelSlot | None:
        return next((s for s in self.slots if s.name == name), None)

    def request_fit(self, slot: ModelSlot) -> None:
        """Queue a (re)fit or retry of `slot`; inline in synchronous mode."""
        self._refits.put(slot)
        if self._synchronous:
            self.train_pending()
        else:
            self._wake_trainer.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake_trainer.set()

    def publish(self, event: Event) -> None:
        self._bus.publish(event)

    _publish = publish

    def _loop(self) -> None:
        try:
            for slot in self.slots:
                slot.emit_status()
            self.prepare()
            while not self._stop.is_set():
                self.apply_commands()
                if self.evolution is not None:
                    for event in self.evolution.poll():  # type: ignore[attr-defined]
                        self._publish(event)
                if self.desk is not None:
                    for event in self.desk.expire():
                        self._publish(event)
                bar = self.feed.next_bar(timeout=0.1)
                if bar is not None:
                    self.step(bar)
                elif self.feed.exhausted and not self._ended:
                    self._ended = True
                    self._publish(FeedEnded(source="feed", cycle=self.cycle, bars_done=self.cycle,
                                            message=f"replay finished after {self.cycle} bars"))
                elif self._ended:
                    self._stop.wait(0.1)
                if bar is None and self._governance is not None:
                    self._governance.tick(None)
        except Exception as exc:  # noqa: BLE001 - report, never die silently
            self._publish(EngineError(source="engine", kind=type(exc).__name__, message=str(exc)))

    def _trainer(self) -> None:
        # Keep the long-lived heap (libraries, loaded and fitted models) out of later full
        # collections, which stop every thread: as models load, and once all first fits are done.
        heap = StartupSettler(enabled=self.settle_heap)
        began = 0
        while not self._stop.is_set():
            try:
                slot = self._refits.get_nowait()
                self._begin_fit(slot)
                began += 1
            except queue.Empty:
                pass
            running = sum(s.fitting for s in self.slots)
            busy = False
            for slot in self.slots:
                if self._stop.is_set():
                    return
                busy = slot.advance_fit() or busy
            if sum(s.fitting for s in self.slots) < running:
                release_free_heap()  # a fit ended: its training data goes back to the system, not the arenas
            if began and not busy and self._refits.empty():
                self._heap_settled("first fits done", heap.finish())
            else:
                self._heap_settled("models loading", heap.maybe_settle())
            if not busy and self._refits.empty():
                self._wake_trainer.wait(0.2)
                self._wake_trainer.clear()

    def _heap_settled(self, when: str, done: HeapSettled | None) -> None:
        if done is not None:
            self._publish(LogMessage(source="engine", level="info",
                                     message=f"heap settled ({when}): {done.newly_frozen} objects frozen, "
                                             f"{done.collected} collected in {done.seconds * 1000:.0f} ms"))

    def _monitor_loop(self) -> None:
        if self._monitor is None:
            return
        interval = self.config.monitor.interval_seconds
        while not self._stop.is_set():
            try:
                self.sample_resources()
            except Exception as exc:  # noqa: BLE001
                self._publish(EngineError(source="monitor", kind=type(exc).__name__, message=str(exc)))
            self._stop.wait(interval)

    def sample_resources(self) -> None:
        """One monitor reading: a ResourceSample for the gauges, and the governor's input."""
        reading = self._monitor.sample()  # type: ignore[union-attr]
        self._publish(resource_sample(reading, cycle=self.cycle))
        if self.governor is not None:
            self.governor.observe(reading)

    # -- headless -------------------------------------------------------------
    def run_bars(self, n: int, *, on_bar: Callable[[int], None] | None = None) -> RunSummary:
        """Run up to `n` bars synchronously on this thread (headless mode).

        `RunSummary.seconds` counts the cycles only, not the warm-up fits.
        """
        self.prepare()
        t0 = time.perf_counter()
        first_ts = last_ts = 0
        done = 0
        while done < n and not self._stop.is_set():
            self.apply_commands()
            bar = self.feed.next_bar(timeout=None)
            if bar is None:
                if self.feed.exhausted:
                    break
                continue
            self.step(bar)
            done += 1
            first_ts = first_ts or bar.ts
            last_ts = bar.ts
            if on_bar is not None:
                on_bar(done)
        return RunSummary(bars=done, symbols=len(self.symbols), seconds=time.perf_counter() - t0,
                          first_ts=first_ts, last_ts=last_ts, models=tuple(self._model_stats()))

    def _model_stats(self) -> list[ModelRunStats]:
        stats = []
        for s in self.slots:
            lat = np.asarray(s.latencies_ms)
            describe = getattr(s.model, "describe", None)
            stats.append(ModelRunStats(
                name=s.name, family=s.family, state=str(s.state), predictions=s.predictions,
                mean_ms=float(lat.mean()) if lat.size else None,
                p95_ms=float(np.percentile(lat, 95)) if lat.size else None,
                detail=describe() if callable(describe) and s.model.ready else "", error=s.error))
        return stats


def _niced(nice: int | None, target: Callable[[], None]) -> None:
    set_thread_nice(nice)
    target()


def _spec() -> FeatureSpec:
    return FeatureSpec()


