"""`cockpit bench --full`: the whole stack on a synthetic universe, per family and in total.

Rows (the `BenchResult` shape of `cockpit bench`):

- `full.<family>` — per cycle, the sum of that family's slots' predict times
  (mean and p95 ms). Predicts run on the engine's worker pool in parallel,
  so the family rows can add up to more than the cycle's wall time.
- `full.features` — append the bar, the desk's bar, the incremental features.
- `full.fusion` — `CycleStats.fusion_ms` when the runtime reports it, else
  cycle − features − models (an estimate, flagged `measured: false`).
- `total` — the whole cycle's wall time (mean, p95) against `budget_ms`
  1000, the process's peak and current RSS against `rss_budget_mb` 1024,
  where the peak was (`peak_rss_warmup_mb` up to the end of the first fits,
  `rss_after_warmup_mb`, `peak_rss_cycles_mb` sampled during the timed
  cycles), the load average at the end, the warm-up time, and the niced
  evolution child's CPU share.
- `precision.<family>` — fp32 vs int8 for the DQN, LSTM, pattern CNN and the
  MiniLM encoder (the family benches' numbers) and which precision the engine runs.

The first fits are shortened (see `engine.bench_stack.stack_config`); the
per-cycle work is the configured one. No resource governor is attached, so
nothing is paused while it is measured. Model `update()` calls (the DQN's
online gradient step) run on the loop thread before the predicts: they are
in `total`, not in a family row. `engine_cpu_ms_per_cycle` (CPU time of the
whole process per timed cycle) is less sensitive than wall time to other
load on the machine; `evolution_rss_mb` is the search process, not counted
in the engine's RSS.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import numpy as np

from engine.bench import BenchResult, _rss_mb, machine_info
from engine.bench_stack import CycleRecorder, StackSpec, build_stack, stack_config
from engine.config import Config
from engine.events import CycleStats

BUDGET_MS = 1000.0
RSS_BUDGET_MB = 1024.0
FAMILY_ORDER = ("ensemble", "rl", "patterns", "forecast", "sentiment", "strategy")


def peak_rss_mb() -> float:
    """The process's peak resident set so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class CpuMeter:
    """CPU seconds a process (with its children, if asked) used between `start()` and `stop()`, over wall time."""

    def __init__(self, pid: int | None, *, children: bool = True) -> None:
        import psutil

        self._proc = psutil.Process(pid) if pid else None
        self._children = children
        self._t0 = self._cpu0 = 0.0

    def _procs(self) -> tuple:
        assert self._proc is not None
        return (self._proc, *self._proc.children(recursive=True)) if self._children else (self._proc,)

    def _cpu(self) -> float:
        import psutil

        if self._proc is None:
            return 0.0
        total = 0.0
        try:
            for p in self._procs():
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
        return total

    def start(self) -> None:
        self._t0, self._cpu0 = time.perf_counter(), self._cpu()

    def rss_mb(self) -> float | None:
        """Resident memory of the process and its children now (None without a process)."""
        import psutil

        if self._proc is None:
            return None
        try:
            return sum(p.memory_info().rss for p in self._procs()) / 2**20
        except psutil.Error:
            return None

    def stop(self) -> float | None:
        """Cores' worth of CPU used (1.0 = one core fully busy); None without a process."""
        if self._proc is None:
            return None
        wall = time.perf_counter() - self._t0
        return (self._cpu() - self._cpu0) / wall if wall > 0 else None


class RssWatch:
    """Samples this process's resident memory on a daemon thread (every `interval_s`) and keeps
    the highest reading since the last `mark()`, so the peak can be placed in a phase."""

    def __init__(self, interval_s: float = 0.25) -> None:
        import threading

        self._interval = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._high = _rss_mb()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            now = _rss_mb()
            with self._lock:
                self._high = max(self._high, now)

    def mark(self) -> float:
        """The highest RSS (MB) sampled since the previous mark; starts the next span from now."""
        now = _rss_mb()
        with self._lock:
            high, self._high = max(self._high, now), now
        return high


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"mean_ms": round(float(a.mean()), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "max_ms": round(float(a.max()), 3)}


