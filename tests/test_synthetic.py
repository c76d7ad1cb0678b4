"""Synthetic candles: deterministic, valid OHLC, clearly labelled."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.panel import FIELDS
from engine.data.synthetic import synthetic_panel


def test_same_seed_same_panel_other_seed_other_panel() -> None:
    a = synthetic_panel(7, 300, seed=3)
    b = synthetic_panel(7, 300, seed=3)
    c = synthetic_panel(7, 300, seed=4)
    for name in FIELDS:
        assert np.array_equal(a.field(name), b.field(name))
    assert np.array_equal(a.ts, b.ts)
    assert not np.array_equal(a.close, c.close)


def test_ohlc_valid_and_volume_positive() -> None:
    p = synthetic_panel(40, 2_000, seed=1)
    assert p.close.shape == (40, 2_000)
    for name in FIELDS:
        assert np.all(np.isfinite(p.field(name)))
    assert np.all(p.high >= np.maximum(p.open, p.close))
    assert np.all(p.low <= np.minimum(p.open, p.close))
    assert np.all(p.low > 0)
    assert np.all(p.volume > 0)
    assert np.array_equal(p.open[:, 1:], p.close[:, :-1])  # continuous bars


def test_symbols_have_their_own_volatility() -> None:
    p = synthetic_panel(30, 4_000, seed=2)
    vol = np.std(np.diff(np.log(p.close), axis=1), axis=1)
    assert vol.max() / vol.min() > 2.0
    assert len(np.unique(np.round(p.close[:, 0], 6))) == 30


def test_labels_grid_and_timeframe() -> None:
    p = synthetic_panel(3, 5, seed=9, timeframe="1h")
    assert p.symbols == ("SYN000/USD", "SYN001/USD", "SYN002/USD")
    assert p.synthetic is True
    assert p.source == "synthetic (seed 9) — not market data"
    assert p.timeframe == "1h"
    assert np.all(np.diff(p.ts) == 3600 * 10**9)
    assert p.ts[0] % (3600 * 10**9) == 0
    assert len(synthetic_panel(1200, 2).symbols[-1]) == len("SYN1199/USD")


def test_rejects_empty_shapes() -> None:
    with pytest.raises(ValueError):
        synthetic_panel(0, 10)
