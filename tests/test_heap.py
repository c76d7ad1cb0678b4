"""engine.heap: settling moves what survives a collection out of later ones."""

from __future__ import annotations

import gc

import pytest

from engine.heap import StartupSettler, release_heap, settle_heap


@pytest.fixture(autouse=True)
def _unfreeze_after():
    yield
    gc.unfreeze()  # give the test process its collector back


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


def test_settling_freezes_the_survivors_and_collects_the_garbage_first():
    keep = [_cycle() for _ in range(1000)]
    _ = [_cycle() for _ in range(500)]  # unreachable cycles: only the collector frees them
    del _
    before = gc.get_freeze_count()
    done = settle_heap()
    assert done.collected >= 1000  # 500 cycles of two, collected before the freeze
    assert done.newly_frozen >= 2000 and done.frozen == gc.get_freeze_count() == before + done.newly_frozen
    assert all(gc.is_tracked(n) for n in keep)
    _ = [_cycle() for _ in range(100)]
    del _
    assert gc.collect() >= 200  # garbage made after the settle is collected as before
    assert gc.get_freeze_count() == done.frozen


def test_a_frozen_cycle_that_becomes_garbage_stays_until_unfrozen():
    """The cost the module documents: bounded by what was frozen, recovered by gc.unfreeze()."""
    keep = [_cycle() for _ in range(200)]
    settle_heap()
    del keep
    assert gc.collect() < 400
    release_heap()
    assert gc.get_freeze_count() == 0 and gc.collect() >= 400


def test_the_startup_settler_settles_on_growth_and_once_at_the_end_only():
    settler = StartupSettler(growth_blocks=50_000)
    assert settler.maybe_settle() is None  # nothing grew yet
    grown = [_cycle() for _ in range(40_000)]
    done = settler.maybe_settle()
    assert done is not None and done.newly_frozen >= 80_000
    assert settler.maybe_settle() is None  # the growth was taken
    last = settler.finish()
    assert last is not None and settler.finished
    more = [_cycle() for _ in range(40_000)]
    assert settler.maybe_settle() is None and settler.finish() is None  # never again after the end
    assert len(grown) == len(more)


def test_a_disabled_settler_never_freezes():
    settler = StartupSettler(growth_blocks=1, enabled=False)
    grown = [_cycle() for _ in range(10_000)]
    before = gc.get_freeze_count()
    assert settler.maybe_settle() is None and settler.finish() is None
    assert gc.get_freeze_count() == before and grown
