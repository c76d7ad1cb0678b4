"""Shared torch plumbing: CPU device, seeding, thread cap, quantization engine.

Import this only inside a model's warmup/fit (torch is ~210 MB and ~1 s to import).
"""

from __future__ import annotations

import io
import platform
from pathlib import Path
from typing import Mapping
import random
import time
from typing import Any, Callable

import numpy as np


def torch_setup(threads: int) -> Any:
    """Import torch, cap its threads and pick the quantized engine for this CPU."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if platform.machine().lower() in ("aarch64", "arm64", "armv7l"):
        if "qnnpack" in torch.backends.quantized.supported_engines:
            torch.backends.quantized.engine = "qnnpack"
    return torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch so that a fit is reproducible on one machine."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def quantize_dynamic_int8(module: Any, layers: tuple[type, ...]) -> Any:
    """Dynamic int8 copy of `module` (Linear/LSTM weights), for measurement in `cockpit bench`."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(module, set(layers), dtype=torch.qint8)


def state_size_bytes(module: Any) -> int:
    """Size of a module's serialised state_dict."""
    import torch

    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.tell()


def median_ms(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


def checkpoint_path(checkpoint_dir: str | Path, name: str) -> Path:
    """Where a model named `name` keeps its checkpoint."""
    return Path(checkpoint_dir) / f"{name}.pt"


def save_checkpoint(model: Any, path: str | Path) -> Path:
    """Write `model.state_dict()` atomically (temp file, then rename)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(dict(model.state_dict()), tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path, *, kind: str) -> Mapping[str, Any]:
    """A checkpoint written by `save_checkpoint`; tensors only (weights_only), params required."""
    import torch

    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "params" not in state:
        raise ValueError(f"{path}: not {kind} checkpoint (no 'params')")
    return state
