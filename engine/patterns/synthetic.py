"""Labelled synthetic chart windows: the nine textbook patterns plus "none".

There are no labelled chart images to download, so the training data is
made here, deterministically from a seed. A sample is a window of `window`
bars whose newest part (36–64 % … 100 % of it, varied) traces one pattern's
skeleton — anchor points jittered per sample and joined by straight
segments — plus AR(1) noise, a random tilt (trend), a random price level
and amplitude (scale), and wicks of random size (volatility). Before the
pattern comes a noisy lead-in; after it, sometimes a few bars of
continuation. "none" is drawn from processes that contain no pattern on
purpose: random walks with and without drift, mean-reverting noise and a
single V-shaped reversal.

The skeletons (y in pattern units, 0 = low, 1 = high; x in 0..1):
head_and_shoulders  rise, left shoulder, neckline, higher head, neckline, right shoulder ≈ left, break down
double_top          rise, peak, trough, second peak ≈ first, decline
double_bottom       mirror of double_top
bull_flag           steep pole up, then a short downward-sloping parallel zigzag (the flag)
bear_flag           mirror of bull_flag
triangle            zigzag between converging lines of opposite slope or one flat (sym/asc/desc)
cup_and_handle      rim, rounded U bottom, rim ≈ first, small dip (handle), recovery
wedge               zigzag between converging lines sloping the same way (rising or falling)
channel             zigzag between parallel lines (up, down or flat)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.patterns.render import HEIGHT, WINDOW, render_windows

CLASSES: tuple[str, ...] = ("none", "head_and_shoulders", "double_top", "double_bottom", "bull_flag",
                            "bear_flag", "triangle", "cup_and_handle", "wedge", "channel")
PATTERNS: tuple[str, ...] = CLASSES[1:]

Skeleton = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class LabelledWindows:
    """N synthetic OHLC windows (N, window) with their class index into `classes`."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.labels)

    def images(self, *, height: int = HEIGHT) -> np.ndarray:
        return render_windows(self.open, self.high, self.low, self.close, height=height)

    def take(self, idx: np.ndarray | slice) -> "LabelledWindows":
        return LabelledWindows(self.open[idx], self.high[idx], self.low[idx], self.close[idx],
                               self.labels[idx], self.classes)


# -- skeletons ---------------------------------------------------------------------


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _zigzag(rng: np.random.Generator, x0: float, x1: float, upper: Callable[[np.ndarray], np.ndarray],
            lower: Callable[[np.ndarray], np.ndarray], swings: int, start_high: bool) -> Skeleton:
    """Pivots alternating between two lines, evenly spaced with jitter."""
    xs = np.linspace(x0, x1, swings)
    step = (x1 - x0) / max(1, swings - 1)
    xs[1:-1] += rng.uniform(-0.2, 0.2, swings - 2) * step
    high = (np.arange(swings) % 2 == 0) == start_high
    width = upper(xs) - lower(xs)
    miss = rng.uniform(-0.06, 0.06, swings) * width
    ys = np.where(high, upper(xs) - np.abs(miss), lower(xs) + np.abs(miss))
    return xs, ys


def _head_and_shoulders(rng: np.random.Generator) -> Skeleton:
    neck = _u(rng, 0.35, 0.5)
    shoulder = _u(rng, 0.62, 0.78)
    xs = [0.0, _u(rng, 0.1, 0.2), _u(rng, 0.27, 0.35), _u(rng, 0.45, 0.55), _u(rng, 0.65, 0.72),
          _u(rng, 0.8, 0.87), 1.0]
    ys = [_u(rng, 0.0, 0.25), shoulder, neck, _u(rng, 0.95, 1.0), neck + _u(rng, -0.05, 0.05),
          shoulder + _u(rng, -0.06, 0.06), neck - _u(rng, 0.05, 0.3)]
    return np.array(xs), np.array(ys)


def _double_top(rng: np.random.Generator) -> Skeleton:
    peak = _u(rng, 0.92, 1.0)
    xs = [0.0, _u(rng, 0.22, 0.38), _u(rng, 0.46, 0.56), _u(rng, 0.66, 0.8), 1.0]
    ys = [_u(rng, 0.0, 0.3), peak, _u(rng, 0.35, 0.6), peak + _u(rng, -0.04, 0.04), _u(rng, 0.1, 0.45)]
    return np.array(xs), np.array(ys)


def _mirror(skeleton: Skeleton) -> Skeleton:
    xs, ys = skeleton
    return xs, 1.0 - ys


