"""Hand-made textbook chart windows (piecewise-linear closes, small wicks) for the rule and model tests."""

from __future__ import annotations

import numpy as np


def _cup() -> list[tuple[float, float]]:
    u = np.linspace(0.0, 1.0, 11)
    cup = [(0.1 + 0.6 * x, 1.0 - 0.8 * np.sin(np.pi * x) ** 0.7) for x in u]
    return [(0.0, 0.3), *cup, (0.85, 0.85), (1.0, 0.97)]


SHAPES: dict[str, list[tuple[float, float]]] = {
    "head_and_shoulders": [(0, 0.1), (0.15, 0.7), (0.3, 0.45), (0.5, 1.0), (0.7, 0.45), (0.85, 0.7), (1.0, 0.2)],
    "double_top": [(0, 0.1), (0.3, 1.0), (0.5, 0.5), (0.7, 1.0), (1.0, 0.3)],
    "double_bottom": [(0, 0.9), (0.3, 0.0), (0.5, 0.5), (0.7, 0.0), (1.0, 0.7)],
    "bull_flag": [(0, 0.0), (0.4, 1.0), (0.5, 0.8), (0.6, 0.92), (0.7, 0.74), (0.8, 0.86), (0.9, 0.68), (1.0, 0.8)],
    "bear_flag": [(0, 1.0), (0.4, 0.0), (0.5, 0.2), (0.6, 0.08), (0.7, 0.26), (0.8, 0.14), (0.9, 0.32), (1.0, 0.2)],
    "triangle": [(0, 0.5), (0.1, 1.0), (0.25, 0.0), (0.4, 0.85), (0.55, 0.2), (0.7, 0.7), (0.85, 0.35), (1.0, 0.55)],
    "cup_and_handle": _cup(),
    "wedge": [(0, 0.0), (0.1, 0.5), (0.25, 0.2), (0.4, 0.67), (0.55, 0.44), (0.7, 0.83), (0.85, 0.68), (1.0, 0.95)],
    "channel": [(0, 0.0), (0.12, 0.47), (0.25, 0.15), (0.4, 0.64), (0.55, 0.33), (0.7, 0.82), (0.85, 0.51),
                (1.0, 1.0)],
}


def textbook(name: str, n: int = 64, *, level: float = 100.0, height: float = 20.0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OHLC of the named textbook shape over `n` bars (open = previous close, small wicks)."""
    xs, ys = zip(*SHAPES[name])
    close = level + height * np.interp(np.linspace(0.0, 1.0, n), xs, ys)
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = 0.01 * height
    return open_, np.maximum(open_, close) + wick, np.minimum(open_, close) - wick, close


def random_walk(n: int = 64, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.003, n)) * close
    return open_, np.maximum(open_, close) + spread, np.minimum(open_, close) - spread, close
