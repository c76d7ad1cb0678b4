"""Commands the app sends to the engine. `Engine.submit()` queues and returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


def _next_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    id: str = field(default_factory=_next_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseModel(Command):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeModel(Command):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryModel(Command):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSymbol(Command):
    symbol: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSpeed(Command):
    """Replay speed in bars per second; 0 = as fast as possible."""

    bars_per_second: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown(Command):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseFamily(Command):
    family: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeFamily(Command):
    family: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveTrade(Command):
    proposal_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectTrade(Command):
    proposal_id: str
    reason: str = "rejected by the trader"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowJournal(Command):
    limit: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class FreezeLearning(Command):
    """Stop (frozen=True) or restart a model's online learning; it keeps acting."""

    name: str
    frozen: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SetStrategyEnabled(Command):
    """Switch a promoted strategy's signal off (or on again); persisted."""

    strategy_id: str
    enabled: bool
