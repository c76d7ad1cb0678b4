"""`cockpit bench` rows for the ensemble: training time, batched vs per-symbol predict, RSS.

Training: every zoo member fits (holdout probe + full refit, as in the live
engine) on the embedded history with the default window; one row per member
(seconds per fit, throughput in training rows/s) and a total row.

Predict: one batch of `symbols` feature rows drawn from the embedded history
(real feature values, reused across symbols) goes through one `predict` per
member, against a per-symbol loop of one-row `predict` calls. The loop is
timed over at most `loop_symbols` symbols and scaled to `symbols` (the row's
`loop_scaled_from` says so), which keeps the full-size bench within ~3
minutes on 2 cores. `loop_over_batch` is the ratio of the two.
"""

from __future__ import annotations

import time

import numpy as np

from engine.bench import BenchResult, _median_time, _rss_mb
from engine.models.protocol import FeatureBatch

HORIZON = 4
TRAIN_BARS = 4000
COST_BPS = 20.0
WARMUP_BARS = 256


def bench_ensemble(symbols: int = 500, tiny: bool = False, *, names: tuple[str, ...] | None = None,
                   train_bars: int = TRAIN_BARS, loop_symbols: int = 50, repeats: int = 5,
                   seed: int = 7) -> list[BenchResult]:
    """Call after `engine.threads.cap_threads` (run_bench does): uncapped OpenMP pools
    made HistGradientBoosting ~100x slower on a busy 2-core machine."""
    from engine.data.embedded import load_embedded
    from engine.features import compute_features
    from engine.models.protocol import History, ModelContext
    from engine.models.zoo import build_members

    panel = load_embedded()
    # like the engine's rolling window: the training window plus room for the indicators' warm-up
    panel = panel.slice(max(0, panel.n_bars - train_bars - WARMUP_BARS), panel.n_bars)
    block = compute_features(panel)
    history = History(panel=panel, features=block.values, names=block.names, cycle=0)
    members = build_members(names, horizon=HORIZON, train_bars=train_bars, cost_bps=COST_BPS, tiny=tiny)
    ctx = ModelContext(checkpoint_dir="", seed=seed)
    rss_before = _rss_mb()

    results: list[BenchResult] = []
    train_total = 0.0
    train_rows = 0
    for member in members:
        member.warmup(ctx)
        t0 = time.perf_counter()
        for _ in member.fit(history):
            pass
        seconds = time.perf_counter() - t0
        rows = member.trained_rows
        train_total += seconds
        train_rows += rows
        results.append(BenchResult(f"ensemble.train.{member.name}", "ensemble", panel.n_symbols, seconds, _rss_mb(),
                                   rows / seconds if seconds else None, "rows",
                                   {"train_rows": rows, "train_bars": train_bars, "tiny": tiny,
                                    "holdout": member.describe()}))
    results.append(BenchResult("ensemble.train.total", "ensemble", panel.n_symbols, train_total, _rss_mb(),
                               train_rows / train_total if train_total else None, "rows",
                               {"members": len(members), "train_bars": train_bars, "tiny": tiny,
                                "rss_added_mb": round(_rss_mb() - rss_before, 1)}))

    batch = _batch(block.values, block.names, symbols, seed)
    singles = [_one(batch, i) for i in range(min(loop_symbols, symbols))]
    scale = symbols / len(singles)
    batch_total = loop_total = 0.0
    for member in members:
        member.predict(batch)  # first call pays one-off costs (lazy imports, caches)
        batch_s = _median_time(lambda m=member: m.predict(batch), repeats)
        loop_s = _median_time(lambda m=member: [m.predict(one) for one in singles], max(1, repeats // 2)) * scale
        batch_total += batch_s
        loop_total += loop_s
        results.append(_predict_row(f"ensemble.predict.{member.name}", symbols, batch_s, loop_s, len(singles),
                                    {"budget_latency_ms": member.budget.latency_ms, "tiny": tiny}))
    results.append(_predict_row("ensemble.predict.total", symbols, batch_total, loop_total, len(singles),
                                {"members": len(members), "tiny": tiny}))
    return results


def _predict_row(name: str, symbols: int, batch_s: float, loop_s: float, looped: int,
                 extra: dict[str, object]) -> BenchResult:
    return BenchResult(name, "ensemble", symbols, batch_s, _rss_mb(), symbols / batch_s if batch_s else None,
                       "symbols", {"batch_seconds": batch_s, "loop_seconds": loop_s,
                                   "loop_over_batch": round(loop_s / batch_s, 1) if batch_s else None,
                                   "loop_scaled_from": looped, **extra})


def _batch(values: np.ndarray, names: tuple[str, ...], symbols: int, seed: int) -> FeatureBatch:
    rows = values.reshape(-1, values.shape[2])
    rows = rows[np.isfinite(rows).all(axis=1)]
    pick = np.random.default_rng(seed).choice(len(rows), symbols, replace=len(rows) < symbols)
    return FeatureBatch(cycle=1, ts=0, symbols=tuple(f"SYM{i:04d}" for i in range(symbols)), names=names,
                     values=np.ascontiguousarray(rows[pick]), valid=np.ones(symbols, dtype=bool))


def _one(batch: FeatureBatch, i: int) -> FeatureBatch:
    return FeatureBatch(cycle=batch.cycle, ts=batch.ts, symbols=(batch.symbols[i],), names=batch.names,
                     values=batch.values[i:i + 1], valid=batch.valid[i:i + 1])
