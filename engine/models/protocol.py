"""The one protocol every model family implements (scikit-learn's conventions).

The runtime owns threads, timing, pausing and checkpoints; a model owns maths.
`fit` is a generator that yields `Progress` after each bounded chunk so the
runtime can pause it between chunks without interrupting a thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from engine.data.panel import CandlePanel
from engine.events import Event


class Family(StrEnum):
    ENSEMBLE = "ensemble"
    RL = "rl"
    PATTERNS = "patterns"
    SENTIMENT = "sentiment"
    FORECAST = "forecast"
    STRATEGY = "strategy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    ram_mb: float
    """Resident memory the model may add once warmed up."""
    latency_ms: float
    """One predict() for the whole watchlist."""
    threads: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    done: int
    total: int | None
    metrics: tuple[tuple[str, float], ...] = ()
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelContext:
    """What warmup() may use: where checkpoints live, the seed, thread cap."""

    checkpoint_dir: str
    seed: int = 7
    threads: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureBatch:
    """The newest feature row of every watchlist symbol, for one predict call.

    `values` has shape (symbols, features); rows with any non-finite value are
    not scoreable (`valid` is False there) and get NaN outputs.
    """

    cycle: int
    ts: int
    symbols: tuple[str, ...]
    names: tuple[str, ...]
    values: np.ndarray
    valid: np.ndarray
    window: CandlePanel | None = None
    """The newest candles (as many bars as the most demanding model's `window_bars`), for
    models that look at price shapes rather than feature rows (the pattern CNN)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """Everything a fit may look at: candles and their features up to `end`."""

    panel: CandlePanel
    features: np.ndarray  # (symbols, bars, features)
    names: tuple[str, ...]
    cycle: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback:
    """What happened after a prediction (realised returns, fills)."""

    cycle: int
    symbols: tuple[str, ...]
    realised_return: np.ndarray
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Model(Protocol):
    name: str
    family: Family
    budget: Budget

    def get_params(self) -> Mapping[str, Any]: ...

    def warmup(self, ctx: ModelContext) -> None: ...

    def fit(self, history: History) -> Iterator[Progress]: ...

    @property
    def ready(self) -> bool: ...

    def predict(self, batch: FeatureBatch) -> Sequence[Event]: ...

    def update(self, feedback: Feedback) -> None: ...

    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...
