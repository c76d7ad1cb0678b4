"""Textual's Footer, rebuilt only when the keys it shows change.

The stock Footer recomposes (removes and mounts every key widget, restyles
them and lays the screen out again, twice) on each bindings update, and every
focus move (each tab switch) sends one. Under `cockpit bench --ui` that was
the largest single cost of a tab switch. Usually the same keys stay on show
and at most some turn enabled or disabled: this footer then leaves the keys
in place and only flips their `-disabled` class.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

Shown = tuple[tuple[str, str, str, str, bool], ...]


def shown_keys(screen: Screen) -> Shown:
    """(key, action, description, tooltip, enabled) of each binding the footer draws."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (binding.key, binding.action, binding.description, tooltip, enabled)
        for _node, binding, enabled, tooltip in screen.active_bindings.values()
        if binding.show or binding.key == palette
    )


def _layout(shown: Shown) -> tuple[tuple[str, str, str, str], ...]:
    return tuple(row[:4] for row in shown)


class QuietFooter(Footer):
    """A Footer that skips rebuilds which would draw the same keys."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._drawn: Shown | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            shown = shown_keys(screen)
            drawn, self._drawn = self._drawn, shown
            if shown == drawn:
                return
            if drawn is not None and _layout(shown) == _layout(drawn):
                self._flip_enabled(shown)
                return
        super().bindings_changed(screen)

    def _flip_enabled(self, shown: Shown) -> None:
        enabled: dict[str, bool] = {}
        for _key, action, _description, _tooltip, on in shown:
            enabled.setdefault(action, on)  # the Footer draws the first binding of each action
        for key in self.query(FooterKey):
            key.set_class(not enabled.get(key.action, True), "-disabled")
