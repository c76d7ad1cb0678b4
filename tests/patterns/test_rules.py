"""The geometric detectors find hand-made textbook patterns and stay quiet on noise."""

from __future__ import annotations

import numpy as np
import pytest

from engine.patterns.rules import detect, detect_batch, zigzag
from engine.patterns.synthetic import PATTERNS, generate
from tests.patterns.textbook import SHAPES, random_walk, textbook


@pytest.mark.parametrize("name", PATTERNS)
def test_textbook_example_is_found(name):
    assert name in SHAPES
    assert detect(*textbook(name)) == {name}


@pytest.mark.parametrize("name", PATTERNS)
def test_textbook_example_at_another_length_and_scale(name):
    assert name in detect(*textbook(name, n=80, level=0.02, height=0.003))


def test_random_walks_and_flat_lines_are_mostly_nothing():
    found = [detect(*random_walk(seed=s)) for s in range(20)]
    assert sum(bool(f) for f in found) <= 3
    flat = np.full(64, 7.0)
    assert detect(flat, flat, flat, flat) == set()


def test_batch_matches_single_windows_and_tolerates_missing_bars():
    rows = [textbook(name) for name in PATTERNS]
    o, h, l, c = (np.stack([r[k] for r in rows]) for k in range(4))
    batch = detect_batch(o, h, l, c)
    assert batch.shape == (9, 9) and batch[np.arange(9), np.arange(9)].all()
    c2 = c.copy()
    c2[:, 33] = np.nan
    assert detect_batch(o, h, l, c2)[np.arange(9), np.arange(9)].sum() >= 7
    assert not detect_batch(*(np.full((1, 64), np.nan) for _ in range(4))).any()


def test_zigzag_pivots_alternate():
    x = np.array([0.0, 0.5, 1.0, 0.5, 0.0, 0.5, 1.0, 0.9])[None, :]
    px, pv, pk, count = zigzag(x, x, 0.3)
    assert count[0] == 4
    assert pk[0, :4].tolist() == [-1, 1, -1, 1]
    assert px[0, :4].tolist() == [0, 2, 4, 6]


def test_rules_precision_on_synthetic_windows():
    """A measured floor (precision measured ≈ 0.7–0.98 per rule on 300 windows per class)."""
    data = generate(40, seed=11)
    found = detect_batch(data.open, data.high, data.low, data.close)
    for j, name in enumerate(PATTERNS):
        truth = data.labels == j + 1
        assert found[truth, j].mean() >= 0.2, name
    hits = found.any(axis=1)
    correct = found[np.arange(len(found)), np.maximum(data.labels - 1, 0)] & (data.labels > 0)
    assert correct.sum() / hits.sum() >= 0.6