def _bull_flag(rng: np.random.Generator) -> Skeleton:
    x_top = _u(rng, 0.3, 0.55)
    drop = _u(rng, 0.08, 0.3)
    width = _u(rng, 0.1, 0.22)
    x_end = 1.0 if rng.random() < 0.5 else _u(rng, 0.88, 0.95)

    def upper(x: np.ndarray) -> np.ndarray:
        return 1.0 - drop * (x - x_top) / (1.0 - x_top)

    def lower(x: np.ndarray) -> np.ndarray:
        return upper(x) - width

    fx, fy = _zigzag(rng, x_top, x_end, upper, lower, int(rng.integers(4, 7)), start_high=True)
    xs = [0.0, _u(rng, 0.0, 0.08), *fx]
    ys = [_u(rng, 0.0, 0.08), _u(rng, 0.0, 0.1), *fy]
    if x_end < 1.0:  # breakout up out of the flag
        xs.append(1.0)
        ys.append(float(upper(np.array([1.0]))[0]) + _u(rng, 0.05, 0.2))
    xs[1] = min(xs[1], xs[2] - 0.05)
    return np.array(xs), np.array(ys)


def _converging(rng: np.random.Generator, upper_end: tuple[float, float], lower_end: tuple[float, float],
                upper_start: float, lower_start: float) -> Skeleton:
    x0 = _u(rng, 0.05, 0.25)
    u1, l1 = _u(rng, *upper_end), _u(rng, *lower_end)

    def upper(x: np.ndarray) -> np.ndarray:
        return upper_start + (u1 - upper_start) * (x - x0) / (1.0 - x0)

    def lower(x: np.ndarray) -> np.ndarray:
        return lower_start + (l1 - lower_start) * (x - x0) / (1.0 - x0)

    start_high = bool(rng.random() < 0.5)
    zx, zy = _zigzag(rng, x0, 1.0, upper, lower, int(rng.integers(6, 9)), start_high)
    entry = lower_start - _u(rng, 0.0, 0.2) if start_high else upper_start + _u(rng, 0.0, 0.2)
    return np.concatenate([[0.0], zx]), np.concatenate([[entry], zy])


def _triangle(rng: np.random.Generator) -> Skeleton:
    kind = rng.integers(3)
    if kind == 0:  # symmetric
        xs, ys = _converging(rng, (0.55, 0.65), (0.4, 0.5), 1.0, 0.0)
    elif kind == 1:  # ascending: flat top, rising lows
        xs, ys = _converging(rng, (0.97, 1.0), (0.75, 0.85), 1.0, 0.0)
    else:  # descending: falling highs, flat bottom
        xs, ys = _converging(rng, (0.15, 0.25), (0.0, 0.03), 1.0, 0.0)
    return xs, ys


def _wedge(rng: np.random.Generator) -> Skeleton:
    rising = _converging(rng, (0.95, 1.0), (0.78, 0.88), _u(rng, 0.35, 0.5), 0.0)
    return rising if rng.random() < 0.5 else _mirror(rising)


def _channel(rng: np.random.Generator) -> Skeleton:
    slope = rng.choice([-1.0, 0.0, 1.0]) * _u(rng, 0.45, 0.75)
    width = _u(rng, 0.25, 0.45) if slope else _u(rng, 0.5, 1.0)
    base = 0.0 if slope >= 0 else -slope

    def lower(x: np.ndarray) -> np.ndarray:
        return base + slope * x

    def upper(x: np.ndarray) -> np.ndarray:
        return lower(x) + width

    return _zigzag(rng, 0.0, 1.0, upper, lower, int(rng.integers(6, 10)), bool(rng.random() < 0.5))


def _cup_and_handle(rng: np.random.Generator) -> Skeleton:
    x_left, x_right = _u(rng, 0.08, 0.2), _u(rng, 0.66, 0.8)
    depth = _u(rng, 0.5, 0.8)
    rim = _u(rng, 0.9, 1.0)
    u = np.linspace(0.0, 1.0, 13)
    cup_x = x_left + (x_right - x_left) * u
    cup_y = rim - depth * np.sin(np.pi * u) ** _u(rng, 0.5, 0.9)  # rounded, not a V
    cup_y[-1] = rim + _u(rng, -0.04, 0.02)
    x_handle = x_right + (1.0 - x_right) * _u(rng, 0.35, 0.6)
    xs = [0.0, *cup_x, x_handle, 1.0]
    ys = [_u(rng, 0.2, 0.5), *cup_y, rim - depth * _u(rng, 0.12, 0.3), rim + _u(rng, -0.05, 0.1)]
    return np.array(xs), np.array(ys)


SKELETONS: dict[str, Callable[[np.random.Generator], Skeleton]] = {
    "head_and_shoulders": _head_and_shoulders,
    "double_top": _double_top,
    "double_bottom": lambda rng: _mirror(_double_top(rng)),
    "bull_flag": _bull_flag,
    "bear_flag": lambda rng: _mirror(_bull_flag(rng)),
    "triangle": _triangle,
    "cup_and_handle": _cup_and_handle,
    "wedge": _wedge,
    "channel": _channel,
}


