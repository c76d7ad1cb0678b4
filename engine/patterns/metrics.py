"""Plain numpy statistics for the pattern study: classification metrics and intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    name: str
    support: int
    predicted: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class Classification:
    classes: tuple[str, ...]
    confusion: np.ndarray  # (true, predicted) counts
    per_class: tuple[ClassMetrics, ...]
    accuracy: float
    macro_f1: float
    chance_accuracy: float

    def as_dict(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "chance_accuracy": self.chance_accuracy,
            "n": int(self.confusion.sum()),
            "per_class": {m.name: {"precision": m.precision, "recall": m.recall, "f1": m.f1,
                                   "support": m.support, "predicted": m.predicted} for m in self.per_class},
            "confusion": {"rows_true_cols_predicted": list(self.classes),
                          "matrix": self.confusion.astype(int).tolist()},
        }


def classify_report(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> Classification:
    """Confusion matrix, per-class precision/recall/F1, accuracy and macro-F1 (0 where undefined)."""
    k = len(classes)
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    present = support > 0
    n = int(confusion.sum())
    per_class = tuple(ClassMetrics(classes[i], int(support[i]), int(predicted[i]), float(precision[i]),
                                   float(recall[i]), float(f1[i])) for i in range(k))
    return Classification(
        classes=classes,
        confusion=confusion,
        per_class=per_class,
        accuracy=float(tp.sum() / n) if n else float("nan"),
        macro_f1=float(f1[present].mean()) if present.any() else float("nan"),
        chance_accuracy=float(support.max() / n) if n else float("nan"),
    )


@dataclass(frozen=True, slots=True)
class MeanCI:
    n: int
    mean: float
    lo: float
    hi: float
    t_lo: float
    t_hi: float

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "mean": self.mean, "ci95_bootstrap": [self.lo, self.hi], "ci95_t": [self.t_lo, self.t_hi]}


def mean_ci(x: np.ndarray, *, seed: int, resamples: int = 2000) -> MeanCI:
    """Mean with a 95 % percentile-bootstrap interval (seeded) and a t-interval. NaN when n < 2."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 2:
        m = float(x.mean()) if n else float("nan")
        return MeanCI(n, m, float("nan"), float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 256):  # bounded memory for large n
        stop = min(resamples, start + 256)
        means[start:stop] = x[rng.integers(0, n, (stop - start, n))].mean(axis=1)
    mean = float(x.mean())
    half = _t95(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return MeanCI(n, mean, float(lo), float(hi), mean - half, mean + half)


def diff_ci(x: np.ndarray, y: np.ndarray, *, seed: int, resamples: int = 2000) -> tuple[float, float, float]:
    """mean(x) - mean(y) with a 95 % bootstrap interval resampling both groups independently."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    for start in range(0, resamples, 256):
        stop = min(resamples, start + 256)
        mx = x[rng.integers(0, len(x), (stop - start, len(x)))].mean(axis=1)
        my = y[rng.integers(0, len(y), (stop - start, len(y)))].mean(axis=1) if len(y) <= 2_000 else \
            y.mean() + rng.standard_normal(stop - start) * y.std(ddof=1) / math.sqrt(len(y))
        diffs[start:stop] = mx - my
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(x.mean() - y.mean()), float(lo), float(hi)


def _t95(dof: int) -> float:
    """Two-sided 95 % Student-t quantile (Cornish-Fisher expansion; within 1 % for dof ≥ 5).

    Written out rather than imported: scipy.stats alone takes seconds to import on a Pi.
    """
    z = 1.959963984540054
    d = max(1, dof)
    return z + (z**3 + z) / (4 * d) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * d * d)
