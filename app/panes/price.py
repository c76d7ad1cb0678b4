"""The selected symbol: a chart of recent closes, last/change/range, and the watchlist."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from app import format as fmt
from app.panes.quote import quote, tone
from app.panes.watchlist import WatchlistPane
from app.widgets.price_chart import PriceChart
from app.widgets.text import update
from engine.events import Candles


COMPACT_BELOW = 14
"""Pane heights below this get the three-line summary."""


class PricePane(Vertical):
    """Shows one symbol from the newest Candles; `select()` switches symbol."""

    def __init__(self, *, symbols: tuple[str, ...], timeframe: str, selected: str) -> None:
        super().__init__(id="price")
        self._timeframe = timeframe
        self._symbol = selected
        self._candles: Candles | None = None
        self._chart = PriceChart(id="price-chart")
        self._stats = Static(id="price-stats")
        self._watchlist = WatchlistPane(symbols, selected)

    @property
    def symbol(self) -> str:
        return self._symbol

    def compose(self) -> ComposeResult:
        with Horizontal(id="price-body"):
            yield self._chart
            with Vertical(id="price-side"):
                yield self._stats
                yield self._watchlist

    def on_mount(self) -> None:
        self._paint()

    def show_candles(self, event: Candles) -> None:
        self._candles = event
        self._timeframe = event.timeframe
        self._paint()

    def select(self, symbol: str) -> None:
        self._symbol = symbol
        self._paint()

    def _paint(self) -> None:
        title = f"{self._symbol} · {self._timeframe}"
        if self.border_title != title:
            self.border_title = title
        candles = self._candles
        self._watchlist.show(candles, self._symbol)
        q = quote(candles, self._symbol) if candles is not None else None
        stats, chart = self._stats, self._chart
        if q is None:
            update(stats, Content.from_markup("[$muted]waiting for $symbol…[/]", symbol=self._symbol))
            chart.set_series((), ())
            return
        i = candles.symbols.index(self._symbol)
        chart.set_series(candles.history_ts, candles.closes[i] if i < len(candles.closes) else ())
        values = dict(
            last=fmt.price(q.last),
            gap="" if q.has_bar else " (no bar)",
            change=fmt.change_pct(q.change),
            window=fmt.duration(q.window_ns / 1e9) if q.window_ns else "",
            high=fmt.price(q.high),
            low=fmt.price(q.low),
            volume=fmt.count(q.volume) if fmt.finite(q.volume) and q.volume >= 100 else fmt.price(q.volume),
        )
        up = tone(q.change)
        if self.size.height < COMPACT_BELOW:
            template = f"[b ${up}]$last[/] [${up}]$change[/]$gap\n[$muted]hi[/] $high\n[$muted]lo[/] $low"
        else:
            template = (
                f"[b ${up}]$last[/]$gap\n[${up}]$change[/] [$muted]$window[/]\n"
                "[$muted]hi[/] $high\n[$muted]lo[/] $low\n[$muted]vol[/] $volume"
            )
        update(stats, Content.from_markup(template, **values))

    def on_resize(self) -> None:
        if self.is_mounted:
            self._paint()
