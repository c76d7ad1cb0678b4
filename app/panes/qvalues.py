"""What the DQN is thinking: the selected symbol's four Q-values, the agent's state, the watchlist's top picks.

- bars: HOLD / BUY / SELL / EXIT as horizontal bars scaled to the largest
  |Q| of the four (bull colour ≥ 0, bear colour < 0), the chosen action marked.
- stats: action taken, epsilon, replay size, recent loss, updates done and
  whether learning is frozen.
- top: the symbols whose best action leads the others by the most
  (advantage = best Q − mean of the other three), best first.

Everything shown comes from the latest `QValues` event (state-like); the
pane keeps no history. Key `f` (pane focused) posts `QValuesPane.FreezeRequested`
asking to freeze (or unfreeze) the agent's learning; the app turns it into
an engine command. The pane shows "requested…" until an event confirms it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from app.widgets.text import update
from engine.rl.events import ACTION_NAMES, QValues

BAR_WIDTH = 20
TOP_N = 5


def _q(x: float) -> str:
    return f"{x:+.3f}" if math.isfinite(x) else "  n/a"


def _bar(value: float, scale: float) -> str:
    if not (math.isfinite(value) and scale > 0):
        return " " * BAR_WIDTH
    cells = round(abs(value) / scale * BAR_WIDTH)
    return ("█" * cells).ljust(BAR_WIDTH)


class QValuesPane(Vertical, can_focus=True):
    BINDINGS: ClassVar[list[Binding]] = [Binding("f", "toggle_freeze", "freeze learning")]

    @dataclass
    class FreezeRequested(Message):
        """Ask the engine to freeze (frozen=True) or resume the learning of `model`."""

        model: str
        frozen: bool

    def __init__(self, *, symbol: str, model: str = "dqn") -> None:
        super().__init__(id="qvalues")
        self.border_title = f"Q-values · {model}"
        self.model = model
        self._symbol = symbol
        self._event: QValues | None = None
        self._requested: bool | None = None
        self._bars = Static(id="qvalues-bars")
        self._stats = Static(id="qvalues-stats")
        self._top = Static(id="qvalues-top")

    def compose(self) -> ComposeResult:
        yield self._bars
        yield self._stats
        yield self._top

    def on_mount(self) -> None:
        self._paint()

    # -- updates -------------------------------------------------------------------
    def show_qvalues(self, event: QValues) -> None:
        self._event = event
        if self._requested is not None and event.learning_frozen == self._requested:
            self._requested = None
        self._paint()

    def action_toggle_freeze(self) -> None:
        frozen = self._event.learning_frozen if self._event is not None else False
        self._requested = not frozen
        self.post_message(self.FreezeRequested(self.model, self._requested))
        self._paint()

    def select_symbol(self, symbol: str) -> None:
        self._symbol = symbol
        self._paint()

    # -- queries (tests, diagnostics) -----------------------------------------------
    def bars_text(self) -> str:
        return self._plain(self._bars)

    def stats_text(self) -> str:
        return self._plain(self._stats)

    def top_text(self) -> str:
        return self._plain(self._top)

    @staticmethod
    def _plain(widget: Static) -> str:
        visual = widget.visual
        return visual.plain if isinstance(visual, Content) else str(visual or "")

    # -- painting ------------------------------------------------------------------
    def _paint(self) -> None:
        event = self._event
        if event is None:
            update(self._bars, Content.from_markup("[b]$symbol[/] [$muted]waiting for the agent…[/]",
                                                   symbol=self._symbol))
            update(self._stats, Content(""))
            update(self._top, Content(""))
            return
        self._paint_bars(event)
        self._paint_stats(event)
        self._paint_top(event)

    def _index(self, event: QValues) -> int | None:
        try:
            return event.symbols.index(self._symbol)
        except ValueError:
            return None

    def _paint_bars(self, event: QValues) -> None:
        i = self._index(event)
        if i is None or not any(math.isfinite(q) for q in event.q[i]):
            update(self._bars, Content.from_markup("[b]$symbol[/] [$muted]not scored this bar[/]",
                                                   symbol=self._symbol))
            return
        q, chosen = event.q[i], event.actions[i]
        scale = max(abs(x) for x in q if math.isfinite(x))
        lines = [Content.from_markup("[b]$symbol[/]", symbol=self._symbol)]
        for a, (name, value) in enumerate(zip(ACTION_NAMES, q)):
            tone = "bull" if value >= 0 else "bear"
            mark = "▶" if a == chosen else " "
            lines.append(Content.from_markup(f"$mark $name [${tone}]$bar[/] $value", mark=mark, name=name.ljust(4),
                                             bar=_bar(value, scale), value=_q(value)))
        update(self._bars, Content("\n").join(lines))

    def _paint_stats(self, event: QValues) -> None:
        i = self._index(event)
        action = event.actions[i] if i is not None else -1
        taken = ACTION_NAMES[action] if 0 <= action < len(ACTION_NAMES) else "–"
        loss = f"{event.recent_loss:.4f}" if event.recent_loss is not None and math.isfinite(event.recent_loss) else "–"
        learning = "[b $warning]learning FROZEN[/]" if event.learning_frozen else "[$bull]learning[/]"
        if self._requested is not None:
            learning += " [$muted](freeze requested…)[/]" if self._requested else " [$muted](unfreeze requested…)[/]"
        update(self._stats, Content.from_markup(
            f"action [b]$taken[/] · ε $eps · replay $replay · loss $loss · updates $updates · {learning}",
            taken=taken, eps=f"{event.epsilon:.3f}", replay=f"{event.replay_size:,}", loss=loss,
            updates=f"{event.updates:,}"))

    def _paint_top(self, event: QValues) -> None:
        ranked = sorted((adv, s, act) for s, adv, act in zip(event.symbols, event.advantage, event.actions)
                        if math.isfinite(adv) and 0 <= act < len(ACTION_NAMES))
        ranked = ranked[::-1][:TOP_N]
        if not ranked:
            update(self._top, Content.from_markup("[$muted]no symbol scored[/]"))
            return
        best = [Content.from_markup("[$muted]top by advantage:[/]")]
        for adv, symbol, _act in ranked:
            i = event.symbols.index(symbol)
            choice = ACTION_NAMES[max(range(4), key=lambda a: event.q[i][a])]
            best.append(Content.from_markup(" $symbol $choice $adv", symbol=symbol, choice=choice, adv=f"{adv:+.3f}"))
        update(self._top, Content("").join(best))
