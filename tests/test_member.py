"""SklearnMember: rows and labels, the purged holdout, planted signal, atomic refit,
checkpoints, errors, and every tiny zoo member running through a ModelSlot."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.data.panel import CandlePanel
from engine.errors import ModelError, NotReadyError
from engine.events import ModelState, ModelStatus, Signal
from engine.models.member import SklearnMember, holdout_split
from engine.models.protocol import FeatureBatch, History, Model, ModelContext
from engine.models.zoo import member_names
from engine.slot import ModelSlot

NAMES = ("signal", "noise_a", "noise_b")
CTX = ModelContext(checkpoint_dir="", seed=11)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """As the engine does (engine.threads.cap_threads): OpenMP/BLAS pools oversubscribe a busy box.

    threadpoolctl only reaches libraries already loaded, hence the imports first."""
    import lightgbm  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    with threadpool_limits(limits=1):
        yield


def planted_history(n_symbols=4, n_bars=320, *, seed=0, strength=0.01, cost_bps=50.0, nan_rows=5, cycle=0):
    """Features where `signal` at bar t drives the return from t to t+1 (horizon 1).

    The label (return > cost) is ~35 % "up", so always "down" is the majority baseline.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_symbols, n_bars, len(NAMES)))
    step = np.zeros((n_symbols, n_bars))
    step[:, 1:] = strength * x[:, :-1, 0] + 0.35 * strength * rng.normal(size=(n_symbols, n_bars - 1))
    close = 100.0 * np.exp(np.cumsum(step, axis=1))
    x[0, rng.choice(n_bars, nan_rows, replace=False), 1] = np.nan
    ts = np.arange(n_bars, dtype=np.int64) * 1_800_000_000_000
    panel = CandlePanel(symbols=tuple(f"S{i}" for i in range(n_symbols)), timeframe="30m", ts=ts,
                        open=close, high=close * 1.001, low=close * 0.999, close=close,
                        volume=np.ones_like(close), synthetic=True)
    return History(panel=panel, features=x, names=NAMES, cycle=cycle)


def batch_from(history, t=-1, invalid=()):
    values = np.array(history.features[:, t, :])
    for i in invalid:
        values[i, 0] = np.nan
    return FeatureBatch(cycle=history.cycle + 1, ts=int(history.panel.ts[t]), symbols=history.panel.symbols,
                        names=history.names, values=values, valid=np.isfinite(values).all(axis=1))


def fitted(make="logreg", history=None, **kw):
    member = SklearnMember(make, make, horizon=1, train_bars=kw.pop("train_bars", 1000),
                           cost_bps=kw.pop("cost_bps", 50.0), tiny=True, **kw)
    member.warmup(CTX)
    for _ in member.fit(history if history is not None else planted_history()):
        pass
    return member


def probs(member, batch):
    (signal,) = member.predict(batch)
    return np.array(signal.values)


def test_member_implements_the_model_protocol():
    member = SklearnMember("rf", "random_forest", horizon=4, train_bars=500, cost_bps=20.0)
    assert isinstance(member, Model)
    assert member.family == "ensemble" and not member.ready
    assert member.get_params() == {"name": "rf", "make": "random_forest", "horizon": 4, "train_bars": 500,
                                   "cost_bps": 20.0, "holdout": 0.2, "tiny": False}
    assert member.budget.latency_ms > 0 and member.budget.ram_mb > 0


def test_predict_before_fit_is_not_ready():
    member = SklearnMember("lr", "logreg", horizon=1, train_bars=100, cost_bps=0.0)
    with pytest.raises(NotReadyError):
        member.predict(batch_from(planted_history()))


def test_holdout_split_purges_the_horizon():
    bar = np.repeat(np.arange(100), 3)
    train, test = holdout_split(bar, 0.2, 4)
    assert bar[test].min() == 80 and bar[test].max() == 99
    assert bar[train].max() + 4 < bar[test].min()  # a training label at t looks at t+4
    assert len(np.intersect1d(train, test)) == 0


@pytest.mark.parametrize("make", member_names())
def test_planted_signal_beats_the_majority_baseline(make):
    score = fitted(make).score_
    assert score is not None and score.rows >= 200
    assert score.base_hit_rate > 0.55  # the majority class is a real bar here
    assert score.hit_rate > score.base_hit_rate + 0.03, score
    assert score.brier < score.base_brier and score.auc > 0.75, score


def test_noise_does_not_beat_the_baseline():
    history = planted_history()
    history = History(panel=history.panel, features=np.random.default_rng(5).normal(size=history.features.shape),
                       names=NAMES)
    score = fitted("logreg", history).score_
    assert abs(score.auc - 0.5) < 0.1
    assert score.hit_rate < score.base_hit_rate + 0.05


