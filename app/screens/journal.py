"""The decision journal: every proposal's fate (approved, rejected, expired, blocked) and why.

The app submits `ShowJournal` when it opens this screen and hands it the
engine's `JournalPage` answer (`show_page`); `r` asks again. The line under
the table shows the highlighted entry in full, votes included.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from app import format as fmt
from app.theming import colour
from app.widgets.text import update
from engine.events import Contribution, JournalEntry, JournalPage

COLUMNS = (
    ("time", "bar time"), ("symbol", "symbol"), ("side", "side"), ("outcome", "outcome"),
    ("rule", "rule"), ("reason", "reason"), ("summary", "summary / votes"),
)
OUTCOME_TONES = {"approved": "success", "rejected": "warning", "expired": "muted", "blocked": "error",
                 "pending": "accent"}
REASON_WIDTH = 40
SUMMARY_WIDTH = 80


def votes_text(votes: tuple[Contribution, ...]) -> str:
    """'rf 0.71×0.12, knn 0.48×0.05' — the votes recorded with an entry."""
    return ", ".join(f"{c.source} {fmt.probability(c.value)}×{c.weight:.2f}" for c in votes)


def summary_of(entry: JournalEntry) -> str:
    votes = votes_text(entry.votes)
    return f"{entry.summary} · votes: {votes}" if votes else entry.summary


class JournalScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="journal.close"),
        Binding("j", "close", "Close", id="journal.close-again", show=False),
        Binding("r", "app.refresh_journal", "Refresh", id="journal.refresh", tooltip="Ask the engine again"),
    ]

    def __init__(self, page: JournalPage | None = None) -> None:
        super().__init__(id="journal")
        self._page = page
        self.table: DataTable[Text] = DataTable(id="journal-table", cursor_type="row", zebra_stripes=True)
        self._status = Static(id="journal-status")
        self._detail = Static(id="journal-detail")

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-dialog") as dialog:
            dialog.border_title = "decision journal"
            dialog.border_subtitle = "r refreshes · escape closes"
            yield self._status
            yield self.table
            yield self._detail

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.table.add_column(label, key=key)
        self._paint()
        self.table.focus()

    # -- what the app calls ------------------------------------------------------
    def show_page(self, page: JournalPage) -> None:
        self._page = page
        if self.is_mounted:
            self._paint()

    @property
    def entries(self) -> tuple[JournalEntry, ...]:
        return self._page.entries if self._page is not None else ()

    def row_texts(self) -> list[dict[str, str]]:
        """The plain text of every row (for tests and diagnostics)."""
        return [{name: cell.plain for (name, _), cell in zip(COLUMNS, self.table.get_row(key.value))}
                for key in self.table.rows]

    def text(self) -> str:
        return "\n".join(str(w.render()) for w in self.query(Static))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._paint_detail()

    # -- painting ----------------------------------------------------------------
    def _tone(self, name: str) -> str:
        return colour(self.app.theme_variables, name)

    def _paint(self) -> None:
        table = self.table
        table.clear()
        if self._page is None:
            update(self._status, Content.from_markup("[$muted]asking the engine…[/]"))
            self._paint_detail()
            return
        entries = self._page.entries
        counts: dict[str, int] = {}
        for e in entries:
            counts[e.outcome] = counts.get(e.outcome, 0) + 1
        tally = " · ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        update(self._status, Content.from_markup(
            "[b]$n[/] [$muted]newest entries$tally[/]", n=str(len(entries)),
            tally=f" · {tally}" if tally else " — no decisions yet"))
        for i, e in enumerate(entries):
            table.add_row(
                Text(fmt.market_time(e.ts), style=self._tone("muted")),
                Text(e.symbol, style="bold"),
                Text(e.side, style=self._tone("bull" if e.side == "buy" else "bear")),
                Text(e.outcome, style=self._tone(OUTCOME_TONES.get(e.outcome, "foreground")) + " bold"),
                Text(e.rule),
                Text(fmt.elide(e.reason, REASON_WIDTH)),
                Text(fmt.elide(summary_of(e), SUMMARY_WIDTH), style=self._tone("muted")),
                key=f"{i}:{e.proposal_id}",
            )
        self._paint_detail()

    def _paint_detail(self) -> None:
        table = self.table
        entry = None
        if table.row_count:
            try:
                entry = self.entries[table.cursor_row]
            except (IndexError, RowDoesNotExist):
                entry = None
        if entry is None:
            update(self._detail, Content(""))
            return
        update(self._detail, Content.from_markup(
            "[b]$symbol $side[/] [$muted]$outcome · $reason[/]\n$summary",
            symbol=entry.symbol, side=entry.side, outcome=entry.outcome,
            reason=" — ".join(x for x in (entry.rule, entry.reason) if x) or "no reason given",
            summary=summary_of(entry)))
