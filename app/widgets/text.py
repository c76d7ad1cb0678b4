"""Update a Static without needless work: skip identical content, lay out only on size change."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


def _shape(content: Content) -> tuple[int, ...]:
    return tuple(line.cell_length for line in content.split("\n"))


def update(widget: Static, content: Content | str, *, fixed: bool = False) -> None:
    """Show `content`; re-layout only when its line count or line widths change.

    A layout pass re-arranges the whole screen, the costliest part of an
    update; most refreshes (prices, gauges) keep the same shape. `fixed`
    says the widget's size never depends on its content (no layout at all).
    Strings are shown as plain text, never parsed as markup.
    """
    new = content if isinstance(content, Content) else Content(content)
    old = widget.visual if isinstance(widget.visual, Content) else None
    if old is not None and old == new and old.spans == new.spans:
        return
    widget.update(new, layout=not fixed and (old is None or _shape(old) != _shape(new)))
