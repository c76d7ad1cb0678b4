"""The resource governor's state as an event (published when it changes)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernorStatus(Event):
    """What the governor sees and what it has paused, and why.

    `pressure` holds one reason per pressure seen now ("SoC 82 °C ≥ 80 °C");
    `shed` the work it paused, oldest first, each with the reason at the
    time; `exempt` the work the trader resumed during this pressure episode
    (left running until the episode ends).
    """

    enabled: bool = True
    pressure: tuple[str, ...] = ()
    shed: tuple[tuple[str, str], ...] = ()
    exempt: tuple[str, ...] = ()
    note: str = ""

    @property
    def coalesce_key(self) -> str:
        return "governor"
