"""The ensemble members' predict path: forests summed tree by tree give scikit-learn's exact answer."""

import threading
import warnings

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from engine.models.member import _predict_proba


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
def test_forest_probabilities_are_bit_identical_to_scikit_learns(cls):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 6))
    y = (X[:, 0] + 0.5 * rng.normal(size=2000) > 0.2).astype(float)
    forest = cls(n_estimators=25, max_depth=6, n_jobs=1, random_state=0).fit(X, y)
    rows = rng.normal(size=(300, 6))
    assert np.array_equal(_predict_proba(forest, rows), forest.predict_proba(rows))
    with pytest.raises(ValueError, match="expected 6 features"):
        _predict_proba(forest, rows[:, :5])


def test_forest_predicts_leave_the_process_warning_filters_alone_while_another_thread_uses_them():
    """scikit-learn's per-tree joblib wrapper resets the global filters; next to a thread that
    enters `warnings.catch_warnings()` (the pattern renderer does, every cycle) filters got lost."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(500, 4)), rng.integers(0, 2, 500).astype(float)
    forest = RandomForestClassifier(n_estimators=20, n_jobs=1, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a known filter list to compare against
        before = list(warnings.filters)
        stop = threading.Event()

        def other_thread() -> None:
            while not stop.is_set():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)

        thread = threading.Thread(target=other_thread)
        thread.start()
        try:
            for _ in range(300):
                _predict_proba(forest, X[:50])
        finally:
            stop.set()
            thread.join()
        assert warnings.filters == before
