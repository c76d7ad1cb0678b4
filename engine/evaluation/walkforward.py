"""Walk-forward evaluation of a probabilistic classifier on a candle panel.

`evaluate_classifier` is the engine-wide recipe: features once, labels
`forward_return(panel, horizon) > cost_bps/1e4`, purged and embargoed
walk-forward folds on the BAR axis (all symbols share the fold boundaries;
rows are (symbol, bar) pairs pooled over symbols), one fresh estimator per
fold fitted on that fold's training rows with finite features and known
labels, out-of-sample probabilities on its test rows, then metrics next to
baselines and a next-bar trading evaluation (`engine.evaluation.trading`)
next to buy-and-hold. Nothing reported is computed in-sample.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from engine.data.panel import CandlePanel
from engine.errors import ModelError
from engine.evaluation.metrics import (
    ClassificationMetrics,
    Reliability,
    TradingMetrics,
    base_rate,
    classification_metrics,
    reliability,
)
from engine.evaluation.splits import Split, walk_forward_splits
from engine.evaluation.trading import evaluate_signals
from engine.features import FeatureBlock, compute_features, forward_return

Metrics = Mapping[str, float | int | None]


@dataclass(frozen=True, slots=True)
class ModelReport:
    """One row of `cockpit report`: a model's out-of-sample metrics next to its baselines.

    Every model family produces these. `metrics` and each baseline are flat
    {name: number or None} (NaN and infinities become None: JSON has none);
    `error` is set (and the metrics empty) when the model failed to train or
    predict.
    """

    name: str
    family: str
    metrics: Metrics = field(default_factory=dict)
    baselines: Mapping[str, Metrics] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", str(self.family))
        object.__setattr__(self, "metrics", _clean(self.metrics))
        object.__setattr__(self, "baselines",
                           MappingProxyType({str(k): _clean(v) for k, v in self.baselines.items()}))
        object.__setattr__(self, "notes", tuple(self.notes))

    @classmethod
    def failed(cls, name: str, family: str, error: BaseException | str) -> "ModelReport":
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(name=name, family=family, error=text)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "family": self.family, "metrics": dict(self.metrics),
                               "baselines": {k: dict(v) for k, v in self.baselines.items()},
                               "notes": list(self.notes)}
        if self.error is not None:
            out["error"] = self.error
        return out


def _clean(metrics: Metrics) -> Mapping[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for key, value in metrics.items():
        if value is None or isinstance(value, (bool, np.bool_)):
            out[str(key)] = None if value is None else bool(value)
        elif isinstance(value, (int, np.integer)):
            out[str(key)] = int(value)
        elif isinstance(value, (float, np.floating)):
            out[str(key)] = float(value) if np.isfinite(value) else None
        else:
            raise TypeError(f"metric {key!r} must be a number or None, got {type(value).__name__}")
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class OutOfSample:
    """Per-fold out-of-sample predictions on the (S, T) grid; NaN where not predicted."""

    probabilities: np.ndarray  # the model's P(label = 1)
    base_rates: np.ndarray  # the training base rate of the fold, on its test rows
    fitted_folds: int
    notes: tuple[str, ...]


def _thin(n: int, cap: int | None, seed: int, fold: int) -> np.ndarray:
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, fold]).choice(n, cap, replace=False))


def out_of_sample(make_estimator: Callable[[], Any], X: np.ndarray, y: np.ndarray, splits: list[Split], *,
                  max_train_rows: int | None = None, seed: int = 0, min_train_rows: int = 10,
                  threads: int | None = 1) -> OutOfSample:
    """Fit a fresh estimator per split and predict its test bars.

    `X` is (S, T, F), `y` is (S, T) with 1/0 labels and NaN where unknown.
    A fold trains on rows (s, t), t in `split.train`, with finite features
    and a known label (thinned to `max_train_rows`, seeded, time order kept;
    the fold's baseline base rate uses all of them)
    and predicts rows t in `split.test` with finite features (labels not
    needed). A fold with under `min_train_rows` rows or one class is
    skipped with a note. An estimator error raises ModelError naming the fold;
    its warnings become notes (once each) instead of going to stderr. (They
    are caught with `warnings.catch_warnings`, which is process-wide: run
    evaluations from one thread at a time.)

    `threads` caps the native thread pools (OpenMP, BLAS) during fit and
    predict through threadpoolctl, also process-wide; None leaves them alone.
    Members declare one thread, and an uncapped OpenMP learner on a busy
    2-core machine spins: HistGradientBoosting ran ~60× slower in a test.
    """
    s_count, t_count = y.shape
    if X.shape[:2] != (s_count, t_count):
        raise ValueError(f"features {X.shape} do not match labels {y.shape}")
    finite = np.isfinite(X).all(axis=2)
    known = np.isfinite(y)
    prob = np.full((s_count, t_count), np.nan)
    base = np.full((s_count, t_count), np.nan)
    notes: list[str] = []
    warned: list[str] = []
    thinned: list[int] = []
    fitted = 0
    with _thread_cap(threads):
        for k, split in enumerate(splits):
            fitted += _fit_fold(k, split, make_estimator, X, y, finite, known, prob, base, notes, warned,
                                thinned, max_train_rows, seed, min_train_rows)
    if thinned:
        notes.append(f"training rows thinned to {max_train_rows} in {len(thinned)} fold(s) "
                     f"(from {min(thinned)}–{max(thinned)}; seeded, uniform over each window)")
    notes += [f"warning: {w}" for w in warned]
    return OutOfSample(probabilities=prob, base_rates=base, fitted_folds=fitted, notes=tuple(notes))


def _fit_fold(k: int, split: Split, make_estimator: Callable[[], Any], X: np.ndarray, y: np.ndarray,
              finite: np.ndarray, known: np.ndarray, prob: np.ndarray, base: np.ndarray, notes: list[str],
              warned: list[str], thinned: list[int], max_train_rows: int | None, seed: int,
              min_train_rows: int) -> int:
    """Fit fold `k`, write its test probabilities and base rate into `prob`/`base`; 1 if fitted, 0 if skipped."""
    sym, i = np.nonzero(finite[:, split.train] & known[:, split.train])
    bar = split.train[i]
    order = np.lexsort((sym, bar))  # time order, then symbol
    sym, bar = sym[order], bar[order]
    labels = y[sym, bar]
    if len(labels) < min_train_rows or np.unique(labels).size < 2:
        notes.append(f"fold {k} skipped: {len(labels)} training rows, {np.unique(labels).size} class(es)")
        return 0
    keep = _thin(len(labels), max_train_rows, seed, k)
    if len(keep) < len(labels):
        thinned.append(len(labels))
    te_sym, j = np.nonzero(finite[:, split.test])
    te_bar = split.test[j]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator = make_estimator()
            estimator.fit(X[sym[keep], bar[keep]], labels[keep].astype(np.int64))
            up = list(np.asarray(estimator.classes_).tolist()).index(1)
            if len(te_sym):
                prob[te_sym, te_bar] = np.asarray(estimator.predict_proba(X[te_sym, te_bar]))[:, up]
    except Exception as exc:  # noqa: BLE001 - any estimator failure is reported with its fold
        raise ModelError(f"fold {k}: {type(exc).__name__}: {exc}") from exc
    for w in caught:
        message = str(w.message).splitlines()
        text = f"{w.category.__name__}: {message[0] if message else ''}"
        if text not in warned:
            warned.append(text)
    base[:, split.test] = base_rate(labels)  # every row of the fold: the same baseline for every model
    return 1


def _thread_cap(threads: int | None) -> Any:
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(limits=threads)


def make_labels(panel: CandlePanel, horizon: int, cost_bps: float) -> np.ndarray:
    """1.0 where forward_return(panel, horizon) > cost_bps/1e4, 0.0 where not, NaN where unknown."""
    fwd = forward_return(panel, horizon)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(fwd), (fwd > cost_bps / 1e4).astype(np.float64), np.nan)


@dataclass(frozen=True, slots=True)
class ModelEvaluation:
    """Everything `evaluate_classifier` measured, all out-of-sample."""

    symbols: tuple[str, ...]
    splits: tuple[Split, ...]
    probabilities: np.ndarray  # (S, T), NaN outside the test spans or where unscoreable
    labels: np.ndarray  # (S, T), NaN where unknown
    classification: ClassificationMetrics  # on rows with a probability and a label
    majority: ClassificationMetrics  # training base rate as the probability (its class = the majority class)
    always_up: ClassificationMetrics  # p = 1 on the same rows
    reliability: Reliability
    trading: TradingMetrics
    buy_and_hold: TradingMetrics
    trading_bars: np.ndarray
    fitted_folds: int
    notes: tuple[str, ...] = ()

    def metrics(self) -> dict[str, float | int | None]:
        out = self.classification.to_dict()
        out["n_folds"] = self.fitted_folds
        out.update(self.trading.to_dict())
        return out

    def baselines(self) -> dict[str, dict[str, float | int | None]]:
        maj = self.majority.to_dict()
        up = self.always_up.to_dict()
        return {
            "majority": {k: maj[k] for k in ("hit_rate", "brier", "log_loss", "ece")},
            "always_up": {k: up[k] for k in ("hit_rate", "brier")},
            "buy_and_hold": self.buy_and_hold.to_dict(),
        }

    def to_model_report(self, name: str, family: str, notes: tuple[str, ...] = ()) -> ModelReport:
        return ModelReport(name=name, family=str(family), metrics=self.metrics(), baselines=self.baselines(),
                           notes=tuple(notes) + self.notes)

    def to_report(self, name: str, family: str) -> dict[str, Any]:
        """`{"name", "family", "metrics": {...}, "baselines": {"majority", "always_up", "buy_and_hold"}, "notes"}`."""
        return self.to_model_report(name, family).to_dict()


def evaluate_classifier(make_estimator: Callable[[], Any], panel: CandlePanel, *, horizon: int, cost_bps: float,
                        fee_bps: float, slippage_bps: float, n_folds: int, train_bars: int | None,
                        embargo_bars: int, threshold: float = 0.5, features: FeatureBlock | np.ndarray | None = None,
                        test_bars: int | None = None, max_train_rows: int | None = None, seed: int = 0,
                        n_bins: int = 10, threads: int | None = 1) -> ModelEvaluation:
    """Walk-forward out-of-sample evaluation of `make_estimator()` (a fresh sklearn-style classifier per fold).

    - features: `features` (a FeatureBlock or an (S, T, F) array for this
      panel) or `compute_features(panel)`; computed once for all folds.
    - labels: `make_labels(panel, horizon, cost_bps)`.
    - folds: `walk_forward_splits(T, n_folds, test_bars, train_bars, horizon,
      embargo_bars)`: purged by the label horizon, embargoed, train before test.
    - metrics on every test row with a probability and a label; baselines on
      the same rows: "majority" predicts the fold's TRAINING base rate (its
      class is the training majority), "always_up" predicts 1.
    - trading: long a symbol when p > threshold else flat, decided at the
      bar's close and filled at the next bar's open (see
      `engine.evaluation.trading`), equal-weight sleeves, fee and slippage per
      side on each change; buy-and-hold on the same bars.
    - max_train_rows, seed, threads: see `out_of_sample`.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if features is None:
        X = compute_features(panel).values
    else:
        X = features.values if isinstance(features, FeatureBlock) else np.asarray(features, dtype=np.float64)
    if X.ndim != 3 or X.shape[:2] != (panel.n_symbols, panel.n_bars):
        raise ValueError(f"features have shape {X.shape}, panel is {panel.n_symbols} symbols × {panel.n_bars} bars")
    y = make_labels(panel, horizon, cost_bps)
    splits = walk_forward_splits(panel.n_bars, n_folds=n_folds, test_bars=test_bars, train_bars=train_bars,
                                 horizon=horizon, embargo_bars=embargo_bars)
    oos = out_of_sample(make_estimator, X, y, splits, max_train_rows=max_train_rows, seed=seed, threads=threads)

    prob = oos.probabilities
    scored = np.isfinite(prob) & np.isfinite(y)
    y_s, p_s, b_s = y[scored], prob[scored], oos.base_rates[scored]
    notes = list(oos.notes)
    bad = (p_s < 0) | (p_s > 1)
    if bad.any():
        raise ModelError(f"{int(bad.sum())} predicted probabilities fall outside [0, 1]")
    unscored = int((np.isfinite(y) & np.isnan(prob))[:, splits[0].test_start:].sum())
    if unscored:
        notes.append(f"{unscored} labelled test rows had no prediction (non-finite features or skipped folds)")

    signal = np.where(np.isfinite(prob), (prob > threshold).astype(np.float64), 0.0)
    trade = evaluate_signals(signal, panel, start=splits[0].test_start, stop=splits[-1].test_stop,
                             fee_bps=fee_bps, slippage_bps=slippage_bps)
    prob.setflags(write=False)
    y.setflags(write=False)
    return ModelEvaluation(
        symbols=panel.symbols,
        splits=tuple(splits),
        probabilities=prob,
        labels=y,
        classification=classification_metrics(y_s, p_s, n_bins=n_bins),
        majority=classification_metrics(y_s, b_s, n_bins=n_bins),
        always_up=classification_metrics(y_s, np.ones_like(y_s), n_bins=n_bins),
        reliability=reliability(y_s, p_s, n_bins),
        trading=trade.strategy,
        buy_and_hold=trade.buy_and_hold,
        trading_bars=trade.bars,
        fitted_folds=oos.fitted_folds,
        notes=tuple(notes),
    )
