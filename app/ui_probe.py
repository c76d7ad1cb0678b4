"""What `cockpit bench --ui` puts into the cockpit: two timing hooks and a key planner.

`BenchApp` is the real CockpitApp plus hooks at two points every key press
passes: `App.run_action` (every binding runs through it: the handler) and
`App._display` (Textual's single exit for a finished frame: the screen). The
key planner picks keys that visibly change the screen and says, for each, how
to recognise the frame that shows the change.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual import events
from textual._compositor import CompositorUpdate

from app.cockpit import CockpitApp
from app.screens.confirm_trade import ConfirmTradeScreen
from app.screens.help import HelpScreen
from engine.events import ModelState

KEY_EVENTS = {
    "?": ("question_mark", "?"),
    "escape": ("escape", "\x1b"),
    "[": ("left_square_bracket", "["),
    "]": ("right_square_bracket", "]"),
    "space": ("space", " "),
    **{str(n): (str(n), str(n)) for n in range(1, 10)},
}
"""Key → (Textual key name, character), as the terminal driver's parser produces them."""


@dataclass(slots=True)
class Press:
    """One key in flight: written on the UI thread, read by the input thread after `done`."""

    key: str
    kind: str
    shown: Callable[[CockpitApp], bool]
    """True once the app's state is what this key should have produced."""
    phase: str = ""
    sent: float = 0.0
    entered: float | None = None
    entered_cpu: float = 0.0
    returned: bool = False
    frame: float | None = None
    frame_cpu: float | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Probe:
    """The press in flight and running totals of the UI thread's other work."""

    def __init__(self) -> None:
        self.press: Press | None = None
        self.drains = 0
        self.drain_s = 0.0
        self.drain_max_s = 0.0
        self.frames = 0
        self.frame_encode_s = 0.0


class BenchApp(CockpitApp):
    """The cockpit with timing hooks and nothing else changed."""

    def __init__(self, engine: Any, probe: Probe, **kw: Any) -> None:
        super().__init__(engine, **kw)
        self.probe = probe

    async def run_action(self, action: Any, default_namespace: Any = None) -> bool:
        press = self.probe.press
        if press is not None and press.entered is None:
            press.entered = time.perf_counter()
            press.entered_cpu = time.thread_time()
        try:
            return await super().run_action(action, default_namespace)
        finally:
            if press is not None and press.entered is not None:
                press.returned = True

    def _drain_mailbox(self) -> None:
        t0 = time.perf_counter()
        super()._drain_mailbox()
        took = time.perf_counter() - t0
        probe = self.probe
        probe.drains += 1
        probe.drain_s += took
        probe.drain_max_s = max(probe.drain_max_s, took)

    def _display(self, screen: Any, renderable: Any) -> None:
        super()._display(screen, renderable)
        if renderable is None or self._batch_count:
            return  # nothing reached the terminal
        t0 = time.perf_counter()
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(self.console)  # the encoding a real terminal gets; headless skips it
        probe = self.probe
        probe.frames += 1
        probe.frame_encode_s += time.perf_counter() - t0
        press = probe.press
        if (press is not None and press.returned and press.frame is None and screen is self.screen
                and press.shown(self)):
            press.frame = time.perf_counter()
            press.frame_cpu = time.thread_time()
            press.done.set()


def _always() -> bool:
    return True


class Planner:
    """Keys that change the screen: tabs 1–9, `[`/`]`, space (pause, later resume), `?` then escape."""

    def __init__(self, app: CockpitApp, rng: random.Random) -> None:
        self.app = app
        self.rng = rng
        self.tabs = [tab.id for tab in app.main.tabs][:9]
        self.tab = app.main.active_tab
        self.symbols = tuple(app.engine.symbols)
        self.symbol = app.symbol
        self.help_open = False
        self.paused: str | None = None

    def next(self) -> tuple[Press, Callable[[], bool]]:
        """The next press and a condition to wait for before sending it."""
        app = self.app
        if isinstance(app.screen, ConfirmTradeScreen):  # a proposal got through: reject it
            return Press("escape", "dialog", lambda a: not isinstance(a.screen, ConfirmTradeScreen)), _always
        if self.help_open:
            return self.close_help(), _always
        if self.paused is not None:  # resume what was paused, once the engine confirmed the pause
            name, self.paused = self.paused, None
            return self._toggle(name, ModelState.PAUSED), lambda: app.main.models.state_of(name) == ModelState.PAUSED
        kind = self.rng.choice(("tab", "tab", "symbol", "pause", "help"))
        if kind == "pause" and self.tab != "models":
            kind = "models"
        if kind == "pause":
            name = app.main.models.highlighted()
            state = app.main.models.state_of(name) if name else None
            if name and state in (ModelState.RUNNING, ModelState.LOADING):
                self.paused = name
                return self._toggle(name, state), _always
            kind = "symbol"
        if kind in ("tab", "models"):
            return self._tab("models" if kind == "models" else
                             self.rng.choice([t for t in self.tabs if t != self.tab])), _always
        if kind == "symbol":
            return self._symbol(self.rng.choice((-1, 1))), _always
        self.help_open = True
        return Press("?", "help", lambda a: isinstance(a.screen, HelpScreen)), _always

    def close_help(self) -> Press:
        self.help_open = False
        return Press("escape", "help", lambda a: not isinstance(a.screen, HelpScreen))

    def _tab(self, target: str) -> Press:
        self.tab = target
        pane = self.app.main.panes[target]
        return Press(str(self.tabs.index(target) + 1), "tab",
                     lambda a: a.main.active_tab == target and bool(pane.region))

    def _symbol(self, step: int) -> Press:
        self.symbol = target = self.symbols[(self.symbols.index(self.symbol) + step) % len(self.symbols)]
        return Press("]" if step > 0 else "[", "symbol",
                     lambda a: a.symbol == target and a.main.price.border_title.startswith(target))

    @staticmethod
    def _toggle(name: str, before: ModelState | None) -> Press:
        def shown(a: CockpitApp) -> bool:
            return "requested" in a.main.models.row_text(name)["note"] or a.main.models.state_of(name) != before

        return Press("space", "pause", shown)


def send(app: BenchApp, press: Press, timeout: float) -> None:
    """Hand the key to the app the way the terminal driver's input thread does, and wait for its frame."""
    driver = app._driver
    if driver is None:
        raise RuntimeError("the app is not running")
    name, char = KEY_EVENTS[press.key]
    app.probe.press = press
    press.sent = time.perf_counter()
    driver.send_message(events.Key(name, char))
    press.done.wait(timeout)
    app.probe.press = None
