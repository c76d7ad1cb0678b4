"""`cockpit report` for the DQN: out-of-sample equity of the greedy policy against honest baselines.

For each seed and each walk-forward fold (`walk_forward_splits` with
horizon 1 — the reward looks one bar ahead — and the report's embargo), a
fresh `DQNModel` pretrains on the fold's training bars only (features
standardised with that span's statistics), then its GREEDY policy trades
every symbol over the fold's test bars in the environment (next-bar
market fills, fee and slippage per side, all-in long-only sleeves). A
symbol's sleeve compounds over the folds; the portfolio is the
equal-weight mean of the sleeves. Baselines on the same bars and costs:

- buy_and_hold: BUY on the first test bar of each fold, then hold.
- random: flips flat/long with probability = the greedy policy's trades per
  bar on that (symbol, fold), seeded by the seed: the same trade frequency
  with no skill. Its spread is over the same seeds.

Metrics: total return (mean, std, min, max over seeds), trades per 1000
bars, and how many seeds beat each baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.data.panel import CandlePanel
from engine.evaluation.splits import Split, walk_forward_splits
from engine.evaluation.walkforward import ModelReport
from engine.features import compute_features
from engine.models.protocol import History, ModelContext
from engine.rl.agent import DQNConfig
from engine.rl.env import TradingEnv
from engine.rl.model import DQNModel
from engine.rl.rollout import (
    buy_and_hold_policy,
    random_toggle_policy,
    run_greedy,
    run_policy,
)

if TYPE_CHECKING:
    from engine.report import ReportSettings

FAMILY = "rl"


@dataclass(frozen=True, slots=True, kw_only=True)
class RLEvalSettings:
    seeds: tuple[int, ...] = (7, 8, 9)
    n_folds: int = 3
    test_bars: int = 1000
    train_bars: int = 3000
    pretrain_steps: int = 2500
    chunk_steps: int = 500
    episode_bars: int = 300
    learn_every: int = 4
    config: DQNConfig = field(default_factory=lambda: DQNConfig(learn_starts=300, epsilon_decay_steps=2000,
                                                                buffer_size=20_000, target_sync=200))

    @classmethod
    def tiny(cls) -> RLEvalSettings:
        return cls(seeds=(7, 8), n_folds=2, test_bars=150, train_bars=400, pretrain_steps=200, chunk_steps=100,
                   episode_bars=100, learn_every=4,
                   config=DQNConfig(learn_starts=50, batch_size=16, buffer_size=1000, target_sync=20,
                                    epsilon_decay_steps=150))


@dataclass(frozen=True, slots=True)
class SeedResult:
    greedy: float  # total return of the equal-weight sleeves
    random: float
    trades: int
    bars: int


def _fold_model(panel: CandlePanel, feats: np.ndarray, split: Split, rl: RLEvalSettings, *, seed: int,
                fee_bps: float, slippage_bps: float) -> DQNModel:
    lo, hi = int(split.train[0]), int(split.train[-1]) + 1
    model = DQNModel(name="dqn", train_bars=hi - lo, pretrain_steps=rl.pretrain_steps, chunk_steps=rl.chunk_steps,
                     episode_bars=min(rl.episode_bars, hi - lo - 2), fee_bps=fee_bps, slippage_bps=slippage_bps,
                     learn_every=rl.learn_every, config=rl.config)
    model.warmup(ModelContext(checkpoint_dir="", seed=seed))
    history = History(panel=panel.slice(lo, hi), features=feats[:, lo:hi, :], names=())
    for _ in model.fit(history):
        pass
    return model


def _run_seed(panel: CandlePanel, feats: np.ndarray, splits: list[Split], rl: RLEvalSettings, seed: int, *,
              fee_bps: float, slippage_bps: float) -> tuple[SeedResult, np.ndarray]:
    """(result, buy-and-hold multiples per symbol) for one seed over all folds."""
    n = panel.n_symbols
    greedy, rand, hold = np.ones(n), np.ones(n), np.ones(n)
    trades = bars = 0
    rng = np.random.default_rng([seed, 99])
    for split in splits:
        model = _fold_model(panel, feats, split, rl, seed=seed, fee_bps=fee_bps, slippage_bps=slippage_bps)
        assert model.agent is not None and model.standardiser is not None
        z = model.standardiser(feats)
        envs = [TradingEnv(panel.open[s], panel.close[s], z[s], fee_bps=fee_bps, slippage_bps=slippage_bps,
                           invest_fraction=model.invest_fraction) for s in range(n)]
        start, end = int(split.test[0]), int(split.test[-1]) + 1
        runs = run_greedy(model.agent, envs, start, end)
        for s, (env, run) in enumerate(zip(envs, runs)):
            greedy[s] *= run.equity
            trades, bars = trades + run.trades, bars + run.bars
            rand[s] *= run_policy(env, random_toggle_policy(run.trades / max(1, run.bars), rng), start, end).equity
            hold[s] *= run_policy(env, buy_and_hold_policy, start, end).equity
    return SeedResult(float(greedy.mean() - 1), float(rand.mean() - 1), trades, bars), hold


def _spread(values: list[float], prefix: str) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {f"{prefix}_mean": float(a.mean()), f"{prefix}_std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            f"{prefix}_min": float(a.min()), f"{prefix}_max": float(a.max())}


def evaluate_rl(panel: CandlePanel, rl: RLEvalSettings = RLEvalSettings(), *, fee_bps: float = 10.0,
                slippage_bps: float = 5.0, embargo_bars: int = 12, n_folds: int | None = None,
                progress: Callable[[str], None] | None = None) -> ModelReport:
    folds = rl.n_folds if n_folds is None else min(n_folds, rl.n_folds)
    test_bars = min(rl.test_bars, max(2, (panel.n_bars - rl.train_bars - 1 - embargo_bars) // folds))
    splits = walk_forward_splits(panel.n_bars, n_folds=folds, test_bars=test_bars, train_bars=rl.train_bars,
                                 horizon=1, embargo_bars=embargo_bars, min_train_bars=rl.episode_bars + 2)
    feats = compute_features(panel).values
    results: list[SeedResult] = []
    hold = np.ones(panel.n_symbols)
    for i, seed in enumerate(rl.seeds):
        if progress is not None:
            progress(f"rl dqn seed {seed} ({i + 1}/{len(rl.seeds)}): {folds} folds")
        result, hold = _run_seed(panel, feats, splits, rl, seed, fee_bps=fee_bps, slippage_bps=slippage_bps)
        results.append(result)
    bh = float(hold.mean() - 1)
    trades, bars = sum(r.trades for r in results), sum(r.bars for r in results)
    metrics: dict[str, float | int | None] = {
        **_spread([r.greedy for r in results], "total_return"),
        "trades_per_1000_bars": 1000.0 * trades / max(1, bars),
        "n_seeds": len(results), "n_folds": folds, "test_bars": test_bars, "symbols": panel.n_symbols,
        "seeds_beating_buy_and_hold": sum(r.greedy > bh for r in results),
        "seeds_beating_random": sum(r.greedy > r.random for r in results),
    }
    baselines = {"buy_and_hold": {"total_return": bh},
                 "random": {**_spread([r.random for r in results], "total_return"),
                            "trades_per_1000_bars": metrics["trades_per_1000_bars"]}}
    notes = ((f"greedy DQN policy, {len(results)} seeds × {folds} walk-forward folds × {test_bars} test bars; "
             f"pretrained {rl.pretrain_steps} env steps per fold on ≤{rl.train_bars} bars"),
             (f"long-only all-in sleeves, next-bar open fills, fee {fee_bps:g} + slippage {slippage_bps:g} bps "
             "per side; random = same trade frequency, no skill"))
    return ModelReport(name="dqn", family=FAMILY, metrics=metrics, baselines=baselines, notes=notes)


def rl_provider(panel: CandlePanel, settings: ReportSettings) -> list[ModelReport]:
    """Report provider: the DQN's row (a failed row with the error if it could not run)."""
    tiny = bool(getattr(settings, "tiny", False))
    rl = RLEvalSettings.tiny() if tiny else RLEvalSettings()
    base_seed = int(getattr(settings, "seed", 7))
    rl = RLEvalSettings(seeds=tuple(base_seed + k for k in range(len(rl.seeds))), n_folds=rl.n_folds,
                        test_bars=rl.test_bars, train_bars=min(rl.train_bars, getattr(settings, "train_bars", None)
                                                               or rl.train_bars),
                        pretrain_steps=rl.pretrain_steps, chunk_steps=rl.chunk_steps, episode_bars=rl.episode_bars,
                        learn_every=rl.learn_every, config=rl.config)
    try:
        return [evaluate_rl(panel, rl, fee_bps=float(getattr(settings, "fee_bps", 10.0)),
                            slippage_bps=float(getattr(settings, "slippage_bps", 5.0)),
                            embargo_bars=int(getattr(settings, "embargo_bars", 12)),
                            n_folds=int(getattr(settings, "n_folds", rl.n_folds)))]
    except Exception as exc:  # noqa: BLE001 - the family's failure is its row, not the report's
        return [ModelReport.failed("dqn", FAMILY, exc)]
