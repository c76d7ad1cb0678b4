"""The help screen: every key, generated from the bindings themselves."""

from __future__ import annotations

from typing import Callable, Iterable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from app.panes.watchlist import WatchlistPane
from app.screens.symbols import SymbolScreen

KeyRow = tuple[str, str]
Section = tuple[str, list[KeyRow]]


def class_bindings(cls: type) -> list[Binding]:
    """The bindings `cls` declares, merged over its bases (later keys win)."""
    by_key: dict[str, Binding] = {}
    for klass in reversed(cls.__mro__):
        for binding in Binding.make_bindings(klass.__dict__.get("BINDINGS", ())):
            by_key[binding.key] = binding
    return [b for b in by_key.values() if not b.system]


def key_rows(bindings: Iterable[Binding], display: Callable[[Binding], str]) -> list[KeyRow]:
    """(keys, description) rows; keys sharing one action are listed together."""
    rows: dict[tuple[str, str], list[str]] = {}
    for b in bindings:
        description = b.tooltip or b.description or b.action.replace("_", " ")
        label = b.description or b.action.replace("_", " ")
        text = description if description == label else f"{label} — {description}"
        rows.setdefault((b.action, text), []).append(display(b))
    return [(" ".join(keys), text) for (_, text), keys in rows.items()]


def key_sections(app: App) -> list[Section]:
    """Every key the cockpit answers to, grouped, straight from the bindings."""
    palette = Binding(app.COMMAND_PALETTE_BINDING, "command_palette", "Commands",
                      tooltip="Command palette: themes, keys and actions by name")
    display = app.get_key_display
    return [
        ("Cockpit", key_rows([*class_bindings(type(app)), palette], display)),
        ("Focus", key_rows(class_bindings(Screen), display)),
        ("Watchlist (when focused)", key_rows(class_bindings(WatchlistPane), display)),
        ("Models table (when focused)", key_rows(class_bindings(DataTable), display)),
        ("Dialogs", key_rows([*class_bindings(SymbolScreen), *class_bindings(HelpScreen)], display)),
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", id="help.close-again", key_display="?", show=False),
    ]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__(id="help")
        self._sections = sections

    @property
    def sections(self) -> list[Section]:
        """What the screen lists."""
        return self._sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog") as dialog:
            dialog.border_title = "keys"
            dialog.border_subtitle = "escape closes"
            with VerticalScroll(id="help-body"):
                for title, rows in self._sections:
                    yield Static(Content.from_markup("[b $accent]$t[/]", t=title), classes="help-section")
                    width = max((len(k) for k, _ in rows), default=1)
                    lines = [
                        Content.from_markup("[b]$k[/]  $d", k=keys.ljust(width), d=text)
                        for keys, text in rows
                    ]
                    yield Static(Content("\n").join(lines), classes="help-keys")

    def text(self) -> str:
        """All the help as plain text (for tests)."""
        return "\n".join(str(w.render()) for w in self.query(Static))

    def action_close(self) -> None:
        self.dismiss(None)
