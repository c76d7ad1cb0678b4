"""Pick the symbol for the price pane: type to filter, enter to choose, escape to cancel."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option


class SymbolScreen(ModalScreen[str | None]):
    """Dismisses with the chosen symbol, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="symbols.cancel"),
        Binding("down", "move(1)", "Next", id="symbols.down", show=False),
        Binding("up", "move(-1)", "Previous", id="symbols.up", show=False),
    ]

    def __init__(self, rows: list[tuple[str, str]], current: str) -> None:
        """`rows` are (symbol, label) pairs in watchlist order."""
        super().__init__(id="symbols")
        self._rows = rows
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="symbols-dialog") as dialog:
            dialog.border_title = "symbol"
            dialog.border_subtitle = "enter picks · escape cancels"
            yield Input(placeholder="filter…", id="symbols-filter")
            yield OptionList(id="symbols-list")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, needle: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        needle = needle.strip().lower()
        matches = [(s, label) for s, label in self._rows if needle in s.lower()]
        options.add_options([Option(label, id=s) for s, label in matches])
        symbols = [s for s, _ in matches]
        if symbols:
            options.highlighted = symbols.index(self._current) if self._current in symbols else 0

    @on(Input.Changed, "#symbols-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#symbols-filter")
    def _submit(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#symbols-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -step
            options.highlighted = (current + step) % options.option_count

    def action_cancel(self) -> None:
        self.dismiss(None)
