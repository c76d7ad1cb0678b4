"""`cockpit bench --full` / `--longrun` and their parts: the whole stack runs and reports every row."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from engine.bench_full import RssWatch, cycle_rows, total_row
from engine.bench_longrun import rss_slope
from engine.bench_stack import GatedFeed, SyntheticNews
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.events import CycleStats
from engine.sentiment.symbols import SymbolMapper

FAMILIES = ("ensemble", "rl", "patterns", "forecast", "sentiment", "strategy")
THREE_MEMBERS = '[models.ensemble]\nmembers = ["logreg", "gaussian_nb", "lightgbm_small"]\n'


def _config(tmp_path: Path) -> str:
    path = tmp_path / "cockpit.toml"
    path.write_text(THREE_MEMBERS)
    return str(path)


def test_synthetic_news_is_deterministic_new_and_about_watchlist_symbols():
    panel = synthetic_panel(30, 10, seed=3)
    mapper = SymbolMapper(panel.symbols)
    a = SyntheticNews(panel.symbols, timeframe=panel.timeframe, per_bar=(10, 30), seed=3)
    b = SyntheticNews(panel.symbols, timeframe=panel.timeframe, per_bar=(10, 30), seed=3)
    seen: set[str] = set()
    previous = None
    for ts in panel.ts.tolist():
        items = a.poll(ts)
        assert [h.text for h in items] == [h.text for h in b.poll(ts)]
        assert 10 <= len(items) <= 30
        for h in items:
            assert h.published <= ts and (previous is None or h.published > previous)
            assert len(mapper.match(h.text)) == 1 and h.aligned and not h.sample
        seen.update(f"{h.published}:{h.text}" for h in items)
        previous = ts
    assert len(seen) == a.served  # no item is released twice


def test_gated_feed_holds_bars_until_opened():
    panel = synthetic_panel(3, 20, seed=1)
    feed = GatedFeed(ReplayFeed(panel, start=10, speed=0.0))
    assert feed.history().n_bars == 10
    assert feed.next_bar(timeout=0.01) is None and not feed.exhausted
    feed.open()
    bar = feed.next_bar(timeout=0.01)
    assert bar is not None and bar.ts == panel.ts[10]


def _stats(cycle: int, total: float, fusion: float | None) -> CycleStats:
    return CycleStats(source="engine", cycle=cycle, bars_done=cycle, cycle_ms=total, features_ms=2.0,
                      model_ms=(("a", 10.0 * cycle), ("b", 5.0), ("lstm", 20.0)), fusion_ms=fusion)


def test_family_rows_sum_their_models_and_fusion_falls_back_to_the_remainder():
    families = {"a": "ensemble", "b": "ensemble", "lstm": "forecast"}
    measured = {r.name: r.extra for r in cycle_rows([_stats(1, 100.0, 7.0), _stats(2, 110.0, 9.0)], families, 3, 1.0)}
    assert measured["full.ensemble"]["mean_ms"] == pytest.approx(20.0)  # (15 + 25) / 2
    assert measured["full.ensemble"]["models"] == 2 and measured["full.forecast"]["mean_ms"] == pytest.approx(20.0)
    assert measured["full.fusion"] == {**measured["full.fusion"], "mean_ms": 8.0, "measured": True}
    estimated = {r.name: r.extra for r in cycle_rows([_stats(1, 100.0, None)], families, 3, 1.0)}
    assert estimated["full.fusion"]["mean_ms"] == pytest.approx(100.0 - 2.0 - 35.0)
    assert estimated["full.fusion"]["measured"] is False
    total = total_row([_stats(1, 900.0, 1.0), _stats(2, 1200.0, 1.0)], 3, extra={}).extra
    assert total["mean_ms"] == pytest.approx(1050.0) and total["budget_ms"] == 1000
    assert total["pass"] is False and total["p95_pass"] is False and total["rss_budget_mb"] == 1024


def test_rss_watch_places_a_peak_in_the_span_it_happened_in():
    with RssWatch(interval_s=0.01) as watch:
        watch.mark()
        block = np.ones(80 * 2**20 // 8)  # 80 MB, touched
        time.sleep(0.1)
        del block
        time.sleep(0.1)
        with_block = watch.mark()
        time.sleep(0.1)
        without = watch.mark()
    assert with_block - without > 60


def test_rss_slope_is_in_mb_per_thousand_bars():
    bars = np.arange(0, 10_001, 500)
    assert rss_slope(bars, np.full(len(bars), 700.0)) == pytest.approx(0.0, abs=1e-9)
    assert rss_slope(bars, 700.0 + 5.0 * bars / 1000) == pytest.approx(5.0)
    assert rss_slope(bars[:1], np.array([700.0])) == 0.0


@pytest.mark.slow
def test_full_bench_json_has_family_rows_and_a_total_against_the_budgets(tmp_path, capsys):
    assert main(["bench", "--full", "--quick", "--json", "--symbols", "20", "--bars", "3",
                 "--config", _config(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in report["results"]}
    assert report["machine"]["cores"] >= 1
    for family in FAMILIES:
        row = rows[f"full.{family}"]
        assert row["family"] == family and row["cycles"] == 3 and row["p95_ms"] >= row["mean_ms"] >= 0
    assert {"full.features", "full.fusion"} <= rows.keys()
    total = rows["total"]
    assert total["symbols"] == 20 and total["cycles"] == 3
    assert total["budget_ms"] == 1000 and total["rss_budget_mb"] == 1024
    assert isinstance(total["pass"], bool) and isinstance(total["rss_pass"], bool)
    assert total["peak_rss_mb"] >= total["rss_mb"] * 0.5 > 0
    assert total["peak_rss_mb"] >= total["peak_rss_warmup_mb"] >= total["rss_after_warmup_mb"] * 0.5 > 0
    assert total["peak_rss_cycles_mb"] > 0 and len(total["load_average"]) == 3
    assert 10 <= total["headlines_per_cycle"] <= 30  # new headlines reached the sentiment model each cycle
    assert total["warmup_seconds"] > 0


@pytest.mark.slow
def test_longrun_reports_an_rss_series_and_a_verdict(tmp_path, capsys):
    assert main(["bench", "--longrun", "--quick", "--json", "--symbols", "10", "--bars", "40",
                 "--config", _config(tmp_path)]) == 0
    row = json.loads(capsys.readouterr().out)["results"][0]
    assert row["name"] == "longrun.rss" and row["bars"] == 40
    series = row["rss_series"]
    assert [b for b, _ in series] == [10, 20, 30, 40] and all(mb > 0 for _, mb in series)
    assert isinstance(row["pass"], bool) and row["tolerance_mb_per_1000_bars"] > 0
    assert row["faulted"] == []
