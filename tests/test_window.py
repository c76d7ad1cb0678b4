"""RollingPanel: the newest bars, bounded, in order, and snapshots that later bars never change."""

import numpy as np
import pytest

from engine.data.synthetic import synthetic_panel
from engine.data.window import RollingPanel


@pytest.mark.parametrize("appended", [40, 57, 100])  # not yet wrapped, wrapped mid-span, wrapped exactly
def test_snapshot_and_last_closes_match_the_newest_bars(appended):
    panel = synthetic_panel(4, 120, seed=2)
    window = RollingPanel(panel.symbols, panel.timeframe, 50)
    for i in range(appended):
        window.append(panel.bar(i))
    assert len(window) == min(appended, 50)
    for n in (1, 17, 50, 80):
        snap = window.snapshot(n)
        k = min(n, appended, 50)
        ref = panel.slice(appended - k, appended)
        assert snap.n_bars == k and np.array_equal(snap.ts, ref.ts)
        for field in ("open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(snap, field), getattr(ref, field))
        ts, closes = window.last_closes(n)
        assert np.array_equal(ts, ref.ts) and np.array_equal(closes, ref.close)


def test_a_snapshot_is_a_read_only_copy_that_later_bars_do_not_touch():
    panel = synthetic_panel(3, 30, seed=5)
    window = RollingPanel(panel.symbols, panel.timeframe, 8)
    for i in range(10):
        window.append(panel.bar(i))
    snap = window.snapshot(8)
    before = snap.close.copy()
    for i in range(10, 30):
        window.append(panel.bar(i))
    assert np.array_equal(snap.close, before) and np.array_equal(snap.ts, panel.ts[2:10])
    assert not snap.close.flags.writeable and snap.close.flags.c_contiguous


def test_bars_must_arrive_in_time_order():
    panel = synthetic_panel(2, 5, seed=1)
    window = RollingPanel(panel.symbols, panel.timeframe, 4)
    window.append(panel.bar(1))
    with pytest.raises(ValueError, match="time order"):
        window.append(panel.bar(0))
