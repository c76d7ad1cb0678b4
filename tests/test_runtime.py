"""The engine runtime with real models on real features: cycles, pause/resume,
error isolation, retry, refits, commands, and the threaded path."""

import threading
import time

import numpy as np
import pytest

from engine.commands import PauseModel, ResumeModel, RetryModel, SetSpeed, SetSymbol
from engine.config import Config
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.events import Candles, CommandRejected, CycleStats, ModelState, ModelStatus, Signal, SymbolSelected
from engine.models.logreg import LogisticBaseline
from engine.runtime import Engine


class FlakyLogistic(LogisticBaseline):
    """A real logistic model whose predict breaks while `broken` is set."""

    def __init__(self, name="flaky", **kw):
        super().__init__(name, **kw)
        self.broken = False

    def get_params(self):
        return {**super().get_params()}

    def predict(self, batch):
        if self.broken:
            raise RuntimeError("disk on fire")
        return super().predict(batch)


def make_engine(n_symbols=4, n_bars=900, start=700, models=None, retrain=None):
    panel = synthetic_panel(n_symbols, n_bars, seed=3)
    feed = ReplayFeed(panel, start=start, speed=0.0)
    models = models if models is not None else [LogisticBaseline("logreg", train_bars=600, horizon=2)]
    engine = Engine(Config(), feed=feed, models=models, retrain_every=retrain or {})
    seen = []
    engine.subscribe(seen.append)
    return engine, feed, seen


def statuses(seen, name):
    return [e for e in seen if isinstance(e, ModelStatus) and e.source == name]


def test_cycle_produces_probabilities_for_every_symbol():
    engine, feed, seen = make_engine()
    engine.prepare()
    assert engine.slots[0].state == ModelState.RUNNING
    events = engine.step(feed.next_bar(timeout=0))
    (signal,) = [e for e in events if isinstance(e, Signal)]
    values = np.array(signal.values)
    assert signal.symbols == engine.symbols and len(values) == 4
    assert np.all((values[np.isfinite(values)] > 0) & (values[np.isfinite(values)] < 1))
    assert any(isinstance(e, Candles) for e in seen) and any(isinstance(e, CycleStats) for e in seen)
    assert "holdout" in engine.slots[0].model.describe()


def test_pause_stops_predictions_and_resume_restarts_them():
    engine, feed, seen = make_engine()
    engine.prepare()
    engine.step(feed.next_bar(timeout=0))
    slot = engine.slots[0]
    done = slot.predictions
    engine.submit(PauseModel(name="logreg"))
    engine.apply_commands()
    assert slot.state == ModelState.PAUSED and statuses(seen, "logreg")[-1].state == ModelState.PAUSED
    for _ in range(3):
        assert not [e for e in engine.step(feed.next_bar(timeout=0)) if isinstance(e, Signal)]
    assert slot.predictions == done
    engine.submit(ResumeModel(name="logreg"))
    engine.apply_commands()
    assert [e for e in engine.step(feed.next_bar(timeout=0)) if isinstance(e, Signal)]
    assert slot.predictions == done + 1


def test_a_failing_model_faults_alone_and_recovers_on_retry():
    flaky = FlakyLogistic(train_bars=600, horizon=2)
    engine, feed, seen = make_engine(models=[LogisticBaseline("logreg", train_bars=600, horizon=2), flaky])
    engine.prepare()
    flaky.broken = True
    events = engine.step(feed.next_bar(timeout=0))
    assert [e.source for e in events if isinstance(e, Signal)] == ["logreg"]
    flaky_slot = engine.slots[1]
    assert flaky_slot.state == ModelState.FAULTED
    last = statuses(seen, "flaky")[-1]
    assert last.state == ModelState.FAULTED and "disk on fire" in last.error
    # the other model keeps running on the next cycles
    events = engine.step(feed.next_bar(timeout=0))
    assert [e.source for e in events if isinstance(e, Signal)] == ["logreg"]
    flaky.broken = False
    engine.submit(RetryModel(name="flaky"))
    engine.apply_commands()
    assert flaky_slot.state == ModelState.RUNNING and flaky_slot.error == ""
    events = engine.step(feed.next_bar(timeout=0))
    assert sorted(e.source for e in events if isinstance(e, Signal)) == ["flaky", "logreg"]


def test_a_model_that_cannot_fit_is_faulted_with_its_reason():
    tiny = LogisticBaseline("tiny", train_bars=100, horizon=2)
    engine, feed, seen = make_engine(n_bars=300, start=20, models=[tiny])
    engine.prepare()  # 20 bars of history: too few labelled rows
    assert engine.slots[0].state == ModelState.FAULTED
    assert "labelled rows" in engine.slots[0].error
    engine.step(feed.next_bar(timeout=0))  # the engine itself keeps cycling