def _none_path(rng: np.random.Generator, n: int) -> np.ndarray:
    """A window with no pattern: walk, trend, mean reversion or one V reversal (pattern units)."""
    kind = rng.choice(4, p=[0.4, 0.25, 0.15, 0.2])
    steps = rng.standard_t(4.0, n) * _u(rng, 0.5, 1.5)
    if kind == 0:
        y = np.cumsum(steps)
    elif kind == 1:
        y = np.cumsum(steps) + np.linspace(0.0, 1.0, n) * rng.choice([-1.0, 1.0]) * _u(rng, 2.0, 4.0) * np.sqrt(n)
    elif kind == 2:
        y = np.zeros(n)
        phi = _u(rng, 0.3, 0.8)
        for t in range(1, n):
            y[t] = phi * y[t - 1] + steps[t]
    else:
        turn = int(rng.integers(n // 4, 3 * n // 4))
        sign = rng.choice([-1.0, 1.0])
        y = np.where(np.arange(n) < turn, np.arange(n), 2 * turn - np.arange(n)) * sign * _u(rng, 0.5, 1.5)
        y = y + np.cumsum(steps) * 0.3
    span = y.max() - y.min()
    return (y - y.min()) / (span if span > 0 else 1.0)


def _pattern_path(rng: np.random.Generator, name: str, window: int) -> np.ndarray:
    """Skeleton on the newest part of the window, a noisy lead-in before it, maybe a short tail after."""
    xs, ys = SKELETONS[name](rng)
    tail = int(rng.integers(0, 5)) if rng.random() < 0.3 else 0
    length = int(rng.integers(int(0.6 * window), window - tail + 1))
    lead = window - tail - length
    path = np.interp(np.linspace(0.0, 1.0, length), xs, ys)
    if lead:
        walk = np.cumsum(rng.normal(_u(rng, -0.01, 0.01), 0.02, lead))[::-1]
        path = np.concatenate([path[0] - walk, path])
    if tail:
        exit_slope = (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-3) / length
        path = np.concatenate([path, path[-1] + exit_slope * np.arange(1, tail + 1) + rng.normal(0, 0.02, tail)])
    return path


def _ar1(rng: np.random.Generator, n: int, w: int) -> np.ndarray:
    """Stationary AR(1) noise per row with per-row φ and std (pattern units)."""
    phi = rng.uniform(0.3, 0.9, (n, 1))
    std = rng.uniform(0.015, 0.07, (n, 1))
    shocks = rng.standard_normal((n, w)) * std * np.sqrt(1 - phi**2)
    out = np.empty((n, w))
    out[:, 0] = rng.standard_normal(n) * std[:, 0]
    for t in range(1, w):
        out[:, t] = phi[:, 0] * out[:, t - 1] + shocks[:, t]
    return out


def _to_ohlc(rng: np.random.Generator, paths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pattern-unit paths → OHLC with random level, amplitude, tilt, noise and wicks."""
    n, w = paths.shape
    tilt = rng.uniform(-0.15, 0.15, (n, 1)) * np.linspace(0.0, 1.0, w)[None, :]
    y = paths + tilt + _ar1(rng, n, w)
    amplitude = np.exp(rng.uniform(np.log(0.03), np.log(0.4), (n, 1)))  # pattern height as a log-price move
    level = np.exp(rng.uniform(np.log(0.1), np.log(50_000.0), (n, 1)))
    log_close = np.log(level) + amplitude * y
    step = np.abs(np.diff(log_close, axis=1))
    typical = np.median(step, axis=1, keepdims=True) + 1e-6 * amplitude
    first = log_close[:, :1] - rng.normal(0, 1, (n, 1)) * typical
    log_open = np.concatenate([first, log_close[:, :-1]], axis=1)
    log_open = log_open + rng.normal(0, 0.1, (n, w)) * typical  # small gaps
    wick = rng.uniform(0.2, 1.5, (n, 1)) * typical
    top = np.maximum(log_open, log_close) + rng.exponential(1.0, (n, w)) * wick
    bottom = np.minimum(log_open, log_close) - rng.exponential(1.0, (n, w)) * wick
    return np.exp(log_open), np.exp(top), np.exp(bottom), np.exp(log_close)


def generate(n_per_class: int, *, seed: int, window: int = WINDOW,
             classes: tuple[str, ...] = CLASSES) -> LabelledWindows:
    """`n_per_class` windows of every class in `classes`, shuffled, fully determined by `seed`."""
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ValueError(f"unknown pattern class {unknown[0]!r}; known: {', '.join(CLASSES)}")
    if window < 24:
        raise ValueError(f"window must be at least 24 bars, got {window}")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.array([CLASSES.index(c) for c in classes]), n_per_class)
    labels = labels[rng.permutation(len(labels))]
    paths = np.empty((len(labels), window))
    for i, label in enumerate(labels):
        name = CLASSES[label]
        paths[i] = _none_path(rng, window) if name == "none" else _pattern_path(rng, name, window)
    o, h, l, c = _to_ohlc(rng, paths)
    return LabelledWindows(o, h, l, c, labels.astype(np.int64), CLASSES)
