"""The compact watchlist: symbol, last price, change; the selected row marked.

Focusable: up/down step through symbols (the same actions as `[` and `]`).
With a long watchlist it shows the window of rows around the selection.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static

from app import format as fmt
from app.panes.quote import quote, short_names, tone
from app.widgets.text import update
from engine.events import Candles


class WatchlistPane(Static, can_focus=True):
    BINDINGS = [
        Binding("up", "app.prev_symbol", "Previous symbol", id="watchlist.up", show=False),
        Binding("down", "app.next_symbol", "Next symbol", id="watchlist.down", show=False),
    ]

    def __init__(self, symbols: tuple[str, ...], selected: str) -> None:
        super().__init__(id="watchlist")
        self._symbols = symbols
        self._selected = selected
        self._candles: Candles | None = None

    def on_mount(self) -> None:
        self._paint()

    def on_resize(self) -> None:
        self._paint()

    def show(self, candles: Candles | None, selected: str) -> None:
        self._candles = candles
        self._selected = selected
        if candles is not None and candles.symbols:
            self._symbols = candles.symbols
        self._paint()

    def visible_symbols(self) -> tuple[str, ...]:
        """The symbols on screen: all, or a window that keeps the selection visible."""
        rows = self.content_size.height or len(self._symbols)
        if len(self._symbols) <= rows:
            return self._symbols
        at = self._symbols.index(self._selected) if self._selected in self._symbols else 0
        start = min(max(at - rows // 2, 0), len(self._symbols) - rows)
        return self._symbols[start : start + rows]

    def _paint(self) -> None:
        width = self.content_size.width or 24
        symbols = self.visible_symbols()
        names = short_names(self._symbols)
        sym_w = min(max((len(names[s]) for s in symbols), default=3), 9)
        rows = [(symbol, quote(self._candles, symbol) if self._candles is not None else None)
                for symbol in symbols]
        prices = [fmt.price(q.last) if q else fmt.NA for _, q in rows]
        last_w = max((len(p) for p in prices), default=3)
        change_w = 6 if 2 + sym_w + 1 + last_w + 1 + 6 <= width else 0
        last_w = max(width - 2 - sym_w - 1 - (change_w + 1 if change_w else 0), last_w)
        lines = []
        for (symbol, q), last in zip(rows, prices):
            mark, style = ("▸", "b $accent") if symbol == self._selected else (" ", "$foreground")
            template = f"[{style}]$mark $sym[/] $last"
            if change_w:
                template += f" [${tone(q.change) if q else 'muted'}]$change[/]"
            lines.append(Content.from_markup(
                template,
                mark=mark,
                sym=fmt.elide(names[symbol], sym_w).ljust(sym_w),
                last=last.rjust(last_w),
                change=(fmt.change_pct(q.change, decimals=1) if q else fmt.NA).rjust(change_w),
            ))
        update(self, Content("\n").join(lines), fixed=True)
