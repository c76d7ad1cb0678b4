"""The RL family's event: what the agent is thinking, per watchlist symbol."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event

ACTION_NAMES: tuple[str, ...] = ("HOLD", "BUY", "SELL", "EXIT")


@dataclass(frozen=True, slots=True, kw_only=True)
class QValues(Event):
    """State-like, one per model: the Q-value of each action for every symbol.

    `q[i]` are the four Q-values of `symbols[i]` in `ACTION_NAMES` order (NaN
    where the symbol could not be scored); `actions[i]` is the index of the
    action the agent took (-1 where none). `advantage[i]` is the best action's
    Q minus the mean of the others (how sure the agent is).
    """

    symbols: tuple[str, ...]
    q: tuple[tuple[float, float, float, float], ...]
    actions: tuple[int, ...]
    advantage: tuple[float, ...]
    positions: tuple[float, ...] = ()
    """1.0 where the agent's own (shadow) book is long the symbol, 0.0 where flat."""
    epsilon: float = 0.0
    replay_size: int = 0
    recent_loss: float | None = None
    updates: int = 0
    learning_frozen: bool = False

    @property
    def coalesce_key(self) -> str:
        return f"qvalues:{self.source}"
