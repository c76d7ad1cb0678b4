"""`cockpit bench --ui`: how long a key takes to reach its handler and to show on screen
while the real engine keeps the machine busy.

The real CockpitApp runs headless (Textual's `run_test`) on a real full-stack
engine at maximum replay speed, in a fresh data directory (first fits from
scratch). Keys come from a separate thread through the driver's
`send_message`, the hand-over the terminal driver's input thread uses, so the
time a key waits for the event loop and the GIL counts. Per press:

- handler: key sent → `App.run_action` entered (every binding runs through it);
- frame: key sent → the end of the first frame of the screen on top that shows
  the press's effect (the tab visible, the help screen up or gone, the symbol
  switched, the model row marked), including the terminal encoding of that
  frame (`render_segments`), which headless mode otherwise skips;
- ui_cpu: CPU the UI thread spent from the handler to that frame — its own
  work, which no load on the machine changes.

Headless rather than a real terminal under tmux: the same code runs and only
the final write to the terminal is skipped, while a tmux probe could only
poll the screen (`capture-pane`), at its own cost and resolution.

Presses are tagged with the engine's phase at the key: `fitting` (a fit
advances on the trainer thread) or `steady` (only cycles). The numbers are
what this machine did under this load, never a target.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.ui_probe import BenchApp, Planner, Probe, send
from app.ui_stalls import StallProfiler, StallReport, format_stalls
from engine.config import Config, PathsConfig
from engine.events import ModelState

PHASES = ("fitting", "steady")
ENGINE_THREADS = ("cockpit-loop", "cockpit-trainer", "cockpit-monitor")
ENGINE_JOIN_TIMEOUT = 120.0
STEADY_WARMUP_TIMEOUT = 3600.0


@dataclass(frozen=True, slots=True)
class UiBenchSettings:
    presses: int = 100
    gap_seconds: tuple[float, float] = (0.15, 0.6)
    """Pause before each key, drawn uniformly from this range (irregular on purpose)."""
    warmup_timeout: float = 180.0
    """Longest wait for the phase to measure in, while cycles advance."""
    wait_for: str = "busy"
    """"busy": start once a fit runs beside the cycles (or every model is ready);
    "steady": once no fit runs and every model is ready."""
    press_timeout: float = 10.0
    """A press whose effect is not on screen by then counts as missed."""
    size: tuple[int, int] = (120, 40)
    seed: int = 11
    drain_interval: float | None = None
    """Least time between repaints from engine events; None = the cockpit's default."""
    engine_nice: int | None = None
    """Nice levels of the engine's threads below the UI's; None = the cockpit's default."""
    stalls: bool = False
    """Also record why the UI loop stalls (`app.ui_stalls`) while the keys are pressed."""

    def __post_init__(self) -> None:
        if self.presses < 1:
            raise ValueError(f"presses must be at least 1, got {self.presses}")
        low, high = self.gap_seconds
        if not 0.0 <= low <= high:
            raise ValueError(f"gap_seconds must be 0 ≤ low ≤ high, got {self.gap_seconds}")
        if self.wait_for not in ("busy", "steady"):
            raise ValueError(f'wait_for must be "busy" or "steady", got "{self.wait_for}"')


@dataclass(frozen=True, slots=True)
class PressSample:
    key: str
    kind: str
    phase: str
    handler_ms: float | None
    frame_ms: float | None
    ui_cpu_ms: float | None = None
    """CPU the UI thread spent from the handler to that frame (its own work, whatever the load)."""


@dataclass(frozen=True, slots=True)
class Percentiles:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: list[float]) -> Percentiles:
        if not values:
            return cls(0, None, None, None, None)
        ordered = sorted(values)

        def pick(q: float) -> float:  # nearest-rank: a value that was measured, never interpolated
            return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 2)

        return cls(len(ordered), pick(0.50), pick(0.95), pick(0.99), round(ordered[-1], 2))


