"""A logistic regression on the engine's features: the smallest real model.

It predicts, per symbol, the probability that the log return over the next
`horizon` bars beats the round-trip cost, and measures itself out-of-sample
on every fit (the last part of the training window, purged by `horizon`
bars so no training label overlaps a test bar) against the majority-class
baseline. That measurement, not a claim, is what the cockpit shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from engine.errors import NotReadyError
from engine.events import Event, Signal
from engine.models.protocol import Budget, FeatureBatch, Feedback, Family, History, ModelContext, Progress


@dataclass(frozen=True, slots=True)
class HoldoutScore:
    rows: int
    hit_rate: float
    base_hit_rate: float
    brier: float
    base_brier: float
    auc: float


def forward_labels(close: np.ndarray, horizon: int, cost: float) -> np.ndarray:
    """1.0 where log(close[t+h]/close[t]) > cost, 0.0 where not, NaN where unknown."""
    out = np.full(close.shape, np.nan)
    if close.shape[1] <= horizon:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        fwd = np.log(close[:, horizon:] / close[:, :-horizon])
    known = np.isfinite(fwd)
    out[:, :-horizon][known] = (fwd[known] > cost).astype(float)
    return out


class LogisticBaseline:
    """Standardised features → L2 logistic regression, refit walk-forward."""

    family = Family.ENSEMBLE

    def __init__(self, name: str = "logreg", *, horizon: int = 4, train_bars: int = 4000,
                 cost_bps: float = 20.0, C: float = 0.5, holdout: float = 0.2) -> None:
        self.name = name
        self.horizon = horizon
        self.train_bars = train_bars
        self.cost_bps = cost_bps
        self.C = C
        self.holdout = holdout
        self.budget = Budget(ram_mb=40.0, latency_ms=20.0, threads=1)
        self._seed = 0
        self.pipeline_: Any = None
        self.score_: HoldoutScore | None = None
        self.features_: tuple[str, ...] = ()

    def get_params(self) -> Mapping[str, Any]:
        return {"name": self.name, "horizon": self.horizon, "train_bars": self.train_bars,
                "cost_bps": self.cost_bps, "C": self.C, "holdout": self.holdout}

    @property
    def ready(self) -> bool:
        return self.pipeline_ is not None

    def warmup(self, ctx: ModelContext) -> None:
        self._seed = ctx.seed

    def _rows(self, history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, y, t) of every labelled, finite row in the last `train_bars` bars."""
        close = history.panel.close
        labels = forward_labels(close, self.horizon, self.cost_bps / 1e4)
        start = max(0, history.panel.n_bars - self.train_bars)
        X = history.features[:, start:, :]
        y = labels[:, start:]
        ok = np.isfinite(X).all(axis=2) & np.isfinite(y)
        t = np.broadcast_to(np.arange(start, history.panel.n_bars), y.shape)
        return X[ok], y[ok], t[ok]

    def _new_pipeline(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=500, random_state=self._seed))

    def fit(self, history: History) -> Iterator[Progress]:
        X, y, t = self._rows(history)
        if len(y) < 200 or len(np.unique(y)) < 2:
            raise ValueError(f"only {len(y)} labelled rows with {len(np.unique(y))} classes; need ≥200 and both")
        yield Progress(done=0, total=2, message=f"{len(y)} rows")
        cut = np.quantile(t, 1.0 - self.holdout)
        train = t < cut - self.horizon  # purge: no training label reaches into the test span
        test = t >= cut
        score = None
        if train.sum() >= 100 and test.sum() >= 50 and len(np.unique(y[train])) == 2:
            probe = self._new_pipeline().fit(X[train], y[train])
            score = _score(probe.predict_proba(X[test])[:, 1], y[test], base_rate=float(y[train].mean()))
        yield Progress(done=1, total=2, message="holdout scored")
        pipeline = self._new_pipeline().fit(X, y)
        self.pipeline_, self.score_, self.features_ = pipeline, score, history.names
        yield Progress(done=2, total=2, message="refit")

    def predict(self, batch: FeatureBatch) -> Sequence[Event]:
        pipeline = self.pipeline_
        if pipeline is None:
            raise NotReadyError(f"{self.name} has not been fitted")
        probs = np.full(len(batch.symbols), np.nan)
        if batch.valid.any():
            probs[batch.valid] = pipeline.predict_proba(batch.values[batch.valid])[:, 1]
        return (Signal(source=self.name, cycle=batch.cycle, ts=batch.ts, family=str(self.family),
                       symbols=batch.symbols, values=tuple(float(p) for p in probs), horizon=self.horizon),)

    def update(self, feedback: Feedback) -> None:
        """Nothing online: the scheduled walk-forward refit does the learning."""

    def describe(self) -> str:
        s = self.score_
        if s is None:
            return "holdout too small to score"
        return (f"holdout {s.rows} rows: hit {s.hit_rate:.1%} vs {s.base_hit_rate:.1%} majority · "
                f"Brier {s.brier:.4f} vs {s.base_brier:.4f} · AUC {s.auc:.3f}")

    def state_dict(self) -> Mapping[str, Any]:
        if self.pipeline_ is None:
            return {"params": dict(self.get_params()), "fitted": False}
        scaler, clf = self.pipeline_[0], self.pipeline_[-1]
        return {"params": dict(self.get_params()), "fitted": True, "features": list(self.features_),
                "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(), "var": scaler.var_.tolist(),
                "coef": clf.coef_.tolist(), "intercept": clf.intercept_.tolist(), "classes": clf.classes_.tolist(),
                "n_samples_seen": int(scaler.n_samples_seen_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        params = dict(state["params"])
        self.__init__(**params)  # type: ignore[misc]
        if not state.get("fitted"):
            return
        pipeline = self._new_pipeline()
        scaler, clf = pipeline[0], pipeline[-1]
        scaler.mean_ = np.asarray(state["mean"])
        scaler.scale_ = np.asarray(state["scale"])
        scaler.var_ = np.asarray(state["var"])
        scaler.n_samples_seen_ = state["n_samples_seen"]
        scaler.n_features_in_ = len(scaler.mean_)
        clf.coef_ = np.asarray(state["coef"])
        clf.intercept_ = np.asarray(state["intercept"])
        clf.classes_ = np.asarray(state["classes"])
        clf.n_features_in_ = clf.coef_.shape[1]
        self.features_ = tuple(state["features"])
        self.pipeline_ = pipeline


def _score(p: np.ndarray, y: np.ndarray, *, base_rate: float) -> HoldoutScore:
    from sklearn.metrics import roc_auc_score

    majority = 1.0 if base_rate >= 0.5 else 0.0
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return HoldoutScore(
        rows=len(y),
        hit_rate=float(((p >= 0.5) == (y == 1)).mean()),
        base_hit_rate=float((y == majority).mean()),
        brier=float(np.mean((p - y) ** 2)),
        base_brier=float(np.mean((base_rate - y) ** 2)),
        auc=auc,
    )
