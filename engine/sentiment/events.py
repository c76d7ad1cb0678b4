"""Events of the sentiment family (to be moved into engine/events.py by the lead).

- `Headline` is log-like: every scored headline, never dropped.
- `Sentiment` is state-like: the newest per-symbol gauge per model.

Sample-feed items are marked `sample=True` and never reach `tradable_*`;
only time-aligned, non-sample headlines feed the model's `Signal`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Headline(Event):
    """One new headline, scored. `ts` is the bar it arrived at; `published` its own time."""

    headline_id: str
    text: str
    feed: str
    """The source it came from: "sample", "rss:<host>", "file:<name>"."""
    published: int
    """ns UTC; synthetic for sample items."""
    symbols: tuple[str, ...]
    label: str
    """"negative" | "neutral" | "positive"."""
    score: float
    """p(positive) − p(negative), in [-1, 1]."""
    probs: tuple[float, float, float]
    """p(negative), p(neutral), p(positive)."""
    model: str
    sample: bool = False
    tradable: bool = False
    """True only when it counts towards the Signal (aligned, not sample, not stale)."""
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sentiment(Event):
    """Per-symbol decaying sentiment at the bar `ts` (see engine/sentiment/tracker.py).

    `values`/`evidence` count every headline (sample ones included, for the
    gauge); `tradable_values`/`tradable_evidence` only those that may trade.
    NaN = no headline ever mentioned the symbol.
    """

    model: str
    symbols: tuple[str, ...]
    values: tuple[float, ...]
    evidence: tuple[float, ...]
    tradable_values: tuple[float, ...]
    tradable_evidence: tuple[float, ...]
    half_life_s: float
    feeds: tuple[str, ...] = ()
    headlines: int = 0
    """Headlines scored so far (after de-duplication)."""
    duplicates: int = 0
    backlog: int = 0
    """Headlines waiting to be scored in a later cycle."""
    dropped: int = 0
    """Headlines dropped unscored because the backlog was full."""

    @property
    def coalesce_key(self) -> str:
        return f"sentiment:{self.source}"
