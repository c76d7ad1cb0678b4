"""The main screen: header, price + watchlist and resources on top, the family panes in tabs.

Composition and layout only; the app routes events to the panes. The screen
carries `-narrow`/`-short` classes so the stylesheets can tighten the layout
on small terminals (80×24) and relax it on big ones.

Adding a family pane is one line in `TABS`: an id, a title and a factory
that builds the widget from the `PaneContext`. Tab n (in `TABS` order) gets
the number key n; the app reaches the widget with `main.pane(id, Type)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane, Tabs

from app.panes.ensemble import FAMILY as ENSEMBLE_FAMILY
from app.panes.ensemble import EnsemblePane
from app.panes.evolution import EvolutionPane
from app.panes.forecast import ForecastPane
from app.panes.header import HeaderPane
from app.panes.log import LogPane
from app.panes.models import ModelsPane
from app.panes.orders import HaltedBadge, OrdersPane
from app.panes.patterns import PatternsPane
from app.panes.price import PricePane
from app.panes.qvalues import QValuesPane
from app.panes.resources import ResourcesPane
from app.panes.sentiment import SentimentPane
from app.widgets.footer import QuietFooter

NARROW_BELOW = 100
SHORT_BELOW = 32
MAX_NUMBERED_TABS = 9

W = TypeVar("W", bound=Widget)


@dataclass(frozen=True, slots=True)
class PaneContext:
    """What a pane factory may need to build its widget."""

    symbols: tuple[str, ...]
    timeframe: str
    mode: str
    source: str
    model_names: tuple[tuple[str, str], ...]
    selected: str

    def family(self, family: str) -> tuple[str, ...]:
        """The model names of one family, in engine order."""
        return tuple(name for name, fam in self.model_names if fam == family)


@dataclass(frozen=True, slots=True)
class Tab:
    """One tab: `build` makes its pane; `focus` (a selector inside it) gets focus when the tab opens."""

    id: str
    title: str
    build: Callable[[PaneContext], Widget]
    focus: str = ""


TABS: tuple[Tab, ...] = (
    Tab("models", "Models", lambda c: ModelsPane(c.model_names, symbols=c.symbols, symbol=c.selected),
        focus="#models-table"),
    Tab("ensemble", "Ensemble",
        lambda c: EnsemblePane(c.family(ENSEMBLE_FAMILY), symbols=c.symbols, symbol=c.selected),
        focus="#ensemble-table"),
    Tab("orders", "Orders", lambda c: OrdersPane(mode=c.mode), focus="#positions-table"),
    Tab("log", "Log", lambda c: LogPane(), focus="#log"),
    Tab("forecast", "Forecast", lambda c: ForecastPane(selected=c.selected, model="lstm")),
    Tab("patterns", "Patterns", lambda c: PatternsPane()),
    Tab("sentiment", "Sentiment", lambda c: SentimentPane(c.symbols, model="sentiment")),
    Tab("dqn", "DQN", lambda c: QValuesPane(symbol=c.selected, model="dqn")),
    Tab("evolution", "Evolution", lambda c: EvolutionPane()),
)
"""The family panes, in tab order (keys 1..9)."""


def tab_titles(tabs: tuple[Tab, ...] = TABS) -> tuple[tuple[str, str], ...]:
    """(id, title) of the tabs that get a number key."""
    return tuple((tab.id, tab.title) for tab in tabs[:MAX_NUMBERED_TABS])


class MainScreen(Screen[None]):
    class Ready(Message):
        """Every pane is mounted: events can be routed from now on."""

    class Resumed(Message):
        """The main screen is on top again (a dialog closed)."""

    def __init__(
        self,
        *,
        symbols: tuple[str, ...],
        timeframe: str,
        mode: str,
        source: str,
        model_names: tuple[tuple[str, str], ...],
        selected: str,
        tabs: tuple[Tab, ...] = TABS,
    ) -> None:
        super().__init__(id="main")
        ids = [tab.id for tab in tabs]
        if len(set(ids)) != len(ids) or not ids:
            raise ValueError(f"tab ids must be unique and at least one, got {ids}")
        self.context = PaneContext(symbols=symbols, timeframe=timeframe, mode=mode, source=source,
                                   model_names=model_names, selected=selected)
        self.tabs = tabs
        self.header = HeaderPane(mode=mode, source=source, timeframe=timeframe)
        self.halted = HaltedBadge()
        self.price = PricePane(symbols=symbols, timeframe=timeframe, selected=selected)
        self.resources = ResourcesPane()
        self.panes: dict[str, Widget] = {tab.id: tab.build(self.context) for tab in tabs}
        self.tabbed = TabbedContent(initial=tabs[0].id, id="panes")

    # -- the panes the app routes to -----------------------------------------------
    def pane(self, tab_id: str, kind: type[W]) -> W:
        """The widget of tab `tab_id`, checked to be a `kind`."""
        widget = self.panes.get(tab_id)
        if widget is None:
            raise LookupError(f'no tab "{tab_id}" (tabs: {", ".join(self.panes)})')
        if not isinstance(widget, kind):
            raise TypeError(f'tab "{tab_id}" holds a {type(widget).__name__}, not a {kind.__name__}')
        return widget

    @property
    def models(self) -> ModelsPane:
        return self.pane("models", ModelsPane)

    @property
    def ensemble(self) -> EnsemblePane:
        return self.pane("ensemble", EnsemblePane)

    @property
    def orders(self) -> OrdersPane:
        return self.pane("orders", OrdersPane)

    @property
    def log_pane(self) -> LogPane:
        return self.pane("log", LogPane)

    @property
    def active_tab(self) -> str:
        return self.tabbed.active

    def show_tab(self, tab_id: str) -> None:
        """Open a tab and focus its pane."""
        if tab_id not in self.panes:
            raise LookupError(f'no tab "{tab_id}" (tabs: {", ".join(self.panes)})')
        self._tell_shown(tab_id)  # before the switch: the first frame of the tab is already current
        self.tabbed.active = tab_id
        self._focus_tab(tab_id)

    def _tell_shown(self, open_tab: str) -> None:
        """Panes that can skip painting while hidden (`set_shown`) learn whether their tab is open."""
        for tab_id, pane in self.panes.items():
            set_shown = getattr(pane, "set_shown", None)
            if callable(set_shown):
                set_shown(tab_id == open_tab)

    # -- composition -----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="top"):
            yield self.price
            yield self.resources
        with self.tabbed:
            for tab in self.tabs:
                with TabPane(self._tab_label(tab), id=tab.id):
                    yield self.panes[tab.id]
        yield QuietFooter(compact=True)

    def _tab_label(self, tab: Tab) -> str:
        at = self.tabs.index(tab) + 1
        return f"{at} {tab.title}" if at <= MAX_NUMBERED_TABS else tab.title

    def on_mount(self) -> None:
        self.header.mount(self.halted, after=self.header.query_one("#header-mode"))
        # Number keys switch tabs; tab/shift+tab move between the panes, not onto the tab strip.
        self.tabbed.query_one(Tabs).can_focus = False
        self._tell_shown(self.tabs[0].id)
        self._focus_tab(self.tabs[0].id)
        self.post_message(self.Ready())

    def on_screen_resume(self) -> None:
        self.post_message(self.Resumed())

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW_BELOW, "-narrow")
        self.set_class(event.size.height < SHORT_BELOW, "-short")

    @on(TabbedContent.TabActivated, "#panes")
    def _tab_opened(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._tell_shown(event.pane.id)  # also a tab opened by a click
            self.call_after_refresh(self._focus_tab, event.pane.id)

    def _focus_tab(self, tab_id: str) -> None:
        """Focus the pane of `tab_id` if that tab is (still) the open one."""
        tab = next((t for t in self.tabs if t.id == tab_id), None)
        if tab is None or self.tabbed.active != tab_id:
            return
        pane = self.panes[tab_id]
        target = pane if not tab.focus or pane.id == tab.focus.lstrip("#") else pane.query_one(tab.focus)
        if target.focusable:
            target.focus()
