"""The strategy rows of `cockpit bench`."""

from __future__ import annotations

from engine.data.embedded import load_embedded
from engine.strategy.bench_strategy import bench_strategy


def test_bench_rows_report_evaluations_and_candles_per_second():
    panel = load_embedded().slice(30_000, 33_000)
    rows = {r.name: r for r in bench_strategy(panel, genomes=4, trials=4)}
    wf = rows["strategy.walk_forward.embedded"]
    assert wf.family == "strategy" and wf.unit == "evaluations" and wf.throughput > 0
    assert wf.extra["evaluations"] == 4 and wf.extra["folds"] == 5
    assert rows["strategy.search.embedded"].unit == "trials" and rows["strategy.search.embedded"].throughput > 0
    ours = rows["strategy.backtest.ema_cross"]
    assert ours.unit == "candles" and ours.throughput > 0 and ours.symbols == 5
    theirs = rows["strategy.backtesting_py.ema_cross"]
    assert theirs.unit == "candles" and theirs.extra["ours_candles_per_s"] > 0
    if theirs.throughput is None:
        assert "not installed" in theirs.extra["note"]
    else:
        assert theirs.extra["ratio_ours_vs_backtesting_py"] > 1
    assert all(r.as_dict()["family"] == "strategy" for r in rows.values())
