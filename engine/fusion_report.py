"""The fusion's row in `cockpit report`: a replay through the real engine, scored live.

Every enabled family is fitted on the bars before the replay window (and
not refitted), then the newest `bars` bars are replayed at full speed
through the same Engine, SignalHub and fusion the cockpit runs. The live
scoreboard scores each prediction only after its horizon has passed, so
every figure is out-of-sample. The row compares the fused score with the
ensemble vote alone and with the majority class, lists each source's
record and fusion share, and states which selector ranks the entries and why.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.config import Config
from engine.data.panel import CandlePanel
from engine.evaluation.walkforward import ModelReport
from engine.fusion import FUSED_SOURCE, VOTE_SOURCE

REPLAY_BARS = 600


def fusion_provider(config: Config, *, bars: int = REPLAY_BARS,
                    progress: Callable[[str], None] | None = None) -> Callable[[CandlePanel, Any], list[ModelReport]]:
    def provide(panel: CandlePanel, settings: Any) -> list[ModelReport]:
        try:
            return [_replay(config, panel, bars, progress)]
        except Exception as exc:  # noqa: BLE001 - one failed row, the rest of the report stands
            return [ModelReport.failed(FUSED_SOURCE, "fusion", exc)]

    return provide


def _replay(config: Config, panel: CandlePanel, bars: int, progress: Callable[[str], None] | None) -> ModelReport:
    from engine.assembly import build_hub, build_models
    from engine.data.replay import ReplayFeed
    from engine.runtime import Engine

    bars = min(bars, panel.n_bars // 3)
    models, retrain = build_models(config)
    feed = ReplayFeed(panel, start=panel.n_bars - bars, speed=0.0)
    hub = build_hub(config, feed.symbols)
    engine = Engine(config, feed=feed, models=models, retrain_every={k: 10**9 for k in retrain}, hub=hub)
    if progress:
        progress(f"fusion: fitting {len(models)} models on the bars before the last {bars}, then replaying them…")
    try:
        summary = engine.run_bars(bars)
    finally:
        engine.stop()
    rows = {r.source: r for r in hub.score_rows()}
    fused = rows.get(FUSED_SOURCE)
    if fused is None or not fused.scored:
        return ModelReport.failed(FUSED_SOURCE, "fusion", "no fused prediction was scored (no model produced a signal)")
    vote = rows.get(VOTE_SOURCE)
    verdict = hub.selector.verdict()
    shares = {s.name: float(hub.last_fusion.shares[i]) for i, s in enumerate(hub.last_fusion.sources)} \
        if hub.last_fusion is not None else {}

    def record(row: Any) -> dict[str, Any]:
        return {"live_hit_rate": row.hit_rate, "live_brier": row.brier, "n_test": row.scored}

    baselines: dict[str, dict[str, Any]] = {
        "majority": {"live_hit_rate": fused.baseline_hit_rate, "live_brier": fused.baseline_brier,
                     "n_test": fused.scored},
        "always_up": {"live_hit_rate": fused.always_up_hit_rate},
    }
    if vote is not None and vote.scored:
        baselines["ensemble_vote"] = record(vote)
    notes = [f"live replay of the last {summary.bars} bars × {summary.symbols} symbols; models fitted on the bars "
             "before it and not refitted; each prediction scored after its horizon",
             f"selector: {verdict.used} — {verdict.reason}"]
    for name, row in sorted(rows.items()):
        if name in (FUSED_SOURCE,) or row.family == "ensemble" or not row.scored:
            continue
        notes.append(f"source {name} [{row.family}]: hit {_pct(row.hit_rate)} vs majority "
                     f"{_pct(row.baseline_hit_rate)} over {row.scored} rows · skill weight {row.weight:.3f} · "
                     f"fusion share {_pct(shares.get(name))}")
    return ModelReport(name=FUSED_SOURCE, family="fusion", metrics=record(fused), baselines=baselines,
                       notes=tuple(notes))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"
