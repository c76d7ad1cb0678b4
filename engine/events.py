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
    paused_by: str = ""
    """Who paused it: "trader", "governor" (the resource governor), or "" when not paused."""
    pause_reason: str = ""
    """Why the governor paused it (the pressure it saw)."""

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
    fusion_ms: float | None = None
    """Scoring, the ensemble vote, fusion and proposals (None without a signal hub)."""

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


# -- the ensemble and the scoreboards -------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberVote:
    """One ensemble member's say for every symbol (NaN where it has none)."""

    name: str
    probs: tuple[float, ...]
    weight: float
    state: str
    live_hit_rate: float | None = None
    live_baseline_hit_rate: float | None = None
    scored: int = 0
    trained_at_cycle: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Votes(Event):
    """The ensemble's soft vote: every member's probability and weight, per symbol.

    `final` is the weight-averaged probability; `agreement` the weighted share
    of members on the final side of 0.5. Both NaN where no member voted.
    """

    symbols: tuple[str, ...]
    members: tuple[MemberVote, ...]
    final: tuple[float, ...]
    agreement: tuple[float, ...]
    horizon: int
    equal_weight_fallback: bool = False

    @property
    def coalesce_key(self) -> str:
        return f"votes:{self.source}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreboardRow(Event):
    """A signal source's live, out-of-sample record against its baselines.

    Computed from predictions made before the outcome was known, scored when
    the horizon has passed. `baseline_*` are the majority class measured on
    the same scored rows; `always_up_hit_rate` the share of "up" outcomes.
    """

    family: str
    scored: int
    window: int
    hit_rate: float | None
    baseline_hit_rate: float | None
    always_up_hit_rate: float | None
    brier: float | None
    baseline_brier: float | None
    weight: float

    @property
    def coalesce_key(self) -> str:
        return f"score:{self.source}"


# -- trading ---------------------------------------------------------------------


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionSource:
    name: str
    family: str
    share: float
    """Its share of the fused score this cycle (0: no say)."""
    scored: int = 0
    """Live rows scored for it so far (0 = its weight is still the hold-out prior)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionStatus(Event):
    """State-like: how this cycle's signals were fused and who selects the entries."""

    weighting: str
    symbols: tuple[str, ...]
    score: tuple[float, ...]
    """The fused p(up > cost) per symbol (NaN where no source scored it)."""
    sources: tuple[FusionSource, ...]
    fallback: bool
    selector: str
    selector_reason: str
    selector_outcomes: int = 0
    rank_mean_bp: float | None = None
    dqn_mean_bp: float | None = None
    fused_hit_rate: float | None = None
    vote_hit_rate: float | None = None
    fused_scored: int = 0

    @property
    def coalesce_key(self) -> str:
        return "fusion"


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """One signal source's part in a proposal."""

    source: str
    family: str
    value: float
    weight: float
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeProposal(Event):
    proposal_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    notional: float
    est_fee: float
    est_slippage: float
    score: float
    reasons: tuple[Contribution, ...]
    summary: str
    expires_at: float
    mode: str = "paper"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalResolved(Event):
    """What became of a proposal: approved, rejected, expired or blocked by risk."""

    proposal_id: str
    symbol: str
    outcome: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(Event):
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: str
    quantity: float
    limit_price: float | None
    status: str
    filled: float
    average_price: float | None
    message: str = ""
    proposal_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill(Event):
    order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    fill_id: str = ""
    client_order_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRow:
    symbol: str
    quantity: float
    average_price: float
    last_price: float
    unrealized_pnl: float
    realized_pnl: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioSnapshot(Event):
    mode: str
    cash: float
    equity: float
    positions: tuple[PositionRow, ...]
    open_orders: int
    realized_pnl: float
    unrealized_pnl: float
    fees_paid: float
    halted: bool = False
    halted_reason: str = ""

    @property
    def coalesce_key(self) -> str:
        return "portfolio"


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    ts: int
    proposal_id: str
    symbol: str
    side: str
    outcome: str
    reason: str
    summary: str
    rule: str = ""
    votes: tuple["Contribution", ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalPage(Event):
    """The newest decision-journal entries (answer to ShowJournal)."""

    entries: tuple[JournalEntry, ...]

    @property
    def coalesce_key(self) -> str:
        return "journal"
