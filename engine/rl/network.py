"""The Q-network: observation → one Q-value per action (HOLD, BUY, SELL, EXIT)."""

from __future__ import annotations

from typing import Any

HIDDEN = (256, 128, 64)


def q_network(n_inputs: int, n_actions: int = 4, *, hidden: tuple[int, ...] = HIDDEN, dropout: float = 0.1) -> Any:
    """MLP n_inputs → 256 → 128 → 64 → n_actions, ReLU, dropout after each hidden layer.

    Dropout is active only in train() mode; acting and evaluation use eval().
    """
    from torch import nn

    layers: list[Any] = []
    width = n_inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, n_actions))
    return nn.Sequential(*layers)
