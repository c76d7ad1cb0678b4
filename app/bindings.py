"""The cockpit's global keys in one table: id, key, action, description.

`CockpitApp.BINDINGS` is this table; the help screen is generated from the
bindings themselves, and a user keymap can override any key by id
(`App.set_keymap({"cockpit.theme": "f2"})`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.binding import Binding

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 0.0)
"""Replay speeds for `+`/`-`, slow to fast, in bars per second; 0 = as fast as possible."""


def speed_index(bars_per_second: float | None) -> int:
    """The rung of SPEEDS nearest to a speed (1 bar/s when unknown)."""
    if bars_per_second is None or not math.isfinite(bars_per_second):
        return SPEEDS.index(1.0)
    if bars_per_second <= 0:
        return SPEEDS.index(0.0)
    rungs = [(abs(math.log(bars_per_second / s)), i) for i, s in enumerate(SPEEDS) if s > 0]
    return min(rungs)[1]


def tab_bindings(tabs: Sequence[tuple[str, str]]) -> list[Binding]:
    """Keys 1..9 open the tabs, in order; `tabs` are (id, title) pairs."""
    return [
        Binding(str(n), f"show_tab('{tab_id}')", title, id=f"cockpit.tab.{tab_id}", show=False,
                tooltip=f"Show the {title} tab")
        for n, (tab_id, title) in enumerate(tabs[:9], start=1)
    ]


def global_bindings(tabs: Sequence[tuple[str, str]] = ()) -> list[Binding]:
    """Every global key; `tabs` (id, title) add the number keys that switch tabs."""
    return [
        Binding("question_mark", "help", "Help", id="cockpit.help", key_display="?",
                tooltip="List every key"),
        Binding("q", "quit", "Quit", id="cockpit.quit", tooltip="Stop the engine and leave"),
        Binding("s", "choose_symbol", "Symbol", id="cockpit.symbol",
                tooltip="Pick the symbol shown in the price pane"),
        Binding("left_square_bracket", "prev_symbol", "Prev symbol", id="cockpit.prev-symbol",
                key_display="[", show=False, tooltip="Previous symbol on the watchlist"),
        Binding("right_square_bracket", "next_symbol", "Next symbol", id="cockpit.next-symbol",
                key_display="]", show=False, tooltip="Next symbol on the watchlist"),
        Binding("space", "toggle_pause", "Pause/resume", id="cockpit.toggle-pause",
                tooltip="Pause or resume the highlighted model"),
        Binding("P", "toggle_family", "Pause family", id="cockpit.toggle-family", key_display="P", show=False,
                tooltip="Pause or resume the highlighted model's whole family"),
        Binding("r", "retry", "Retry", id="cockpit.retry", tooltip="Retry the highlighted faulted model"),
        Binding("j", "journal", "Journal", id="cockpit.journal",
                tooltip="Every proposal's outcome and why"),
        Binding("plus", "speed(1)", "Faster", id="cockpit.faster", key_display="+",
                tooltip="Replay more bars per second"),
        Binding("minus", "speed(-1)", "Slower", id="cockpit.slower", key_display="-",
                tooltip="Replay fewer bars per second"),
        Binding("t", "cycle_theme", "Theme", id="cockpit.theme", tooltip="Switch colour theme"),
        *tab_bindings(tabs),
    ]
