"""News sentiment: the model in use, a per-symbol gauge and the headline stream.

Sample-feed headlines (synthetic timestamps) are tagged "sample" wherever
they appear, and a gauge fed only by them says so: they never trade.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import RichLog, Static

from app import format as fmt
from app.panes.quote import short_names
from app.widgets.text import update
from engine.sentiment.events import Headline, Sentiment

MAX_LINES = 300
MAX_GAUGES = 8
HALF = 8
LABEL_SHORT = {"negative": "neg", "neutral": "neu", "positive": "pos"}
LABEL_TONE = {"negative": "bear", "neutral": "muted", "positive": "bull"}


def tone(value: float) -> str:
    if not fmt.finite(value) or abs(value) < 0.05:
        return "muted"
    return "bull" if value > 0 else "bear"


def centre_bar(value: float, half: int = HALF) -> str:
    """A bar growing left (negative) or right (positive) from a centre tick; '·' when unknown."""
    if not fmt.finite(value):
        return "·" * half + "│" + "·" * half
    n = min(half, round(abs(value) * half))
    left = " " * (half - n) + "█" * n if value < 0 else " " * half
    right = "█" * n + " " * (half - n) if value > 0 else " " * half
    return left + "│" + right


def signed(x: float) -> str:
    return f"{x:+.2f}" if fmt.finite(x) else fmt.NA


class SentimentPane(Vertical):
    def __init__(self, symbols: tuple[str, ...], *, model: str = "") -> None:
        super().__init__(id="sentiment")
        self.border_title = "sentiment"
        self._symbols = symbols
        self._short = short_names(symbols)
        self._model = model
        self._sentiment: Sentiment | None = None
        self._count = 0
        self._samples = 0
        self.plain_lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="sentiment-model")
        yield Static(id="sentiment-gauges")
        yield RichLog(id="sentiment-stream", max_lines=MAX_LINES, wrap=False, markup=False, auto_scroll=True)

    def on_mount(self) -> None:
        self._paint_model()
        self._paint_gauges()

    # -- updates ---------------------------------------------------------------------
    def show_headline(self, event: Headline) -> None:
        self._count += 1
        self._samples += event.sample
        if event.model and event.model != self._model:
            self._model = event.model
            self._paint_model()
        symbols = ",".join(self._short.get(s, s) for s in event.symbols) or "–"
        tag = "sample" if event.sample else ("trade" if event.tradable else "shown")
        line = Content.from_markup(
            f"[$muted]$when[/] [${LABEL_TONE.get(event.label, 'muted')}]$label $score[/] "
            f"[{'$warning' if event.sample else '$muted'}]$tag[/] [b]$symbols[/] $text [$muted]· $feed[/]",
            when=fmt.market_time(event.published)[5:-1], label=LABEL_SHORT.get(event.label, event.label[:3]),
            score=signed(event.score), tag=f"{tag:<6}", symbols=symbols, text=event.text, feed=event.feed,
        )
        self.query_one("#sentiment-stream", RichLog).write(line)
        self.plain_lines.append(line.plain)
        del self.plain_lines[:-MAX_LINES]

    def show_sentiment(self, event: Sentiment) -> None:
        self._sentiment = event
        self._model = event.model or self._model
        self._paint_model()
        self._paint_gauges()

    # -- painting ----------------------------------------------------------------------
    def _paint_model(self) -> None:
        s = self._sentiment
        feeds = ", ".join(f.split(": ", 1)[0] for f in (s.feeds if s else ()))
        sample_only = bool(s and s.feeds and all(f.startswith("sample") for f in s.feeds))
        markup = "[b]$model[/] [$muted]· $feeds · $count headlines$backlog[/]"
        if sample_only:
            markup += " [$warning]sample feed: shown, never traded[/]"
        backlog = (f" · backlog {s.backlog}" if s and s.backlog else "") + \
            (f" · {fmt.count(s.dropped)} dropped" if s and s.dropped else "")
        update(self.query_one("#sentiment-model", Static), Content.from_markup(
            markup, model=self._model or "loading…", feeds=feeds or "no feed yet",
            count=fmt.count(s.headlines if s else self._count), backlog=backlog))

    def _paint_gauges(self) -> None:
        s = self._sentiment
        widget = self.query_one("#sentiment-gauges", Static)
        if s is None:
            update(widget, Content.from_markup("[$muted]waiting for the model…[/]"))
            return
        rows = sorted(range(len(s.symbols)), key=lambda i: (-_finite_or(s.evidence[i], 0.0), i))[:MAX_GAUGES]
        lines = []
        for i in rows:
            value, evidence = s.values[i], s.evidence[i]
            traded = _finite_or(s.tradable_evidence[i], 0.0) > 0.0
            note = "" if not fmt.finite(value) else ("" if traded else "sample")
            lines.append(Content.from_markup(
                f"$name [${tone(value)}]$bar $value[/] [$muted]$news[/] [$warning]$note[/]",
                name=f"{self._short.get(s.symbols[i], s.symbols[i]):<6}", bar=centre_bar(value),
                value=signed(value).rjust(5),
                news=f"{evidence:4.1f} news" if fmt.finite(value) else "no news", note=note))
        update(widget, Content("\n").join(lines) if lines else Content(""))

    def gauge_text(self) -> str:
        """The gauges as plain text (tests, diagnostics)."""
        return str(self.query_one("#sentiment-gauges", Static).render())

    def model_text(self) -> str:
        return str(self.query_one("#sentiment-model", Static).render())


def _finite_or(x: float, default: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else default
