"""The zoo: ≥12 heterogeneous seeded members, each fits tiny data, predicts
probabilities for a batch, is deterministic for a seed and round-trips its
checkpoint; unknown names get a did-you-mean ConfigError."""

import pickle

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.errors import ConfigError
from engine.models.member import SklearnMember
from engine.models.protocol import ModelContext
from engine.models.zoo import ZOO, build_members, get_spec, member_names
from tests.test_member import batch_from, planted_history

SCALED = ("logreg", "sgd_log", "linear_svc", "lda", "qda", "knn", "mlp")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    import lightgbm  # noqa: F401  (threadpoolctl reaches loaded libraries only)
    import sklearn.ensemble  # noqa: F401

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def history():
    return planted_history(n_symbols=3, n_bars=260, seed=4)


def fit(make, history, seed=3):
    member = SklearnMember(f"m.{make}", make, horizon=1, train_bars=1000, cost_bps=50.0, tiny=True)
    member.warmup(ModelContext(checkpoint_dir="", seed=seed))
    for _ in member.fit(history):
        pass
    return member


def probs(member, batch):
    (signal,) = member.predict(batch)
    return np.array(signal.values)


def test_the_zoo_is_large_and_heterogeneous():
    names = member_names()
    assert len(names) >= 12 and len(set(names)) == len(names)
    kinds = set()
    for spec in ZOO:
        est = spec.make(0, False)
        kinds.add(type(est[-1] if hasattr(est, "steps") else est).__name__)
        assert spec.budget.ram_mb > 0 and spec.budget.latency_ms > 0 and spec.budget.threads == 1
        assert spec.max_rows >= 10_000
    assert len(kinds) >= 12, kinds
    assert {"LGBMClassifier", "RandomForestClassifier", "MLPClassifier", "KNeighborsClassifier"} <= kinds


@pytest.mark.parametrize("make", SCALED)
def test_linear_and_distance_members_are_standardised(make):
    est = get_spec(make).make(0, True)
    assert type(est.steps[0][1]).__name__ == "StandardScaler"


def test_tiny_members_are_smaller():
    big, small = get_spec("random_forest").make(0, False), get_spec("random_forest").make(0, True)
    assert small.n_estimators <= 10 < big.n_estimators
    assert get_spec("lightgbm_deep").make(0, False).get_params()["n_jobs"] == 1


@pytest.mark.parametrize("make", member_names())
def test_member_fits_predicts_probabilities_deterministically_and_round_trips(make, history):
    batch = batch_from(history, t=-2, invalid=(2,))
    a, b = fit(make, history), fit(make, history)
    values = probs(a, batch)
    assert np.isnan(values[2]) and np.all((values[:2] >= 0.0) & (values[:2] <= 1.0))
    assert a.trained_rows > 200 and a.score_ is not None
    assert np.array_equal(values, probs(b, batch), equal_nan=True)
    state = pickle.loads(pickle.dumps(a.state_dict()))  # a checkpoint survives being written out
    restored = SklearnMember("other", "logreg")
    restored.load_state_dict(state)
    assert restored.name == f"m.{make}" and restored.make == make and restored.ready
    assert np.array_equal(probs(restored, batch), values, equal_nan=True)
    assert restored.score_ == a.score_ and restored.describe() == a.describe()


def test_unknown_member_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'random_forest'"):
        build_members(("logreg", "random_forrest"), horizon=4, train_bars=500, cost_bps=20.0)
    with pytest.raises(ConfigError, match="did you mean 'lightgbm_small'"):
        SklearnMember("x", "lightgbm_smal")
    with pytest.raises(ConfigError, match="listed twice: knn"):
        build_members(("knn", "knn"), horizon=4, train_bars=500, cost_bps=20.0)


def test_build_members_builds_the_whole_zoo_by_default():
    members = build_members(None, horizon=3, train_bars=700, cost_bps=15.0, tiny=True)
    assert [m.name for m in members] == list(member_names())
    assert all(m.horizon == 3 and m.train_bars == 700 and m.cost_bps == 15.0 and m.tiny for m in members)
    assert all(m.budget == get_spec(m.make).budget for m in members)
    (only,) = build_members(("knn",), horizon=3, train_bars=700, cost_bps=15.0)
    assert only.make == "knn" and not only.tiny


def test_bench_rows_compare_one_batch_with_a_per_symbol_loop():
    from engine.bench_ensemble import bench_ensemble

    rows = bench_ensemble(symbols=40, tiny=True, names=("logreg", "lightgbm_small"), train_bars=400, loop_symbols=8,
                          repeats=1)
    names = [r.name for r in rows]
    assert names == ["ensemble.train.logreg", "ensemble.train.lightgbm_small", "ensemble.train.total",
                     "ensemble.predict.logreg", "ensemble.predict.lightgbm_small", "ensemble.predict.total"]
    assert all(r.family == "ensemble" and r.rss_mb > 0 for r in rows)
    train, predict = rows[2], rows[5]
    assert train.unit == "rows" and train.seconds == pytest.approx(rows[0].seconds + rows[1].seconds)
    assert predict.symbols == 40 and predict.unit == "symbols"
    d = predict.as_dict()
    assert d["loop_scaled_from"] == 8 and d["loop_over_batch"] > 1.0
    assert d["loop_seconds"] == pytest.approx(rows[3].extra["loop_seconds"] + rows[4].extra["loop_seconds"])
