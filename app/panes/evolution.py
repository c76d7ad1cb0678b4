"""The strategy search: progress, fitness per generation, the Pareto front, the top strategies.

Fed by `EvolutionProgress` events (state-like: each one replaces the last).
The plot draws the best and the median walk-forward Sharpe of every
generation as two sparklines on one shared scale (newest generation on the
right). The table lists the current top strategies with their walk-forward
and hold-out Sharpe, the deflated Sharpe ratio and PASS when they meet the
promotion thresholds (hold-out and overfitting), "—" otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from app.theming import colour
from app.widgets.glyphs import spark
from app.widgets.text import update
from engine.strategy.events import (
    EvolutionProgress,
    ParetoPoint,
    PromotedList,
    StrategyRow,
)

COLUMNS = (("trial", "trial"), ("wf", "WF Sharpe"), ("dd", "WF maxDD"), ("hold", "hold-out Sharpe"),
           ("dsr", "DSR"), ("pass", "pass"), ("strategy", "strategy"))
PARETO_ROWS = 4
LABEL_WIDTH = 7  # "median "
PASS, NO_PASS = "PASS", "—"


def _num(x: float | None, fmt: str) -> str:
    return format(x, fmt) if x is not None and math.isfinite(x) else "-"


def status_line(ev: EvolutionProgress) -> str:
    target = f"/{ev.trials_target}" if ev.trials_target else ""
    pbo = f" · PBO {ev.pbo:.2f}" if ev.pbo is not None else ""
    state = " · finished" if ev.finished else ""
    return (f"{ev.study} · generation {ev.generation} · trials {ev.trials_done}{target} · "
            f"{ev.trials_per_second:.1f} trials/s{pbo}{state}")


def fitness_lines(best: Sequence[float], median: Sequence[float], width: int) -> list[str]:
    """Two sparklines (best, median) on one scale, each followed by its newest value."""
    if not best:
        return ["no generation completed yet"]
    tail = 8  # " +12.34"
    w = max(4, width - LABEL_WIDTH - tail)
    real = [v for v in (*best[-w:], *median[-w:]) if math.isfinite(v)]
    lo, hi = (min(real), max(real)) if real else (0.0, 1.0)
    return [f"{'best':<{LABEL_WIDTH}}{spark(best, w, lo=lo, hi=hi)} {_num(best[-1], '+7.2f')}",
            f"{'median':<{LABEL_WIDTH}}{spark(median, w, lo=lo, hi=hi)} {_num(median[-1], '+7.2f') if median else '-'}"]


def pareto_lines(points: Sequence[ParetoPoint], rows: int = PARETO_ROWS) -> list[str]:
    if not points:
        return ["Pareto front: none feasible yet"]
    head = f"Pareto front ({len(points)}): Sharpe ↑ vs max drawdown ↓"
    body = [f"  #{p.trial:<5} Sharpe {p.sharpe:+6.2f}  maxDD {p.max_drawdown:6.1%}" for p in points[:rows]]
    more = [f"  … {len(points) - rows} more"] if len(points) > rows else []
    return [head, *body, *more]


def table_cells(row: StrategyRow) -> tuple[str, ...]:
    return (f"#{row.trial}", _num(row.wf_sharpe, "+.2f"), _num(row.wf_max_drawdown, ".1%"),
            _num(row.holdout_sharpe, "+.2f"), _num(row.deflated_sharpe, ".2f"), PASS if row.passes else NO_PASS,
            row.strategy)


class EvolutionPane(Vertical):
    """Where the background strategy search stands, and which promoted strategies trade."""

    BINDINGS = [Binding("d", "toggle_strategy", "Strategy on/off", id="evolution.toggle-strategy",
                        tooltip="Switch the highlighted promoted strategy's signal off or on")]

    class ToggleStrategy(Message):
        """Ask the engine to switch a promoted strategy off (enabled=False) or on."""

        def __init__(self, strategy_id: str, enabled: bool) -> None:
            super().__init__()
            self.strategy_id = strategy_id
            self.enabled = enabled

    def __init__(self) -> None:
        super().__init__(id="evolution", classes="pane")
        self.border_title = "evolution"
        self._last: EvolutionProgress | None = None
        self._promoted: PromotedList | None = None

    def compose(self) -> ComposeResult:
        yield Static("strategy search not running", id="evolution-status")
        yield Static(id="evolution-plot")
        yield Static(id="evolution-pareto")
        table: DataTable[Text] = DataTable(id="evolution-top", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("promoted strategies: none yet (cockpit evolve --promote)", id="evolution-promoted-title")
        promoted: DataTable[Text] = DataTable(id="evolution-promoted", cursor_type="row")
        yield promoted

    @property
    def promoted_table(self) -> DataTable[Text]:
        return self.query_one("#evolution-promoted", DataTable)

    def show_promoted(self, event: PromotedList) -> None:
        if self._promoted is not None and self._promoted.entries == event.entries:
            return
        self._promoted = event
        table = self.promoted_table
        if not table.columns:
            for key, heading in (("id", "id"), ("on", "trades"), ("hold", "hold-out Sharpe"), ("strategy", "strategy")):
                table.add_column(heading, key=key)
        table.clear()
        for row in event.entries:
            table.add_row(row.id, "on" if row.enabled else "OFF", _num(row.holdout_sharpe, "+.2f"), row.strategy,
                          key=row.id)
        title = (f"promoted strategies ({len(event.entries)}) · d switches the highlighted one on/off"
                 if event.entries else "promoted strategies: none yet (cockpit evolve --promote)")
        update(self.query_one("#evolution-promoted-title", Static), title)

    def action_toggle_strategy(self) -> None:
        if self._promoted is None or not self._promoted.entries:
            self.app.notify("no promoted strategy to switch", severity="warning")
            return
        index = min(max(self.promoted_table.cursor_row, 0), len(self._promoted.entries) - 1)
        row = self._promoted.entries[index]
        self.post_message(self.ToggleStrategy(row.id, not row.enabled))

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#evolution-top", DataTable)

    @property
    def last(self) -> EvolutionProgress | None:
        return self._last

    def on_mount(self) -> None:
        for key, heading in COLUMNS:
            self.table.add_column(heading, key=key)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._paint())

    def on_resize(self) -> None:
        self._paint_plot()

    def show_evolution_progress(self, event: EvolutionProgress) -> None:
        self.show_progress(event)

    def show_progress(self, event: EvolutionProgress) -> None:
        self._last = event
        self._paint()

    # -- painting -------------------------------------------------------------------
    def _tone(self, name: str) -> str:
        return colour(self.app.theme_variables, name)

    def _paint(self) -> None:
        ev = self._last
        if ev is None:
            return
        update(self.query_one("#evolution-status", Static), status_line(ev))
        self._paint_plot()
        update(self.query_one("#evolution-pareto", Static), "\n".join(pareto_lines(ev.pareto)))
        table = self.table
        table.clear()
        good, muted = self._tone("success"), self._tone("muted")
        for row in ev.top:
            cells = [Text(c) for c in table_cells(row)]
            cells[5].stylize(f"bold {good}" if row.passes and good else (muted or ""))
            table.add_row(*cells, key=f"trial-{row.trial}")

    def _paint_plot(self) -> None:
        ev = self._last
        if ev is None:
            return
        width = self.content_size.width or 60
        update(self.query_one("#evolution-plot", Static), "\n".join(fitness_lines(ev.best_fitness,
                                                                                  ev.median_fitness, width)))


__all__ = ["EvolutionPane", "fitness_lines", "pareto_lines", "status_line", "table_cells"]
