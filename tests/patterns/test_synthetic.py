"""The labelled generator: every class, deterministic, valid candles."""

from __future__ import annotations

import numpy as np
import pytest

from engine.patterns.synthetic import CLASSES, PATTERNS, generate


def test_every_class_is_produced_in_equal_numbers():
    data = generate(12, seed=1)
    assert len(CLASSES) == 10 and len(PATTERNS) == 9 and CLASSES[0] == "none"
    assert np.bincount(data.labels, minlength=10).tolist() == [12] * 10
    assert data.close.shape == (120, 64)
    assert len(set(data.labels[:20].tolist())) > 3  # shuffled, not sorted by class


def test_same_seed_same_windows_other_seed_other_windows():
    a, b, c = generate(5, seed=3), generate(5, seed=3), generate(5, seed=4)
    for name in ("open", "high", "low", "close", "labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.close, c.close)


def test_candles_are_consistent_and_varied():
    data = generate(30, seed=5)
    assert np.isfinite(data.close).all() and (data.low > 0).all()
    assert (data.high >= np.maximum(data.open, data.close)).all()
    assert (data.low <= np.minimum(data.open, data.close)).all()
    level = data.close.mean(axis=1)
    assert level.max() / level.min() > 100  # prices from cents to thousands
    move = np.log(data.high.max(axis=1) / data.low.min(axis=1))
    assert move.max() / move.min() > 4  # small and large patterns


def test_subset_of_classes_and_bad_names():
    data = generate(4, seed=0, classes=("none", "wedge"))
    assert set(data.labels.tolist()) == {0, CLASSES.index("wedge")}
    with pytest.raises(ValueError, match="unknown pattern class 'pennant'"):
        generate(2, seed=0, classes=("pennant",))


def test_images_and_take():
    data = generate(2, seed=0)
    img = data.images()
    assert img.shape == (20, 3, 64, 64)
    part = data.take(slice(0, 5))
    assert len(part) == 5 and part.labels.tolist() == data.labels[:5].tolist()
