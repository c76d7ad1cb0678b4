"""The ensemble's soft vote: who votes, how weights apply, agreement, fallback."""

import math

import numpy as np
import pytest

from engine.events import ModelState, ScoreboardRow, Signal, Votes
from engine.scoreboard import Scoreboard
from engine.vote import EnsembleVoter, MemberInput, soft_vote

SYMS = ("A", "B", "C")


def signal(name, values, cycle=7):
    return Signal(source=name, cycle=cycle, family="ensemble", symbols=SYMS, values=tuple(values), horizon=4)


def member(name, values, state=ModelState.RUNNING, cycle=7, trained=3):
    return MemberInput(name=name, state=str(state), signal=signal(name, values, cycle) if values else None,
                       trained_at_cycle=trained)


def row(name, weight, scored=80, hit=0.6, base=0.55):
    return ScoreboardRow(source=name, family="ensemble", scored=scored, window=500, hit_rate=hit,
                         baseline_hit_rate=base, always_up_hit_rate=0.45, brier=0.2, baseline_brier=0.25,
                         weight=weight)


def vote(members, scores):
    voter = EnsembleVoter(horizon=4)
    return voter, voter.vote(cycle=7, ts=123, symbols=SYMS, members=members, scores=scores)


def test_weights_are_applied_per_symbol():
    _, v = vote([member("a", [0.9, 0.2, 0.6]), member("b", [0.5, 0.6, 0.4])],
                {"a": row("a", 0.3), "b": row("b", 0.1)})
    assert isinstance(v, Votes) and v.symbols == SYMS and v.horizon == 4 and v.cycle == 7
    assert v.final == pytest.approx(((0.3 * 0.9 + 0.1 * 0.5) / 0.4, (0.3 * 0.2 + 0.1 * 0.6) / 0.4,
                                     (0.3 * 0.6 + 0.1 * 0.4) / 0.4))
    assert [m.weight for m in v.members] == pytest.approx([0.75, 0.25])
    assert v.agreement == pytest.approx((1.0, 0.75, 0.75))


def test_paused_faulted_and_stale_members_leave_the_vote():
    members = [member("run", [0.8, 0.8, 0.8]),
               member("paused", None, state=ModelState.PAUSED),
               member("faulted", None, state=ModelState.FAULTED),
               member("loading", [0.0, 0.0, 0.0], state=ModelState.LOADING),
               member("stale", [0.0, 0.0, 0.0], cycle=6)]
    scores = {m.name: row(m.name, 0.5) for m in members}
    _, v = vote(members, scores)
    assert v.final == pytest.approx((0.8, 0.8, 0.8)) and v.agreement == pytest.approx((1.0, 1.0, 1.0))
    by_name = {m.name: m for m in v.members}
    assert by_name["run"].weight == 1.0
    assert all(by_name[n].weight == 0.0 for n in ("paused", "faulted", "loading", "stale"))
    assert by_name["paused"].state == "paused" and by_name["faulted"].state == "faulted"
    assert all(math.isnan(p) for p in by_name["paused"].probs)


def test_agreement_is_the_weighted_share_on_the_final_side():
    members = [member("a", [0.7, 0.7, 0.5]), member("b", [0.6, 0.3, 0.5]), member("c", [0.2, 0.4, 0.5])]
    _, v = vote(members, {n: row(n, 0.1) for n in "abc"})
    final = np.array(v.final)
    assert final == pytest.approx([0.5, 1.4 / 3, 0.5])
    assert v.agreement == pytest.approx([2 / 3, 2 / 3, 1.0])  # 0.5 counts as "up"


def test_a_zero_weight_member_has_no_say():
    _, v = vote([member("good", [0.7, 0.7, 0.7]), member("broken", [0.0, 0.0, 0.0])],
                {"good": row("good", 0.2), "broken": row("broken", 0.0)})
    assert v.final == pytest.approx((0.7, 0.7, 0.7))
    assert [m.weight for m in v.members] == [1.0, 0.0]


