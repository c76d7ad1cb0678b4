"""The stall profiler of `cockpit bench --ui --stalls`: what it records, and how it names a cause."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

from app.ui_stalls import GcRun, StallProfiler, format_stalls


async def test_a_blocked_loop_and_a_collection_are_recorded():
    profiler = StallProfiler()
    profiler.start()
    await asyncio.sleep(0.1)
    end = time.perf_counter() + 0.25
    while time.perf_counter() < end:  # the UI loop's own work, holding it
        pass
    gc.collect()
    await asyncio.sleep(0.1)
    await profiler.stop()
    report = profiler.report()
    assert report.beats > 0 and report.late_beats >= 1
    assert any(s.seconds >= 0.2 for s in report.stalls)
    assert any(r.generation == 2 and r.thread == threading.current_thread().name for r in report.gc_runs)
    d = report.as_dict()
    assert d["stalls"] == len(report.stalls) and sum(row["count"] for row in d["by_cause"].values()) == d["stalls"]
    assert "stalls ≥ 100 ms" in format_stalls(report)
    assert gc.callbacks.count(profiler._on_gc) == 0  # removed on stop


def _profiler_with(ui_cpu: float, engine_cpu: float, *, gc_s: float = 0.0, gap: bool = False) -> StallProfiler:
    """A 300 ms stall at t = 1 s with made-up recordings: CPU clocks sampled every 10 ms."""
    p = StallProfiler()
    p._ui_ident, p._names = 1, {1: "MainThread", 2: "cockpit-trainer"}
    a, b = 1.0, 1.3
    for k in range(201):
        t = k * 0.01
        frac = min(max((t - a) / (b - a), 0.0), 1.0)
        if gap and a < t < b:
            continue  # the sampler could not run
        p._cpu.append((t, {1: ui_cpu * frac, 2: engine_cpu * frac}))
    if gap:
        p._gaps.append((a, b))
    if gc_s:
        p._gc.append(GcRun(start=a, seconds=gc_s, generation=2, thread="MainThread", collected=0))
    p._late.append((a, b))
    return p


def test_the_largest_share_names_the_cause():
    assert _profiler_with(0.25, 0.0).report().stalls[0].cause == "ui"
    assert _profiler_with(0.0, 0.0, gc_s=0.28).report().stalls[0].cause == "gc"
    assert _profiler_with(0.0, 0.29, gap=True).report().stalls[0].cause == "gil:cockpit-trainer"
    assert _profiler_with(0.0, 0.0, gap=True).report().stalls[0].cause == "wait:gil"
    assert _profiler_with(0.02, 0.05).report().stalls[0].cause == "wait:cpu"
    stall = _profiler_with(0.25, 0.0).report().stalls[0]
    assert abs(stall.seconds - 0.3) < 1e-9 and stall.shares_ms["ui"] > 200


def test_short_delays_are_not_stalls():
    p = _profiler_with(0.25, 0.0)
    assert p.report(threshold_s=0.5).stalls == []
