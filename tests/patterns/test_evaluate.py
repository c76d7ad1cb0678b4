"""The report provider and the bench rows of the patterns family (tiny settings)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.data.embedded import load_embedded
from engine.patterns.evaluate import forward_study, patterns_provider, verdict
from engine.patterns.skill import Scan
from engine.patterns.synthetic import CLASSES, PATTERNS
from engine.report import ReportSettings


@pytest.fixture(scope="module")
def rows():
    panel = load_embedded()
    panel = panel.slice(panel.n_bars - 3000, panel.n_bars)
    settings = ReportSettings(tiny=True, n_folds=2, train_bars=1000, horizon=4)
    return [r.to_dict() for r in patterns_provider(panel, settings)]


def test_report_rows_carry_class_metrics_agreement_and_forward_returns(rows):
    assert [r["name"] for r in rows] == ["patterns cnn", "patterns real", "patterns signal"]
    assert all(r["family"] == "patterns" and "error" not in r for r in rows)
    cnn, real, signal = rows
    m = cnn["metrics"]
    assert m["n_test"] == 300 and 0.0 <= m["macro_f1"] <= 1.0
    assert sum(m[f"confusion.{t}.{p}"] for t in CLASSES for p in CLASSES) == 300
    for name in CLASSES:
        assert 0.0 <= m[f"precision.{name}"] <= 1.0 and 0.0 <= m[f"recall.{name}"] <= 1.0
    assert "majority" in cnn["baselines"] and "recall.wedge" in cnn["baselines"]["rules"]
    r = real["metrics"]
    assert r["windows"] > 100 and r["agree.any.cnn"] >= r["agree.any.both"]
    for h in (4, 8, 16):
        assert real["baselines"]["unconditional"][f"fwd{h}.n"] > 0
        for name in PATTERNS:
            assert f"fwd{h}.cnn.{name}.n" in r and f"fwd{h}.rules.{name}.diff_bp" in r
    assert real["notes"][0].startswith(("NO EDGE", "edge after Bonferroni"))
    s = signal["metrics"]
    assert s["n_test"] > 0 and 0.0 <= s["hit_rate"] <= 1.0 and s["horizon_bars"] == 4
    assert {"majority", "always_up", "buy_and_hold"} <= set(signal["baselines"])


def _study(edge: bool) -> dict:
    rng = np.random.default_rng(0)
    n = 4000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n + 20)))[None, :]
    bar = np.arange(0, n, 4)
    cls = np.where(bar % 40 == 0, CLASSES.index("bull_flag"), 0)
    if edge:
        close = close.copy()
        for b in bar[cls > 0]:
            close[0, b + 1:] *= 1.03
    scan = Scan(np.zeros(len(bar), dtype=np.int64), bar, cls, np.full(len(bar), 0.9),
                np.zeros((len(bar), 9), dtype=bool))
    return forward_study(scan, close, horizons=(4,), stride=4, cost_bps=20, min_confidence=0.7, seed=1)


def test_verdict_says_no_edge_plainly_and_names_a_real_one():
    edge, sentence = verdict(_study(edge=False))
    assert not edge and sentence.startswith("NO EDGE")
    edge, sentence = verdict(_study(edge=True))
    assert edge and "cnn bull_flag @4 bars" in sentence and "OPPOSITE" not in sentence
    s = _study(edge=True)["by_horizon"]["4"]["cnn"]["bull_flag"]
    assert s["n"] == 100 and s["diff_ci95"][0] > 0 and math.isfinite(s["t"])


def test_bench_rows_are_family_patterns():
    from engine.patterns.bench_patterns import bench_patterns

    rows = bench_patterns(symbols=6, repeats=1, threads=1)
    names = [r.name for r in rows]
    assert {"patterns.render", "patterns.scan.fp32", "patterns.scan.int8_static", "patterns.classify.int8_dynamic",
            "patterns.rules"} <= set(names)
    assert all(r.family == "patterns" and r.symbols == 6 and r.seconds > 0 for r in rows)
    scan = next(r for r in rows if r.name == "patterns.scan.fp32")
    assert scan.extra["target_seconds"] == 0.5 and scan.extra["top1_agreement_with_fp32"] == 1.0


def test_clustered_t_counts_a_common_move_once():
    from engine.patterns.evaluate import clustered_t

    rng = np.random.default_rng(3)
    bars = np.repeat(np.arange(400), 5)  # 5 symbols per bar
    market = np.repeat(rng.normal(0, 1.0, 400), 5)
    y = market + rng.normal(0, 0.1, 2000)
    mask = np.repeat(rng.random(400) < 0.2, 5)  # whole bars flagged: the flag only picks market draws
    naive = abs(mask.sum() and (y[mask].mean() - y[~mask].mean()) /
                np.sqrt(y[mask].var() / mask.sum() + y[~mask].var() / (~mask).sum()))
    clustered = abs(clustered_t(y, mask, bars))
    assert clustered < naive  # rows of one bar are one draw, not five
    same = clustered_t(y, mask, np.arange(2000))
    assert abs(abs(same) - naive) < 0.1 * naive + 0.05
