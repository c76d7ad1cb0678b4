"""Why the UI loop stalls: `cockpit bench --ui --stalls`.

Three recorders run beside the cockpit while keys are pressed:

- a heartbeat task on the UI event loop sleeps 10 ms and records every wake
  that came late (a key waits at least that long for its handler);
- `gc.callbacks` record every collection: generation, duration, the thread
  that triggered it (a collection stops every thread, the UI's included);
- a sampler thread reads every thread's CPU clock each few ms and, while the
  heartbeat is overdue or after it could not run itself (the GIL was held),
  which line each thread is on (`sys._current_frames`).

Each stall longer than the threshold then gets one cause, the largest share
of its window: `gc`, `ui` (the UI thread's own CPU: layout, render, drains),
`gil:<thread>` (the sampler could not run while that thread used the CPU: a
call holding the GIL; the line is where it was right after) or `other` (no
thread of this process ran: the machine's other load, or waiting for the GIL
hand-over).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

PROJECT_DIRS = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d) + os.sep
                     for d in ("app", "engine"))
BENCH_FILES = ("ui_bench.py", "ui_probe.py", "ui_stalls.py", "cli.py")
HISTORY = 4000
"""CPU samples kept (at 5 ms: the last 20 s)."""


@dataclass(frozen=True, slots=True)
class GcRun:
    start: float
    seconds: float
    generation: int
    thread: str
    collected: int
    cpu_seconds: float = 0.0
    """CPU the collecting thread spent in it: the collector's own work, whatever the load."""


@dataclass(frozen=True, slots=True)
class FrameSample:
    at: float
    frames: tuple[tuple[str, str], ...]
    """(thread name, where: the innermost frame, and the innermost app/engine frame when different)."""


@dataclass(frozen=True, slots=True)
class Stall:
    start: float
    seconds: float
    cause: str
    shares_ms: dict[str, float]
    where: str
    """The line the cause points at (the engine thread's, or the UI thread's most sampled one)."""


@dataclass(slots=True)
class StallReport:
    seconds: float
    beats: int
    late_beats: int
    stalls: list[Stall]
    gc_runs: list[GcRun]
    threshold_ms: float = 100.0
    sampler_gaps_ms: list[float] = field(default_factory=list)
    heap: dict[str, int] = field(default_factory=dict)
    """At the end: frozen objects (`gc.freeze`) and tracked objects per generation, which a
    collection of that generation walks."""

    def as_dict(self) -> dict[str, Any]:
        by_cause: dict[str, dict[str, float]] = {}
        for stall in self.stalls:
            row = by_cause.setdefault(stall.cause, {"count": 0, "total_ms": 0.0, "max_ms": 0.0})
            row["count"] += 1
            row["total_ms"] = round(row["total_ms"] + stall.seconds * 1000.0, 1)
            row["max_ms"] = round(max(row["max_ms"], stall.seconds * 1000.0), 1)
        gcs: dict[str, dict[str, float]] = {}
        for run in self.gc_runs:
            key = f"gen{run.generation}"
            row = gcs.setdefault(key, {"count": 0, "total_ms": 0.0, "max_ms": 0.0, "cpu_ms": 0.0, "max_cpu_ms": 0.0})
            row["count"] += 1
            row["total_ms"] = round(row["total_ms"] + run.seconds * 1000.0, 1)
            row["max_ms"] = round(max(row["max_ms"], run.seconds * 1000.0), 1)
            row["cpu_ms"] = round(row["cpu_ms"] + run.cpu_seconds * 1000.0, 1)
            row["max_cpu_ms"] = round(max(row["max_cpu_ms"], run.cpu_seconds * 1000.0), 1)
        threads = Counter(run.thread for run in self.gc_runs if run.generation == 2)
        wheres = Counter(f"{s.cause} @ {s.where}" for s in self.stalls)
        return {
            "seconds": round(self.seconds, 1),
            "threshold_ms": self.threshold_ms,
            "beats": self.beats,
            "late_beats": self.late_beats,
            "stalls": len(self.stalls),
            "stall_ms_total": round(sum(s.seconds for s in self.stalls) * 1000.0, 1),
            "by_cause": by_cause,
            "gc": gcs,
            "gen2_by_thread": dict(threads),
            "heap": self.heap,
            "top_where": wheres.most_common(12),
            "list": [{"at_s": round(s.start, 2), "ms": round(s.seconds * 1000.0, 1), "cause": s.cause,
                      "shares_ms": s.shares_ms, "where": s.where} for s in self.stalls],
        }