@dataclass(frozen=True, slots=True)
class UiBenchReport:
    label: str
    symbols: int
    presses: tuple[PressSample, ...]
    seconds: float
    warmup_seconds: float
    cycles: int
    cycles_per_second: float
    process_cpu_percent: float
    """This process and its children (the strategy search), 100 = one core."""
    system_cpu_percent: tuple[float, ...]
    """Every core of the machine over the measurement (others' load included)."""
    app: dict[str, float] = field(default_factory=dict)
    """The UI thread's own work: event drains and frames per second and their cost."""
    switch_interval_ms: float = 0.0
    stalls: StallReport | None = None

    def stats(self, phase: str | None = None) -> dict[str, Percentiles]:
        rows = [p for p in self.presses if phase is None or p.phase == phase]
        return {
            "handler_ms": Percentiles.of([p.handler_ms for p in rows if p.handler_ms is not None]),
            "frame_ms": Percentiles.of([p.frame_ms for p in rows if p.frame_ms is not None]),
            "ui_cpu_ms": Percentiles.of([p.ui_cpu_ms for p in rows if p.ui_cpu_ms is not None]),
        }

    def _kind(self, kind: str) -> dict[str, Any]:
        rows = [p for p in self.presses if p.kind == kind]
        frame = Percentiles.of([p.frame_ms for p in rows if p.frame_ms is not None])
        cpu = Percentiles.of([p.ui_cpu_ms for p in rows if p.ui_cpu_ms is not None])
        return {"presses": len(rows), "frame_p50_ms": frame.p50, "frame_p99_ms": frame.p99, "ui_cpu_p50_ms": cpu.p50}

    def as_dict(self) -> dict[str, Any]:
        phases = {"all": self.stats(), **{ph: self.stats(ph) for ph in PHASES}}
        return {
            "name": f"ui.{self.label}",
            "symbols": self.symbols,
            "presses": len(self.presses),
            "handled": sum(p.handler_ms is not None for p in self.presses),
            "shown": sum(p.frame_ms is not None for p in self.presses),
            "by_phase": {ph: {"presses": sum(1 for p in self.presses if ph == "all" or p.phase == ph),
                              **{k: dataclasses.asdict(v) for k, v in st.items()}}
                         for ph, st in phases.items()},
            "by_kind": {kind: self._kind(kind) for kind in sorted({p.kind for p in self.presses})},
            "seconds": round(self.seconds, 1),
            "warmup_seconds": round(self.warmup_seconds, 1),
            "cycles": self.cycles,
            "cycles_per_second": round(self.cycles_per_second, 1),
            "process_cpu_percent": round(self.process_cpu_percent, 1),
            "system_cpu_percent": [round(c, 1) for c in self.system_cpu_percent],
            "app": {k: round(v, 2) for k, v in self.app.items()},
            "switch_interval_ms": self.switch_interval_ms,
            **({"stalls": self.stalls.as_dict()} if self.stalls is not None else {}),
            "samples": [dataclasses.asdict(p) for p in self.presses],
        }


def _join_engine_threads(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name in ENGINE_THREADS:
            thread.join(max(0.0, deadline - time.monotonic()))


def _ready_to_press(engine: Any, wait_for: str) -> bool:
    loaded = not any(s.state == ModelState.LOADING for s in engine.slots)
    if wait_for == "steady":
        return _phase(engine) == "steady" and loaded
    return _phase(engine) == "fitting" or loaded


def _phase(engine: Any) -> str:
    return "fitting" if any(slot.fitting for slot in engine.slots) else "steady"


def _cpu_seconds(proc: Any) -> float:
    import psutil

    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _press_loop(app: BenchApp, engine: Any, settings: UiBenchSettings, samples: list[PressSample],
                stop: threading.Event) -> None:
    """The input thread: one key at a time, at irregular intervals; the help screen is left closed."""
    rng = random.Random(settings.seed)
    planner = Planner(app, rng)
    for _ in range(settings.presses):
        press, ready = planner.next()
        deadline = time.monotonic() + settings.press_timeout
        while not ready() and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.02)
        if stop.wait(rng.uniform(*settings.gap_seconds)):
            break
        press.phase = _phase(engine)
        send(app, press, settings.press_timeout)
        entered, frame = press.entered, press.frame
        samples.append(PressSample(
            key=press.key, kind=press.kind, phase=press.phase,
            handler_ms=(entered - press.sent) * 1000.0 if entered is not None else None,
            frame_ms=(frame - press.sent) * 1000.0 if frame is not None else None,
            ui_cpu_ms=(press.frame_cpu - press.entered_cpu) * 1000.0 if press.frame_cpu is not None else None))
    if planner.help_open:
        send(app, planner.close_help(), settings.press_timeout)