def test_all_zero_weights_fall_back_to_equal_weights():
    voter, v = vote([member("a", [0.9, 0.1, 0.6]), member("b", [0.5, 0.3, 0.8]), member("off", None, ModelState.PAUSED)],
                    {"a": row("a", 0.0), "b": row("b", 0.0)})
    assert voter.last_fallback
    assert v.final == pytest.approx((0.7, 0.2, 0.7))
    assert [m.weight for m in v.members] == [0.5, 0.5, 0.0]
    _, v = vote([member("a", [0.9, 0.1, 0.6])], {"a": row("a", 0.3)})
    assert v.final == pytest.approx((0.9, 0.1, 0.6))


def test_a_symbol_nobody_scored_is_nan():
    _, v = vote([member("a", [0.9, float("nan"), 0.6]), member("b", [0.5, float("nan"), float("nan")])],
                {"a": row("a", 0.1), "b": row("b", 0.3)})
    assert v.final[0] == pytest.approx(0.6) and math.isnan(v.final[1]) and v.final[2] == pytest.approx(0.6)
    assert math.isnan(v.agreement[1]) and v.agreement[2] == 1.0
    _, empty = vote([member("p", None, ModelState.PAUSED)], {})
    assert all(math.isnan(x) for x in empty.final + empty.agreement)


def test_member_rows_carry_live_record_and_training_age():
    _, v = vote([member("a", [0.6, 0.6, 0.6], trained=42), member("new", [0.4, 0.4, 0.4])],
                {"a": row("a", 0.2, scored=77, hit=0.58, base=0.52)})
    a, new = v.members
    assert (a.live_hit_rate, a.live_baseline_hit_rate, a.scored, a.trained_at_cycle) == (0.58, 0.52, 77, 42)
    assert new.live_hit_rate is None and new.scored == 0 and new.weight == 0.0  # unscored, no prior: no say


def test_soft_vote_over_many_symbols_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    probs = rng.random((16, 500))
    probs[3, :100] = np.nan
    weights = rng.random(16)
    voting = np.ones(16, dtype=bool)
    voting[5] = False
    out = soft_vote(probs, weights, voting)
    assert out.final.shape == out.agreement.shape == (500,) and not out.fallback
    assert out.shares.sum() == pytest.approx(1.0) and out.shares[5] == 0.0
    for s in (0, 99, 100, 499):
        w = [(weights[m], probs[m, s]) for m in range(16) if voting[m] and not math.isnan(probs[m, s])]
        final = sum(wi * p for wi, p in w) / sum(wi for wi, _ in w)
        agree = sum(wi for wi, p in w if (p >= 0.5) == (final >= 0.5)) / sum(wi for wi, _ in w)
        assert out.final[s] == pytest.approx(final) and out.agreement[s] == pytest.approx(agree)


def test_scoreboard_weights_feed_the_vote():
    sb = Scoreboard(SYMS, horizon=1, cost_bps=0.0, min_scored=3)
    sb.register("sharp", "ensemble")
    sb.register("dull", "ensemble")
    sb.observe(6, np.array([100.0, 100.0, 100.0]))
    sb.record("sharp", "ensemble", 6, SYMS, np.array([0.9, 0.1, 0.9]))
    sb.record("dull", "ensemble", 6, SYMS, np.array([0.1, 0.9, 0.1]))
    sb.observe(7, np.array([101.0, 99.0, 102.0]))
    scores = {r.source: r for r in sb.rows()}
    _, v = vote([member("sharp", [0.8, 0.8, 0.8]), member("dull", [0.2, 0.2, 0.2])], scores)
    assert scores["sharp"].weight > 0.5 and scores["dull"].weight == 0.0
    assert v.final == pytest.approx((0.8, 0.8, 0.8))


def test_signal_on_another_watchlist_is_an_error():
    bad = MemberInput(name="x", state="running",
                      signal=Signal(source="x", cycle=7, family="ensemble", symbols=("A",), values=(0.5,), horizon=4))
    with pytest.raises(ValueError, match="watchlist"):
        vote([bad], {})