def _where(frame: Any) -> str:
    """The innermost frame, then the innermost of this project's (else of Textual's) below it."""
    inner = _line(frame)
    textual = ""
    f = frame
    while f is not None:
        path = f.f_code.co_filename
        if path.startswith(PROJECT_DIRS) and not path.endswith(BENCH_FILES):
            own = _line(f)
            return inner if own == inner else f"{inner} < {own}"
        if not textual and f is not frame and f"{os.sep}textual{os.sep}" in path:
            textual = _line(f)
        f = f.f_back
    return f"{inner} < {textual}" if textual else inner


def _line(frame: Any) -> str:
    return f"{_short(frame.f_code.co_filename)}:{frame.f_lineno} {frame.f_code.co_name}"


def _short(path: str) -> str:
    for marker in ("site-packages" + os.sep, os.sep + "lib" + os.sep + "python3"):
        at = path.find(marker)
        if at >= 0:
            return path[at + len(marker):]
    for d in PROJECT_DIRS:
        if path.startswith(d):
            return os.path.relpath(path, os.path.dirname(d.rstrip(os.sep)))
    return path


class StallProfiler:
    """Start on the UI loop's thread (`start()` inside a running loop), `stop()`, then `report()`."""

    def __init__(self, *, beat_s: float = 0.01, late_s: float = 0.05, sample_s: float = 0.005) -> None:
        self.beat_s = beat_s
        self.late_s = late_s
        self.sample_s = sample_s
        self._ui_ident = 0
        self._last_beat = 0.0
        self._beats = 0
        self._late: list[tuple[float, float]] = []
        self._gc: list[GcRun] = []
        self._gc_open: dict[int, tuple[float, float, int]] = {}
        self._cpu: deque[tuple[float, dict[int, float]]] = deque(maxlen=HISTORY)
        self._frames: deque[FrameSample] = deque(maxlen=HISTORY)
        self._gaps: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._seconds = 0.0
        self._names: dict[int, str] = {}
        self._heap: dict[str, int] = {}

    # -- recording ----------------------------------------------------------------------
    def start(self) -> None:
        self._ui_ident = threading.get_ident()
        self._t0 = self._last_beat = time.perf_counter()
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())
        self._thread = threading.Thread(target=self._sample, name="stall-sampler", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        self._seconds = time.perf_counter() - self._t0
        self._heap = {"frozen": gc.get_freeze_count(),
                      **{f"gen{g}": len(gc.get_objects(generation=g)) for g in range(3)}}

    async def _heartbeat(self) -> None:
        while not self._stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(self.beat_s)
            now = time.perf_counter()
            self._last_beat = now
            self._beats += 1
            late = now - before - self.beat_s
            if late > self.late_s:
                self._late.append((before + self.beat_s, now))

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._gc_open[ident] = (time.perf_counter(), time.thread_time(), info["generation"])
            return
        opened = self._gc_open.pop(ident, None)
        if opened is not None:
            start, cpu, generation = opened
            self._gc.append(GcRun(start, time.perf_counter() - start, generation, threading.current_thread().name,
                                  info.get("collected", 0), time.thread_time() - cpu))

    def _sample(self) -> None:
        names = self._names
        previous = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(self.sample_s)
            now = time.perf_counter()
            gap = now - previous - self.sample_s
            previous = now
            clocks = {}
            for thread in threading.enumerate():
                if thread.ident is None or thread.ident == threading.get_ident():
                    continue
                names[thread.ident] = thread.name
                try:
                    clocks[thread.ident] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
                except (OSError, ProcessLookupError):
                    continue
            self._cpu.append((now, clocks))
            if gap > self.late_s:
                self._gaps.append((now - gap, now))
            if gap > self.late_s or now - self._last_beat > self.late_s:
                frames = sys._current_frames()
                self._frames.append(FrameSample(now, tuple(
                    (names.get(ident, str(ident)), _where(frame)) for ident, frame in frames.items()
                    if ident in names)))

    # -- attributing ----------------------------------------------------------------------
    def report(self, threshold_s: float = 0.1) -> StallReport:
        """Every late heartbeat longer than `threshold_s`, with its cause."""
        names = self._names
        ui_name = names.get(self._ui_ident, "MainThread")
        cpu = list(self._cpu)
        stalls = [self._attribute(a, b, cpu, names, ui_name) for a, b in self._late if b - a >= threshold_s]
        return StallReport(seconds=self._seconds, beats=self._beats, late_beats=len(self._late),
                           stalls=stalls, gc_runs=list(self._gc), threshold_ms=threshold_s * 1000.0,
                           sampler_gaps_ms=[round((b - a) * 1000.0, 1) for a, b in self._gaps], heap=dict(self._heap))

    def _attribute(self, a: float, b: float, cpu: list[tuple[float, dict[int, float]]],
                   names: dict[int, str], ui_name: str) -> Stall:
        gc_s = sum(max(0.0, min(b, r.start + r.seconds) - max(a, r.start)) for r in self._gc)
        gc_ui_s = sum(max(0.0, min(b, r.start + r.seconds) - max(a, r.start)) for r in self._gc
                      if r.thread == ui_name)
        ui_s = max(0.0, _cpu_delta(cpu, a, b, self._ui_ident) - gc_ui_s)
        shares = {"gc": gc_s, "ui": ui_s}
        gil_where = ""
        in_gaps = 0.0
        for g0, g1 in self._gaps:
            lo, hi = max(a, g0), min(b, g1)
            if hi - lo <= 0:
                continue
            in_gaps += hi - lo
            used = {ident: _cpu_delta(cpu, g0, g1, ident) for ident in names}
            holder = max(used, key=used.__getitem__) if used else self._ui_ident
            if holder == self._ui_ident:
                continue  # the UI thread's own work: counted in its CPU share
            held = max(0.0, min(used[holder], g1 - g0) * (hi - lo) / (g1 - g0) - gc_s)
            key = f"gil:{names[holder]}"
            shares[key] = shares.get(key, 0.0) + held
            gil_where = gil_where or _frame_of(self._frames, names[holder], g1)
        # Nothing above explains the rest: the UI thread waited for the GIL or for a core. While the
        # sampler could not run either, a thread held the GIL without running (descheduled, e.g. a
        # niced engine thread); otherwise the GIL was free and the UI thread waited for a core.
        rest = max(0.0, (b - a) - sum(shares.values()))
        held = min(rest, max(0.0, in_gaps - sum(v for k, v in shares.items() if k.startswith("gil:")) - gc_s))
        shares["wait:gil"] = held
        shares["wait:cpu"] = rest - held
        cause = max(shares, key=shares.__getitem__)
        if cause == "ui":
            where = _most_sampled(self._frames, ui_name, a, b)
        elif cause.startswith("gil:"):
            where = gil_where
        elif cause == "gc":
            runs = [r for r in self._gc if r.start < b and r.start + r.seconds > a and r.seconds > 0.005]
            where = ", ".join(f"gen{r.generation} {r.seconds * 1000:.0f} ms on {r.thread}" for r in runs)
        else:
            where = _most_sampled(self._frames, ui_name, a, b)
        return Stall(start=a - self._t0, seconds=b - a, cause=cause,
                     shares_ms={k: round(v * 1000.0, 1) for k, v in shares.items() if v > 0}, where=where)


def _cpu_at(cpu: list[tuple[float, dict[int, float]]], t: float, ident: int) -> float | None:
    """The thread's CPU clock at the last sample at or before `t` (or the first after)."""
    best = None
    for at, clocks in cpu:
        if ident not in clocks:
            continue
        if at <= t or best is None:
            best = clocks[ident]
        if at > t:
            break
    return best


def _cpu_delta(cpu: list[tuple[float, dict[int, float]]], a: float, b: float, ident: int) -> float:
    start, end = _cpu_at(cpu, a, ident), _cpu_at(cpu, b, ident)
    return max(0.0, end - start) if start is not None and end is not None else 0.0


def _frame_of(frames: deque[FrameSample], thread: str, t: float) -> str:
    """Where `thread` was in the first frame sample taken at or after `t`."""
    for sample in frames:
        if sample.at >= t - 1e-6:
            return next((w for name, w in sample.frames if name == thread), "")
    return ""


def _most_sampled(frames: deque[FrameSample], thread: str, a: float, b: float) -> str:
    seen = Counter(w for s in frames if a <= s.at <= b + 0.005 for name, w in s.frames if name == thread)
    if not seen:
        return ""
    where, n = seen.most_common(1)[0]
    return f"{where} ({n}/{sum(seen.values())} samples)"


def format_stalls(report: StallReport) -> str:
    d = report.as_dict()
    lines = [(f"  stalls ≥ {d['threshold_ms']:.0f} ms of the UI loop: {d['stalls']} "
              f"({d['stall_ms_total']:.0f} ms) in {d['seconds']} s; heartbeats {d['beats']}, late > 50 ms "
              f"{d['late_beats']}")]
    for cause, row in sorted(d["by_cause"].items(), key=lambda kv: -kv[1]["total_ms"]):
        lines.append(f"    {cause:<28} {row['count']:>4} stalls  {row['total_ms']:>9.0f} ms  max {row['max_ms']:>7.0f} ms")
    gcs = ", ".join(f"{k} ×{v['count']} ({v['total_ms']:.0f} ms, max {v['max_ms']:.0f}; CPU {v['cpu_ms']:.0f} ms, "
                    f"max {v['max_cpu_ms']:.0f})" for k, v in sorted(d["gc"].items()))
    lines.append(f"    gc collections: {gcs or 'none'}; gen2 by thread {d['gen2_by_thread']}; heap at the end {d['heap']}")
    for where, n in d["top_where"][:8]:
        lines.append(f"    {n:>4}× {where}")
    return "\n".join(lines)
