import threading

import pytest

from app.bridge import EventBridge, EventsReady
from engine.events import Candles, LogMessage, ModelState, ModelStatus, ResourceSample
from tests.app.fakes import candles, resources, status


class Target:
    """Stands in for the app: counts doorbell messages."""

    def __init__(self, accept: bool = True, error: Exception | None = None) -> None:
        self.accept = accept
        self.error = error
        self.messages: list[object] = []
        self.lock = threading.Lock()

    def post_message(self, message: object) -> bool:
        if self.error is not None:
            raise self.error
        with self.lock:
            self.messages.append(message)
        return self.accept


def log(i: int, source: str = "engine") -> LogMessage:
    return LogMessage(source=source, level="info", message=str(i))


def test_state_like_events_coalesce_and_keep_first_position():
    bridge = EventBridge(Target())
    first = candles(bars_done=1)
    bridge.on_event(first)
    bridge.on_event(log(1))
    bridge.on_event(resources(cpu_percent=10.0))
    newest = candles(bars_done=2)
    bridge.on_event(newest)
    bridge.on_event(resources(cpu_percent=20.0))
    bridge.on_event(log(2))
    out = bridge.drain()
    assert [type(e) for e in out] == [Candles, LogMessage, ResourceSample, LogMessage]
    assert out[0] is newest
    assert out[2].cpu_percent == 20.0
    assert [e.message for e in out if isinstance(e, LogMessage)] == ["1", "2"]


def test_status_events_coalesce_per_model_not_across_models():
    bridge = EventBridge(Target())
    bridge.on_event(status("a", ModelState.LOADING))
    bridge.on_event(status("b", ModelState.LOADING))
    bridge.on_event(status("a", ModelState.RUNNING))
    out = bridge.drain()
    assert [(e.source, e.state) for e in out if isinstance(e, ModelStatus)] == [
        ("a", ModelState.RUNNING), ("b", ModelState.LOADING)]


def test_doorbell_posts_once_until_drained():
    target = Target()
    bridge = EventBridge(target)
    for i in range(500):
        bridge.on_event(log(i))
        bridge.on_event(candles(bars_done=i))
    assert len(target.messages) == 1
    assert isinstance(target.messages[0], EventsReady)
    assert len(bridge.drain()) == 501
    assert bridge.drain() == []
    bridge.on_event(log(0))
    assert len(target.messages) == 2


def test_doorbell_re_arms_when_the_app_refuses_or_has_closed():
    refusing = Target(accept=False)
    bridge = EventBridge(refusing)
    bridge.on_event(log(1))
    bridge.on_event(log(2))
    assert len(refusing.messages) == 2  # not stuck "pending" forever
    closed = EventBridge(Target(error=RuntimeError("Event loop is closed")))
    closed.on_event(log(1))  # must not raise on the engine thread
    assert [e.message for e in closed.drain()] == ["1"]


def test_backlog_is_bounded_and_drops_are_reported():
    target = Target()
    bridge = EventBridge(target, max_backlog=100)

    def hammer() -> None:
        for i in range(10_000):
            bridge.on_event(log(i))
            if i % 100 == 0:
                bridge.on_event(candles(bars_done=i))

    thread = threading.Thread(target=hammer)
    thread.start()
    thread.join(timeout=10)
    out = bridge.drain()
    warning, *rest = out
    assert isinstance(warning, LogMessage) and warning.level == "warning"
    assert "9,900" in warning.message
    logs = [e.message for e in rest if isinstance(e, LogMessage)]
    assert logs == [str(i) for i in range(9_900, 10_000)]  # the newest survive, in order
    assert sum(isinstance(e, Candles) for e in rest) == 1
    assert bridge.dropped_total == 9_900
    assert len(target.messages) == 1


def test_concurrent_producers_and_drainer_lose_nothing_within_the_bound():
    target = Target()
    bridge = EventBridge(target, max_backlog=1_000_000)
    producers = 4
    per_producer = 5_000
    received: list[LogMessage] = []
    done = threading.Event()

    def produce(p: int) -> None:
        for i in range(per_producer):
            bridge.on_event(log(i, source=f"p{p}"))
            bridge.on_event(resources(cpu_percent=float(i)))

    def drain() -> None:
        while not done.is_set():
            received.extend(e for e in bridge.drain() if isinstance(e, LogMessage))
        received.extend(e for e in bridge.drain() if isinstance(e, LogMessage))

    drainer = threading.Thread(target=drain)
    drainer.start()
    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    done.set()
    drainer.join(timeout=10)
    assert len(received) == producers * per_producer
    for p in range(producers):
        mine = [int(e.message) for e in received if e.source == f"p{p}"]
        assert mine == list(range(per_producer))
    # One doorbell per drain cycle at most: far fewer posts than events.
    assert bridge.posts == len(target.messages) <= producers * per_producer


def test_max_backlog_must_be_positive():
    with pytest.raises(ValueError, match="max_backlog"):
        EventBridge(Target(), max_backlog=0)
