"""De-duplication and the per-symbol sentiment that decays in market time."""

import math

import numpy as np
import pytest

from engine.sentiment.tracker import DecayingSentiment, Deduper, headline_key, normalise

HOUR = 3_600 * 10**9


def test_normalise_and_key_ignore_case_punctuation_and_publisher():
    assert normalise("Bitcoin  JUMPS 5%!  - Reuters") == "bitcoin jumps 5%"
    assert headline_key("Bitcoin jumps 5%") == headline_key("bitcoin jumps 5% | CoinDesk")
    assert headline_key("Bitcoin jumps 5%") != headline_key("Bitcoin jumps 6%")


def test_deduper_catches_reposts_and_stays_bounded():
    d = Deduper(capacity=3)
    assert not d.seen("Ether falls 3%")
    assert d.seen("ETHER falls 3%.")
    for i in range(5):
        d.seen(f"headline {i}")
    assert len(d) == 3 and d.duplicates == 1
    assert not d.seen("Ether falls 3%")  # evicted, so new again


def test_evidence_halves_every_half_life():
    t = DecayingSentiment(2, half_life_s=3_600, prior_weight=0.0)
    t.add(0, np.array([0]), np.array([0.8]), np.array([[True, False]]))
    v0, e0 = t.values(0)
    v1, e1 = t.values(HOUR)
    v2, e2 = t.values(2 * HOUR)
    assert e0[0] == pytest.approx(1.0) and e1[0] == pytest.approx(0.5) and e2[0] == pytest.approx(0.25)
    assert v0[0] == pytest.approx(0.8) and v2[0] == pytest.approx(0.8)  # k = 0: a pure weighted mean
    assert math.isnan(v0[1]) and e0[1] == 0.0


def test_prior_pulls_a_quiet_symbol_back_to_neutral():
    t = DecayingSentiment(1, half_life_s=3_600, prior_weight=1.0)
    t.add(0, np.array([0]), np.array([1.0]), np.array([[True]]))
    assert t.values(0)[0][0] == pytest.approx(0.5)  # 1 / (1 + 1)
    assert t.values(HOUR)[0][0] == pytest.approx(0.5 / 1.5)
    assert t.values(10 * HOUR)[0][0] < 0.001


def test_newer_news_outweighs_older_and_published_time_counts():
    t = DecayingSentiment(1, half_life_s=3_600, prior_weight=0.0)
    t.add(2 * HOUR, np.array([0, 2 * HOUR]), np.array([-1.0, 1.0]), np.array([[True], [True]]))
    value, evidence = t.values(2 * HOUR)
    assert evidence[0] == pytest.approx(1.25)
    assert value[0] == pytest.approx((1.0 - 0.25) / 1.25)


def test_future_stamps_count_as_fresh_and_time_never_runs_backwards():
    t = DecayingSentiment(1, half_life_s=3_600, prior_weight=0.0)
    t.add(HOUR, np.array([5 * HOUR]), np.array([0.5]), np.array([[True]]))
    assert t.values(HOUR)[1][0] == pytest.approx(1.0)
    t.add(0, np.array([0]), np.array([0.5]), np.array([[True]]))  # an earlier clock: the tracker stays at 1 h
    assert t.values(HOUR)[1][0] == pytest.approx(1.5)  # so the 0 h headline already weighs ½


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="half_life_s"):
        DecayingSentiment(1, half_life_s=0)
    with pytest.raises(ValueError, match="capacity"):
        Deduper(0)
