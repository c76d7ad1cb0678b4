"""Replay a CandlePanel as if it were live: history before `start`, paced bars after.

Pacing is drift-free: replayed bar k is due at t0 + k / speed, where t0 is
the clock time of the first `next_bar` call (so time spent warming models
up does not turn into a burst of bars). A consumer that falls behind gets
the overdue bars at once until it has caught up. `set_speed` restarts the
schedule from the next bar: it comes at its old due time or one new
interval from now, whichever is sooner, never before now, so changing the
speed (even to the same value) drops any backlog.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from engine.clock import Clock, SystemClock
from engine.data.panel import Bar, CandlePanel
from engine.errors import ConfigError

DEFAULT_START_FRACTION = 0.7
_MAX_SLEEP = 0.1  # seconds; bounds how late a wait notices set_speed() or close()
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class _Pace:
    """Replay position `anchor_pos` is due at clock time `anchor_time`; `speed` bars/s after it."""

    speed: float
    anchor_pos: int = 0
    anchor_time: float | None = None

    def due(self, pos: int) -> float:
        if self.speed <= 0:
            return -math.inf
        assert self.anchor_time is not None
        return self.anchor_time + (pos - self.anchor_pos) / self.speed


class ReplayFeed:
    """A Feed over a recorded panel, paced at `speed` bars per second.

    `start` is an ISO date/time (UTC unless it carries an offset; the first
    bar at or after it starts the replay) or a bar index; None means the bar
    70% of the way through the panel. `speed <= 0` replays as fast as
    possible. Pass a `ManualClock` to test pacing without sleeping.
    """

    def __init__(
        self,
        panel: CandlePanel,
        *,
        start: str | int | None = None,
        speed: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if panel.n_bars == 0:
            raise ConfigError("cannot replay an empty panel", hint=panel.source or "no bars")
        self._panel = panel
        self._start = _resolve_start(panel, start)
        self._total = panel.n_bars - self._start
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._pace = _Pace(speed=_check_speed(speed))
        self._pos = 0
        self._closed = False
        self.symbols = panel.symbols
        self.timeframe = panel.timeframe
        self.source = panel.source
        self.synthetic = panel.synthetic

    # --- the Feed protocol -------------------------------------------------

    def history(self) -> CandlePanel:
        """Every bar strictly before the replay start."""
        return self._panel.slice(0, self._start)

    def next_bar(self, timeout: float | None = None) -> Bar | None:
        """The next bar once it is due; None if it is not due within `timeout` seconds."""
        if self.exhausted:
            return None
        clock = self._clock
        now = clock.monotonic()
        if self._pace.anchor_time is None:
            pace = self._pace
            self._pace = _Pace(speed=pace.speed, anchor_pos=self._pos, anchor_time=now)
        deadline = None if timeout is None else now + max(timeout, 0.0)
        while True:
            if self._closed:
                return None
            wait = self._pace.due(self._pos) - now
            if wait <= _EPS:
                break
            if deadline is not None:
                if now >= deadline:
                    return None
                wait = min(wait, deadline - now)
            clock.sleep(min(wait, _MAX_SLEEP))
            now = clock.monotonic()
        bar = self._panel.bar(self._start + self._pos)
        self._pos += 1
        return bar

    @property
    def exhausted(self) -> bool:
        return self._closed or self._pos >= self._total

    def status(self) -> str:
        """E.g. "replay · 2019-01-03 12:00 UTC · 4.0 bars/s · bar 120/1000"."""
        last = self._start + self._pos - 1
        when = _format_ts(int(self._panel.ts[max(last, 0)]))
        parts = ["replay", when, _format_speed(self._pace.speed), f"bar {self._pos}/{self._total}"]
        if self._closed:
            parts.append("closed")
        elif self._pos >= self._total:
            parts.append("finished")
        return " · ".join(parts)

    def close(self) -> None:
        self._closed = True

    # --- replay controls ---------------------------------------------------

    @property
    def speed(self) -> float:
        return self._pace.speed

    def set_speed(self, speed: float) -> None:
        """Change the pace from the next bar on (safe to call from another thread)."""
        speed = _check_speed(speed)
        pace = self._pace
        if pace.anchor_time is None:
            self._pace = _Pace(speed=speed)
            return
        now = self._clock.monotonic()
        pos = self._pos
        due = max(pace.due(pos), now)
        if speed > 0:
            due = min(due, now + 1.0 / speed)
        self._pace = _Pace(speed=speed, anchor_pos=pos, anchor_time=due)

    @property
    def position(self) -> int:
        """How many bars have been replayed so far."""
        return self._pos

    @property
    def start_index(self) -> int:
        """Index in the panel of the first replayed bar (= number of history bars)."""
        return self._start

    @property
    def total(self) -> int:
        """How many bars the replay delivers in all."""
        return self._total

    def replayed(self) -> CandlePanel:
        """The bars replayed so far, as a panel."""
        return self._panel.slice(self._start, self._start + self._pos)


def _check_speed(speed: float) -> float:
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise ConfigError(f"replay speed must be a number of bars per second, got {speed!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise ConfigError(f"replay speed must be finite, got {speed!r}", hint="use 0 for as fast as possible")
    return value


def _resolve_start(panel: CandlePanel, start: str | int | None) -> int:
    n = panel.n_bars
    if start is None:
        return int(n * DEFAULT_START_FRACTION)
    if isinstance(start, str):
        index = panel.index_at_or_after(_parse_when(start))
        if index >= n:
            raise ConfigError(
                f"replay start {start!r} is after the last bar ({_format_ts(int(panel.ts[-1]))})",
                hint="nothing would be replayed",
            )
        return index
    if isinstance(start, bool):
        raise ConfigError(f"replay start must be a date or a bar index, got {start!r}")
    try:
        index = operator.index(start)
    except TypeError:
        raise ConfigError(f"replay start must be a date or a bar index, got {start!r}") from None
    if not 0 <= index < n:
        raise ConfigError(f"replay start index {index} is outside the panel", hint=f"0 ≤ start < {n}")
    return index


def _parse_when(text: str) -> int:
    import pandas as pd

    try:
        when = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        raise ConfigError(
            f"replay start {text!r} is neither a date nor a bar index", hint="e.g. 2019-01-03 or 2019-01-03T12:00"
        ) from None
    if when is pd.NaT:
        raise ConfigError(f"replay start {text!r} is not a date")
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    return int(when.as_unit("ns").value)


def _format_ts(ts_ns: int) -> str:
    return str(np.datetime64(ts_ns, "ns").astype("datetime64[m]")).replace("T", " ") + " UTC"


def _format_speed(speed: float) -> str:
    if speed <= 0:
        return "max speed"
    return f"{speed:.1f} bars/s" if speed >= 1 else f"{speed:.2g} bars/s"