def test_commands_with_bad_targets_are_rejected_with_reasons():
    engine, feed, seen = make_engine()
    engine.prepare()
    engine.submit(PauseModel(name="lgreg"))
    engine.submit(SetSymbol(symbol="DOGE/USD"))
    engine.submit(ResumeModel(name="logreg"))  # not paused
    engine.apply_commands()
    reasons = [e.reason for e in seen if isinstance(e, CommandRejected)]
    assert len(reasons) == 3
    assert "logreg" in reasons[0] and "DOGE/USD" in reasons[1] and "not paused" in reasons[2]
    engine.submit(SetSymbol(symbol=engine.symbols[2]))
    engine.submit(SetSpeed(bars_per_second=10))
    engine.apply_commands()
    assert [e.symbol for e in seen if isinstance(e, SymbolSelected)] == [engine.symbols[2]]


def test_walk_forward_refit_runs_on_schedule():
    engine, feed, seen = make_engine(retrain={"logreg": 5})
    engine.prepare()
    slot = engine.slots[0]
    assert slot.trained_at_cycle == 0
    for _ in range(5):
        engine.step(feed.next_bar(timeout=0))
    assert slot.trained_at_cycle == 5


def test_a_paused_fit_does_not_advance_until_resumed():
    engine, feed, seen = make_engine()
    engine.prepare()
    slot = engine.slots[0]
    slot.start_fit(engine._history())
    slot.pause()
    assert slot.advance_fit() is False and slot.fitting
    slot.resume()
    while slot.advance_fit():
        pass
    assert not slot.fitting and slot.state == ModelState.RUNNING


def test_headless_run_summary():
    engine, feed, seen = make_engine()
    summary = engine.run_bars(50)
    assert summary.bars == 50 and summary.models[0].predictions == 50
    assert summary.models[0].mean_ms is not None


@pytest.mark.timeout(60)
def test_threaded_engine_streams_and_obeys_pause():
    engine, feed, seen = make_engine(n_bars=2000, start=700)
    feed.set_speed(200.0)
    got_signal = threading.Event()
    engine.subscribe(lambda e: got_signal.set() if isinstance(e, Signal) else None)
    engine.start()
    try:
        assert got_signal.wait(30), "no signal within 30 s"
        engine.submit(PauseModel(name="logreg"))
        deadline = time.time() + 10
        while time.time() < deadline and engine.slots[0].state != ModelState.PAUSED:
            time.sleep(0.02)
        assert engine.slots[0].state == ModelState.PAUSED
        n = engine.slots[0].predictions
        time.sleep(0.3)
        assert engine.slots[0].predictions == n
        assert engine.cycle > 0
    finally:
        engine.stop()


@pytest.mark.timeout(60)
def test_join_after_stop_names_no_thread_once_all_have_ended():
    engine, feed, seen = make_engine(n_bars=2000, start=700)
    engine.start()
    assert {"cockpit-loop", "cockpit-trainer"} <= set(engine.join(0.0))
    engine.stop()
    assert engine.join(30.0) == []


def test_online_learning_is_kept_on_stop(tmp_path, monkeypatch):
    from engine.rl.model import DQNModel

    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path))
    dqn = DQNModel("dqn", train_bars=300, pretrain_steps=500, chunk_steps=250, episode_bars=100)
    engine, feed, seen = make_engine(models=[dqn])
    engine.prepare()
    for _ in range(3):
        engine.step(feed.next_bar(timeout=0))
    assert engine.slots[0].state == ModelState.RUNNING
    engine.stop()
    assert (tmp_path / "checkpoints" / "dqn.pt").exists()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_background_search_streams_progress_and_pauses_like_a_model(tmp_path):
    from engine.strategy.background import EvolutionSpec, EvolutionWorker
    from engine.strategy.events import EvolutionProgress

    spec = EvolutionSpec(source="synthetic", n_symbols=2, bars=1500, trials=100_000, data_dir=tmp_path, seed=1)
    engine, feed, seen = make_engine(models=[])
    engine.evolution = EvolutionWorker(spec)
    engine.start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not any(isinstance(e, EvolutionProgress) for e in list(seen)):
            time.sleep(0.1)
        assert any(isinstance(e, EvolutionProgress) for e in list(seen)), "no progress from the search"
        engine.submit(PauseModel(name="evolution"))
        deadline = time.time() + 10
        while time.time() < deadline and not engine.evolution.paused:
            time.sleep(0.05)
        assert engine.evolution.paused
        status = [e for e in list(seen) if isinstance(e, ModelStatus) and e.source == "evolution"]
        assert status and status[-1].state == ModelState.PAUSED
    finally:
        engine.stop()
    assert not engine.evolution.alive
