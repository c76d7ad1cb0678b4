"""Engine events → a coalescing mailbox → one `EventsReady` doorbell message.

`on_event` runs on engine threads: it files the event under a lock and, only
if no doorbell is pending, posts a single `EventsReady` to the app
(`post_message` is thread-safe and never blocks). The UI thread calls
`drain()`, which empties the mailbox and re-arms the doorbell. However fast
the engine publishes, at most one message waits in Textual's queue.

State-like events (a `coalesce_key`) overwrite the previous event with the
same key and keep the position where that key first entered the mailbox;
log-like events append. The log-like backlog is bounded: when the UI stalls,
the oldest entries go first and `drain()` reports how many in a synthesized
warning, so memory cannot grow without bound.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from operator import itemgetter
from typing import Callable, Protocol

from textual.message import Message

from engine.commands import Command
from engine.events import Event, LogMessage

DEFAULT_MAX_BACKLOG = 2_000


class EventsReady(Message, bubble=False):
    """The doorbell: the bridge's mailbox has events to drain."""


class EngineLike(Protocol):
    """The engine surface the app uses (engine.runtime.Engine and the tests' FakeEngine)."""

    symbols: tuple[str, ...]
    source: str
    mode: str
    timeframe: str
    model_names: tuple[tuple[str, str], ...]

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]: ...
    def submit(self, command: Command) -> None: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...


class MessageTarget(Protocol):
    def post_message(self, message: Message) -> bool: ...


class EventBridge:
    """The app's single subscription to the engine."""

    def __init__(self, target: MessageTarget, *, max_backlog: int = DEFAULT_MAX_BACKLOG) -> None:
        if max_backlog < 1:
            raise ValueError(f"max_backlog must be at least 1, got {max_backlog}")
        self._target = target
        self._lock = threading.Lock()
        self._seq = 0
        self._state: dict[str, tuple[int, Event]] = {}
        self._log: deque[tuple[int, Event]] = deque(maxlen=max_backlog)
        self._dropped = 0
        self._dropped_total = 0
        self._pending = False
        self._posts = 0

    @property
    def posts(self) -> int:
        """Doorbell messages posted so far (for tests and diagnostics)."""
        return self._posts

    @property
    def pending(self) -> bool:
        """A doorbell is out and the mailbox not yet drained."""
        with self._lock:
            return self._pending

    @property
    def dropped_total(self) -> int:
        """Log-like events discarded because the UI fell behind."""
        return self._dropped_total

    def on_event(self, event: Event) -> None:
        """File one event and ring the doorbell if needed. Called on engine threads."""
        key = event.coalesce_key
        with self._lock:
            self._seq += 1
            if key is None:
                if len(self._log) == self._log.maxlen:
                    self._dropped += 1
                    self._dropped_total += 1
                self._log.append((self._seq, event))
            else:
                previous = self._state.get(key)
                self._state[key] = (previous[0] if previous else self._seq, event)
            if self._pending:
                return
            self._pending = True
            self._posts += 1
            try:
                posted = self._target.post_message(EventsReady())
            except RuntimeError:  # the app's event loop has already closed
                posted = False
            if not posted:
                self._pending = False

    def drain(self) -> list[Event]:
        """Everything filed since the last drain, in arrival order. UI thread only."""
        with self._lock:
            state = list(self._state.values())
            log = list(self._log)
            dropped = self._dropped
            self._state.clear()
            self._log.clear()
            self._dropped = 0
            self._pending = False
        events = [event for _, event in heapq.merge(state, log, key=itemgetter(0))]
        if dropped:
            events.insert(0, LogMessage(
                source="ui", level="warning",
                message=f"the display fell behind: {dropped:,} older log events were dropped",
            ))
        return events