def cycle_rows(stats: list[CycleStats], families: dict[str, str], symbols: int, rss_mb: float) -> list[BenchResult]:
    """Per-family, features and fusion rows from the timed cycles' CycleStats."""
    per_family: dict[str, list[float]] = {}
    per_model: dict[str, list[float]] = {}
    features, fusion, fusion_measured = [], [], True
    for s in stats:
        sums: dict[str, float] = {}
        for name, ms in s.model_ms:
            family = families.get(name, name)
            sums[family] = sums.get(family, 0.0) + ms
            per_model.setdefault(name, []).append(ms)
        for family, ms in sums.items():
            per_family.setdefault(family, []).append(ms)
        features.append(s.features_ms)
        measured = getattr(s, "fusion_ms", None)
        if measured is None:
            fusion_measured = False
            measured = max(0.0, s.cycle_ms - s.features_ms - sum(ms for _, ms in s.model_ms))
        fusion.append(measured)
    rows = []
    order = sorted(per_family, key=lambda f: (FAMILY_ORDER.index(f) if f in FAMILY_ORDER else 99, f))
    for family in order:
        values = per_family[family]
        names = sorted(n for n, f in families.items() if f == family and n in per_model)
        st = _stats(values)
        rows.append(BenchResult(f"full.{family}", family, symbols, st["mean_ms"] / 1000.0, rss_mb, None, "ms/cycle",
                                {**st, "cycles": len(values), "models": len(names),
                                 "model_mean_ms": {n: round(float(np.mean(per_model[n])), 3) for n in names}}))
    for name, values, extra in (("features", features, {}), ("fusion", fusion, {"measured": fusion_measured})):
        st = _stats(values)
        rows.append(BenchResult(f"full.{name}", "engine", symbols, st["mean_ms"] / 1000.0, rss_mb, None, "ms/cycle",
                                {**st, "cycles": len(values), **extra}))
    return rows


def total_row(stats: list[CycleStats], symbols: int, *, extra: dict[str, Any]) -> BenchResult:
    st = _stats([s.cycle_ms for s in stats])
    peak = peak_rss_mb()
    return BenchResult("total", "engine", symbols, st["mean_ms"] / 1000.0, _rss_mb(), 1000.0 / st["mean_ms"],
                       "cycles", {**st, "cycles": len(stats), "budget_ms": BUDGET_MS,
                                  "pass": st["mean_ms"] <= BUDGET_MS, "p95_pass": st["p95_ms"] <= BUDGET_MS,
                                  "peak_rss_mb": round(peak, 1), "rss_budget_mb": RSS_BUDGET_MB,
                                  "rss_pass": peak <= RSS_BUDGET_MB, **extra})


