"""The patterns family's event (the lead moves it into engine/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternHit(Event):
    """A confident chart-pattern detection on one symbol (log-like: none is dropped).

    `ts` is the market time of the window's newest bar (the detection bar);
    `window_ts` the time of its oldest. `open`…`close` are the window's bars,
    oldest first (NaN = missing bar), so a pane can draw the chart the CNN
    saw. `rules` lists what the geometric detectors found in the same
    window; `rules_agree` says whether they found this pattern too.
    """

    family: str = "patterns"
    symbol: str
    pattern: str
    confidence: float
    window: int
    timeframe: str = ""
    window_ts: int = 0
    rules: tuple[str, ...] = ()
    rules_agree: bool = False
    open: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    low: tuple[float, ...] = ()
    close: tuple[float, ...] = ()
