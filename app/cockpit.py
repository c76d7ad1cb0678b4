"""CockpitApp: owns the bridge, routes engine events to panes, turns keys into commands.

The app never decides an outcome itself: a key press submits a command and
the panes change when the engine's event confirms it (model states), except
the symbol on screen, which switches at once because it is a view choice; the
engine's SymbolSelected confirms it and a CommandRejected reverts it.
Trade proposals wait in a FIFO queue and open one confirm dialog at a time,
only over the main screen; the app never approves on its own, and the
engine's ProposalResolved closes a dialog it decided first (a timeout).
"""

from __future__ import annotations

import difflib
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import partial

from textual import on
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable

import themes
from app import format as fmt
from app.bindings import SPEEDS, global_bindings, speed_index
from app.bridge import EngineLike, EventBridge, EventsReady
from app.panes.ensemble import FAMILY as ENSEMBLE_FAMILY
from app.panes.ensemble import EnsemblePane
from app.panes.evolution import EvolutionPane
from app.panes.forecast import ForecastPane
from app.panes.models import ModelsPane
from app.panes.patterns import PatternsPane
from app.panes.quote import quote
from app.panes.qvalues import QValuesPane
from app.panes.sentiment import SentimentPane
from app.screens.confirm_trade import (
    APPROVE,
    REJECT,
    ConfirmTradeScreen,
    ProposalQueue,
    describe_proposal,
)
from app.screens.help import HelpScreen, key_rows, key_sections
from app.screens.journal import JournalScreen
from app.screens.main import MainScreen, tab_titles
from app.screens.symbols import SymbolScreen
from app.theming import load_palettes
from engine.commands import (
    ApproveTrade,
    Command,
    FreezeLearning,
    PauseFamily,
    PauseModel,
    RejectTrade,
    ResumeFamily,
    ResumeModel,
    RetryModel,
    SetSpeed,
    SetStrategyEnabled,
    SetSymbol,
    ShowJournal,
)
from engine.errors import ConfigError
from engine.events import (
    Candles,
    CommandRejected,
    CycleStats,
    EngineError,
    Event,
    FeedEnded,
    Fill,
    FusionStatus,
    JournalPage,
    LogMessage,
    ModelState,
    ModelStatus,
    OrderUpdate,
    PortfolioSnapshot,
    ProposalResolved,
    ResourceSample,
    ScoreboardRow,
    Signal,
    SymbolSelected,
    TradeProposal,
    Votes,
)
from engine.forecast.events import Forecast
from engine.governor_events import GovernorStatus
from engine.patterns.events import PatternHit
from engine.rl.events import QValues
from engine.sentiment.events import Headline, Sentiment
from engine.strategy.events import EvolutionProgress, PromotedList

STALE_AFTER_S = 10.0
DRAIN_INTERVAL_S = 0.25
"""Least time between two repaints from engine events (at most 4 a second)."""
ENGINE_NICE = 10
"""Nice levels below the UI thread for the engine's threads: with both cores busy, the
UI thread then gets the CPU first (measured by `cockpit bench --ui`)."""
PANE_ACTIONS = frozenset({"choose_symbol", "prev_symbol", "next_symbol", "toggle_pause", "toggle_family", "retry",
                          "speed", "show_tab", "journal"})
MODEL_TABS = ("models", "ensemble")
"""Tabs whose highlighted row is a model that space, P and r act on."""
SENT_MEMORY = 256
JOURNAL_LIMIT = 100
OUTCOME_SEVERITY = {"approved": "information", "rejected": "information", "expired": "warning", "blocked": "warning"}


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
        case PauseFamily(family=family):
            return f"pause the {family} family"
        case ResumeFamily(family=family):
            return f"resume the {family} family"
        case ApproveTrade(proposal_id=pid):
            return f"approve {pid}"
        case RejectTrade(proposal_id=pid):
            return f"reject {pid}"
        case ShowJournal():
            return "show the journal"
        case None:
            return "a command"
        case _:
            return type(command).__name__


