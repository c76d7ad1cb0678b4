"""Purged, embargoed walk-forward splits over a time axis of bars.

Every split trains strictly on the past of its test span. Bar indices are
positions on the shared time grid of a `CandlePanel`, so all symbols share
the fold boundaries.

The exact rules, for a test span of bars [a, b):

- **Purge.** Bar t's label spans bars [t, t + horizon] (it compares close[t]
  with close[t + horizon]). A training bar is dropped when that closed window
  reaches the test span: t + horizon >= a. So the last training bar is
  a - horizon - 1 and no training label uses a price from the test span.
- **Embargo.** A further `embargo_bars` bars before the test span are
  dropped: training bars are t < a - horizon - embargo_bars. It makes the
  model as stale as a deployed one (the cockpit retrains on a schedule, so a
  live model was trained some bars ago) and covers serial dependence that the
  exact label window does not. The classic embargo *after* a test span
  (dropping the bars that follow it from training) is not applied: it guards
  a model evaluated on that span against training rows that come after it,
  and in walk-forward no model is ever trained on anything after its own
  test span, so it would only throw data away. Earlier folds' test spans are
  the past of later folds and may be trained on.
- **Window.** Training bars are [max(0, e - train_bars), e) with
  e = a - horizon - embargo_bars; `train_bars=None` means expanding: [0, e).
- **Test spans** tile the end of the axis back to back: fold k (0-based) of
  n tests [T - (n - k)·test_bars, T - (n - k - 1)·test_bars). They are in time
  order and never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import ConfigError, DataError


@dataclass(frozen=True, slots=True)
class Split:
    """One fold: sorted bar indices to train on, and the contiguous span to test."""

    train: np.ndarray  # int64, sorted
    test: np.ndarray  # int64, contiguous, sorted

    def __post_init__(self) -> None:
        for name in ("train", "test"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def test_start(self) -> int:
        return int(self.test[0])

    @property
    def test_stop(self) -> int:
        """One past the last test bar."""
        return int(self.test[-1]) + 1


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _train_span(test_start: int, train_bars: int | None, horizon: int, embargo_bars: int) -> np.ndarray:
    end = test_start - horizon - embargo_bars
    start = 0 if train_bars is None else max(0, end - train_bars)
    return np.arange(start, max(end, 0), dtype=np.int64)


def default_test_bars(n_bars: int, *, n_folds: int, train_bars: int | None, horizon: int = 0,
                      embargo_bars: int = 0) -> int:
    """Test bars per fold when none is given: use every bar.

    Rolling (`train_bars` given): the first fold gets exactly `train_bars`
    training bars and the folds share the rest. Expanding: the axis is cut in
    n_folds + 1 equal parts and the first part (minus purge and embargo) is
    the first fold's training set.
    """
    if train_bars is None:
        return n_bars // (n_folds + 1)
    return (n_bars - train_bars - horizon - embargo_bars) // n_folds


def walk_forward_splits(n_bars: int, *, n_folds: int, test_bars: int | None = None,
                        train_bars: int | None = None, horizon: int = 0, embargo_bars: int = 0,
                        min_train_bars: int = 1) -> list[Split]:
    """`n_folds` walk-forward splits over bars 0..n_bars-1 (rules in the module docstring).

    `test_bars=None` picks `default_test_bars`. Raises ConfigError for a bad
    parameter and DataError when `n_bars` is too short for the first fold to
    keep `min_train_bars` training bars.
    """
    n_bars = _check_int("n_bars", n_bars, 0)
    n_folds = _check_int("n_folds", n_folds, 1)
    horizon = _check_int("horizon", horizon, 0)
    embargo_bars = _check_int("embargo_bars", embargo_bars, 0)
    min_train_bars = _check_int("min_train_bars", min_train_bars, 1)
    if train_bars is not None:
        train_bars = _check_int("train_bars", train_bars, 1)
    if test_bars is None:
        test_bars = default_test_bars(n_bars, n_folds=n_folds, train_bars=train_bars, horizon=horizon,
                                      embargo_bars=embargo_bars)
        if test_bars < 1:
            raise DataError(f"{n_bars} bars are too few for {n_folds} walk-forward folds",
                            hint=_need(n_folds, 1, train_bars or min_train_bars, horizon, embargo_bars))
    test_bars = _check_int("test_bars", test_bars, 1)

    first_test = n_bars - n_folds * test_bars
    first_train = first_test - horizon - embargo_bars
    if train_bars is not None:
        first_train = min(first_train, train_bars)
    if first_train < min_train_bars:
        raise DataError(f"{n_bars} bars are too few for {n_folds} folds of {test_bars} test bars",
                        hint=_need(n_folds, test_bars, max(min_train_bars, 1), horizon, embargo_bars))

    splits = []
    for k in range(n_folds):
        a = first_test + k * test_bars
        splits.append(Split(train=_train_span(a, train_bars, horizon, embargo_bars),
                            test=np.arange(a, a + test_bars, dtype=np.int64)))
    return splits


def holdout_split(n_bars: int, *, holdout_bars: int, horizon: int = 0, embargo_bars: int = 0,
                  train_bars: int | None = None) -> Split:
    """The last `holdout_bars` bars as a final, untouched test span.

    Training (and any walk-forward model selection) happens on the bars before
    it, purged and embargoed by the same rules: run `walk_forward_splits` on
    `split.test_start` bars for development, then score the chosen model once
    on `split.test`.
    """
    n_bars = _check_int("n_bars", n_bars, 0)
    holdout_bars = _check_int("holdout_bars", holdout_bars, 1)
    horizon = _check_int("horizon", horizon, 0)
    embargo_bars = _check_int("embargo_bars", embargo_bars, 0)
    if train_bars is not None:
        train_bars = _check_int("train_bars", train_bars, 1)
    a = n_bars - holdout_bars
    train = _train_span(a, train_bars, horizon, embargo_bars)
    if len(train) == 0:
        raise DataError(f"{n_bars} bars leave nothing to train on before a hold-out of {holdout_bars}",
                        hint=_need(1, holdout_bars, 1, horizon, embargo_bars))
    return Split(train=train, test=np.arange(a, n_bars, dtype=np.int64))


def _need(n_folds: int, test_bars: int, train_bars: int, horizon: int, embargo_bars: int) -> str:
    need = n_folds * test_bars + train_bars + horizon + embargo_bars
    return (f"need at least {need} = {n_folds}×{test_bars} test + {train_bars} train + {horizon} purge + "
            f"{embargo_bars} embargo bars; use more data or fewer/shorter folds")
