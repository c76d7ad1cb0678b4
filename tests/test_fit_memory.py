"""Fits that begin in one cycle share one read-only history, and nothing keeps it once they end."""

import gc
import weakref

import numpy as np
import pytest

from engine.config import Config
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.models.logreg import LogisticBaseline
from engine.runtime import Engine


class RecordingLogistic(LogisticBaseline):
    """A real logistic model that notes which history each fit was given (by id, weakly)."""

    def __init__(self, name, seen, **kw):
        super().__init__(name, **kw)
        self._seen = seen

    def fit(self, history):
        self._seen.append((self.name, id(history), weakref.ref(history.features), history.features.flags.writeable))
        yield from super().fit(history)


def _engine(seen, n_models=3, retrain=None):
    panel = synthetic_panel(4, 900, seed=3)
    models = [RecordingLogistic(f"m{i}", seen, train_bars=600, horizon=2) for i in range(n_models)]
    return Engine(Config(), feed=ReplayFeed(panel, start=700, speed=0.0), models=models, retrain_every=retrain or {})


def test_first_fits_share_one_read_only_history_that_is_freed_once_the_next_cycle_runs():
    seen = []
    engine = _engine(seen)
    engine.prepare()
    assert [name for name, *_ in seen] == ["m0", "m1", "m2"]
    assert len({ident for _, ident, _, _ in seen}) == 1
    assert not any(writeable for *_, writeable in seen)
    assert all(slot.model.ready for slot in engine.slots)
    engine.step(engine.feed.next_bar(timeout=0))
    gc.collect()
    assert seen[0][2]() is None, "the fit history outlived the fits and their cycle"


def test_a_read_only_history_refuses_writes_from_a_model():
    seen = []
    engine = _engine(seen, n_models=1)
    history = engine._history()
    with pytest.raises(ValueError, match="read-only"):
        history.features[0, 0, 0] = 1.0


def test_refits_in_a_later_cycle_get_that_cycle_s_history():
    seen = []
    engine = _engine(seen, n_models=2, retrain={"m0": 2, "m1": 2})
    engine.prepare()
    feed = engine.feed
    for _ in range(2):
        engine.step(feed.next_bar(timeout=0))
    refits = seen[2:]
    assert [name for name, *_ in refits] == ["m0", "m1"]
    assert refits[0][1] == refits[1][1] != seen[0][1]
    predictions = [np.isfinite(s.model.pipeline_.predict_proba(np.zeros((1, len(s.model.features_))))).all()
                   for s in engine.slots]
    assert all(predictions)
