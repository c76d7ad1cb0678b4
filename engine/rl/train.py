"""`cockpit train rl`: walk-forward pretraining of the DQN on a history, then its checkpoint.

The checkpoint is `<checkpoint_dir>/<name>.pt`: `DQNModel.state_dict()`
(params, standardisation, weights, target weights, optimizer, replay
buffer, RNG states, counters, shadow positions, frozen flag) saved with
torch.save and read back with `weights_only=True`. `DQNModel.warmup` loads
it when its params match, so the cockpit continues learning where the last
run (or this command) left off; `save_checkpoint` is also what the runtime
should call on shutdown / periodically to keep the online learning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.data.panel import CandlePanel
from engine.models._torch import checkpoint_path, save_checkpoint
from engine.models._torch import load_checkpoint as _load_checkpoint
from engine.models.protocol import History, ModelContext
from engine.rl.model import DQNModel


@dataclass(frozen=True, slots=True)
class TrainResult:
    path: Path
    chunks: int
    updates: int
    replay_size: int
    seconds: float
    summary: str


def load_checkpoint(path: str | Path) -> Mapping[str, Any]:
    return _load_checkpoint(path, kind="an rl")


def train_rl(panel: CandlePanel, params: Mapping[str, Any] | None = None, *, checkpoint_dir: str | Path,
             name: str = "dqn", seed: int = 7, threads: int = 1, resume: bool = True,
             log: Callable[[str], None] = print) -> TrainResult:
    """Pretrain on the newest `train_bars` bars of `panel`, log each chunk, save the checkpoint.

    With `resume` and a checkpoint of the same params, training continues
    that agent (weights, replay buffer, epsilon); otherwise it starts fresh.
    """
    from engine.features import compute_features

    model = DQNModel(name, **dict(params or {}))
    keep = model.train_bars + 256  # room for the indicators' warm-up
    panel = panel.slice(max(0, panel.n_bars - keep), panel.n_bars)
    block = compute_features(panel)
    t0 = time.perf_counter()
    ctx = ModelContext(checkpoint_dir=str(checkpoint_dir) if resume else "", seed=seed, threads=threads)
    model.warmup(ctx)
    if model.checkpoint_note:
        log(f"{name}: {model.checkpoint_note}")
    chunks = 0
    for progress in model.fit(History(panel=panel, features=block.values, names=block.names)):
        chunks = progress.done
        shown = " ".join(f"{k}={v:.4g}" for k, v in progress.metrics)
        log(f"{name}: chunk {progress.done}/{progress.total} {progress.message} {shown}".rstrip())
    path = save_checkpoint(model, checkpoint_path(checkpoint_dir, name))
    agent = model.agent
    assert agent is not None
    summary = (f"{agent.updates} updates, replay {len(agent.buffer)}, epsilon {agent.epsilon:.3f}, "
               f"recent loss {agent.recent_loss if agent.recent_loss is not None else float('nan'):.4g}")
    log(f"{name}: {summary}")
    log(f"{name}: checkpoint {path}")
    return TrainResult(path=path, chunks=chunks, updates=agent.updates, replay_size=len(agent.buffer),
                       seconds=time.perf_counter() - t0, summary=summary)
