"""`cockpit bench --longrun`: does memory stay flat over a long replay at maximum speed?

The whole stack (see `engine.bench_stack`) on a small synthetic universe
(50 symbols by default) replays `bars` bars (10,000 by default) as fast as
the engine runs them, headless, with the configured refit intervals (so the
walk-forward refits happen too) and the niced strategy search beside it.
The process's RSS is sampled every `sample_every` bars.

Verdict: after the warm-up RSS must be flat — the least-squares slope over
the later samples at most `SLOPE_TOLERANCE` MB per 1,000 bars (≤ 35 MB over
a year of 30-minute bars). The warm-up lasts until every periodic refit has
run once (the longest interval, the DQN's 5,000 bars by default; at most
half the run): until then bounded buffers are still filling (score windows,
dedupe keys, latency lists, the DQN's replay buffer, whose zeroed pages
become resident as it fills) and each family's first refit allocates its
working set.

`trace=True` also diffs two tracemalloc snapshots (after the warm-up and at
the end) and reports the lines whose Python allocations grew the most: the
place to look when the slope fails. It slows the run down.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.bench import BenchResult, _rss_mb, machine_info
from engine.bench_full import peak_rss_mb
from engine.bench_stack import CycleRecorder, StackSpec, build_stack, stack_config
from engine.config import Config
from engine.events import CycleStats

SLOPE_TOLERANCE = 2.0
"""MB per 1,000 bars."""
HEADLINES_PER_BAR = (2, 6)
"""New headlines per bar for the small universe (the full bench's 10–30 are sized for 500 symbols)."""


def rss_slope(bars: np.ndarray, rss: np.ndarray) -> float:
    """Least-squares slope of RSS (MB) over bars, in MB per 1,000 bars (0 with fewer than two points)."""
    if len(bars) < 2 or np.ptp(bars) == 0:
        return 0.0
    return float(np.polyfit(bars.astype(float), rss.astype(float), 1)[0] * 1000.0)


def longest_refit(config: Config) -> int:
    """Bars until every periodic refit (and the promoted-strategies reload) has run at least once."""
    m = config.models
    return max(m.ensemble.retrain_every, m.forecast.retrain_every, m.patterns.retrain_every, m.rl.retrain_every,
               config.strategy.reload_every)


def _top_growth(before: Any, after: Any, limit: int = 12) -> list[dict[str, Any]]:
    stats = after.compare_to(before, "lineno")
    out = []
    for s in stats[:limit]:
        frame = s.traceback[0]
        out.append({"where": f"{frame.filename}:{frame.lineno}", "grew_kb": round(s.size_diff / 1024, 1),
                    "blocks": s.count_diff})
    return out


def measure_longrun(config: Config, spec: StackSpec, *, sample_every: int = 500, settle_bars: int = 1000,
                    trace: bool = False, log: Callable[[str], None]) -> BenchResult:
    import psutil

    proc = psutil.Process()
    samples: list[tuple[int, float, float]] = []  # (bar, rss MB, seconds since the gate opened)
    cycle_ms = np.zeros(spec.bars + spec.warm_cycles + 1)
    snaps: dict[str, Any] = {}
    t_open = [0.0]

    def on_cycle(stats: CycleStats) -> None:
        n = stats.bars_done
        if n < len(cycle_ms):
            cycle_ms[n] = stats.cycle_ms
        if n % sample_every == 0:
            samples.append((n, proc.memory_info().rss / 2**20, time.perf_counter() - t_open[0]))
            log(f"  bar {n:>6}: rss {samples[-1][1]:7.1f} MB · {n / max(1e-9, samples[-1][2]):.1f} bars/s")
        if trace and n == settle_bars:
            import tracemalloc

            snaps["settled"] = tracemalloc.take_snapshot()

    with tempfile.TemporaryDirectory(prefix="cockpit-bench-longrun-") as tmp:
        promoted = config.data_dir() / "promoted.json"
        if promoted.is_file():
            shutil.copy(promoted, Path(tmp) / "promoted.json")
        cfg = stack_config(config, spec, Path(tmp), full_retrain=True)
        stack = build_stack(cfg, spec, log=log)
        engine = stack.engine
        rss_warm = _rss_mb()
        log(f"warm-up done in {stack.warmup_s:.1f} s (rss {rss_warm:.1f} MB); "
            f"replaying {spec.bars} bars at full speed…")
        if trace:
            import tracemalloc

            tracemalloc.start(1)
        recorder = CycleRecorder(engine, keep=False, on_cycle=on_cycle)
        try:
            t_open[0] = time.perf_counter()
            stack.feed.open()
            if not recorder.wait(spec.bars, 120.0 + 10.0 * spec.bars):
                raise RuntimeError(f"only {recorder.count} of {spec.bars} bars ran; the engine stalled")
            wall = time.perf_counter() - t_open[0]
            if trace:
                import tracemalloc

                end = tracemalloc.take_snapshot()
                tracemalloc.stop()
            faulted = [f"{s.name}: {s.error}" for s in engine.slots if s.error]
        finally:
            recorder.close()
            engine.stop()
    bars = np.array([b for b, _, _ in samples])
    rss = np.array([r for _, r, _ in samples])
    late = bars >= settle_bars
    slope = rss_slope(bars[late], rss[late])
    settled = float(rss[late][0]) if late.any() else float("nan")
    end_rss = float(rss[-1]) if len(rss) else float("nan")
    ran = cycle_ms[1:spec.bars + 1]
    extra: dict[str, Any] = {
        "bars": spec.bars, "sample_every": sample_every, "settle_bars": settle_bars,
        "warmup_seconds": round(stack.warmup_s, 1), "wall_seconds": round(wall, 1),
        "rss_after_warmup_mb": round(rss_warm, 1), "rss_settled_mb": round(settled, 1),
        "rss_end_mb": round(end_rss, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "slope_mb_per_1000_bars": round(slope, 3), "tolerance_mb_per_1000_bars": SLOPE_TOLERANCE,
        "pass": bool(late.sum() >= 2 and abs(slope) <= SLOPE_TOLERANCE),
        "rss_series": [[int(b), round(r, 1)] for b, r, _ in samples],
        "cycle_mean_ms": round(float(ran.mean()), 2), "cycle_p95_ms": round(float(np.percentile(ran, 95)), 2),
        "faulted": faulted, "evolution": "running (niced)" if engine.evolution is not None else "off",
    }
    if trace and "settled" in snaps:
        extra["top_growth"] = _top_growth(snaps["settled"], end)
    return BenchResult("longrun.rss", "engine", spec.symbols, wall / max(1, spec.bars), end_rss,
                       spec.bars / wall if wall > 0 else None, "bars", extra)


def run_longrun(config: Config, *, symbols: int = 50, bars: int = 10_000, as_json: bool = False,
                quick: bool = False, trace: bool = False, sample_every: int = 500) -> int:
    """`cockpit bench --longrun`: print the RSS series and the verdict (one JSON object with --json)."""
    import json

    log = (lambda s: print(s, file=sys.stderr, flush=True)) if as_json else (lambda s: print(s, flush=True))
    spec = StackSpec(symbols=symbols, bars=bars, history_bars=300 if quick else 900, warm_cycles=0, tiny=quick,
                     headlines=HEADLINES_PER_BAR, evolution=not quick, seed=config.engine.seed)
    settle = min(bars // 2, longest_refit(config))
    row = measure_longrun(config, spec, sample_every=min(sample_every, max(1, bars // 4)), settle_bars=settle,
                          trace=trace, log=log)
    x = row.extra
    log(f"long run: {x['bars']} bars × {row.symbols} symbols in {x['wall_seconds']:.0f} s "
        f"({row.throughput:.1f} bars/s, cycle mean {x['cycle_mean_ms']} ms)")
    log(f"rss after warm-up {x['rss_after_warmup_mb']} MB · at bar {settle} {x['rss_settled_mb']} MB · "
        f"end {x['rss_end_mb']} MB · peak {x['peak_rss_mb']} MB")
    log(f"slope after bar {settle}: {x['slope_mb_per_1000_bars']:+.2f} MB per 1,000 bars "
        f"(tolerance ±{SLOPE_TOLERANCE}): {'PASS' if x['pass'] else 'FAIL'}")
    for g in x.get("top_growth", []):
        log(f"  grew {g['grew_kb']:>9.1f} KB  {g['blocks']:>7} blocks  {g['where']}")
    if as_json:
        print(json.dumps({"machine": machine_info(), "results": [row.as_dict()]}))
    return 0