async def measure(engine: Any, settings: UiBenchSettings, *, label: str,
                  progress: Callable[[str], None] = lambda _line: None) -> UiBenchReport:
    """Run the cockpit on `engine` (not started yet), wait for the busy phase, press keys, stop."""
    import psutil

    probe = Probe()
    extra: dict[str, Any] = {}
    if settings.drain_interval is not None:
        extra["drain_interval"] = settings.drain_interval
    if settings.engine_nice is not None:
        extra["engine_nice"] = settings.engine_nice
    app = BenchApp(engine, probe, speed=0.0, **extra)
    samples: list[PressSample] = []
    stop = threading.Event()
    proc = psutil.Process()
    async with app.run_test(size=settings.size, headless=True) as pilot:
        t_start = time.monotonic()
        while not app._panes_ready:
            await pilot.pause(0.05)
        seen_cycle = engine.cycle
        while time.monotonic() - t_start < settings.warmup_timeout:
            await asyncio.sleep(1.0)
            cycling, seen_cycle = engine.cycle > seen_cycle, engine.cycle
            if cycling and _ready_to_press(engine, settings.wait_for):
                break
        warmup = time.monotonic() - t_start
        progress(f"  {label}: {_phase(engine)} after {warmup:.1f} s at cycle {engine.cycle}; "
                 f"pressing {settings.presses} keys…")
        psutil.cpu_percent(percpu=True)
        cpu0, wall0, cycles0, ui0 = _cpu_seconds(proc), time.monotonic(), engine.cycle, time.thread_time()
        profiler = StallProfiler() if settings.stalls else None
        if profiler is not None:
            profiler.start()
        thread = threading.Thread(target=_press_loop, args=(app, engine, settings, samples, stop),
                                  name="ui-bench-input", daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            thread.join(settings.press_timeout + 1.0)
        seconds = time.monotonic() - wall0
        if profiler is not None:
            await profiler.stop()
        # Let the engine threads finish their chunk before the app stops the engine: a torch
        # op still running on a daemon thread at interpreter exit aborts the process.
        engine.request_stop()
        await asyncio.to_thread(_join_engine_threads, ENGINE_JOIN_TIMEOUT)
        system = tuple(psutil.cpu_percent(percpu=True))
        cpu = (_cpu_seconds(proc) - cpu0) / seconds * 100.0 if seconds > 0 else 0.0
        cycles = engine.cycle - cycles0
        app_stats = {
            "ui_thread_cpu_percent": (time.thread_time() - ui0) / seconds * 100.0 if seconds > 0 else 0.0,
            "load_average_1m": os.getloadavg()[0],
            "drains_per_second": probe.drains / max(time.monotonic() - t_start, 1e-9),
            "drain_mean_ms": probe.drain_s / max(probe.drains, 1) * 1000.0,
            "drain_max_ms": probe.drain_max_s * 1000.0,
            "frames_per_second": probe.frames / max(time.monotonic() - t_start, 1e-9),
            "frame_encode_mean_ms": probe.frame_encode_s / max(probe.frames, 1) * 1000.0,
        }
        app.exit()
    return UiBenchReport(label=label, symbols=len(engine.symbols), presses=tuple(samples), seconds=seconds,
                         warmup_seconds=warmup, cycles=cycles, cycles_per_second=cycles / seconds if seconds else 0.0,
                         process_cpu_percent=cpu, system_cpu_percent=system, app=app_stats,
                         switch_interval_ms=sys.getswitchinterval() * 1000.0,
                         stalls=profiler.report() if profiler is not None else None)


def universe_config(config: Config, universe: str, *, symbols: int, data_dir: str, quick: bool) -> Config:
    """`config` at maximum replay speed on the chosen universe, writing into `data_dir`."""
    data = config.data
    if universe == "synthetic":
        data = dataclasses.replace(data, source="synthetic", synthetic_symbols=symbols)
    elif universe == "embedded":
        data = dataclasses.replace(data, source="embedded", symbols=())
    else:
        raise ValueError(f'universe must be "embedded" or "synthetic", got "{universe}"')
    # No score reaches these thresholds: the desk still runs every cycle, but no trade
    # dialog covers the main screen and swallows the keys being timed.
    trading = dataclasses.replace(config.trading, buy_threshold=1.0, sell_threshold=0.0)
    config = dataclasses.replace(config, data=data, replay=dataclasses.replace(config.replay, speed=0.0),
                                 paths=PathsConfig(data_dir=data_dir), trading=trading)
    if quick:
        config = quick_config(config)
    return config


def quick_config(config: Config) -> Config:
    """Tiny models and no strategy search: a smoke run of the harness, not numbers to quote."""
    m = config.models
    models = dataclasses.replace(
        m,
        ensemble=dataclasses.replace(m.ensemble, tiny=True, members=("logreg", "gaussian_nb"), train_bars=300),
        forecast=dataclasses.replace(m.forecast, enabled=False),
        rl=dataclasses.replace(m.rl, enabled=False),
        patterns=dataclasses.replace(m.patterns, enabled=False),
        sentiment=dataclasses.replace(m.sentiment, enabled=False),
    )
    return dataclasses.replace(config, models=models,
                               strategy=dataclasses.replace(config.strategy, background=False, promoted=False))


def bench_universe(config: Config, universe: str, settings: UiBenchSettings, *, symbols: int = 500,
                   quick: bool = False, progress: Callable[[str], None] = lambda _line: None) -> UiBenchReport:
    """Build the engine for one universe in a fresh data directory (first fits from scratch) and measure."""
    from engine.assembly import build_engine
    from engine.heap import release_heap, settle_heap

    with tempfile.TemporaryDirectory(prefix="cockpit-uibench-") as home:
        cfg = universe_config(config, universe, symbols=symbols, data_dir=home, quick=quick)
        engine = build_engine(cfg)
        settle_heap()  # as `cockpit` does once the stack is assembled, and later as models load
        engine.settle_heap = True
        label = "embedded" if universe == "embedded" else f"synthetic{symbols}"
        progress(f"cockpit bench --ui: {label}: {len(engine.symbols)} symbols, "
                 f"{len(engine.slots)} models, search {'on' if engine.evolution else 'off'}")
        try:
            return asyncio.run(measure(engine, settings, label=label, progress=progress))
        finally:
            if not engine.stopped:
                engine.stop()
            release_heap()


def format_report(report: UiBenchReport) -> str:
    d = report.as_dict()
    lines = [(f"{d['name']}: {d['symbols']} symbols · {d['presses']} presses ({d['handled']} handled, "
              f"{d['shown']} shown) over {d['seconds']} s · {d['cycles_per_second']} cycles/s · "
              f"process CPU {d['process_cpu_percent']}% · cores {d['system_cpu_percent']}")]
    lines.append(f"  {'phase':<8} {'n':>4}  {'what':<8} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  (ms)")
    for phase, row in d["by_phase"].items():
        for what in ("handler_ms", "frame_ms", "ui_cpu_ms"):
            st = row[what]
            cells = " ".join(f"{v:>8.1f}" if v is not None else f"{'-':>8}"
                             for v in (st["p50"], st["p95"], st["p99"], st["max"]))
            lines.append(f"  {phase:<8} {row['presses']:>4}  {what[:-3]:<8} {cells}")
    app = d["app"]
    lines.append(f"  UI thread: {app['ui_thread_cpu_percent']:.0f}% CPU, {app['drains_per_second']:.1f} event "
                 f"drains/s (mean {app['drain_mean_ms']:.1f} ms, max {app['drain_max_ms']:.1f} ms), "
                 f"{app['frames_per_second']:.1f} frames/s; switch interval {d['switch_interval_ms']:.1f} ms; "
                 f"machine load average {app['load_average_1m']:.1f}")
    if report.stalls is not None:
        lines.append(format_stalls(report.stalls))
    return "\n".join(lines)


def run_ui_bench(config: Config, *, presses: int = 100, universe: str = "both", symbols: int = 500,
                 as_json: bool = False, quick: bool = False, wait_for: str = "busy", stalls: bool = False) -> int:
    """`cockpit bench --ui`: measure each universe in turn; a table, or one JSON object on stdout."""
    from engine.bench import machine_info
    from engine.errors import ConfigError

    if presses < 1:
        raise ConfigError(f"--presses must be at least 1, got {presses}")
    if symbols < 1:
        raise ConfigError(f"--symbols must be at least 1, got {symbols}")
    universes = ("embedded", "synthetic") if universe == "both" else (universe,)
    # The first fits of the full stack take many minutes under load before the steady phase.
    settings = UiBenchSettings(presses=presses, wait_for=wait_for, stalls=stalls,
                               warmup_timeout=STEADY_WARMUP_TIMEOUT if wait_for == "steady" else 180.0)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    reports = [bench_universe(config, u, settings, symbols=symbols, quick=quick, progress=log) for u in universes]
    if as_json:
        print(json.dumps({"machine": machine_info(), "quick": quick, "results": [r.as_dict() for r in reports]}))
    else:
        for report in reports:
            print(format_report(report))
    return 0
