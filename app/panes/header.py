"""The top line: title, PAPER/LIVE badge, replay clock, feed, source, freshness."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label

from app import format as fmt
from app.widgets.text import update
from engine.events import Candles, CycleStats, FeedEnded


class HeaderPane(Horizontal):
    """One row of labels; each piece has an id (header-clock, header-fresh, ...)."""

    def __init__(self, *, mode: str, source: str, timeframe: str) -> None:
        super().__init__(id="header")
        self._source = source
        self._badge = Label(Content(f" {mode.upper()} "), id="header-mode",
                            classes="-live" if mode.lower() == "live" else "-paper")
        self._clock = Label(Content(f"{fmt.NA} · {timeframe}"), id="header-clock")
        self._bars = Label(id="header-bars")
        self._speed = Label(id="header-speed")
        self._feed = Label(Content("waiting for data"), id="header-feed")
        self._source_label = Label(Content(source), id="header-source")
        self._fresh = Label(id="header-fresh")

    def compose(self) -> ComposeResult:
        yield Label("◆ Pi Cockpit", id="header-title")
        yield from (self._badge, self._clock, self._bars, self._speed, self._feed, self._source_label, self._fresh)

    def show_candles(self, event: Candles) -> None:
        update(self._clock, f"{fmt.market_time(event.ts)} · {event.timeframe}")
        update(self._feed, event.feed_status)
        update(self._source_label, self._source + (" · synthetic" if event.synthetic else ""))

    def show_cycle(self, event: CycleStats) -> None:
        update(self._bars, f"bar {fmt.count(event.bars_done)}")
        if event.feed_status:
            update(self._feed, event.feed_status)

    def show_feed_ended(self, event: FeedEnded) -> None:
        update(self._feed, event.message or "feed ended")

    def show_speed(self, bars_per_second: float | None) -> None:
        update(self._speed, "" if bars_per_second is None else f"→ {fmt.speed(bars_per_second)}")

    def show_freshness(self, text: str, *, is_stale: bool) -> None:
        update(self._fresh, text)
        self._fresh.set_class(is_stale, "-stale")
