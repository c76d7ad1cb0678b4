"""DQN agent and the rl Model: reproducible training, checkpoints, predict/update/freeze."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from engine.data.synthetic import synthetic_panel
from engine.errors import NotReadyError
from engine.events import Signal
from engine.features import compute_features
from engine.models.protocol import FeatureBatch, Feedback, History, Model, ModelContext
from engine.rl.agent import DQNAgent, DQNConfig
from engine.rl.events import QValues
from engine.rl.model import DQNModel

TINY = DQNConfig(learn_starts=40, batch_size=16, buffer_size=500, target_sync=20, epsilon_decay_steps=150)


@pytest.fixture(scope="module")
def history() -> History:
    panel = synthetic_panel(2, 260, seed=4)
    block = compute_features(panel)
    return History(panel=panel, features=block.values, names=block.names)


def _model(**kw) -> DQNModel:
    args = {"train_bars": 260, "pretrain_steps": 150, "chunk_steps": 50, "episode_bars": 60, "learn_every": 2, "config": TINY}
    args.update(kw)
    return DQNModel(**args)


def _fit(model: DQNModel, history: History, seed: int = 5) -> list:
    model.warmup(ModelContext(checkpoint_dir="", seed=seed))
    return list(model.fit(history))


def _batch(history: History, bar: int = -1, cycle: int = 1) -> FeatureBatch:
    values = history.features[:, bar, :]
    return FeatureBatch(cycle=cycle, ts=int(history.panel.ts[bar]), symbols=history.panel.symbols,
                        names=history.names, values=values, valid=np.isfinite(values).all(axis=1))


def test_the_same_seed_gives_the_same_training_curve(history):
    a, b, c = _model(), _model(), _model()
    curve_a = [p.metrics for p in _fit(a, history, seed=5)]
    curve_b = [p.metrics for p in _fit(b, history, seed=5)]
    curve_c = [p.metrics for p in _fit(c, history, seed=6)]
    assert len(curve_a) == 4 and a.agent.updates > 0
    assert curve_a == curve_b
    assert curve_a != curve_c
    for pa, pb in zip(a.agent.net.state_dict().values(), b.agent.net.state_dict().values()):
        assert torch.equal(pa, pb)


def test_agent_checkpoint_round_trip_restores_weights_optimizer_and_replay():
    agent = DQNAgent(6, config=TINY, seed=3)
    rng = np.random.default_rng(0)
    for _ in range(80):
        agent.observe(rng.normal(size=6).astype(np.float32), int(rng.integers(4)), float(rng.normal()),
                      rng.normal(size=6).astype(np.float32), False)
    agent.learn(10)
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    restored = DQNAgent.from_state(torch.load(buffer, weights_only=True))
    assert restored.updates == agent.updates == 10 and restored.env_steps == 80
    assert len(restored.buffer) == 80
    np.testing.assert_array_equal(restored.buffer.obs[:80], agent.buffer.obs[:80])
    np.testing.assert_array_equal(restored.buffer.action[:80], agent.buffer.action[:80])
    for pa, pb in zip(agent.net.state_dict().values(), restored.net.state_dict().values()):
        assert torch.equal(pa, pb)
    opt_a, opt_b = agent.optimizer.state_dict()["state"], restored.optimizer.state_dict()["state"]
    assert opt_a.keys() == opt_b.keys() and all(torch.equal(opt_a[k]["exp_avg"], opt_b[k]["exp_avg"]) for k in opt_a)
    # and learning continues identically from there
    assert agent.learn(5) == restored.learn(5)


def test_model_predicts_the_whole_watchlist_in_one_call(history):
    model = _model()
    assert isinstance(model, Model)
    with pytest.raises(NotReadyError):
        model.predict(_batch(history))
    _fit(model, history)
    events = model.predict(_batch(history))
    q, signal = events
    assert isinstance(q, QValues) and isinstance(signal, Signal)
    assert q.symbols == history.panel.symbols and all(len(row) == 4 for row in q.q)
    assert all(0 <= a < 4 for a in q.actions) and signal.family == "rl"
    assert all(0.0 <= p <= 1.0 for p in signal.values)
    assert q.coalesce_key == "qvalues:dqn"


def test_online_learning_and_freeze(history):
    model = _model()
    _fit(model, history)
    symbols = history.panel.symbols
    updates0, replay0 = model.agent.updates, len(model.agent.buffer)
    for cycle in range(1, 4):
        model.predict(_batch(history, -cycle, cycle))
        model.update(Feedback(cycle=cycle, symbols=symbols, realised_return=np.array([0.002, -0.001])))
    assert model.agent.updates == updates0 + 3
    assert len(model.agent.buffer) == replay0 + 2 * 2  # transitions complete on the next predict
    model.freeze_learning()
    frozen_updates, frozen_replay = model.agent.updates, len(model.agent.buffer)
    for cycle in range(4, 7):
        events = model.predict(_batch(history, -cycle, cycle))
        model.update(Feedback(cycle=cycle, symbols=symbols, realised_return=np.array([0.002, -0.001])))
        assert events[0].learning_frozen and all(0 <= a < 4 for a in events[0].actions)
    assert (model.agent.updates, len(model.agent.buffer)) == (frozen_updates, frozen_replay)
    model.unfreeze_learning()
    model.predict(_batch(history, -7, 7))
    model.update(Feedback(cycle=7, symbols=symbols, realised_return=np.array([0.0, 0.0])))
    assert model.agent.updates == frozen_updates + 1


def test_invalid_rows_get_nan_and_no_action(history):
    model = _model()
    _fit(model, history)
    batch = _batch(history)
    values = batch.values.copy()
    values[1, 0] = np.nan
    batch = FeatureBatch(cycle=1, ts=batch.ts, symbols=batch.symbols, names=batch.names, values=values,
                         valid=np.array([True, False]))
    q, signal = model.predict(batch)
    assert q.actions[1] == -1 and np.isnan(signal.values[1]) and all(np.isnan(q.q[1]))
    assert np.isfinite(signal.values[0])


def test_model_checkpoint_round_trip(history, tmp_path):
    model = _model()
    _fit(model, history)
    model.predict(_batch(history))
    model.freeze_learning()
    path = tmp_path / "dqn.pt"
    torch.save(dict(model.state_dict()), path)
    other = DQNModel()
    other.load_state_dict(torch.load(path, weights_only=True))
    assert other.ready and other.learning_frozen and other.get_params() == model.get_params()
    assert len(other.agent.buffer) == len(model.agent.buffer)
    a = model.predict(_batch(history, -2, 2))[0]
    b = other.predict(_batch(history, -2, 2))[0]
    assert a.q == b.q and a.actions == b.actions


def test_a_skipped_bar_drops_the_transition_instead_of_joining_distant_bars(history):
    model = _model()
    _fit(model, history)
    symbols = history.panel.symbols
    replay = len(model.agent.buffer)
    model.predict(_batch(history, -1, 10))
    model.update(Feedback(cycle=11, symbols=symbols, realised_return=np.array([0.001, 0.001])))
    model.predict(_batch(history, -2, 12))  # cycle 11 never predicted
    assert len(model.agent.buffer) == replay
    model.update(Feedback(cycle=13, symbols=symbols, realised_return=np.array([0.001, 0.001])))
    model.predict(_batch(history, -3, 13))
    assert len(model.agent.buffer) == replay + 2
