"""Engine messages, errors, rejected commands and feed events, newest at the bottom."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import RichLog

from app import format as fmt
from engine.events import CommandRejected, EngineError, FeedEnded, LogMessage

MAX_LINES = 1_000
LEVEL_TONES = {"info": "muted", "warning": "warning", "error": "error"}
LEVEL_LABELS = {"info": "info", "warning": "warn", "error": "ERR"}


class LogPane(RichLog):
    def __init__(self) -> None:
        super().__init__(id="log", max_lines=MAX_LINES, wrap=True, markup=False, auto_scroll=True)
        self.border_title = "log"
        self.plain_lines: list[str] = []

    def line(self, level: str, source: str, message: str, *, emitted: float | None = None) -> None:
        """Append one line: time, level, source, message."""
        tone = LEVEL_TONES.get(level, "muted")
        text = Content.from_markup(
            f"[$muted]$time[/] [${tone}]$level[/] [b]$source[/] $message",
            time=fmt.wall_clock(emitted), level=f"{LEVEL_LABELS.get(level, level[:4]):<4}", source=source, message=message,
        )
        self.write(text)
        self.plain_lines.append(text.plain)
        del self.plain_lines[:-MAX_LINES]

    def show_log(self, event: LogMessage) -> None:
        self.line(event.level, event.source, event.message, emitted=event.emitted)

    def show_error(self, event: EngineError) -> None:
        hint = f" — {event.hint}" if event.hint else ""
        self.line("error", event.source, f"{event.kind}: {event.message}{hint}", emitted=event.emitted)

    def show_rejected(self, event: CommandRejected, what: str) -> None:
        self.line("warning", event.source, f"rejected {what}: {event.reason}", emitted=event.emitted)

    def show_feed_ended(self, event: FeedEnded) -> None:
        message = event.message or f"the feed ended after {fmt.count(event.bars_done)} bars"
        self.line("info", event.source, message, emitted=event.emitted)
