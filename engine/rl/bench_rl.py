"""`cockpit bench` rows for the DQN: Q-values for a whole watchlist in one batched call, fp32 vs int8.

A DQN is briefly pretrained on the embedded history (so the int8 copy is
compared on a network that has learned something, not on random weights),
then `symbols` observation rows — real standardised feature rows drawn from
that history, with random position state — go through one forward pass:

- `rl.dqn.fp32`: the float32 network (eval mode).
- `rl.dqn.int8`: `quantize_dynamic_int8` of it (Linear layers; qnnpack on ARM).

Each row: latency_ms (median), size_bytes (serialised state_dict),
throughput in symbols/s; the int8 row adds argmax_agreement (share of rows
whose best action equals fp32's) and max_abs_q_error.
"""

from __future__ import annotations

import warnings

import numpy as np

from engine.bench import BenchResult, _rss_mb
from engine.models._torch import median_ms, quantize_dynamic_int8, state_size_bytes
from engine.models.protocol import History, ModelContext
from engine.rl.agent import DQNConfig
from engine.rl.model import DQNModel


def _pretrained(tiny: bool, seed: int) -> tuple[DQNModel, np.ndarray]:
    from engine.data.embedded import load_embedded
    from engine.features import compute_features

    panel = load_embedded()
    bars = 600 if tiny else 3000
    panel = panel.slice(panel.n_bars - bars - 100, panel.n_bars)
    feats = compute_features(panel).values
    steps = 200 if tiny else 2000
    model = DQNModel(train_bars=bars, pretrain_steps=steps, chunk_steps=steps // 2, episode_bars=100 if tiny else 300,
                     config=DQNConfig(learn_starts=50 if tiny else 300, epsilon_decay_steps=steps,
                                      buffer_size=5000, target_sync=50 if tiny else 200))
    model.warmup(ModelContext(checkpoint_dir="", seed=seed))
    for _ in model.fit(History(panel=panel, features=feats, names=())):
        pass
    return model, feats


def bench_rl(symbols: int = 500, tiny: bool = False, *, repeats: int = 7, seed: int = 7) -> list[BenchResult]:
    import torch

    model, feats = _pretrained(tiny, seed)
    assert model.agent is not None and model.standardiser is not None
    rows = feats.reshape(-1, feats.shape[-1])
    rows = rows[np.isfinite(rows).all(axis=1)]
    rng = np.random.default_rng(seed)
    z = model.standardiser(rows[rng.integers(0, len(rows), symbols)])
    long = (rng.random(symbols) < 0.3).astype(np.float32)
    unreal = np.where(long > 0, rng.normal(0, 0.02, symbols), 0.0).astype(np.float32)
    x = torch.as_tensor(np.column_stack([z, long, unreal]).astype(np.float32))

    fp32 = model.agent.net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's deprecation notice for quantized tensors
        int8 = quantize_dynamic_int8(fp32, (torch.nn.Linear,))

    def forward(net):
        with torch.inference_mode():
            return net(x)

    q32, q8 = forward(fp32).numpy(), forward(int8).numpy()
    results = []
    for name, net, extra in (
        ("fp32", fp32, {}),
        ("int8", int8, {"argmax_agreement": float((q32.argmax(1) == q8.argmax(1)).mean()),
                        "max_abs_q_error": float(np.abs(q32 - q8).max())}),
    ):
        ms = median_ms(lambda net=net: forward(net), repeats=repeats)
        results.append(BenchResult(f"rl.dqn.{name}", "rl", symbols, ms / 1000.0, _rss_mb(), symbols / (ms / 1000.0),
                                   "symbols/s", {"latency_ms": ms, "size_bytes": state_size_bytes(net),
                                                 "engine": torch.backends.quantized.engine, **extra}))
    return results
