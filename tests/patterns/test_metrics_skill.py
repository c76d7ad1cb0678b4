"""Classification metrics, intervals and the skill table that turns detections into p(up)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.patterns.metrics import classify_report, diff_ci, mean_ci
from engine.patterns.skill import Scan, forward_log_return, measure_skill, usable_windows
from engine.patterns.synthetic import CLASSES


def test_classify_report_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    r = classify_report(y, p, ("a", "b", "c"))
    assert r.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    a, b, c = r.per_class
    assert (a.precision, a.recall) == (0.5, 0.5)
    assert b.precision == pytest.approx(2 / 3) and b.recall == 1.0
    assert (c.precision, c.recall) == (1.0, 0.5)
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.macro_f1 == pytest.approx(np.mean([0.5, 0.8, 2 / 3]))
    d = r.as_dict()
    assert d["confusion"]["matrix"][2] == [1, 0, 1] and d["per_class"]["b"]["support"] == 2


def test_mean_ci_covers_and_is_seeded():
    x = np.random.default_rng(0).normal(1.0, 2.0, 400)
    a, b = mean_ci(x, seed=1), mean_ci(x, seed=1)
    assert a == b and a.lo < 1.0 < a.hi and a.t_lo < a.mean < a.t_hi
    assert abs((a.hi - a.lo) - (a.t_hi - a.t_lo)) < 0.1
    assert np.isnan(mean_ci(np.array([1.0]), seed=0).lo)
    d, lo, hi = diff_ci(x + 0.5, x, seed=2)
    assert lo < d < hi and d == pytest.approx(0.5)


def _scan_and_close(edge: bool, n: int = 3000, seed: int = 0):
    """One symbol; windows classified as double_bottom every 10th bar; the close moves 1 % per bar."""
    rng = np.random.default_rng(seed)
    bar = np.arange(n)
    cls = np.where(bar % 10 == 0, CLASSES.index("double_bottom"), 0)
    steps = rng.normal(0.0, 0.01, n + 10)
    if edge:
        steps[1:n + 1][cls == CLASSES.index("double_bottom")] += 0.03  # the bar after a detection jumps
    close = 100 * np.exp(np.cumsum(steps))[None, :]
    scan = Scan(np.zeros(n, dtype=np.int64), bar, cls, np.full(n, 0.9))
    return scan, close


def test_skill_found_when_the_pattern_pays_and_shrunk_toward_the_base():
    scan, close = _scan_and_close(edge=True)
    skill = measure_skill(scan, close, classes=CLASSES, horizon=2, cost_bps=20, min_confidence=0.7)
    db = next(p for p in skill.patterns if p.pattern == "double_bottom")
    assert db.significant and db.n == 300 and db.hit_rate > 0.9
    assert skill.base_rate < db.p_up < db.hit_rate
    p = skill.p_up(np.array([CLASSES.index("double_bottom"), 0, CLASSES.index("double_bottom")]),
                   np.array([0.9, 0.9, 0.5]))
    assert p[0] == pytest.approx(db.p_up) and p[1] == p[2] == pytest.approx(skill.base_rate)
    assert skill.weight == 1.0
    again = type(skill).from_dict(skill.as_dict())
    assert again == skill


def test_no_skill_maps_to_the_base_rate_with_zero_weight():
    scan, close = _scan_and_close(edge=False)
    skill = measure_skill(scan, close, classes=CLASSES, horizon=2, cost_bps=20, min_confidence=0.7)
    assert not any(p.significant for p in skill.patterns)
    assert skill.weight == 0.0
    assert np.all(skill.p_up(scan.cls, scan.confidence) == skill.base_rate)
    assert "no pattern beats it" in skill.describe()


def test_forward_return_and_usable_windows():
    close = np.array([[100.0, 110.0, np.nan, 121.0]])
    fwd = forward_log_return(close, np.array([0, 0, 0, 0]), np.array([0, 1, 2, 3]), 1)
    assert fwd[0] == pytest.approx(np.log(1.1)) and np.isnan(fwd[1:]).all()
    c = np.ones((3, 10))
    c[1, -1] = np.nan
    c[2, :3] = np.nan
    assert usable_windows(c).tolist() == [True, False, False]
