"""The epoch loop of a fit and the fit's own holdout score.

Reproducible on one machine: each epoch draws its windows from
numpy Generator([seed, epoch]) and runs under a forked torch RNG seeded from
(seed, epoch), so dropout masks do not depend on what else used torch's
global generator in between (the runtime interleaves fits chunk by chunk).
The weights kept are those of the epoch with the lowest validation loss.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Generator

import numpy as np

from engine.forecast.params import ForecastParams
from engine.forecast.windows import TrainingSet, gather
from engine.models.protocol import Progress

VAL_WINDOWS = 8192
Pairs = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class HoldoutRow:
    """One horizon's score on the fit's own validation span (log returns)."""

    horizon: int
    rows: int
    mae: float
    persistence_mae: float
    coverage: float
    direction: float


def sample(pairs: Pairs, n: int, rng: np.random.Generator) -> Pairs:
    """At most `n` (symbol, end) pairs, drawn without replacement, in random order."""
    pick = rng.permutation(len(pairs[0]))[:n]
    return pairs[0][pick], pairs[1][pick]


def _batch(data: TrainingSet, idx: Pairs, lo: int, size: int, length: int, torch: Any) -> tuple[Any, Any]:
    sym, end = idx[0][lo:lo + size], idx[1][lo:lo + size]
    x = gather(data.rows, sym, end, length)
    return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(data.targets[sym, end]))


def _eval_loss(net: Any, data: TrainingSet, idx: Pairs, length: int, levels: Any, torch: Any) -> float:
    from engine.forecast.model import pinball_loss

    net.eval()
    total, n = 0.0, len(idx[0])
    with torch.inference_mode():
        for lo in range(0, n, 2048):
            x, y = _batch(data, idx, lo, 2048, length, torch)
            total += float(pinball_loss(net(x), y, levels)) * len(y)
    return total / max(1, n)


def deterministic_kernels(torch: Any) -> None:
    """Make torch pick deterministic kernels (warn, not fail, where none exists); process-wide.

    `torch.use_deterministic_algorithms` also imports torch._inductor just to
    set the compiler's flag: +70 MB RSS and seconds here. Nothing in the
    cockpit compiles, so only the ATen switch it wraps is set.
    """
    if not torch.are_deterministic_algorithms_enabled():
        torch._C._set_deterministic_algorithms(True, warn_only=True)


def train_epochs(net: Any, data: TrainingSet, p: ForecastParams, seed: int
                 ) -> Generator[Progress, None, tuple[int, int]]:
    """Train `net` in place, one Progress per epoch; returns (epochs run, best epoch)."""
    import torch

    from engine.forecast.model import pinball_loss

    deterministic_kernels(torch)
    opt = torch.optim.Adam(net.parameters(), lr=p.lr)
    levels = torch.tensor(p.quantiles)
    val_idx = sample(data.val, VAL_WINDOWS, np.random.default_rng([seed, 10**6]))
    best_loss, best_state, best_epoch = math.inf, None, 0
    stale = epochs_run = 0
    for epoch in range(p.epochs):
        idx = sample(data.train, p.windows_per_epoch, np.random.default_rng([seed, epoch]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 1009 + epoch)
            net.train()
            total = 0.0
            for lo in range(0, len(idx[0]), p.batch_size):
                x, y = _batch(data, idx, lo, p.batch_size, p.window, torch)
                opt.zero_grad(set_to_none=True)
                loss = pinball_loss(net(x), y, levels)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                total += float(loss.detach()) * len(y)
        train_loss = total / max(1, len(idx[0]))
        val_loss = _eval_loss(net, data, val_idx, p.window, levels, torch) if len(val_idx[0]) else train_loss
        epochs_run = epoch + 1
        if val_loss < best_loss - 1e-6:
            best_loss, best_state, best_epoch, stale = val_loss, copy.deepcopy(net.state_dict()), epochs_run, 0
        else:
            stale += 1
        yield Progress(done=epochs_run, total=p.epochs, metrics=(("train_loss", train_loss), ("val_loss", val_loss)),
                       message=f"epoch {epochs_run}: pinball {train_loss:.4f} train · {val_loss:.4f} val")
        if stale >= p.patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return epochs_run, best_epoch or epochs_run


def holdout_windows(data: TrainingSet, length: int, seed: int) -> tuple[np.ndarray, np.ndarray, Pairs]:
    """(standardised windows, rvol, their pairs) of up to VAL_WINDOWS validation windows."""
    pairs = sample(data.val, VAL_WINDOWS, np.random.default_rng([seed, 2 * 10**6]))
    return gather(data.rows, pairs[0], pairs[1], length), data.rvol[pairs], pairs


def holdout_score(q: np.ndarray, pairs: Pairs, data: TrainingSet, horizons: tuple[int, ...],
                  levels: tuple[float, ...]) -> tuple[HoldoutRow, ...]:
    """Quantile forecasts q (N, H, Q) of the holdout pairs against persistence (log-return units)."""
    if len(pairs[0]) == 0:
        return ()
    scale = data.rvol[pairs][:, None] * np.sqrt(np.asarray(horizons, dtype=float))[None, :]
    y = data.targets[pairs].astype(np.float64) * scale
    mid = levels.index(0.5)
    rows = []
    for k, h in enumerate(horizons):
        med, yk = q[:, k, mid], y[:, k]
        rows.append(HoldoutRow(horizon=h, rows=len(yk), mae=float(np.mean(np.abs(yk - med))),
                               persistence_mae=float(np.mean(np.abs(yk))),
                               coverage=float(np.mean((yk >= q[:, k, 0]) & (yk <= q[:, k, -1]))),
                               direction=float(np.mean(np.sign(med) == np.sign(yk)))))
    return tuple(rows)
