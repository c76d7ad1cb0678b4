"""CockpitApp: owns the bridge, routes engine events to panes, turns keys into commands.

The app never decides an outcome itself: a key press submits a command and
the panes change when the engine's event confirms it (model states), except
the symbol on screen, which switches at once because it is a view choice; the
engine's SymbolSelected confirms it and a CommandRejected reverts it.
"""

from __future__ import annotations

import difflib
import time
from collections import OrderedDict
from typing import Callable

from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable

import themes
from app import format as fmt
from app.bindings import SPEEDS, global_bindings, speed_index
from app.bridge import EngineLike, EventBridge, EventsReady
from app.panes.quote import quote
from app.screens.help import HelpScreen, key_sections
from app.screens.main import MainScreen
from app.screens.symbols import SymbolScreen
from app.theming import load_palettes
from engine.commands import Command, PauseModel, ResumeModel, RetryModel, SetSpeed, SetSymbol
from engine.errors import ConfigError
from engine.events import (
    Candles,
    CommandRejected,
    CycleStats,
    EngineError,
    Event,
    FeedEnded,
    LogMessage,
    ModelState,
    ModelStatus,
    ResourceSample,
    Signal,
    SymbolSelected,
)

STALE_AFTER_S = 10.0
PANE_ACTIONS = frozenset({"choose_symbol", "prev_symbol", "next_symbol", "toggle_pause", "retry", "speed"})
SENT_MEMORY = 256


