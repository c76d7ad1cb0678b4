"""Panes on a tab that skip painting while the tab is closed and catch up once it opens."""

from __future__ import annotations


class DeferredPaint:
    """Mixin: `set_shown(False)` makes painting record only; `set_shown(True)` paints once (`_paint_all`).

    A pane calls `_deferred()` at the top of each paint method and returns when it is True.
    """

    _shown: bool = True
    _stale: bool = False

    def set_shown(self, shown: bool) -> None:
        """Whether this pane's tab is open."""
        self._shown = shown
        if shown:
            self._catch_up()

    def _catch_up(self) -> None:
        """Paint what was deferred (also for a read of a hidden pane)."""
        if self._stale:
            self._stale, shown, self._shown = False, self._shown, True
            try:
                self._paint_all()
            finally:
                self._shown = shown

    def _deferred(self) -> bool:
        """True (and remembered) when painting must wait until the tab opens."""
        if not self._shown:
            self._stale = True
        return not self._shown

    def _paint_all(self) -> None:
        raise NotImplementedError
