"""Clocks: the real one, and a manual one so pacing is testable without sleeping."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Monotonic seconds and a way to wait."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time: `time.monotonic` and `time.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to; `sleep` advances it instantly.

    `sleeps` records every positive sleep, so a test can assert that a
    replay never waited (as fast as possible) or waited exactly so long.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleeps.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass without anyone sleeping (e.g. slow work elsewhere)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        self._now += seconds