def _did_you_mean(value: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f' — did you mean "{close[0]}"?' if close else ""


def describe(command: Command | None) -> str:
    """A command in words, for log lines."""
    match command:
        case PauseModel(name=name):
            return f"pause {name}"
        case ResumeModel(name=name):
            return f"resume {name}"
        case RetryModel(name=name):
            return f"retry {name}"
        case SetSymbol(symbol=symbol):
            return f"show {symbol}"
        case SetSpeed(bars_per_second=bps):
            return f"speed {fmt.speed(bps)}"
        case None:
            return "a command"
        case _:
            return type(command).__name__


class CockpitApp(App[None]):
    TITLE = "Pi Cockpit"
    CSS_PATH = themes.stylesheet_paths()
    BINDINGS = global_bindings()

    def __init__(
        self,
        engine: EngineLike,
        *,
        theme: str = "cockpit-dark",
        symbol: str | None = None,
        speed: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`speed` is the replay speed the engine starts at (bars/s, 0 = max), so
        `+`/`-` step from the right rung; `clock` (seconds, monotonic) is for tests."""
        self._palettes = load_palettes()
        super().__init__()
        for palette in self._palettes.themes:
            self.register_theme(palette)
        if theme not in self.available_themes:
            names = sorted(self.available_themes)
            raise ConfigError(f'unknown theme "{theme}"{_did_you_mean(theme, names)}',
                              hint=f"themes: {', '.join(names)}")
        self.theme = theme
        self.engine = engine
        self._symbols = tuple(engine.symbols)
        if not self._symbols:
            raise ConfigError("the engine's watchlist is empty: nothing to show")
        if symbol is not None and symbol not in self._symbols:
            raise ConfigError(
                f'symbol "{symbol}" is not on the watchlist{_did_you_mean(symbol, self._symbols)}',
                hint=f"watchlist: {', '.join(self._symbols[:12])}{'…' if len(self._symbols) > 12 else ''}",
            )
        self._symbol = symbol or self._symbols[0]
        self._ask_symbol_on_mount = symbol is not None
        self._confirmed_symbol: str | None = None
        self._symbol_request: tuple[str, str] | None = None
        self._speed = speed
        self._clock = clock
        self._last_candles_at = clock()
        self._seen_candles = False
        self._feed_ended = False
        self._candles: Candles | None = None
        self._sent: OrderedDict[str, Command] = OrderedDict()
        self._unknown_types: set[str] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._main: MainScreen | None = None
        self._panes_ready = False
        self._model_keys_for: tuple[str | None, ModelState | None] = (None, None)
        self.bridge = EventBridge(self)
        self.ui_errors = 0
        """Events a pane failed to show (each also logged); tests assert 0."""

    # -- set-up and tear-down -------------------------------------------------------
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self._palettes.semantic_defaults()

    def get_default_screen(self) -> Screen:
        engine = self.engine
        self._main = MainScreen(
            symbols=self._symbols,
            timeframe=engine.timeframe,
            mode=engine.mode,
            source=engine.source,
            model_names=tuple(engine.model_names),
            selected=self._symbol,
        )
        return self._main

    @property
    def main(self) -> MainScreen:
        """The pane grid (present whether or not a dialog covers it)."""
        if self._main is None:
            raise RuntimeError("the main screen exists only once the app is running")
        return self._main

    @property
    def symbol(self) -> str:
        """The symbol the price pane shows."""
        return self._symbol

    @property
    def cockpit_themes(self) -> tuple[str, ...]:
        return self._palettes.names

    def on_main_screen_ready(self, _message: MainScreen.Ready) -> None:
        """Every pane is mounted: subscribe, then start the engine."""
        self._panes_ready = True
        self._last_candles_at = self._clock()
        self._unsubscribe = self.engine.subscribe(self.bridge.on_event)
        if self._ask_symbol_on_mount:
            self._request_symbol(self._symbol)
        if self._speed is not None:
            self.main.header.show_speed(self._speed)
        self.set_interval(1.0, self.refresh_freshness)
        try:
            self.engine.start()
        except Exception as exc:  # noqa: BLE001 - show it; the cockpit stays up to say why
            self.main.log_pane.line("error", "engine", f"could not start: {type(exc).__name__}: {exc}")
            self.notify(f"engine did not start: {exc}", severity="error", timeout=10)

    def on_unmount(self) -> None:
        self._panes_ready = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.engine.stop()

    # -- events from the engine --------------------------------------------------------
    def on_events_ready(self, _message: EventsReady) -> None:
        events = self.bridge.drain()
        with self.batch_update():
            for event in events:
                try:
                    self._dispatch(event)
                except Exception as exc:  # noqa: BLE001 - one bad event must not end the cockpit
                    self.ui_errors += 1
                    self.log.error(f"could not show {event!r}")
                    self.main.log_pane.line("error", "ui", f"could not show {type(event).__name__}: {exc!r}")

    def _dispatch(self, event: Event) -> None:
        main = self.main
        match event:
            case Candles():
                self._candles = event
                self._seen_candles = True
                self._last_candles_at = self._clock()
                main.header.show_candles(event)
                main.price.show_candles(event)
                self.refresh_freshness()
            case Signal():
                main.models.show_signal(event)
            case ModelStatus():
                was = main.models.state_of(event.source)
                main.models.show_status(event)
                if event.state == ModelState.FAULTED and was != ModelState.FAULTED:
                    main.log_pane.line("error", event.source, f"faulted: {event.error or 'no error text'}",
                                       emitted=event.emitted)
                self._refresh_model_keys()
            case ResourceSample():
                main.resources.show(event)
            case CycleStats():
                main.header.show_cycle(event)
            case FeedEnded():
                self._feed_ended = True
                main.header.show_feed_ended(event)
                main.log_pane.show_feed_ended(event)
                self.refresh_freshness()
            case LogMessage():
                main.log_pane.show_log(event)
            case EngineError():
                main.log_pane.show_error(event)
                self.notify(f"{event.kind}: {event.message}", severity="error", timeout=8)
            case CommandRejected():
                self._rejected(event)
            case SymbolSelected():
                self._symbol_confirmed(event.symbol)
            case _:
                name = type(event).__name__
                if name not in self._unknown_types:
                    self._unknown_types.add(name)
                    main.log_pane.line("info", "ui", f"no pane shows {name} events yet")

    def _rejected(self, event: CommandRejected) -> None:
        command = self._sent.get(event.command_id)
        self.main.models.clear_pending(event.command_id)
        if self._symbol_request is not None and self._symbol_request[0] == event.command_id:
            self._symbol_request = None
            if self._confirmed_symbol is not None and self._confirmed_symbol != self._symbol:
                self._show_symbol(self._confirmed_symbol)
        self.main.log_pane.show_rejected(event, describe(command))
        self.notify(f"{describe(command)}: {event.reason}", severity="warning", timeout=5)

    def _symbol_confirmed(self, symbol: str) -> None:
        self._confirmed_symbol = symbol
        request = self._symbol_request
        if request is not None and request[1] != symbol:
            return  # the echo of an older request; ours is still on its way
        self._symbol_request = None
        if symbol != self._symbol and symbol in self._symbols:
            self._show_symbol(symbol)

    def refresh_freshness(self) -> None:
        """Header freshness: 'stale Ns' when no Candles for more than 10 s."""
        if not self._panes_ready:
            return
        header = self.main.header
        if self._feed_ended:
            header.show_freshness("feed ended", is_stale=False)
            return
        age = self._clock() - self._last_candles_at
        if age > STALE_AFTER_S:
            header.show_freshness(fmt.stale(age), is_stale=True)
        else:
            header.show_freshness("● fresh" if self._seen_candles else "waiting", is_stale=False)

    # -- commands -----------------------------------------------------------------------
    def _submit(self, command: Command) -> None:
        self.engine.submit(command)
        self._sent[command.id] = command
        while len(self._sent) > SENT_MEMORY:
            self._sent.popitem(last=False)

    def _show_symbol(self, symbol: str) -> None:
        self._symbol = symbol
        self.main.price.select(symbol)
        self.main.models.select_symbol(symbol)

    def _request_symbol(self, symbol: str) -> None:
        self._show_symbol(symbol)
        command = SetSymbol(symbol=symbol)
        self._symbol_request = (command.id, symbol)
        self._submit(command)

    def _step_symbol(self, step: int) -> None:
        at = self._symbols.index(self._symbol) if self._symbol in self._symbols else 0
        self._request_symbol(self._symbols[(at + step) % len(self._symbols)])

    def action_prev_symbol(self) -> None:
        self._step_symbol(-1)

    def action_next_symbol(self) -> None:
        self._step_symbol(1)

    def action_choose_symbol(self) -> None:
        rows = []
        for symbol in self._symbols:
            q = quote(self._candles, symbol) if self._candles is not None else None
            label = f"{symbol:<12} {fmt.price(q.last) if q else fmt.NA:>14} {fmt.change_pct(q.change) if q else '':>8}"
            rows.append((symbol, label))

        def chosen(symbol: str | None) -> None:
            if symbol is not None:
                self._request_symbol(symbol)

        self.push_screen(SymbolScreen(rows, self._symbol), chosen)

    def _highlighted_model(self) -> tuple[str | None, ModelState | None]:
        models = self.main.models
        name = models.highlighted()
        return name, (models.state_of(name) if name else None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in PANE_ACTIONS and not self._panes_ready:
            return False  # a key pressed while the first frame is still being built
        if action == "toggle_pause":
            name, state = self._highlighted_model()
            return None if name is None or state in (ModelState.FAULTED, ModelState.STOPPED) else True
        if action == "retry":
            _, state = self._highlighted_model()
            return True if state == ModelState.FAULTED else None
        return True

    def action_toggle_pause(self) -> None:
        name, state = self._highlighted_model()
        if name is None:
            return
        if state == ModelState.PAUSED:
            command: Command = ResumeModel(name=name)
            note = "resume requested…"
        else:
            command = PauseModel(name=name)
            note = "pause requested…"
        self._submit(command)
        self.main.models.mark_pending(name, note, command.id)

    def action_retry(self) -> None:
        name, state = self._highlighted_model()
        if name is None or state != ModelState.FAULTED:
            return
        command = RetryModel(name=name)
        self._submit(command)
        self.main.models.mark_pending(name, "retry requested…", command.id)

    def action_speed(self, step: int) -> None:
        at = speed_index(self._speed)
        target = min(max(at + step, 0), len(SPEEDS) - 1)
        if self._speed is not None and target == at and SPEEDS[at] == self._speed:
            self.notify(f"already at {fmt.speed(self._speed)}", timeout=2)
            return
        self._speed = SPEEDS[target]
        self._submit(SetSpeed(bars_per_second=self._speed))
        self.main.header.show_speed(self._speed)

    def action_cycle_theme(self) -> None:
        self.theme = self._palettes.next_after(self.theme)
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(key_sections(self)))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._refresh_model_keys()

    def _refresh_model_keys(self) -> None:
        """Re-check space/r availability, only when the highlighted model's state changed
        (refreshing bindings rebuilds the footer, too costly for every status event)."""
        current = self._highlighted_model()
        if current != self._model_keys_for:
            self._model_keys_for = current
            self.refresh_bindings()
