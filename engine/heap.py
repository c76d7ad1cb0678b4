"""Keep the long-lived heap out of the garbage collector's full passes.

A full collection walks every tracked object and holds the GIL throughout:
every thread stops, the UI's included. After the stack is imported and the
models are loaded, those objects live as long as the process, so walking them
again and again only stalls the cockpit (`cockpit bench --ui --stalls`).
`settle_heap()` collects once and then freezes what survived
(`gc.freeze()`): later collections skip it.

What it costs: a frozen object is never examined by the cycle collector
again, so a reference cycle among frozen objects that later becomes garbage
is never freed. Objects without cycles are still freed by reference counting
as usual. The loss is bounded by what was frozen, happens at most once per
object, and does not recur: everything created after a settle (the next
refit's models, each cycle's arrays) is collected as before.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass

GROWTH_BLOCKS = 100_000
"""Heap growth (pymalloc blocks, ~3 per tracked object) that makes a start-up settle worth its pause
(importing torch alone adds ~540k); each settle walks only what grew since the last one."""


@dataclass(frozen=True, slots=True)
class HeapSettled:
    collected: int
    """Unreachable objects the collection before the freeze found."""
    frozen: int
    """Objects in the permanent generation afterwards (this settle's and earlier ones')."""
    newly_frozen: int
    seconds: float


def settle_heap() -> HeapSettled:
    """Collect every generation, then move every surviving object out of later collections."""
    t0 = time.perf_counter()
    before = gc.get_freeze_count()
    collected = gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    return HeapSettled(collected=collected, frozen=frozen, newly_frozen=frozen - before,
                       seconds=time.perf_counter() - t0)


def release_heap() -> None:
    """Give every frozen object back to the collector: the end of a run inside a process that
    goes on (a test, an embedding program), where a frozen cycle would otherwise outlive it."""
    gc.unfreeze()


class StartupSettler:
    """Settles while the process starts up: each time the heap grew by `growth_blocks` since
    the last settle (a model loaded its libraries), and a last time at `finish()`. After that
    it never settles again, so what a long run loses to frozen cycles stays bounded."""

    def __init__(self, growth_blocks: int = GROWTH_BLOCKS, *, enabled: bool = True) -> None:
        self.growth_blocks = growth_blocks
        self.finished = not enabled
        self._blocks = sys.getallocatedblocks()

    def maybe_settle(self) -> HeapSettled | None:
        if self.finished or sys.getallocatedblocks() - self._blocks < self.growth_blocks:
            return None
        return self._settle()

    def finish(self) -> HeapSettled | None:
        if self.finished:
            return None
        self.finished = True
        return self._settle()

    def _settle(self) -> HeapSettled:
        done = settle_heap()
        self._blocks = sys.getallocatedblocks()
        return done
