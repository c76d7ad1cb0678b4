"""rl_provider (report row with baselines and seed spread), train_rl + resume, bench_rl rows."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.synthetic import synthetic_panel
from engine.models.protocol import ModelContext
from engine.report import ReportSettings, build_report
from engine.rl.agent import DQNConfig
from engine.rl.env import TradingEnv
from engine.rl.evaluate import RLEvalSettings, evaluate_rl, rl_provider
from engine.rl.model import DQNModel
from engine.rl.rollout import buy_and_hold_policy, random_toggle_policy, run_policy
from engine.rl.train import checkpoint_path, train_rl

MICRO = RLEvalSettings(seeds=(1, 2), n_folds=2, test_bars=60, train_bars=200, pretrain_steps=60, chunk_steps=30,
                       episode_bars=40, learn_every=4,
                       config=DQNConfig(learn_starts=20, batch_size=8, buffer_size=200, target_sync=5,
                                        epsilon_decay_steps=40))


def test_report_row_has_baselines_and_seed_spread():
    panel = synthetic_panel(2, 420, seed=5)
    row = evaluate_rl(panel, MICRO, embargo_bars=4).to_dict()
    m, b = row["metrics"], row["baselines"]
    assert row["name"] == "dqn" and row["family"] == "rl" and "error" not in row
    assert m["n_seeds"] == 2 and m["n_folds"] == 2 and m["test_bars"] == 60
    assert m["total_return_min"] <= m["total_return_mean"] <= m["total_return_max"]
    assert m["total_return_std"] >= 0 and 0 <= m["seeds_beating_random"] <= 2
    assert set(b) == {"buy_and_hold", "random"}
    assert b["random"]["trades_per_1000_bars"] == m["trades_per_1000_bars"]
    # buy-and-hold over the same bars: each symbol's sleeve compounds its folds
    env = TradingEnv(panel.open[0], panel.close[0], np.zeros((panel.n_bars, 1)))
    assert b["buy_and_hold"]["total_return"] != 0.0
    assert run_policy(env, buy_and_hold_policy, 300, 360).trades == 1


def test_random_policy_matches_the_requested_trade_frequency():
    panel = synthetic_panel(1, 3000, seed=1)
    env = TradingEnv(panel.open[0], panel.close[0], np.zeros((panel.n_bars, 1)))
    run = run_policy(env, random_toggle_policy(0.05, np.random.default_rng(0)), 0, 3000)
    assert run.trades / run.bars == pytest.approx(0.05, abs=0.015)


def test_provider_reports_a_failure_as_its_row():
    panel = synthetic_panel(2, 40, seed=5)  # far too short for any fold
    (row,) = rl_provider(panel, ReportSettings(tiny=True))
    assert row.error and not row.metrics


def test_build_report_accepts_the_provider(monkeypatch):
    import engine.rl.evaluate as ev

    monkeypatch.setattr(ev.RLEvalSettings, "tiny", classmethod(lambda cls: MICRO))
    report = build_report(synthetic_panel(2, 420, seed=6), [rl_provider],
                          ReportSettings(tiny=True, embargo_bars=4, n_folds=2))
    (row,) = report["models"]
    assert row["family"] == "rl" and "error" not in row and row["metrics"]["n_seeds"] == 2


def test_train_rl_writes_a_checkpoint_that_warmup_resumes(tmp_path):
    panel = synthetic_panel(2, 300, seed=2)
    params = {"train_bars": 200, "pretrain_steps": 60, "chunk_steps": 30, "episode_bars": 40, "learn_every": 2,
                  "config": {"learn_starts": 20, "batch_size": 8, "buffer_size": 300, "target_sync": 5, "epsilon_decay_steps": 40}}
    lines: list[str] = []
    result = train_rl(panel, params, checkpoint_dir=tmp_path, seed=3, log=lines.append)
    assert result.path == checkpoint_path(tmp_path, "dqn") and result.path.exists()
    assert result.updates > 0 and result.replay_size == 60 and any("chunk 2/2" in line for line in lines)
    model = DQNModel(**params)
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path), seed=3))
    assert model.ready and model.agent.updates == result.updates and len(model.agent.buffer) == 60
    assert "resumed" in model.checkpoint_note
    again = train_rl(panel, params, checkpoint_dir=tmp_path, seed=3, log=lines.append)
    assert again.replay_size == 120 and again.updates > result.updates  # continued, not restarted
    other = DQNModel(**{**params, "pretrain_steps": 90})
    other.warmup(ModelContext(checkpoint_dir=str(tmp_path), seed=3))
    assert not other.ready and "params differ" in other.checkpoint_note


def test_bench_rows_fp32_and_int8():
    from engine.rl.bench_rl import bench_rl

    rows = {r.name: r.as_dict() for r in bench_rl(64, tiny=True, repeats=2)}
    assert set(rows) == {"rl.dqn.fp32", "rl.dqn.int8"}
    fp32, int8 = rows["rl.dqn.fp32"], rows["rl.dqn.int8"]
    assert fp32["family"] == "rl" and fp32["symbols"] == 64 and fp32["latency_ms"] > 0
    assert int8["size_bytes"] < fp32["size_bytes"]
    assert 0.0 <= int8["argmax_agreement"] <= 1.0 and int8["max_abs_q_error"] >= 0