class CockpitApp(App[None]):
    TITLE = "Pi Cockpit"
    CSS_PATH = themes.stylesheet_paths()
    BINDINGS = global_bindings(tab_titles())

    def __init__(
        self,
        engine: EngineLike,
        *,
        theme: str = "cockpit-dark",
        symbol: str | None = None,
        speed: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        drain_interval: float = DRAIN_INTERVAL_S,
        engine_nice: int = ENGINE_NICE,
    ) -> None:
        """`speed` is the replay speed the engine starts at (bars/s, 0 = max), so
        `+`/`-` step from the right rung; `clock` (seconds, monotonic) and
        `wall_clock` (seconds since the epoch, for proposal deadlines) are for tests.
        `drain_interval` is the least time between two repaints from engine events;
        `engine_nice` how many nice levels the engine's threads run below the UI's."""
        self._palettes = load_palettes()
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # A tab switch animated its underline for 0.3 s: ~18 frames, measured as the
            # second-largest UI cost of a key press (`cockpit bench --ui`).
            self.animation_level = "none"
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
        self._wall_clock = wall_clock
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
        self._proposals = ProposalQueue()
        self._seen_proposals: OrderedDict[str, TradeProposal] = OrderedDict()
        self._confirm: ConfirmTradeScreen | None = None
        self._journal: JournalScreen | None = None
        self._journal_page: JournalPage | None = None
        self._halted = False
        self.bridge = EventBridge(self)
        self._drain_interval = drain_interval
        self._last_drain = -math.inf
        self._drain_timer: Timer | None = None
        self._engine_nice = engine_nice
        self._help: HelpScreen | None = None
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
        if hasattr(self.engine, "thread_nice"):  # the real engine's threads yield the CPU to this one
            self.engine.thread_nice = self._engine_nice
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
        """Drain now, or once `drain_interval` has passed since the last drain: meanwhile
        state-like events coalesce in the mailbox, so a busy engine costs fewer repaints
        and a key press finds the UI thread free sooner (`cockpit bench --ui`)."""
        if self._drain_timer is not None:
            return
        wait = self._last_drain + self._drain_interval - time.monotonic()
        if wait > 0:
            self._drain_timer = self.set_timer(wait, self._drain_mailbox)
        else:
            self._drain_mailbox()

    def _drain_mailbox(self) -> None:
        self._drain_timer = None
        self._last_drain = time.monotonic()
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
                main.pane("forecast", ForecastPane).show_candles(event)
                main.pane("patterns", PatternsPane).show_candles(event)
                self.refresh_freshness()
            case Signal():
                main.models.show_signal(event)
            case ModelStatus():
                was = main.models.state_of(event.source)
                main.models.show_status(event)
                if event.family == ENSEMBLE_FAMILY:
                    main.ensemble.show_status(event)
                if event.state == ModelState.FAULTED and was != ModelState.FAULTED:
                    main.log_pane.line("error", event.source, f"faulted: {event.error or 'no error text'}",
                                       emitted=event.emitted)
                self._refresh_model_keys()
            case Votes():
                main.ensemble.show_votes(event)
            case FusionStatus():
                main.ensemble.show_fusion(event)
            case Forecast():
                main.pane("forecast", ForecastPane).show_forecast(event)
            case PatternHit():
                main.pane("patterns", PatternsPane).show_pattern_hit(event)
            case Headline():
                main.pane("sentiment", SentimentPane).show_headline(event)
            case Sentiment():
                main.pane("sentiment", SentimentPane).show_sentiment(event)
            case QValues():
                main.pane("dqn", QValuesPane).show_qvalues(event)
            case EvolutionProgress():
                main.pane("evolution", EvolutionPane).show_progress(event)
            case PromotedList():
                main.pane("evolution", EvolutionPane).show_promoted(event)
            case ScoreboardRow():
                main.models.show_score(event)
                main.ensemble.show_score(event)
            case TradeProposal():
                self._proposal_arrived(event)
            case ProposalResolved():
                self._proposal_resolved(event)
            case OrderUpdate():
                main.orders.show_order(event)
                main.log_pane.line("error" if event.status == "rejected" else "info", event.source,
                                   self._order_line(event), emitted=event.emitted)
            case Fill():
                main.orders.show_fill(event)
                main.log_pane.line("info", event.source, f"fill {event.side} {fmt.quantity(event.quantity)} "
                                   f"{event.symbol} @ {fmt.price(event.price)}, fee {fmt.money(event.fee)}",
                                   emitted=event.emitted)
            case PortfolioSnapshot():
                main.orders.show_portfolio(event)
                main.halted.show(event)
                self._halt_changed(event)
            case JournalPage():
                self._journal_page = event
                if self._journal is not None:
                    self._journal.show_page(event)
            case ResourceSample():
                main.resources.show(event)
            case GovernorStatus():
                main.resources.show_governor(event)
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
        self.main.ensemble.clear_pending(event.command_id)
        if self._symbol_request is not None and self._symbol_request[0] == event.command_id:
            self._symbol_request = None
            if self._confirmed_symbol is not None and self._confirmed_symbol != self._symbol:
                self._show_symbol(self._confirmed_symbol)
        what = self._describe(command)
        self.main.log_pane.show_rejected(event, what)
        self.notify(f"{what}: {event.reason}", severity="warning", timeout=5)

    def _describe(self, command: Command | None) -> str:
        """`describe`, with the proposal spelled out for trade decisions."""
        if isinstance(command, (ApproveTrade, RejectTrade)):
            proposal = self._seen_proposals.get(command.proposal_id)
            if proposal is not None:
                verb = "approve" if isinstance(command, ApproveTrade) else "reject"
                return f"{verb} {describe_proposal(proposal)}"
        return describe(command)

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

    # -- trading ------------------------------------------------------------------------
    def _proposal_arrived(self, proposal: TradeProposal) -> None:
        self._seen_proposals[proposal.proposal_id] = proposal
        while len(self._seen_proposals) > SENT_MEMORY:
            self._seen_proposals.popitem(last=False)
        self._proposals.add(proposal)
        self.main.log_pane.line("info", proposal.source, f"proposal {proposal.proposal_id}: {proposal.summary}",
                                emitted=proposal.emitted)
        if self._confirm is not None:
            self._confirm.set_waiting(len(self._proposals) - 1)
            return
        self._show_next_proposal()
        if self._confirm is None:
            self.notify(f"trade proposal waiting: {describe_proposal(proposal)} — close this dialog to decide",
                        severity="warning", timeout=8)

    def _show_next_proposal(self) -> None:
        """Open the oldest queued proposal, when the main screen is on top and no proposal is open."""
        if self._confirm is not None or not self._panes_ready:
            return
        try:
            if self.screen is not self.main:
                return
        except ScreenStackError:  # quitting: the screens are already gone
            return
        proposal = self._proposals.oldest()
        if proposal is None:
            return
        self._confirm = ConfirmTradeScreen(proposal, waiting=len(self._proposals) - 1, wall_clock=self._wall_clock)
        self.push_screen(self._confirm, partial(self._decided, proposal))

    def _decided(self, proposal: TradeProposal, decision: str | None) -> None:
        """The dialog closed: by the trader ("approve"/"reject") or because the engine decided (None)."""
        self._confirm = None
        self._proposals.remove(proposal.proposal_id)
        if decision == APPROVE:
            self._submit(ApproveTrade(proposal_id=proposal.proposal_id))
        elif decision == REJECT:
            self._submit(RejectTrade(proposal_id=proposal.proposal_id))
        if decision is not None:
            self.main.log_pane.line("info", "ui", f"{decision} {describe_proposal(proposal)} sent",
                                    emitted=self._wall_clock())
        self.call_after_refresh(self._show_next_proposal)

    def _proposal_resolved(self, event: ProposalResolved) -> None:
        proposal = self._seen_proposals.get(event.proposal_id)
        what = describe_proposal(proposal) if proposal is not None else f"{event.symbol} proposal"
        because = f": {event.reason}" if event.reason else ""
        level = "warning" if event.outcome in ("expired", "blocked") else "info"
        self.main.log_pane.line(level, event.source, f"{what} {event.outcome}{because}", emitted=event.emitted)
        shown = self._confirm is not None and self._confirm.proposal.proposal_id == event.proposal_id
        self._proposals.remove(event.proposal_id)
        if shown:
            self._confirm.close_resolved(event.outcome)
        elif self._confirm is not None:
            self._confirm.set_waiting(len(self._proposals) - 1)
        # Toast what the trader saw or waits for; proposals blocked before they were made go to the log only.
        if shown or (proposal is not None and event.outcome != "rejected"):
            self.notify(f"{what} {event.outcome}{because}", title="trade",
                        severity=OUTCOME_SEVERITY.get(event.outcome, "information"), timeout=6)

    @staticmethod
    def _order_line(event: OrderUpdate) -> str:
        size = f"{fmt.quantity(event.filled)}/{fmt.quantity(event.quantity)}"
        price = f" @ {fmt.price(event.average_price)}" if event.average_price is not None else ""
        note = f" — {event.message}" if event.message else ""
        return f"order {event.side} {event.symbol} {event.order_type} {size}{price} {event.status}{note}"

    def _halt_changed(self, event: PortfolioSnapshot) -> None:
        if event.halted == self._halted:
            return
        self._halted = event.halted
        if event.halted:
            self.notify(f"trading halted: {event.halted_reason or 'no new entries'}", severity="error", timeout=10)
        else:
            self.main.log_pane.line("info", event.source, "trading resumed: the halt was lifted", emitted=event.emitted)

    def action_journal(self) -> None:
        self._journal = JournalScreen(self._journal_page)
        self._submit(ShowJournal(limit=JOURNAL_LIMIT))

        def closed(_result: None) -> None:
            self._journal = None

        self.push_screen(self._journal, closed)

    def action_refresh_journal(self) -> None:
        self._submit(ShowJournal(limit=JOURNAL_LIMIT))

    def on_main_screen_resumed(self, _message: MainScreen.Resumed) -> None:
        self._show_next_proposal()

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
        self.main.ensemble.select_symbol(symbol)
        self.main.pane("forecast", ForecastPane).select_symbol(symbol)
        self.main.pane("dqn", QValuesPane).select_symbol(symbol)

    @on(EvolutionPane.ToggleStrategy)
    def _toggle_strategy(self, message: EvolutionPane.ToggleStrategy) -> None:
        self._submit(SetStrategyEnabled(strategy_id=message.strategy_id, enabled=message.enabled))

    @on(QValuesPane.FreezeRequested)
    def _freeze_requested(self, message: QValuesPane.FreezeRequested) -> None:
        self._submit(FreezeLearning(name=message.model, frozen=message.frozen))

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

    def _model_table(self) -> ModelsPane | EnsemblePane | None:
        """The pane whose highlighted row space, P and r act on: the open tab's, if it lists models."""
        main = self.main
        tab = main.active_tab
        if tab not in MODEL_TABS:
            return None
        return main.ensemble if tab == "ensemble" else main.models

    def _highlighted_model(self) -> tuple[str | None, ModelState | None]:
        pane = self._model_table()
        name = pane.highlighted() if pane is not None else None
        return name, (pane.state_of(name) if name else None)

    def _family_of(self, name: str) -> str | None:
        return next((fam for model, fam in self.engine.model_names if model == name), None) or (
            ENSEMBLE_FAMILY if name in self.main.ensemble.members else None)

    def _family_members(self, family: str) -> tuple[str, ...]:
        names = [model for model, fam in self.engine.model_names if fam == family]
        if family == ENSEMBLE_FAMILY:
            names += [m for m in self.main.ensemble.members if m not in names]
        return tuple(names)

    def _mark_pending(self, name: str, note: str, command_id: str) -> None:
        self.main.models.mark_pending(name, note, command_id)
        self.main.ensemble.mark_pending(name, note, command_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in PANE_ACTIONS and not self._panes_ready:
            return False  # a key pressed while the first frame is still being built
        if action == "toggle_pause":
            name, state = self._highlighted_model()
            return None if name is None or state in (ModelState.FAULTED, ModelState.STOPPED) else True
        if action == "retry":
            _, state = self._highlighted_model()
            return True if state == ModelState.FAULTED else None
        if action == "toggle_family":
            name, _ = self._highlighted_model()
            return True if name is not None and self._family_of(name) else None
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
        self._mark_pending(name, note, command.id)

    def action_toggle_family(self) -> None:
        """Pause the highlighted model's family, or resume it when every member is paused already."""
        name, _ = self._highlighted_model()
        family = self._family_of(name) if name else None
        if family is None:
            return
        members = self._family_members(family)
        pane = self._model_table()
        states = {m: pane.state_of(m) if pane is not None else None for m in members}
        resume = bool(members) and all(state == ModelState.PAUSED for state in states.values())
        command: Command = ResumeFamily(family=family) if resume else PauseFamily(family=family)
        self._submit(command)
        note = "resume requested…" if resume else "pause requested…"
        for member, state in states.items():
            if state not in (ModelState.FAULTED, ModelState.STOPPED) and (resume or state != ModelState.PAUSED):
                self._mark_pending(member, note, command.id)
        self.notify(f"{describe(command)} requested", timeout=3)

    def action_show_tab(self, tab_id: str) -> None:
        self.main.show_tab(tab_id)
        self._refresh_model_keys()

    def action_retry(self) -> None:
        name, state = self._highlighted_model()
        if name is None or state != ModelState.FAULTED:
            return
        command = RetryModel(name=name)
        self._submit(command)
        self._mark_pending(name, "retry requested…", command.id)

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
        """The help screen is built once and kept (building it cost more than showing it,
        `cockpit bench --ui`); it is rebuilt only when the keys it lists change."""
        display = self.get_key_display
        sections = [
            *key_sections(self),
            ("Trade proposal dialog", key_rows(Binding.make_bindings(ConfirmTradeScreen.BINDINGS), display)),
            ("Decision journal", key_rows(Binding.make_bindings(JournalScreen.BINDINGS), display)),
        ]
        if self._help is None or self._help.sections != sections:
            if self._help is not None:
                self.uninstall_screen(self._help)
            self._help = HelpScreen(sections)
            self.install_screen(self._help, name="help")
        self.push_screen(self._help)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._refresh_model_keys()

    def _refresh_model_keys(self) -> None:
        """Re-check space/r availability, only when the highlighted model's state changed
        (refreshing bindings rebuilds the footer, too costly for every status event)."""
        current = self._highlighted_model()
        if current != self._model_keys_for:
            self._model_keys_for = current
            self.refresh_bindings()
