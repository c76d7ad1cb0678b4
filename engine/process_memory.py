"""The C heap of this process (glibc on Linux): fewer malloc arenas, freed memory handed back.

The engine runs many threads (loop, trainer, monitor, worker pool, torch's
and OpenMP's teams). glibc gives threads their own malloc arenas, and memory
freed inside an arena — a fit's training matrices, a predict's activations —
mostly stays resident there for reuse rather than going back to the system.
On the whole stack that kept a few hundred MB resident that Python no longer
used. Two knobs fix it where they exist:

- `cap_malloc_arenas(n)`: `mallopt(M_ARENA_MAX, n)`, before threads start.
- `release_free_heap()`: `malloc_trim(0)`, after big fits, and between
  cycles once resident memory grew (`HeapTrimmer`): with two arenas the cycles' freed
  activations and windows fragment them, and resident memory crept up
  ~3 MB a cycle on 500 symbols until trimmed. A fixed mmap threshold would
  also stop that, but every big array then page-faults afresh: the pattern
  CNN's predict went from 71 to 206 ms of CPU, so it is not used.

Both are best effort: on other platforms (macOS, musl) they do nothing and
say so by returning False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

M_ARENA_MAX = -8
"""glibc's mallopt parameter number (malloc.h)."""
ENGINE_MALLOC_ARENAS = 2
"""Arenas for the whole engine: glibc's default on 2 cores is 16 (8 per core). Measured on
the 500-symbol full stack: 2 arenas kept ~150 MB less resident with the cycle still in budget."""
HEAP_TRIM_GROW_MB = 64.0
"""Trim between cycles once resident memory grew this much since the last trim…"""
HEAP_TRIM_MIN_GAP_S = 2.0
"""…but not more often than this (a trim took ~15 ms, and the next cycle faults its pages back in)…"""
HEAP_TRIM_EVERY_S = 30.0
"""…and at least this often."""


@lru_cache(maxsize=1)
def _glibc() -> Any:
    """The process's C library if it is glibc with mallopt/malloc_trim, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):  # only glibc has it
            return None
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def cap_malloc_arenas(n: int) -> bool:
    """Let glibc use at most `n` malloc arenas (call before the engine's threads start).

    Returns True if the limit was set; False where there is no glibc. Raises
    ValueError for n < 1.
    """
    if n < 1:
        raise ValueError(f"malloc arenas must be at least 1, got {n}")
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, int(n)) == 1)


def release_free_heap() -> bool:
    """Return free heap memory of every arena to the system (`malloc_trim(0)`).

    True if glibc released something, False if nothing was released or there is no glibc.
    """
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)


def resident_mb() -> float:
    """This process's resident memory now (MB) from /proc/self/statm; 0.0 where there is none."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class HeapTrimmer:
    """`release_free_heap()` when resident memory grew `grow_mb` since the last trim (checked at
    most every `min_gap_s`), and at least every `every_s` seconds; counts the trims and their time."""

    def __init__(self, *, every_s: float = HEAP_TRIM_EVERY_S, grow_mb: float = HEAP_TRIM_GROW_MB,
                 min_gap_s: float = HEAP_TRIM_MIN_GAP_S, clock: Callable[[], float] = time.monotonic,
                 release: Callable[[], bool] = release_free_heap, rss_mb: Callable[[], float] = resident_mb) -> None:
        if not 0 < min_gap_s <= every_s:
            raise ValueError(f"heap trim intervals must satisfy 0 < min_gap_s ≤ every_s, got {min_gap_s} and {every_s} s")
        if grow_mb <= 0:
            raise ValueError(f"the heap trim growth must be positive, got {grow_mb} MB")
        self.every_s, self.grow_mb, self.min_gap_s = every_s, grow_mb, min_gap_s
        self._clock, self._release, self._rss = clock, release, rss_mb
        self._last = clock()
        self._base = rss_mb()
        self.trims = 0
        self.seconds = 0.0

    def tick(self) -> bool:
        """Trim if it is due (see the class); True if it ran."""
        since = self._clock() - self._last
        if since < self.min_gap_s or (since < self.every_s and self._rss() - self._base < self.grow_mb):
            return False
        t0 = time.perf_counter()
        self._release()
        self.seconds += time.perf_counter() - t0
        self.trims += 1
        self._last = self._clock()
        self._base = self._rss()
        return True
