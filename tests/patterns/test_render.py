"""The candlestick renderer: shape, geometry, determinism, no lookahead, missing bars."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.synthetic import synthetic_panel
from engine.patterns.render import panel_windows, render_panel, render_windows


def test_one_candle_geometry():
    # two bars: a rising candle and a falling one, window range 10..20
    o = np.array([[12.0, 18.0]])
    h = np.array([[15.0, 20.0]])
    l = np.array([[10.0, 16.0]])
    c = np.array([[14.0, 17.0]])
    img = render_windows(o, h, l, c, height=11)  # one row per price unit, row 0 = price 20
    assert img.shape == (1, 3, 11, 2) and img.dtype == np.float32
    wick0 = np.flatnonzero(img[0, 0, :, 0])
    assert (wick0.min(), wick0.max()) == (20 - 15, 20 - 10)
    body0 = np.flatnonzero(img[0, 1, :, 0])  # rising body, channel 1
    assert (body0.min(), body0.max()) == (20 - 14, 20 - 12)
    assert not img[0, 2, :, 0].any()
    body1 = np.flatnonzero(img[0, 2, :, 1])  # falling body, channel 2
    assert (body1.min(), body1.max()) == (20 - 18, 20 - 17)
    assert not img[0, 1, :, 1].any()
    assert img[0, 0, 0, 1] == 1.0  # the window's high is the top row


def test_scale_and_level_drop_out():
    panel = synthetic_panel(3, 80, seed=1)
    o, h, l, c = panel_windows(panel, 79, window=64)
    a = render_windows(o, h, l, c)
    b = render_windows(o * 1000 + 0, h * 1000, l * 1000, c * 1000)
    np.testing.assert_array_equal(a, b)


def test_deterministic_and_batch_equals_rows():
    panel = synthetic_panel(6, 100, seed=3)
    o, h, l, c = panel_windows(panel, 99, window=64)
    batch = render_windows(o, h, l, c)
    np.testing.assert_array_equal(batch, render_windows(o, h, l, c))
    for i in range(6):
        np.testing.assert_array_equal(batch[i], render_windows(o[i:i + 1], h[i:i + 1], l[i:i + 1], c[i:i + 1])[0])


def test_no_lookahead():
    panel = synthetic_panel(4, 120, seed=5)
    t = 90
    before = render_panel(panel, t, window=64)
    changed = {name: getattr(panel, name).copy() for name in ("open", "high", "low", "close", "volume")}
    for name in ("open", "high", "low", "close"):
        changed[name][:, t + 1:] *= 3.0  # a wild future
    changed["high"][:, t + 1:] *= 2.0
    future = type(panel)(symbols=panel.symbols, timeframe=panel.timeframe, ts=panel.ts, **changed)
    np.testing.assert_array_equal(before, render_panel(future, t, window=64))
    assert not np.array_equal(render_panel(panel, t + 1, window=64), render_panel(future, t + 1, window=64))


def test_nan_bar_is_an_empty_column_and_the_rest_is_unchanged():
    panel = synthetic_panel(2, 70, seed=9)
    o, h, l, c = (a.copy() for a in panel_windows(panel, 69, window=64))
    base = render_windows(o, h, l, c)
    # a missing bar strictly inside the range does not move the normalisation
    j = 30
    hi_at, lo_at = np.nanargmax(h[0]), np.nanargmin(l[0])
    assert j not in (hi_at, lo_at)
    for a in (o, h, l, c):
        a[0, j] = np.nan
    img = render_windows(o, h, l, c)
    assert not img[0, :, :, j].any()
    np.testing.assert_array_equal(np.delete(img[0], j, axis=2), np.delete(base[0], j, axis=2))
    np.testing.assert_array_equal(img[1], base[1])


def test_window_before_the_panel_start_is_padded_empty_and_all_nan_is_blank():
    panel = synthetic_panel(2, 20, seed=2)
    o, h, l, c = panel_windows(panel, 9, window=64)
    assert np.isnan(c[:, :54]).all() and np.isfinite(c[:, 54:]).all()
    img = render_windows(o, h, l, c)
    assert not img[:, :, :, :54].any() and img[:, :, :, 54:].any()
    blank = render_windows(*(np.full((1, 64), np.nan) for _ in range(4)))
    assert not blank.any()


def test_flat_window_draws_on_one_row():
    x = np.full((1, 64), 5.0)
    img = render_windows(x, x, x, x, height=64)
    rows = np.flatnonzero(img[0, 0].any(axis=1))
    assert len(rows) == 1


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shape"):
        render_windows(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 3)))
    panel = synthetic_panel(2, 20, seed=2)
    with pytest.raises(IndexError):
        panel_windows(panel, 20)
