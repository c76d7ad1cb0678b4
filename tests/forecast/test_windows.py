"""Inputs and normalisation never look ahead; the live ring matches the batch windows."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.panel import CandlePanel
from engine.errors import DataError
from engine.features import compute_features
from engine.forecast.windows import (
    INPUT_NAMES,
    FeatureRing,
    Normaliser,
    complete_windows,
    gather,
    input_rows,
    training_set,
)
from tests.forecast.helpers import noise_panel


def rows_of(panel: CandlePanel) -> np.ndarray:
    block = compute_features(panel)
    return input_rows(block.values, block.names)


def scrambled_after(panel: CandlePanel, t: int, seed: int = 5) -> CandlePanel:
    """The same panel with every bar after t replaced by different (valid) candles."""
    rng = np.random.default_rng(seed)
    factor = np.exp(rng.normal(0.0, 0.05, panel.close.shape))
    factor[:, : t + 1] = 1.0
    fields = {name: getattr(panel, name) * factor for name in ("open", "high", "low", "close")}
    volume = panel.volume.copy()
    volume[:, t + 1:] *= 7.0
    return CandlePanel(symbols=panel.symbols, timeframe=panel.timeframe, ts=panel.ts, volume=volume, **fields)


def test_ten_inputs_from_the_engine_features():
    rows = rows_of(noise_panel())
    assert rows.shape[-1] == len(INPUT_NAMES) == 10
    assert np.isfinite(rows[:, 100:]).all()  # after the warm-up every input is defined


def test_changing_bars_after_t_does_not_change_the_inputs_up_to_t():
    panel = noise_panel()
    t = 300
    before, after = rows_of(panel), rows_of(scrambled_after(panel, t))
    np.testing.assert_array_equal(before[:, : t + 1], after[:, : t + 1])
    assert not np.allclose(before[:, t + 1:], after[:, t + 1:], equal_nan=True)  # the change is real
    sym, end = np.arange(panel.n_symbols), np.full(panel.n_symbols, t)
    np.testing.assert_array_equal(gather(before, sym, end, 48), gather(after, sym, end, 48))


def test_normaliser_and_training_labels_ignore_the_validation_span():
    panel = noise_panel(n_bars=800)
    horizons = (1, 2, 3, 4)
    kw = dict(horizons=horizons, length=24, train_bars=800, holdout=0.25)
    block = compute_features(panel)
    a = training_set(block.values, block.names, panel.close, **kw)
    cut = 800 - 200  # the validation span starts here
    other = scrambled_after(panel, cut - 1)
    block2 = compute_features(other)
    b = training_set(block2.values, block2.names, other.close, **kw)
    np.testing.assert_array_equal(a.normaliser.mean, b.normaliser.mean)
    np.testing.assert_array_equal(a.normaliser.std, b.normaliser.std)
    np.testing.assert_array_equal(a.train[0], b.train[0])
    np.testing.assert_array_equal(a.train[1], b.train[1])
    assert a.train[1].max() < cut - max(horizons)  # purged: no training label reaches the validation span
    assert a.val[1].min() >= cut
    np.testing.assert_array_equal(a.targets[a.train], b.targets[b.train])


def test_normaliser_standardises_and_clips():
    rng = np.random.default_rng(0)
    rows = rng.normal(3.0, 2.0, (2, 500, 10))
    rows[0, 7] = np.nan
    norm = Normaliser.fit(rows)
    z = norm.apply(rows)
    assert z.dtype == np.float32
    assert np.isnan(z[0, 7]).all()
    assert abs(np.nanmean(z)) < 0.05 and abs(np.nanstd(z) - 1) < 0.05
    assert norm.apply(np.full((1, 10), 1e9)).max() == pytest.approx(5.0)


def test_complete_windows_skip_missing_rows():
    rows = np.ones((1, 10, 2))
    rows[0, 4, 1] = np.nan
    ok = complete_windows(rows, 3)[0]
    assert ok.tolist() == [False, False, True, True, False, False, False, True, True, True]


def test_missing_feature_is_a_data_error_naming_it():
    with pytest.raises(DataError, match="rvol_24"):
        input_rows(np.zeros((1, 3)), ("ret_1", "ret_3", "ret_12"))


def test_ring_follows_the_bars_and_marks_gaps():
    rows = np.arange(2 * 8 * 10, dtype=float).reshape(2, 8, 10)
    step = 60 * 10**9
    ring = FeatureRing(2, 3, step)
    ring.seed(rows[:, :4], ts=4 * step, rvol=np.ones(2), close=np.array([100.0, 10.0]))
    np.testing.assert_array_equal(ring.window(), rows[:, 1:4])
    assert ring.push(5 * step, rows[:, 4], np.ones(2), ret_1=np.log([1.01, 0.99]))
    np.testing.assert_array_equal(ring.window(), rows[:, 2:5])
    np.testing.assert_allclose(ring.close, [101.0, 9.9])
    assert not ring.push(5 * step, rows[:, 5], np.ones(2), ret_1=np.zeros(2))  # same bar again: ignored
    ring.push(7 * step, rows[:, 6], np.ones(2), ret_1=np.zeros(2))  # bar 6 never arrived
    window = ring.window()
    np.testing.assert_array_equal(window[:, 0], rows[:, 4])
    assert np.isnan(window[:, 1]).all()
    np.testing.assert_array_equal(window[:, 2], rows[:, 6])
    assert np.isnan(ring.close).all()  # the close chain broke at the gap
    ring.push(8 * step, rows[:, 7], np.ones(2), ret_1=np.zeros(2), close=np.array([5.0, 6.0]))
    np.testing.assert_array_equal(ring.close, [5.0, 6.0])
