"""One row per model slot: state, latency vs budget, predictions, signal, errors.

A row's state changes only when a ModelStatus arrives; a key press only adds
a "pause requested…" note until the engine confirms (or rejects) it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from app import format as fmt
from app.panes.quote import short_names
from app.theming import colour
from app.widgets.deferred_paint import DeferredPaint
from app.widgets.live_table import LiveTable
from app.widgets.table_cells import relabel_column, repaint_row
from app.widgets.text import update
from engine.events import ModelState, ModelStatus, ScoreboardRow, Signal

COLUMNS = (
    ("name", "model"),
    ("family", "family"),
    ("state", "state"),
    ("latency", "latency ms"),
    ("predictions", "preds"),
    ("signal", "p"),
    ("note", "note"),
)
STATE_TONES = {
    ModelState.LOADING: "muted",
    ModelState.READY: "primary",
    ModelState.RUNNING: "success",
    ModelState.PAUSED: "warning",
    ModelState.FAULTED: "error",
    ModelState.STOPPED: "muted",
}
NOTE_WIDTH = 60


@dataclass(slots=True)
class _Row:
    """What the pane knows about one slot (UI-thread state, never shared)."""

    name: str
    family: str
    status: ModelStatus | None = None
    signal: Signal | None = None
    score: ScoreboardRow | None = None
    pending: str = ""
    pending_id: str = ""
    pending_from: ModelState | None = None

    def settle(self) -> None:
        self.pending, self.pending_id, self.pending_from = "", "", None


def _governor_note(s: ModelStatus) -> str:
    return f"paused by governor: {s.pause_reason}" if s.pause_reason else "paused by governor"


def _ms(x: float | None) -> str:
    if not fmt.finite(x):
        return "–"
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


class ModelsPane(DeferredPaint, Vertical):
    def __init__(self, model_names: tuple[tuple[str, str], ...], *, symbols: tuple[str, ...], symbol: str) -> None:
        super().__init__(id="models")
        self.border_title = "models"
        self._rows: dict[str, _Row] = {name: _Row(name, family) for name, family in model_names}
        self._symbol = symbol
        self._short = short_names(symbols)
        self.table: DataTable[Text] = LiveTable(id="models-table", cursor_type="row", zebra_stripes=True)
        self._detail = Static(id="model-detail")

    def compose(self) -> ComposeResult:
        yield self.table
        yield self._detail

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.table.add_column(label, key=key)
        for row in self._rows.values():
            self.table.add_row(*self._cells(row), key=row.name)
        self._label_signal_column()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.repaint_all())
        self._paint_detail()

    # -- queries ---------------------------------------------------------------
    def highlighted(self) -> str | None:
        """The model name under the cursor, if any."""
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        except RowDoesNotExist:
            return None
        return key.value

    def state_of(self, name: str) -> ModelState | None:
        row = self._rows.get(name)
        return row.status.state if row and row.status else None

    def row_text(self, name: str) -> dict[str, str]:
        """The plain text of each cell of one row (for tests and diagnostics)."""
        self._catch_up()
        cells = self.table.get_row(name)
        return {key: cell.plain for (key, _), cell in zip(COLUMNS, cells)}

    # -- updates -----------------------------------------------------------------
    def show_status(self, event: ModelStatus) -> None:
        row = self._row(event.source, event.family)
        row.status = event
        if row.pending and event.state != row.pending_from:
            row.settle()  # the engine acted on the request
        self._repaint(row)

    def show_score(self, event: ScoreboardRow) -> None:
        """The model's live, out-of-sample record (shown in the detail line)."""
        row = self._rows.get(event.source)
        if row is None:
            return
        row.score = event
        if row.name == self.highlighted():
            self._paint_detail()

    def show_signal(self, event: Signal) -> None:
        row = self._row(event.source, event.family)
        row.signal = event
        self._repaint(row)

    def select_symbol(self, symbol: str) -> None:
        self._symbol = symbol
        self._label_signal_column()
        self.repaint_all()

    def mark_pending(self, name: str, note: str, command_id: str) -> None:
        row = self._rows.get(name)
        if row is None:
            return
        row.pending, row.pending_id = note, command_id
        row.pending_from = row.status.state if row.status else None
        self._repaint(row)

    def clear_pending(self, command_id: str) -> str | None:
        """Forget a rejected command's notes (a family command marks several rows); returns the first model."""
        first = None
        for row in self._rows.values():
            if row.pending_id == command_id:
                row.settle()
                self._repaint(row)
                first = first or row.name
        return first

    def repaint_all(self) -> None:
        for row in self._rows.values():
            self._repaint(row)

    def _paint_all(self) -> None:
        self.repaint_all()
        self._paint_detail()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._paint_detail()

    # -- painting ----------------------------------------------------------------
    def _row(self, name: str, family: str) -> _Row:
        row = self._rows.get(name)
        if row is None:
            row = self._rows[name] = _Row(name, family)
            self.table.add_row(*self._cells(row), key=name)
        return row

    def _repaint(self, row: _Row) -> None:
        if self._deferred():
            return
        repaint_row(self.table, row.name, [key for key, _ in COLUMNS], self._cells(row))
        if row.name == self.highlighted():
            self._paint_detail()

    def _label_signal_column(self) -> None:
        relabel_column(self.table, "signal", f"p({fmt.elide(self._short.get(self._symbol, self._symbol), 8)})",
                       next(iter(self._rows), None))

    def _tone(self, name: str) -> str:
        return colour(self.app.theme_variables, name)

    def _cells(self, row: _Row) -> tuple[Text, ...]:
        s = row.status
        if s is None:
            state = Text("waiting", style=self._tone("muted"))
        else:
            bold = " bold" if s.state == ModelState.FAULTED else ""
            state = Text(str(s.state), style=self._tone(STATE_TONES[s.state]) + bold)
        return (
            Text(row.name, style="bold"),
            Text(row.family, style=self._tone("muted")),
            state,
            self._latency_cell(s),
            Text(fmt.count(s.predictions) if s else "–", justify="right"),
            self._signal_cell(row.signal),
            self._note_cell(row),
        )

    def _latency_cell(self, s: ModelStatus | None) -> Text:
        if s is None:
            return Text("–")
        text = f"{_ms(s.last_latency_ms)}/{_ms(s.mean_latency_ms)} ≤{_ms(s.budget_latency_ms)}"
        budget = s.budget_latency_ms
        style = ""
        if fmt.finite(budget):
            if fmt.finite(s.mean_latency_ms) and s.mean_latency_ms > budget:
                style = self._tone("error")
            elif fmt.finite(s.last_latency_ms) and s.last_latency_ms > budget:
                style = self._tone("warning")
        return Text(text, style=style)

    def _signal_cell(self, signal: Signal | None) -> Text:
        if signal is None or self._symbol not in signal.symbols:
            return Text("–", justify="right")
        p = signal.values[signal.symbols.index(self._symbol)]
        tone = "muted" if not fmt.finite(p) or p == 0.5 else ("bull" if p > 0.5 else "bear")
        return Text(fmt.probability(p), style=self._tone(tone), justify="right")

    def _note_cell(self, row: _Row) -> Text:
        s = row.status
        if s is not None and s.state == ModelState.FAULTED and s.error:
            return Text(fmt.elide(s.error, NOTE_WIDTH), style=self._tone("error"))
        if row.pending:
            return Text(row.pending, style=self._tone("accent"))
        if s is None:
            return Text("")
        if s.state == ModelState.PAUSED and s.paused_by == "governor":
            return Text(fmt.elide(_governor_note(s), NOTE_WIDTH), style=self._tone("warning"))
        return Text(fmt.elide(s.progress or s.detail, NOTE_WIDTH), style=self._tone("muted"))

    def _paint_detail(self) -> None:
        if self._deferred():
            return
        detail = self._detail
        name = self.highlighted()
        row = self._rows.get(name) if name else None
        if row is None:
            update(detail, Content(""))
            return
        s = row.status
        parts = [f"{row.family}", str(s.state) if s else "waiting for status"]
        if s is not None:
            parts.append(
                f"latency {fmt.milliseconds(s.last_latency_ms)} last, {fmt.milliseconds(s.mean_latency_ms)} mean,"
                f" budget {fmt.milliseconds(s.budget_latency_ms)}"
            )
            parts += [p for p in (s.detail, s.progress) if p]
            if s.state == ModelState.PAUSED and s.paused_by:
                parts.append(_governor_note(s) if s.paused_by == "governor" else f"paused by the {s.paused_by}")
            if s.trained_at_cycle is not None:
                parts.append(f"trained at bar {fmt.count(s.trained_at_cycle)}")
            if fmt.finite(s.budget_ram_mb):
                parts.append(f"ram budget {fmt.megabytes(s.budget_ram_mb)}")
        score = row.score
        if score is not None and score.scored:
            parts.append(f"live hit {fmt.versus(score.hit_rate, score.baseline_hit_rate)} baseline"
                         f" over {fmt.count(score.scored)} scored")
        about = Content.from_markup("[b]$name[/] [$muted]$rest[/]", name=row.name, rest=" · ".join(parts))
        if s is not None and s.state == ModelState.FAULTED:
            # The error goes first: on a small terminal only the first line may show.
            error = Content.from_markup(
                "[b]$name[/] [$error]$error[/] [$muted](r retries)[/]\n",
                name=row.name, error=s.error or "faulted (no error text)",
            )
            about = error + about
        update(detail, about)
