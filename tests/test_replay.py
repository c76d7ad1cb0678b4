"""ReplayFeed: exact history/replay split, order, drift-free pacing on a manual clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.clock import ManualClock, SystemClock
from engine.data.feed import Feed
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.errors import ConfigError

PANEL = synthetic_panel(3, 100, seed=5)  # 30m bars from 2020-01-01 00:00 UTC


def _drain(feed: ReplayFeed) -> list[int]:
    out = []
    while not feed.exhausted:
        bar = feed.next_bar(timeout=None)
        assert bar is not None
        out.append(bar.ts)
    return out


def test_is_a_feed() -> None:
    feed = ReplayFeed(PANEL, start=10, speed=0)
    assert isinstance(feed, Feed)
    assert (feed.symbols, feed.timeframe, feed.source, feed.synthetic) == (
        PANEL.symbols, "30m", PANEL.source, True)


@pytest.mark.parametrize("start", [0, 1, 37, 99])
def test_history_and_replay_split_exactly(start: int) -> None:
    feed = ReplayFeed(PANEL, start=start, speed=0, clock=ManualClock())
    history = feed.history()
    assert history.n_bars == start == feed.start_index
    assert np.array_equal(history.ts, PANEL.ts[:start])
    assert np.array_equal(history.close, PANEL.close[:, :start])
    replayed = _drain(feed)
    assert replayed == list(PANEL.ts[start:])  # in order, none skipped, none repeated
    assert feed.position == feed.total == 100 - start
    assert np.array_equal(feed.replayed().close, PANEL.close[:, start:])
    assert feed.next_bar(timeout=0) is None


def test_bars_carry_every_symbol() -> None:
    feed = ReplayFeed(PANEL, start=40, speed=0)
    bar = feed.next_bar()
    assert bar is not None and bar.ts == PANEL.ts[40]
    assert np.array_equal(bar.close, PANEL.close[:, 40])
    assert np.array_equal(bar.volume, PANEL.volume[:, 40])


@pytest.mark.parametrize("when", ["2020-01-01 12:00", "2020-01-01T11:45", "2020-01-01T13:00+01:00"])
def test_date_start_history_never_reaches_start(when: str) -> None:
    feed = ReplayFeed(PANEL, start=when, speed=0)
    start_ns = pd.Timestamp(when).tz_localize("UTC").value if pd.Timestamp(when).tzinfo is None \
        else pd.Timestamp(when).tz_convert("UTC").value
    history = feed.history()
    assert history.n_bars == 24  # the 12:00 bar is the first replayed one in all three spellings
    assert np.all(history.ts < start_ns)
    first = feed.next_bar()
    assert first is not None and first.ts >= start_ns and first.ts == PANEL.ts[24]


def test_default_start_is_70_percent() -> None:
    feed = ReplayFeed(PANEL, speed=0)
    assert feed.start_index == 70 and feed.history().n_bars == 70


@pytest.mark.parametrize("bad", [100, -1, "2030-01-01", "not a date", 2.5, True])
def test_bad_start_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError):
        ReplayFeed(PANEL, start=bad, speed=0)  # type: ignore[arg-type]


def test_bar_k_is_due_at_t0_plus_k_over_speed() -> None:
    clock = ManualClock(start=1000.0)
    feed = ReplayFeed(PANEL, start=90, speed=4.0, clock=clock)
    times = []
    for _ in range(10):
        assert feed.next_bar() is not None
        times.append(clock.monotonic())
    assert times == pytest.approx([1000.0 + k / 4.0 for k in range(10)])
    assert feed.exhausted and feed.next_bar() is None


def test_pacing_does_not_drift_when_the_consumer_is_slow() -> None:
    clock = ManualClock()
    feed = ReplayFeed(PANEL, start=0, speed=2.0, clock=clock)
    for k in range(20):
        assert feed.next_bar() is not None
        assert clock.monotonic() == pytest.approx(k / 2.0)
        clock.advance(0.3)  # processing each bar takes 0.3 s of the 0.5 s interval
    assert clock.monotonic() == pytest.approx(19 / 2.0 + 0.3)


def test_overdue_bars_come_at_once_then_pace_resumes() -> None:
    clock = ManualClock()
    feed = ReplayFeed(PANEL, start=0, speed=1.0, clock=clock)
    feed.next_bar()
    clock.advance(3.5)  # bars 1, 2, 3 are now overdue
    for _ in range(3):
        assert feed.next_bar(timeout=0) is not None
    assert feed.next_bar(timeout=0) is None  # bar 4 is due at 4.0
    assert feed.next_bar() is not None and clock.monotonic() == pytest.approx(4.0)


def test_timeout_returns_none_after_waiting_at_most_timeout() -> None:
    clock = ManualClock()
    feed = ReplayFeed(PANEL, start=0, speed=0.5, clock=clock)  # a bar every 2 s
    assert feed.next_bar(timeout=0.1) is not None  # bar 0 is due at once
    assert feed.next_bar(timeout=0.75) is None
    assert clock.monotonic() == pytest.approx(0.75)
    assert feed.next_bar(timeout=0) is None and clock.monotonic() == pytest.approx(0.75)
    assert feed.next_bar(timeout=5.0) is not None
    assert clock.monotonic() == pytest.approx(2.0)  # returned when due, not after the whole timeout
    assert feed.position == 2


def test_as_fast_as_possible_never_sleeps() -> None:
    clock = ManualClock()
    feed = ReplayFeed(PANEL, start=0, speed=0, clock=clock)
    assert len(_drain(feed)) == 100
    assert clock.sleeps == [] and clock.monotonic() == 0.0


def test_set_speed_rebases_the_schedule() -> None:
    clock = ManualClock()
    feed = ReplayFeed(PANEL, start=0, speed=0.1, clock=clock)  # a bar every 10 s
    feed.next_bar()
    clock.advance(1.0)
    feed.set_speed(10.0)  # next bar now due 0.1 s from now, not at 10 s
    assert feed.next_bar() is not None and clock.monotonic() == pytest.approx(1.1)
    assert feed.next_bar() is not None and clock.monotonic() == pytest.approx(1.2)
    feed.set_speed(0)
    assert feed.next_bar(timeout=0) is not None and clock.monotonic() == pytest.approx(1.2)
    feed.set_speed(1.0)
    assert feed.next_bar(timeout=0) is not None  # from max speed: next bar at once
    assert feed.next_bar() is not None and clock.monotonic() == pytest.approx(2.2)
    with pytest.raises(ConfigError):
        feed.set_speed(float("nan"))


def test_set_speed_drops_a_backlog() -> None:
    clock = ManualClock()
    feed = ReplayFeed(PANEL, start=0, speed=1.0, clock=clock)
    feed.next_bar()
    clock.advance(30.0)  # e.g. the engine was paused
    feed.set_speed(1.0)
    assert feed.next_bar(timeout=0) is not None
    assert feed.next_bar(timeout=0) is None


def test_status_line() -> None:
    clock = ManualClock()
    feed = ReplayFeed(PANEL, start=96, speed=4.0, clock=clock)
    assert feed.status() == "replay · 2020-01-02 23:30 UTC · 4.0 bars/s · bar 0/4"
    feed.next_bar()
    assert feed.status() == "replay · 2020-01-03 00:00 UTC · 4.0 bars/s · bar 1/4"
    feed.set_speed(0.25)
    assert "0.25 bars/s" in feed.status()
    feed.set_speed(0)
    _drain(feed)
    assert feed.status() == "replay · 2020-01-03 01:30 UTC · max speed · bar 4/4 · finished"


def test_close_stops_the_replay() -> None:
    feed = ReplayFeed(PANEL, start=50, speed=0)
    feed.close()
    assert feed.exhausted and feed.next_bar() is None and feed.status().endswith("closed")


def test_system_clock_paces_for_real() -> None:
    feed = ReplayFeed(PANEL, start=95, speed=50.0, clock=SystemClock())
    clock = SystemClock()
    t0 = clock.monotonic()
    assert len(_drain(feed)) == 5
    assert 0.07 <= clock.monotonic() - t0 < 1.0  # bars 1..4 at 20 ms intervals