def measure_stack(config: Config, spec: StackSpec, *, log: Callable[[str], None]) -> list[BenchResult]:
    """Build, warm up and time the whole stack in a private temporary data directory."""
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-full-") as tmp, RssWatch() as watch:
        promoted = config.data_dir() / "promoted.json"
        if promoted.is_file():  # the trader's own promoted strategies, if any, join the run
            shutil.copy(promoted, Path(tmp) / "promoted.json")
        cfg = stack_config(config, spec, Path(tmp))
        stack = build_stack(cfg, spec, log=log)
        engine = stack.engine
        watch.mark()  # the warm-up's peak is the kernel's own (ru_maxrss) so far
        warm_rss = {"peak_rss_warmup_mb": round(peak_rss_mb(), 1), "rss_after_warmup_mb": round(_rss_mb(), 1)}
        log(f"warm-up done in {stack.warmup_s:.1f} s; timing {spec.bars} cycles after {spec.warm_cycles} warm ones…")
        recorder = CycleRecorder(engine)
        evolution = engine.evolution
        evo = CpuMeter(evolution.pid if evolution is not None else None)  # type: ignore[attr-defined]
        own = CpuMeter(os.getpid(), children=False)  # the search process is measured on its own
        try:
            stack.feed.open()
            if not recorder.wait(spec.warm_cycles, 600.0):
                raise RuntimeError("the engine ran no cycle within 10 minutes")
            evo.start()
            own.start()
            t0 = time.perf_counter()
            if not recorder.wait(spec.warm_cycles + spec.bars, 600.0 + 30.0 * spec.bars):
                raise RuntimeError(f"only {recorder.count} cycles ran; the engine stalled")
            wall = time.perf_counter() - t0
            cycles_high = watch.mark()
            evo_share, own_share = evo.stop(), own.stop()
            evo_rss = evo.rss_mb()
            timed = recorder.stats[spec.warm_cycles:spec.warm_cycles + spec.bars]
            news = stack.news.served if stack.news is not None else 0
            cycles_total = recorder.count
            strategies = [s.model for s in engine.slots if s.family == "strategy"]
            promoted_n = sum(len(getattr(m, "entries", ())) for m in strategies)
            extra = {"warmup_seconds": round(stack.warmup_s, 1), "warm_cycles": spec.warm_cycles,
                     "history_bars": spec.history_bars, "wall_seconds": round(wall, 2),
                     "engine_cpu_cores": round(own_share, 2) if own_share is not None else None,
                     "engine_cpu_ms_per_cycle": round(own_share * wall * 1000.0 / spec.bars, 1)
                     if own_share is not None else None,
                     "evolution_cpu_cores": round(evo_share, 3) if evo_share is not None else None,
                     "evolution": "running (niced)" if evolution is not None else "off",
                     "evolution_rss_mb": round(evo_rss, 1) if evo_rss is not None else None,
                     "headlines_per_cycle": round(news / max(1, cycles_total), 1),
                     "promoted_strategies": promoted_n, "models": len(engine.slots),
                     "cores": os.cpu_count(), **warm_rss, "peak_rss_cycles_mb": round(cycles_high, 1),
                     "heap_trims": engine.heap_trimmer.trims,
                     "heap_trim_ms_mean": round(engine.heap_trimmer.seconds * 1000.0 / max(1, engine.heap_trimmer.trims), 1),
                     "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}
            rows = cycle_rows(timed, stack.families, spec.symbols, _rss_mb())
            rows.append(total_row(timed, spec.symbols, extra=extra))
        finally:
            recorder.close()
            engine.stop()
        return rows


def precision_rows(config: Config, symbols: int, *, quick: bool) -> list[BenchResult]:
    """fp32 and int8 for the DQN, LSTM, pattern CNN and MiniLM, and which one the engine runs."""
    from engine.forecast.bench_forecast import bench_forecast
    from engine.patterns.bench_patterns import bench_patterns
    from engine.rl.bench_rl import bench_rl
    from engine.sentiment.bench_sentiment import bench_sentiment_precision

    repeats = 2 if quick else 7
    rows = bench_rl(symbols, tiny=quick, repeats=repeats, seed=config.engine.seed)
    rows += bench_forecast(symbols=symbols, threads=config.engine.threads, repeats=repeats)
    rows += bench_patterns(symbols, repeats=repeats, threads=config.engine.threads)
    rows += bench_sentiment_precision(threads=config.engine.threads, repeats=repeats)
    by_name = {r.name: r.seconds * 1000.0 for r in rows}
    choices = (
        ("rl", "rl.dqn.fp32", "rl.dqn.int8", "fp32", "fixed: the DQN has no int8 path in the engine"),
        ("forecast", "forecast.lstm.fp32", "forecast.lstm.int8", "fp32",
         "fixed: the LSTM has no int8 path in the engine"),
        ("patterns", "patterns.scan.fp32", "patterns.scan.int8_static", config.models.patterns.precision,
         "config [models.patterns] precision (default fp32)"),
        ("sentiment", "sentiment.encode.fp32", "sentiment.encode.int8", "fp32",
         "fixed: the MiniLM encoder has no int8 path in the engine"),
    )
    out = list(rows)
    for family, fp32, int8, used, how in choices:
        a, b = by_name.get(fp32), by_name.get(int8)
        if a is None or b is None:
            continue
        faster = "fp32" if a <= b else "int8"
        out.append(BenchResult(f"precision.{family}", family, symbols, (a if used == "fp32" else b) / 1000.0, _rss_mb(),
                               None, "ms", {"fp32_ms": round(a, 3), "int8_ms": round(b, 3), "faster": faster,
                                            "engine_uses": used, "chosen_by": how, "uses_faster": used == faster}))
    return out


def run_full(config: Config, *, symbols: int = 500, bars: int = 100, as_json: bool = False,
             quick: bool = False) -> int:
    """`cockpit bench --full`: print the table (stderr with --json) and, with --json, one JSON object."""
    import json

    log = (lambda s: print(s, file=sys.stderr, flush=True)) if as_json else (lambda s: print(s, flush=True))
    spec = StackSpec(symbols=symbols, bars=bars, history_bars=300 if quick else 900, warm_cycles=1 if quick else 3,
                     tiny=quick, evolution=not quick, seed=config.engine.seed)
    rows = measure_stack(config, spec, log=log)
    for line in table(rows):
        log(line)
    if not quick:
        log("timing fp32 vs int8 for the DQN, LSTM, pattern CNN and MiniLM…")
        precision = precision_rows(config, symbols, quick=quick)
        for line in table(precision)[1:]:
            log(line)
        rows += precision
    if as_json:
        print(json.dumps({"machine": machine_info(), "results": [r.as_dict() for r in rows]}))
    return 0


def table(rows: list[BenchResult]) -> list[str]:
    lines = [f"{'row':<22} {'mean ms':>10} {'p95 ms':>10}  notes"]
    for r in rows:
        x = r.extra
        if r.name == "total":
            lines.append(f"{'total':<22} {x['mean_ms']:>10.1f} {x['p95_ms']:>10.1f}  "
                         f"budget {x['budget_ms']:.0f} ms: {'PASS' if x['pass'] else 'FAIL'} (p95 "
                         f"{'pass' if x['p95_pass'] else 'fail'}) · {r.symbols} symbols · {x['cycles']} cycles")
            lines.append(f"{'peak rss':<22} {x['peak_rss_mb']:>10.1f} MB {'':>7} budget {x['rss_budget_mb']:.0f} MB: "
                         f"{'PASS' if x['rss_pass'] else 'FAIL'} · now {r.rss_mb:.1f} MB · evolution process "
                         f"{x['evolution_rss_mb']} MB")
            lines.append(f"{'rss by phase':<22} warm-up peak {x['peak_rss_warmup_mb']} MB · after warm-up "
                         f"{x['rss_after_warmup_mb']} MB · timed cycles peak {x['peak_rss_cycles_mb']} MB "
                         f"(sampled every 0.25 s) · {x['heap_trims']} heap trims of {x['heap_trim_ms_mean']} ms "
                         f"· load average {x['load_average']}")
            lines.append(f"{'warm-up':<22} {x['warmup_seconds']:>10.1f} s  {'':>8} first fits on "
                         f"{x['history_bars']} bars · {x['headlines_per_cycle']} headlines/cycle · "
                         f"{x['promoted_strategies']} promoted strategies")
            lines.append(f"{'cpu':<22} engine {x['engine_cpu_cores']} cores ({x['engine_cpu_ms_per_cycle']} cpu-ms "
                         f"per cycle) · evolution ({x['evolution']}) {x['evolution_cpu_cores']} cores of {x['cores']}")
        elif r.name.startswith("full."):
            note = f"{x['models']} models" if "models" in x else ("" if x.get("measured", True) else "estimated")
            lines.append(f"{r.name[5:]:<22} {x['mean_ms']:>10.1f} {x['p95_ms']:>10.1f}  {note}")
        elif r.name.startswith("precision."):
            lines.append(f"{r.name:<22} fp32 {x['fp32_ms']:.2f} ms · int8 {x['int8_ms']:.2f} ms · faster "
                         f"{x['faster']} · engine uses {x['engine_uses']} ({x['chosen_by']})")
    return lines
