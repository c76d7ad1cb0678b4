"""One ensemble member: any scikit-learn-compatible classifier from the zoo.

It predicts, per symbol, the probability that the log return over the next
`horizon` bars beats the round-trip cost (`forward_return(panel, h) > cost`).
Every fit measures itself out-of-sample first: it trains a probe on the older
80 % of the window, purged by `horizon` bars so no training label reaches into
the test span, scores the newest 20 % against the majority class, and only
then refits on the whole window. The new estimator replaces the old one in
one assignment at the very end, so `predict` keeps answering with the old
one while a refit runs on another thread.

Row cap: a window of S symbols × `train_bars` bars gives up to S·train_bars
rows. Members that are slow in the number of rows (KNN's predict, gradient
boosting, the MLP…) declare `max_rows` in their zoo entry; beyond it the rows
are thinned by a seeded uniform sample over the whole window (time order
kept), so the fit still sees every regime of the window at a bounded cost.
The holdout is split by time before any thinning.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from engine.errors import ModelError, NotReadyError
from engine.events import Event, Signal
from engine.features import forward_return
from engine.models.logreg import HoldoutScore
from engine.models.protocol import FeatureBatch, Feedback, Family, History, ModelContext, Progress
from engine.models.zoo import get_spec

MIN_ROWS = 200
MIN_TRAIN_ROWS = 100
MIN_TEST_ROWS = 50


@dataclass(frozen=True, slots=True)
class _Fitted:
    """Everything predict needs, swapped in as one object."""

    estimator: Any
    features: tuple[str, ...]
    score: HoldoutScore | None
    rows: int
    up_column: int


class SklearnMember:
    """A zoo classifier on the engine's features, refit walk-forward."""

    family = Family.ENSEMBLE

    def __init__(self, name: str, make: str, *, horizon: int = 4, train_bars: int = 4000, cost_bps: float = 20.0,
                 holdout: float = 0.2, tiny: bool = False) -> None:
        self._spec = get_spec(make)
        self.name = name
        self.make = make
        self.horizon = horizon
        self.train_bars = train_bars
        self.cost_bps = cost_bps
        self.holdout = holdout
        self.tiny = tiny
        self.budget = self._spec.budget
        self.max_rows = self._spec.max_rows
        self._seed = 0
        self._fitted: _Fitted | None = None
        self._threadpools: Any = None  # threadpoolctl controller, made at the first predict

    def get_params(self) -> Mapping[str, Any]:
        return {"name": self.name, "make": self.make, "horizon": self.horizon, "train_bars": self.train_bars,
                "cost_bps": self.cost_bps, "holdout": self.holdout, "tiny": self.tiny}

    @property
    def ready(self) -> bool:
        return self._fitted is not None

    @property
    def score_(self) -> HoldoutScore | None:
        fitted = self._fitted
        return fitted.score if fitted is not None else None

    @property
    def trained_rows(self) -> int:
        """Rows the current estimator was fitted on (after any thinning); 0 before the first fit."""
        fitted = self._fitted
        return fitted.rows if fitted is not None else 0

    @property
    def holdout_skill(self) -> float | None:
        """Brier skill on the last holdout, max(0, 1 − brier/baseline); None if unscored."""
        s = self.score_
        if s is None or not s.base_brier > 0:
            return None
        return max(0.0, 1.0 - s.brier / s.base_brier)

    def warmup(self, ctx: ModelContext) -> None:
        self._seed = ctx.seed
        self._spec.make(self._seed, self.tiny)  # imports the estimator's library, off the UI's path

    # -- training -------------------------------------------------------------
    def _new(self) -> Any:
        return self._spec.make(self._seed, self.tiny)

    def _rows(self, history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(symbol, bar, label) of every labelled row with finite features in the last `train_bars` bars."""
        panel = history.panel
        if history.features.shape[:2] != (panel.n_symbols, panel.n_bars):
            raise ValueError(f"features have shape {history.features.shape}, panel is "
                             f"{panel.n_symbols} symbols × {panel.n_bars} bars")
        start = max(0, panel.n_bars - self.train_bars)
        fwd = forward_return(panel, self.horizon)[:, start:]
        ok = np.isfinite(fwd) & np.isfinite(history.features[:, start:, :]).all(axis=2)
        sym, bar = np.nonzero(ok)
        y = (fwd[sym, bar] > self.cost_bps / 1e4).astype(np.float64)
        return sym, bar + start, y

    def _thin(self, idx: np.ndarray, salt: int) -> np.ndarray:
        if len(idx) <= self.max_rows:
            return idx
        rng = np.random.default_rng([self._seed, salt])
        return np.sort(rng.choice(idx, self.max_rows, replace=False))

    def fit(self, history: History) -> Iterator[Progress]:
        sym, bar, y = self._rows(history)
        classes = len(np.unique(y))
        if len(y) < MIN_ROWS or classes < 2:
            raise ValueError(f"only {len(y)} labelled rows with {classes} class(es); need ≥{MIN_ROWS} and both")
        features = history.features
        thinned = " (thinned)" if len(y) > self.max_rows else ""
        yield Progress(done=1, total=3, message=f"{len(y)} rows{thinned}")

        train, test = holdout_split(bar, self.holdout, self.horizon)
        score = None
        if len(train) >= MIN_TRAIN_ROWS and len(test) >= MIN_TEST_ROWS and len(np.unique(y[train])) == 2:
            train, test = self._thin(train, 1), self._thin(test, 2)
            probe = self._new().fit(features[sym[train], bar[train]], y[train])
            p = _up_proba(probe, features[sym[test], bar[test]], _up_column(probe))
            score = score_holdout(p, y[test], base_rate=float(y[train].mean()))
        yield Progress(done=2, total=3, message="holdout scored" if score is not None else "holdout too small")

        rows = self._thin(np.arange(len(y)), 3)
        estimator = self._new().fit(features[sym[rows], bar[rows]], y[rows])
        self._fitted = _Fitted(estimator=estimator, features=tuple(history.names), score=score, rows=len(rows),
                               up_column=_up_column(estimator))

    # -- inference ------------------------------------------------------------
    def predict(self, batch: FeatureBatch) -> Sequence[Event]:
        fitted = self._fitted
        if fitted is None:
            raise NotReadyError(f"{self.name} has not been fitted")
        if tuple(batch.names) != fitted.features:
            raise ModelError(f"{self.name} was fitted on features {', '.join(fitted.features)}; "
                             f"the batch has {', '.join(batch.names)}")
        probs = np.full(len(batch.symbols), np.nan)
        valid = np.asarray(batch.valid, dtype=bool)
        if valid.any():
            with self._one_openmp_thread():
                probs[valid] = _up_proba(fitted.estimator, batch.values[valid], fitted.up_column)
        return (Signal(source=self.name, cycle=batch.cycle, ts=batch.ts, family=str(self.family),
                       symbols=batch.symbols, values=tuple(probs.tolist()), horizon=self.horizon),)

    def _one_openmp_thread(self) -> Any:
        """OpenMP (histogram boosting, KNN) at one thread on this thread only, while predicting.

        The engine's worker pool already runs two models at once; an OpenMP team
        per predict on top of that spins on a busy machine (measured under load:
        histogram boosting on 500 rows 4 ms at 1 thread, 3.5 s at 2). The limit
        is thread-local (omp_set_num_threads) and lifted on exit; fits keep the
        configured threads.
        """
        if self._threadpools is None:
            from threadpoolctl import ThreadpoolController

            self._threadpools = ThreadpoolController()
        return self._threadpools.limit(limits=1, user_api="openmp")

    def update(self, feedback: Feedback) -> None:
        """Nothing online: the scheduled walk-forward refit does the learning."""

    def describe(self) -> str:
        fitted = self._fitted
        if fitted is None:
            return "not fitted"
        s = fitted.score
        if s is None:
            return f"holdout too small to score · trained on {fitted.rows} rows"
        return (f"holdout {s.rows} rows: hit {s.hit_rate:.1%} vs {s.base_hit_rate:.1%} majority · "
                f"Brier {s.brier:.4f} vs {s.base_brier:.4f} · AUC {s.auc:.3f} · trained on {fitted.rows} rows")

    # -- checkpoints ----------------------------------------------------------
    def state_dict(self) -> Mapping[str, Any]:
        """Params, holdout score and the fitted estimator.

        The estimator is stored as `pickle.dumps` bytes (scikit-learn's own
        persistence advice); a pickle runs code when loaded, so only load
        checkpoints this cockpit wrote. The library versions are recorded and
        checked on load, because a pickle is only safe across equal versions.
        """
        fitted = self._fitted
        state: dict[str, Any] = {"params": dict(self.get_params()), "seed": self._seed, "fitted": fitted is not None}
        if fitted is not None:
            libs = ("numpy", "sklearn", type(fitted.estimator).__module__.split(".")[0])
            state.update(format="pickle", versions=_versions(libs), estimator=pickle.dumps(fitted.estimator),
                         features=list(fitted.features), rows=fitted.rows, up_column=fitted.up_column,
                         score=asdict(fitted.score) if fitted.score else None)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.__init__(**dict(state["params"]))  # type: ignore[misc]
        self._seed = int(state.get("seed", 0))
        if not state.get("fitted"):
            return
        if state.get("format") != "pickle":
            raise ModelError(f"{self.name}: unknown checkpoint format {state.get('format')!r}")
        saved = dict(state.get("versions", {}))
        now = _versions(tuple(saved))
        if saved != now:
            diff = ", ".join(f"{k} {saved.get(k)} → {now.get(k)}" for k in sorted(set(saved) | set(now))
                             if saved.get(k) != now.get(k))
            raise ModelError(f"{self.name}: checkpoint was written with other library versions ({diff}); refit it")
        score = state.get("score")
        self._fitted = _Fitted(estimator=pickle.loads(state["estimator"]), features=tuple(state["features"]),
                               score=HoldoutScore(**score) if score else None, rows=int(state["rows"]),
                               up_column=int(state["up_column"]))


def holdout_split(bar: np.ndarray, holdout: float, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of (train, test): test is the newest `holdout` share of rows by bar; train
    ends `horizon` bars before it, so no training label (which looks `horizon` bars ahead)
    overlaps a test bar."""
    cut = np.quantile(bar, 1.0 - holdout)
    return np.flatnonzero(bar < cut - horizon), np.flatnonzero(bar >= cut)


def score_holdout(p: np.ndarray, y: np.ndarray, *, base_rate: float) -> HoldoutScore:
    """Hit rate, Brier and AUC of `p` on labels `y` next to the majority class / base rate of training."""
    from sklearn.metrics import roc_auc_score

    majority = 1.0 if base_rate >= 0.5 else 0.0
    return HoldoutScore(
        rows=len(y),
        hit_rate=float(((p >= 0.5) == (y == 1)).mean()),
        base_hit_rate=float((y == majority).mean()),
        brier=float(np.mean((p - y) ** 2)),
        base_brier=float(np.mean((base_rate - y) ** 2)),
        auc=float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan"),
    )


def _up_column(estimator: Any) -> int:
    classes = [float(c) for c in estimator.classes_]
    if 1.0 not in classes:
        raise ValueError(f"the estimator never saw the 'up' class (classes {classes})")
    return classes.index(1.0)


def _up_proba(estimator: Any, X: np.ndarray, column: int) -> np.ndarray:
    return np.clip(_predict_proba(estimator, X)[:, column], 0.0, 1.0)


def _predict_proba(estimator: Any, X: np.ndarray) -> np.ndarray:
    """`estimator.predict_proba(X)`; for a forest, the same sum over its trees done here.

    scikit-learn dispatches each tree through joblib, whose per-tree wrapper
    resets the process-wide warning filters; from two worker threads at once
    that races (spurious "delayed should be used with Parallel" warnings by
    the thousand) and costs ~3x the trees' own work for a 500-row batch. The
    trees are summed in the forest's order and divided once, as scikit-learn
    does, so the result is bit-identical.
    """
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    if not isinstance(estimator, (RandomForestClassifier, ExtraTreesClassifier)) or estimator.n_outputs_ != 1:
        return estimator.predict_proba(X)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    if X32.ndim != 2 or X32.shape[1] != estimator.n_features_in_:
        raise ValueError(f"expected {estimator.n_features_in_} features per row, got shape {X32.shape}")
    out = np.zeros((X32.shape[0], len(estimator.classes_)))
    for tree in estimator.estimators_:
        out += tree.predict_proba(X32, check_input=False)
    out /= len(estimator.estimators_)
    return out


def _versions(libs: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each library (a pickle is only safe across equal ones)."""
    import importlib

    return {lib: str(getattr(importlib.import_module(lib), "__version__", "?")) for lib in sorted(set(libs))}
