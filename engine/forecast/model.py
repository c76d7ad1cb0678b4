"""The network: a stacked LSTM over the window, one linear head of quantiles per horizon.

Quantiles never cross by construction: the head emits the median and, for
each outer quantile, a softplus step away from its inner neighbour.
Imports torch at module level: import this module only inside fit/predict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True, slots=True)
class NetShape:
    inputs: int
    hidden: int
    layers: int
    dropout: float
    horizons: int
    quantiles: tuple[float, ...]

    def __post_init__(self) -> None:
        q = self.quantiles
        if list(q) != sorted(q) or len(set(q)) != len(q) or 0.5 not in q or not all(0 < x < 1 for x in q):
            raise ValueError(f"quantiles must be distinct, increasing, inside (0, 1) and include 0.5; got {q}")


class QuantileLSTM(nn.Module):
    """(N, L, F) standardised windows → (N, H, Q) quantiles of the scaled forward return."""

    def __init__(self, shape: NetShape) -> None:
        super().__init__()
        self.shape = shape
        self.lstm = nn.LSTM(shape.inputs, shape.hidden, num_layers=shape.layers, batch_first=True,
                            dropout=shape.dropout if shape.layers > 1 else 0.0)
        self.drop = nn.Dropout(shape.dropout)
        self.head = nn.Linear(shape.hidden, shape.horizons * len(shape.quantiles))
        self._mid = shape.quantiles.index(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        raw = self.head(self.drop(out[:, -1])).view(x.shape[0], self.shape.horizons, len(self.shape.quantiles))
        mid = self._mid
        median = raw[..., mid:mid + 1]
        steps = nn.functional.softplus(raw)
        above = median + torch.cumsum(steps[..., mid + 1:], dim=-1)
        below = median - torch.flip(torch.cumsum(torch.flip(steps[..., :mid], (-1,)), dim=-1), (-1,))
        return torch.cat([below, median, above], dim=-1)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss; pred (N, H, Q), target (N, H), quantiles (Q,)."""
    err = target.unsqueeze(-1) - pred
    return torch.maximum(quantiles * err, (quantiles - 1.0) * err).mean()


def build_net(shape: NetShape, seed: int) -> QuantileLSTM:
    """A freshly initialised network; the same seed gives the same weights."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return QuantileLSTM(shape)
    finally:
        torch.random.set_rng_state(generator_state)
