"""One place that caps the intra-op threads of BLAS, OpenMP, LightGBM and torch."""

from __future__ import annotations

import os
import sys

_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def cap_threads(n: int) -> None:
    """Limit every numeric library to `n` threads.

    Environment variables only bind libraries loaded afterwards, so call this
    before heavy imports; libraries already loaded are capped through
    threadpoolctl and torch's own setter.
    """
    for var in _ENV_VARS:
        os.environ.setdefault(var, str(n))
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        return
    threadpool_limits(limits=n)


def thread_nice_target(increment: int) -> int | None:
    """The nice value `increment` levels below the calling thread's, or None when there is nothing to do."""
    if increment <= 0 or not sys.platform.startswith("linux"):
        return None
    return min(19, os.getpriority(os.PRIO_PROCESS, 0) + increment)


def set_thread_nice(nice: int | None) -> None:
    """Give the calling thread this nice value (Linux schedules each thread on its own).

    Threads it starts afterwards (e.g. torch's OpenMP workers) inherit it.
    Best effort: None, other platforms and refusals leave the thread as it is.
    """
    if nice is None or not sys.platform.startswith("linux"):
        return
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:
        pass
