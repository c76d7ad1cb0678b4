"""The main grid: header, price + watchlist, resources, models, log, footer.

Composition and layout only; the app routes events to the panes. The screen
carries `-narrow`/`-short` classes so the stylesheets can tighten the layout
on small terminals (80×24) and relax it on big ones.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from app.panes.header import HeaderPane
from app.panes.log import LogPane
from app.panes.models import ModelsPane
from app.panes.price import PricePane
from app.panes.resources import ResourcesPane

NARROW_BELOW = 100
SHORT_BELOW = 32


class MainScreen(Screen[None]):
    class Ready(Message):
        """Every pane is mounted: events can be routed from now on."""
    def __init__(
        self,
        *,
        symbols: tuple[str, ...],
        timeframe: str,
        mode: str,
        source: str,
        model_names: tuple[tuple[str, str], ...],
        selected: str,
    ) -> None:
        super().__init__(id="main")
        self.header = HeaderPane(mode=mode, source=source, timeframe=timeframe)
        self.price = PricePane(symbols=symbols, timeframe=timeframe, selected=selected)
        self.resources = ResourcesPane()
        self.models = ModelsPane(model_names, symbols=symbols, symbol=selected)
        self.log_pane = LogPane()

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="top"):
            yield self.price
            yield self.resources
        yield self.models
        yield self.log_pane
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.models.table.focus()
        self.post_message(self.Ready())

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW_BELOW, "-narrow")
        self.set_class(event.size.height < SHORT_BELOW, "-short")
