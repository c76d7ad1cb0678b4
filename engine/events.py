"""Events the engine publishes: frozen, slotted, keyword-only, immutable fields.

Every event carries `source` (model or subsystem), `cycle` (bar counter),
`ts` (market time of the bar, ns UTC; 0 when not tied to a bar) and
`emitted` (wall time, seconds since the epoch, so a pane can show staleness).

An event is **state-like** when only the latest value per key matters (its
`coalesce_key` is a string) or **log-like** when none may be dropped
(`coalesce_key` is None). The app's bridge relies on this split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    source: str
    cycle: int = 0
    ts: int = 0
    emitted: float = field(default_factory=_now)

    @property
    def coalesce_key(self) -> str | None:
        """Key under which a newer event replaces an older one; None = keep all."""
        return None


class ModelState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    RUNNING = "running"
    PAUSED = "paused"
    FAULTED = "faulted"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class Candles(Event):
    """The newest bar of every watchlist symbol plus a short close history.

    `closes` holds, per symbol, the last closes (oldest first; NaN = missing bar)
    so the price pane can draw a chart without keeping its own history.
    """

    symbols: tuple[str, ...]
    timeframe: str
    open: tuple[float, ...]
    high: tuple[float, ...]
    low: tuple[float, ...]
    close: tuple[float, ...]
    volume: tuple[float, ...]
    history_ts: tuple[int, ...]
    closes: tuple[tuple[float, ...], ...]
    feed_status: str = ""
    synthetic: bool = False

    @property
    def coalesce_key(self) -> str:
        return "candles"


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal(Event):
    """One signal source's per-symbol score for this bar.

    `values` are probabilities that the forward return over `horizon` bars
    beats the round-trip cost (NaN where the model could not score a symbol).
    """

    family: str
    symbols: tuple[str, ...]
    values: tuple[float, ...]
    horizon: int
    meaning: str = "p(return over horizon > cost)"

    @property
    def coalesce_key(self) -> str:
        return f"signal:{self.source}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelStatus(Event):
    """A model slot's lifecycle state and timing."""

    family: str
    state: ModelState
    detail: str = ""
    error: str = ""
    last_latency_ms: float | None = None
    mean_latency_ms: float | None = None
    budget_latency_ms: float | None = None
    budget_ram_mb: float | None = None
    predictions: int = 0
    trained_at_cycle: int | None = None
    progress: str = ""

    @property
    def coalesce_key(self) -> str:
        return f"status:{self.source}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceSample(Event):
    """CPU, RAM and Pi sensors. None means the sensor is absent (never 0)."""

    cpu_percent: float
    cpu_percent_per_core: tuple[float, ...]
    load_avg: tuple[float, float, float] | None
    ram_total_mb: float
    ram_available_mb: float
    ram_percent: float
    process_rss_mb: float
    swap_used_mb: float | None
    soc_temp_c: float | None
    arm_clock_mhz: float | None
    throttle_now: tuple[str, ...] | None
    throttle_past: tuple[str, ...] | None
    sensors_note: str = ""

    @property
    def coalesce_key(self) -> str:
        return "resources"


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleStats(Event):
    """Timing of one engine cycle."""

    bars_done: int
    cycle_ms: float
    features_ms: float
    model_ms: tuple[tuple[str, float], ...]
    feed_status: str = ""

    @property
    def coalesce_key(self) -> str:
        return "cycle"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEnded(Event):
    """The feed delivered its last bar."""

    bars_done: int
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogMessage(Event):
    level: str  # "info" | "warning" | "error"
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineError(Event):
    """Something failed outside a model slot (feed, monitor, runtime)."""

    kind: str
    message: str
    hint: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRejected(Event):
    command_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolSelected(Event):
    """The engine confirms which symbol the trader is looking at."""

    symbol: str

    @property
    def coalesce_key(self) -> str:
        return "symbol"