def test_rows_use_only_the_window_and_finite_labelled_rows():
    history = planted_history(n_symbols=2, n_bars=400)
    member = SklearnMember("lr", "logreg", horizon=3, train_bars=250, cost_bps=0.0)
    sym, bar, y = member._rows(history)
    assert bar.min() == 150 and bar.max() == 396  # the last 3 bars have no label yet
    assert np.isfinite(history.features[sym, bar]).all()
    close = history.panel.close
    assert np.array_equal(y, (np.log(close[sym, bar + 3] / close[sym, bar]) > 0).astype(float))


def test_predict_scores_valid_rows_in_one_signal_and_nan_elsewhere():
    member = fitted("lightgbm_small")
    history = planted_history()
    events = member.predict(batch_from(history, invalid=(1,)))
    (signal,) = events
    assert isinstance(signal, Signal) and signal.family == "ensemble" and signal.horizon == 1
    values = np.array(signal.values)
    assert np.isnan(values[1]) and np.all((values[[0, 2, 3]] >= 0) & (values[[0, 2, 3]] <= 1))
    assert "holdout" in member.describe() and "majority" in member.describe()


def test_refit_swaps_the_estimator_only_at_the_end():
    member = fitted("logreg")
    batch = batch_from(planted_history())
    before = probs(member, batch)
    other = planted_history(seed=9, strength=-0.01)  # the sign of the signal flips
    fit = member.fit(other)
    for _ in fit:
        assert np.array_equal(probs(member, batch), before)  # predict keeps the old estimator mid-fit
    after = probs(member, batch)
    assert not np.allclose(after, before)


def test_row_cap_thins_deterministically():
    a = fitted("knn")
    a.max_rows = 300
    for _ in a.fit(planted_history()):
        pass
    b = SklearnMember("knn", "knn", horizon=1, train_bars=1000, cost_bps=50.0, tiny=True)
    b.warmup(CTX)
    b.max_rows = 300
    for _ in b.fit(planted_history()):
        pass
    assert a.trained_rows == b.trained_rows == 300
    batch = batch_from(planted_history())
    assert np.array_equal(probs(a, batch), probs(b, batch))


def test_feature_mismatch_is_a_model_error():
    member = fitted("logreg")
    batch = batch_from(planted_history())
    wrong = FeatureBatch(cycle=1, ts=0, symbols=batch.symbols, names=("a", "b", "c"), values=batch.values,
                         valid=batch.valid)
    with pytest.raises(ModelError, match="fitted on features signal"):
        member.predict(wrong)


def test_checkpoint_from_other_library_versions_is_refused():
    state = dict(fitted("lightgbm_small").state_dict())
    assert state["versions"].keys() == {"lightgbm", "numpy", "sklearn"}
    state["versions"] = {**state["versions"], "sklearn": "0.1"}
    with pytest.raises(ModelError, match="sklearn 0.1 →"):
        SklearnMember("x", "logreg").load_state_dict(state)


def test_unfitted_state_round_trips():
    member = SklearnMember("lr", "logreg", horizon=2, train_bars=300, cost_bps=5.0)
    other = SklearnMember("x", "knn")
    other.load_state_dict(member.state_dict())
    assert other.get_params() == member.get_params() and not other.ready


def test_too_few_rows_fails_the_fit():
    member = SklearnMember("lr", "logreg", horizon=1, train_bars=40, cost_bps=50.0, tiny=True)
    with pytest.raises(ValueError, match="labelled rows"):
        list(member.fit(planted_history()))


@pytest.mark.parametrize("make", member_names())
def test_each_tiny_member_runs_in_a_model_slot(make):
    seen = []
    member = SklearnMember(make, make, horizon=1, train_bars=1000, cost_bps=50.0, tiny=True)
    slot = ModelSlot(member, ctx=CTX, publish=seen.append)
    history = planted_history(cycle=3)
    slot.start_fit(history)
    assert slot.state == ModelState.LOADING
    chunks = 0
    while slot.advance_fit():
        chunks += 1
    assert chunks >= 2 and slot.state == ModelState.RUNNING and slot.trained_at_cycle == 3
    (signal,) = slot.predict(batch_from(history))
    assert isinstance(signal, Signal) and len(signal.values) == 4 and slot.predictions == 1
    status = [e for e in seen if isinstance(e, ModelStatus)][-1]
    assert "holdout" in status.detail and status.budget_latency_ms == member.budget.latency_ms


def test_a_member_that_cannot_train_is_faulted_in_its_slot():
    seen = []
    member = SklearnMember("lr", "logreg", horizon=1, train_bars=1000, cost_bps=1e6, tiny=True)  # never "up"
    slot = ModelSlot(member, ctx=CTX, publish=seen.append)
    slot.start_fit(planted_history())
    while slot.advance_fit():
        pass
    assert slot.state == ModelState.FAULTED and "1 class" in slot.error
    assert slot.predict(batch_from(planted_history())) == ()
