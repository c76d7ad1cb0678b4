"""The engine's one subscription point: thread-safe publish to subscribers."""

from __future__ import annotations

import sys
import threading
from typing import Callable

from engine.events import Event

Subscriber = Callable[[Event], None]


class EventBus:
    """Calls every subscriber with each event, on the publishing thread.

    Subscribers must not block. One that raises is reported on stderr and
    kept: a broken view must not stop the engine.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception as exc:  # noqa: BLE001 - a subscriber must not kill the engine
                print(f"cockpit: event subscriber failed: {exc!r}", file=sys.stderr)
