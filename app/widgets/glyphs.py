"""Text gauges drawn with block characters: horizontal bars and sparklines.

Pure functions returning strings, so any widget can embed them in a line.
"""

from __future__ import annotations

import math
from typing import Sequence

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_LEVELS = "▁▂▃▄▅▆▇█"


def hbar(fraction: float | None, width: int) -> str:
    """A left-to-right bar `width` cells wide, filled to `fraction` in eighths.

    None/NaN draws an empty track of '·' so an absent value never looks like 0.
    """
    if width <= 0:
        return ""
    if fraction is None or not math.isfinite(fraction):
        return "·" * width
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[rest] if rest else "")
    return bar + " " * (width - len(bar))


def vbar(fraction: float | None) -> str:
    """One cell whose height shows `fraction` (for many-core CPU rows)."""
    if fraction is None or not math.isfinite(fraction):
        return "·"
    level = round(min(max(fraction, 0.0), 1.0) * (len(_LEVELS) - 1))
    return _LEVELS[level]


def spark(
    values: Sequence[float | None],
    width: int,
    *,
    lo: float | None = None,
    hi: float | None = None,
) -> str:
    """The newest `width` values as a sparkline; gaps (None/NaN) stay blank.

    `lo`/`hi` fix the scale (e.g. 0..100 for percentages); otherwise the
    visible values set it.
    """
    if width <= 0:
        return ""
    tail = list(values)[-width:]
    real = [v for v in tail if v is not None and math.isfinite(v)]
    if not real:
        return " " * width
    low = min(real) if lo is None else lo
    high = max(real) if hi is None else hi
    span = high - low
    cells = []
    for v in tail:
        if v is None or not math.isfinite(v):
            cells.append(" ")
        elif span <= 0:
            cells.append(_LEVELS[len(_LEVELS) // 2])
        else:
            level = (min(max(v, low), high) - low) / span
            cells.append(_LEVELS[round(level * (len(_LEVELS) - 1))])
    return " " * (width - len(cells)) + "".join(cells)
