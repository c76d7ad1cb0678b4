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
