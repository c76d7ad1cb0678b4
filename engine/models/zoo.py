"""The ensemble's members: heterogeneous, seeded, Pi-sized classifiers.

Each `MemberSpec` builds one scikit-learn-compatible estimator from a seed;
`tiny=True` builds a much smaller version of the same kind (tests). Linear and
distance-based models sit behind a StandardScaler. Nothing heavy is imported
at module level: a spec's `make` imports its library when called (in a
member's warm-up or fit), so `import engine.models.zoo` stays cheap.

Budgets were measured on the 2-core x86 CI machine, one member per fresh
process, default window on the embedded data (see `engine.bench_ensemble`):
`latency_ms` is one predict for 500 symbols (median 0.3-73 ms here),
`ram_mb` the resident memory a fitted member adds including its library
(2-17 MB here); both carry ~2-3x headroom for a Raspberry Pi 5.

`max_rows` caps the training rows of the slow learners (see `SklearnMember`):
a 500-symbol watchlist × 4000 bars is 2M rows, which no member here should
see at once on a Pi. Exact-split trees (random forest, gradient boosting,
AdaBoost) are the slow fits: ~0.15 s per depth-3 tree on 15k rows here, so
they split on a feature subset and bootstrap half-size samples.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable

from engine.errors import ConfigError
from engine.models.protocol import Budget

Make = Callable[[int, bool], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberSpec:
    name: str
    make: Make
    """make(seed, tiny) -> an unfitted estimator with fit/predict_proba."""
    budget: Budget
    max_rows: int = 60_000
    """Training rows beyond this are thinned (seeded, uniform over the window)."""
    about: str = ""


def _scaled(estimator: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), estimator)


def _logreg(seed: int, tiny: bool) -> Any:
    from sklearn.linear_model import LogisticRegression

    return _scaled(LogisticRegression(C=0.5, max_iter=200 if tiny else 500, random_state=seed))


def _sgd_log(seed: int, tiny: bool) -> Any:
    from sklearn.linear_model import SGDClassifier

    return _scaled(SGDClassifier(loss="log_loss", alpha=1e-3, max_iter=200, tol=1e-3,
                                 average=True, random_state=seed))


def _linear_svc(seed: int, tiny: bool) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    svc = LinearSVC(C=0.05, max_iter=500 if tiny else 2000, random_state=seed)
    return _scaled(CalibratedClassifierCV(svc, method="sigmoid", cv=3))


def _lda(seed: int, tiny: bool) -> Any:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return _scaled(LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))


def _qda(seed: int, tiny: bool) -> Any:
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    return _scaled(QuadraticDiscriminantAnalysis(reg_param=0.2))


def _gaussian_nb(seed: int, tiny: bool) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB()


def _knn(seed: int, tiny: bool) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return _scaled(KNeighborsClassifier(n_neighbors=15 if tiny else 150, n_jobs=1))


def _mlp(seed: int, tiny: bool) -> Any:
    from sklearn.neural_network import MLPClassifier

    return _scaled(MLPClassifier(hidden_layer_sizes=(8,) if tiny else (32, 16), alpha=1e-3, batch_size=256,
                                 learning_rate_init=1e-2 if tiny else 1e-3, max_iter=30 if tiny else 60, early_stopping=True,
                                 n_iter_no_change=5, random_state=seed))


def _decision_tree(seed: int, tiny: bool) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=3 if tiny else 5, min_samples_leaf=20 if tiny else 200,
                                  random_state=seed)


def _random_forest(seed: int, tiny: bool) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=10 if tiny else 100, max_depth=4 if tiny else 8,
                                  min_samples_leaf=10 if tiny else 50, max_features="sqrt", max_samples=0.5,
                                  n_jobs=1, random_state=seed)


def _extra_trees(seed: int, tiny: bool) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=10 if tiny else 100, max_depth=4 if tiny else 10,
                                min_samples_leaf=10 if tiny else 50, max_features="sqrt", n_jobs=1,
                                random_state=seed)


def _gradient_boosting(seed: int, tiny: bool) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=10 if tiny else 60, max_depth=2 if tiny else 3,
                                      learning_rate=0.3 if tiny else 0.05, subsample=0.8, max_features=0.5, min_samples_leaf=50,
                                      random_state=seed)


def _hist_gradient_boosting(seed: int, tiny: bool) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=10 if tiny else 150, learning_rate=0.3 if tiny else 0.05,
                                          max_leaf_nodes=7 if tiny else 15, min_samples_leaf=50,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


def _adaboost(seed: int, tiny: bool) -> Any:
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    stump = DecisionTreeClassifier(max_depth=2, min_samples_leaf=50, max_features=0.5, random_state=seed)
    return AdaBoostClassifier(stump, n_estimators=10 if tiny else 40, learning_rate=0.3, random_state=seed)


def _lgbm(seed: int, *, leaves: int, trees: int, rate: float, min_child: int) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(n_estimators=trees, num_leaves=leaves, learning_rate=rate, min_child_samples=min_child,
                          subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
                          n_jobs=1, verbose=-1, random_state=seed)


def _lightgbm_small(seed: int, tiny: bool) -> Any:
    return _lgbm(seed, leaves=4 if tiny else 7, trees=10 if tiny else 120, rate=0.05, min_child=10 if tiny else 100)


def _lightgbm_deep(seed: int, tiny: bool) -> Any:
    return _lgbm(seed, leaves=8 if tiny else 63, trees=10 if tiny else 300, rate=0.1 if tiny else 0.02,
                 min_child=10 if tiny else 200)


def _spec(name: str, make: Make, ram_mb: float, latency_ms: float, max_rows: int, about: str) -> MemberSpec:
    return MemberSpec(name=name, make=make, budget=Budget(ram_mb=ram_mb, latency_ms=latency_ms, threads=1),
                      max_rows=max_rows, about=about)


ZOO: tuple[MemberSpec, ...] = (
    _spec("logreg", _logreg, 15, 10, 200_000, "L2 logistic regression on standardised features"),
    _spec("sgd_log", _sgd_log, 15, 10, 200_000, "averaged SGD, logistic loss"),
    _spec("linear_svc", _linear_svc, 25, 25, 100_000, "linear SVM, sigmoid-calibrated (3-fold)"),
    _spec("lda", _lda, 25, 10, 200_000, "linear discriminant, shrinkage"),
    _spec("qda", _qda, 25, 10, 200_000, "quadratic discriminant, regularised"),
    _spec("gaussian_nb", _gaussian_nb, 15, 10, 200_000, "Gaussian naive Bayes"),
    _spec("knn", _knn, 50, 250, 10_000, "150 nearest neighbours, standardised"),
    _spec("mlp", _mlp, 15, 10, 60_000, "MLP 32-16, early stopping"),
    _spec("decision_tree", _decision_tree, 15, 5, 200_000, "one shallow tree (depth 5)"),
    _spec("random_forest", _random_forest, 40, 100, 60_000, "100 trees, depth ≤ 8, half-size bootstraps"),
    _spec("extra_trees", _extra_trees, 50, 80, 60_000, "100 randomised trees, depth ≤ 10"),
    _spec("gradient_boosting", _gradient_boosting, 40, 10, 30_000, "60 depth-3 trees, subsample 0.8"),
    _spec("hist_gradient_boosting", _hist_gradient_boosting, 45, 30, 100_000, "150 histogram trees, 15 leaves"),
    _spec("adaboost", _adaboost, 40, 80, 40_000, "40 depth-2 trees, SAMME"),
    _spec("lightgbm_small", _lightgbm_small, 30, 25, 150_000, "LightGBM 120 trees × 7 leaves"),
    _spec("lightgbm_deep", _lightgbm_deep, 60, 100, 150_000, "LightGBM 300 trees × 63 leaves"),
)


def member_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in ZOO)


def get_spec(name: str) -> MemberSpec:
    """The zoo entry called `name`; ConfigError with a suggestion if there is none."""
    for spec in ZOO:
        if spec.name == name:
            return spec
    close = difflib.get_close_matches(name, member_names(), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"unknown ensemble member {name!r}", hint=hint + "members: " + ", ".join(member_names()))


def build_members(names: tuple[str, ...] | None = None, *, horizon: int, train_bars: int, cost_bps: float,
                  tiny: bool = False) -> list[Any]:
    """One `SklearnMember` per name (every zoo entry when `names` is None).

    Raises ConfigError naming an unknown or repeated member before building any.
    """
    from engine.models.member import SklearnMember  # member.py imports this module

    chosen = member_names() if names is None else tuple(names)
    if not chosen:
        raise ConfigError("no ensemble members asked for", hint="members: " + ", ".join(member_names()))
    for name in chosen:
        get_spec(name)
    repeated = sorted({n for n in chosen if chosen.count(n) > 1})
    if repeated:
        raise ConfigError(f"ensemble member(s) listed twice: {', '.join(repeated)}")
    return [SklearnMember(name, name, horizon=horizon, train_bars=train_bars, cost_bps=cost_bps, tiny=tiny)
            for name in chosen]
