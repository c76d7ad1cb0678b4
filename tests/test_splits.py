"""Purged, embargoed walk-forward splits: hand-checked indices and invariants."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.errors import ConfigError, DataError
from engine.evaluation.splits import default_test_bars, holdout_split, walk_forward_splits


def test_purge_removes_exactly_the_labels_that_overlap_the_test_span() -> None:
    # 20 bars, 2 folds of 4 test bars: tests [12, 16) and [16, 20); labels span [t, t+2].
    folds = walk_forward_splits(20, n_folds=2, test_bars=4, horizon=2)
    assert folds[0].test.tolist() == [12, 13, 14, 15]
    assert folds[1].test.tolist() == [16, 17, 18, 19]
    # Bar 10's label window [10, 12] touches bar 12, bar 11's [11, 13] too; bar 9's [9, 11] does not.
    assert folds[0].train.tolist() == list(range(0, 10))
    assert folds[1].train.tolist() == list(range(0, 14))
    for f in folds:
        a, b = f.test_start, f.test_stop
        before = set(range(a))
        overlapping = {t for t in before if set(range(t, t + 2 + 1)) & set(range(a, b))}
        assert overlapping == {a - 2, a - 1}
        assert set(f.train.tolist()) == before - overlapping


def test_embargo_removes_exactly_embargo_bars_more_before_each_test_span() -> None:
    folds = walk_forward_splits(20, n_folds=2, test_bars=4, horizon=2, embargo_bars=3)
    assert folds[0].train.tolist() == list(range(0, 7))  # 10, 11 purged; 7, 8, 9 embargoed
    assert folds[1].train.tolist() == list(range(0, 11))  # 14, 15 purged; 11, 12, 13 embargoed
    no_embargo = walk_forward_splits(20, n_folds=2, test_bars=4, horizon=2)
    for with_e, without in zip(folds, no_embargo):
        removed = sorted(set(without.train.tolist()) - set(with_e.train.tolist()))
        assert removed == list(range(with_e.test_start - 2 - 3, with_e.test_start - 2))


def test_later_folds_train_on_earlier_test_spans() -> None:
    folds = walk_forward_splits(40, n_folds=2, test_bars=10, horizon=1, embargo_bars=2)
    assert folds[1].test_start == 30
    assert set(range(20, 27)) <= set(folds[1].train.tolist())  # fold 0's test bars, clear of purge + embargo
    assert folds[1].train.max() == 30 - 1 - 2 - 1


def test_rolling_window_keeps_train_bars_ending_at_the_purge() -> None:
    folds = walk_forward_splits(20, n_folds=2, test_bars=4, train_bars=5, horizon=2, embargo_bars=1)
    assert folds[0].train.tolist() == [4, 5, 6, 7, 8]
    assert folds[1].train.tolist() == [8, 9, 10, 11, 12]


@pytest.mark.parametrize("n_bars,n_folds,test_bars,train_bars,horizon,embargo", [
    (100, 3, 10, None, 0, 0), (100, 5, 7, 30, 4, 0), (250, 4, None, 60, 8, 5), (250, 6, None, None, 3, 10),
    (57, 2, 9, 1, 1, 1),
])
def test_invariants(n_bars: int, n_folds: int, test_bars: int | None, train_bars: int | None, horizon: int,
                    embargo: int) -> None:
    folds = walk_forward_splits(n_bars, n_folds=n_folds, test_bars=test_bars, train_bars=train_bars,
                                horizon=horizon, embargo_bars=embargo)
    assert len(folds) == n_folds
    assert folds[-1].test_stop == n_bars
    for f in folds:
        assert np.all(np.diff(f.test) == 1)  # contiguous
        assert np.all(np.diff(f.train) == 1)
        assert len(f.train) >= 1
        # train strictly before test, and no label window [t, t+h] reaches the test span or its embargo
        assert f.train.max() + horizon < f.test_start - embargo
        assert f.train.max() == f.test_start - horizon - embargo - 1
        if train_bars is not None:
            assert len(f.train) <= train_bars
    for earlier, later in itertools.pairwise(folds):
        assert earlier.test_stop == later.test_start  # in time order, tiling, never overlapping
        assert len(earlier.test) == len(later.test)


def test_default_test_bars_uses_every_bar() -> None:
    assert default_test_bars(100, n_folds=4, train_bars=None) == 20
    assert default_test_bars(100, n_folds=4, train_bars=30, horizon=4, embargo_bars=6) == 15
    folds = walk_forward_splits(100, n_folds=4, train_bars=30, horizon=4, embargo_bars=6)
    assert len(folds[0].train) == 30 and folds[0].train[0] == 0


def test_split_arrays_are_read_only() -> None:
    f = walk_forward_splits(20, n_folds=2, test_bars=4)[0]
    with pytest.raises(ValueError):
        f.train[0] = 5


def test_too_little_data_names_what_is_needed() -> None:
    with pytest.raises(DataError, match="too few") as err:
        walk_forward_splits(20, n_folds=4, test_bars=4, horizon=2, embargo_bars=2)
    assert "need at least" in str(err.value)
    with pytest.raises(DataError):
        walk_forward_splits(10, n_folds=20)


@pytest.mark.parametrize("kwargs", [dict(n_folds=0), dict(n_folds=2, horizon=-1), dict(n_folds=2, test_bars=0),
                                    dict(n_folds=2, embargo_bars=1.5), dict(n_folds=True)])
def test_bad_parameters_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        walk_forward_splits(100, **kwargs)


def test_holdout_split() -> None:
    h = holdout_split(30, holdout_bars=6, horizon=3, embargo_bars=2)
    assert h.test.tolist() == list(range(24, 30))
    assert h.train.tolist() == list(range(0, 19))  # 24 - 3 - 2
    # development folds then run on the bars before the hold-out only
    dev = walk_forward_splits(h.test_start, n_folds=2, test_bars=5, horizon=3)
    assert dev[-1].test_stop == 24
    assert holdout_split(30, holdout_bars=6, train_bars=4).train.tolist() == [20, 21, 22, 23]
    with pytest.raises(DataError):
        holdout_split(10, holdout_bars=8, horizon=2)
