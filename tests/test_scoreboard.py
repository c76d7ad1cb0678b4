"""Scoreboard: no peeking, hand-computed scores, bounded memory, skill weights."""

import numpy as np
import pytest

from engine.events import ScoreboardRow
from engine.scoreboard import Scoreboard

SYMS = ("A", "B")


def test_nothing_is_scored_before_the_horizon_has_passed():
    sb = Scoreboard(SYMS, horizon=3, cost_bps=0.0, min_scored=1)
    sb.observe(1, np.array([100.0, 100.0]))
    sb.record("m", "ensemble", 1, SYMS, np.array([0.9, 0.1]))
    for cycle, close in ((2, [50.0, 200.0]), (3, [60.0, 150.0])):  # the outcome would be wrong so far
        sb.observe(cycle, np.array(close))
        assert sb.row("m").scored == 0 and sb.row("m").hit_rate is None
    sb.observe(4, np.array([101.0, 99.0]))  # only the close at c + h counts
    row = sb.row("m")
    assert row.scored == 2 and row.hit_rate == 1.0


def test_a_prediction_for_an_already_observed_past_is_refused():
    sb = Scoreboard(SYMS, horizon=1, cost_bps=0.0)
    sb.observe(5, np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="outcome may be known"):
        sb.record("m", "ensemble", 4, SYMS, np.array([0.5, 0.5]))
    sb.record("m", "ensemble", 5, SYMS, np.array([0.5, 0.5]))  # the current cycle is fine
    with pytest.raises(ValueError, match="observed after"):
        sb.observe(5, np.array([1.0, 1.0]))


def test_hand_computed_hit_rate_brier_and_baselines():
    sb = Scoreboard(SYMS, horizon=1, cost_bps=0.0, min_scored=1)
    sb.observe(1, np.array([100.0, 100.0]))
    sb.record("m", "ensemble", 1, SYMS, np.array([0.8, 0.3]))
    sb.observe(2, np.array([110.0, 90.0]))  # y = [1, 0]: both right
    sb.record("m", "ensemble", 2, SYMS, np.array([0.6, 0.7]))
    sb.observe(3, np.array([99.0, np.nan]))  # y = [0, unscorable]
    row = sb.row("m")
    assert isinstance(row, ScoreboardRow) and row.family == "ensemble" and row.cycle == 3
    assert row.scored == 3 and row.window == 500
    assert row.hit_rate == pytest.approx(2 / 3)
    assert row.always_up_hit_rate == pytest.approx(1 / 3)
    assert row.baseline_hit_rate == pytest.approx(2 / 3)
    assert row.brier == pytest.approx((0.04 + 0.09 + 0.36) / 3)
    assert row.baseline_brier == pytest.approx(2 / 9)
    assert row.weight == pytest.approx(1 - ((0.04 + 0.09 + 0.36) / 3) / (2 / 9))


def test_the_label_must_beat_the_cost():
    sb = Scoreboard(("A",), horizon=1, cost_bps=50.0, min_scored=1)
    sb.observe(1, np.array([100.0]))
    sb.record("m", "ensemble", 1, ("A",), np.array([0.9]))
    sb.observe(2, np.array([100.4]))  # +0.4 % < 0.5 % cost: not "up"
    assert sb.row("m").hit_rate == 0.0 and sb.row("m").always_up_hit_rate == 0.0


def test_nan_predictions_and_closes_are_skipped():
    sb = Scoreboard(SYMS, horizon=1, cost_bps=0.0, min_scored=1)
    sb.observe(1, np.array([np.nan, 100.0]))
    sb.record("m", "ensemble", 1, SYMS, np.array([0.7, np.nan]))
    sb.observe(2, np.array([100.0, 101.0]))
    assert sb.row("m").scored == 0


def test_memory_is_bounded():
    n = 40
    syms = tuple(f"S{i}" for i in range(n))
    sb = Scoreboard(syms, horizon=2, cost_bps=0.0, window=50, max_pending=8)
    rng = np.random.default_rng(0)
    for cycle in range(1, 200):
        sb.observe(cycle, 100 + rng.random(n))
        sb.record("m", "ensemble", cycle, syms, rng.random(n))
        sb.record("quiet", "ensemble", cycle, syms, np.full(n, np.nan))
    track = sb._tracks["m"]
    assert sb.row("m").scored == 50 and len(track.p) == 50
    assert len(track.pending) <= 3 and len(sb._closes) <= 3
    lone = Scoreboard(syms, horizon=2, cost_bps=0.0, max_pending=8)
    for cycle in range(1, 100):  # predictions that are never observed still cannot pile up
        lone.record("m", "ensemble", cycle, syms, np.full(n, 0.5))
    assert len(lone._tracks["m"].pending) == 8


def test_weights_follow_skill_and_use_the_prior_until_enough_is_scored():
    n = 20
    syms = tuple(f"S{i}" for i in range(n))
    sb = Scoreboard(syms, horizon=1, cost_bps=0.0, window=400, min_scored=100)
    sb.register("good", "ensemble", prior=0.2)
    sb.register("coin", "ensemble")
    rng = np.random.default_rng(1)
    steps = rng.normal(0, 0.01, (31, n))
    close = np.full(n, 100.0)
    sb.observe(0, close)
    for cycle in range(30):
        up = steps[cycle + 1] > 0
        right = rng.random(n) < 0.8  # "good" calls the next move right 80 % of the time
        sb.record("good", "ensemble", cycle, syms, np.where(up == right, 0.8, 0.2))
        sb.record("coin", "ensemble", cycle, syms, rng.uniform(0.3, 0.7, n))
        if cycle == 3:
            assert sb.weight("good") == 0.2 and sb.weight("coin") == 0.0  # priors: too few scored yet
        close = close * np.exp(steps[cycle + 1])
        sb.observe(cycle + 1, close)
    good, coin = sb.row("good"), sb.row("coin")
    assert good.scored == coin.scored == 400
    assert good.hit_rate > 0.7 and good.weight > 0.3
    assert coin.weight < 0.05 and coin.weight < good.weight
    assert {r.source for r in sb.rows()} == {"good", "coin"}
    assert sb.weight("unknown") == 0.0
    with pytest.raises(KeyError, match="sources: good, coin"):
        sb.row("unknown")


def test_watchlist_and_shapes_are_checked():
    sb = Scoreboard(SYMS, horizon=1, cost_bps=0.0)
    with pytest.raises(ValueError, match="symbols differ"):
        sb.record("m", "ensemble", 1, ("A", "C"), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="shape"):
        sb.observe(1, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="prior"):
        sb.register("m", "ensemble")
        sb.set_prior("m", -1.0)
