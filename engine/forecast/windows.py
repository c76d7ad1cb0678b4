"""Model inputs: ten per-bar features, windows of the last L bars, lookahead-free scaling.

Two steps, neither of which can see the future:

1. `input_rows`: each bar's row is taken from the engine's features at that
   bar (themselves causal) and made volatility-free with the same bar's
   `rvol_24` (one-bar realised volatility over the 24 bars up to and
   including it): return-like columns are divided by rvol·√(bars they span),
   rvol itself enters as its log. The row at t depends on bars ≤ t only.
2. `Normaliser`: per-column mean and std fitted on the training span only,
   stored in the checkpoint, applied unchanged to every later window;
   standardised values are clipped to ±`CLIP` (crypto returns have fat tails).

Targets are scaled the same way (`scaled_targets`): the log return over h
bars divided by rvol_t·√h, so one loss treats a quiet and a wild symbol alike,
and a forecast is multiplied back by the rvol known at t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import DataError

VOL = "rvol_24"
"""The engine feature that scales every return-like input and the targets."""

INPUTS: tuple[tuple[str, str, int], ...] = (
    ("ret_1", "vol", 1),
    ("ret_3", "vol", 3),
    ("ret_12", "vol", 12),
    ("ema_dist_12", "vol", 1),
    ("ema_dist_50", "vol", 1),
    ("hl_range", "vol", 1),
    ("rsi_14", "plain", 0),
    ("bb_pos_20", "plain", 0),
    ("volume_z_48", "plain", 0),
    (VOL, "log", 0),
)
"""(engine feature, transform, bars spanned): "vol" = divided by rvol·√bars,
"plain" = as is, "log" = natural log."""

INPUT_NAMES: tuple[str, ...] = tuple(name for name, _, _ in INPUTS)
VOL_FLOOR = 1e-5
"""rvol below this (a flat stretch) is raised to it: 0.1 bp per bar."""
CLIP = 5.0


def columns(names: tuple[str, ...]) -> tuple[list[int], int]:
    """Positions of the input features and of rvol in an engine feature row."""
    missing = [n for n in INPUT_NAMES if n not in names]
    if missing:
        raise DataError(f"the forecast model needs engine features {missing}",
                        hint=f"the feature block has {', '.join(names)}")
    return [names.index(n) for n in INPUT_NAMES], names.index(VOL)


def bar_volatility(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """rvol of each row (shape values.shape[:-1]), floored; NaN where unknown."""
    _, v = columns(names)
    rvol = np.asarray(values[..., v], dtype=np.float64)
    return np.where(np.isfinite(rvol), np.maximum(rvol, VOL_FLOOR), np.nan)


def input_rows(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The ten inputs of every row of `values` (..., F_engine) → (..., 10), float64.

    Row-wise only: each output row depends on the same input row, nothing else.
    """
    cols, _ = columns(names)
    rvol = bar_volatility(values, names)
    out = np.empty(values.shape[:-1] + (len(INPUTS),))
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, ((_, kind, bars), c) in enumerate(zip(INPUTS, cols)):
            x = values[..., c]
            if kind == "vol":
                out[..., k] = x / (rvol * np.sqrt(bars))
            elif kind == "log":
                out[..., k] = np.log(rvol)
            else:
                out[..., k] = x
    out[~np.isfinite(out)] = np.nan
    return out


def scaled_targets(close: np.ndarray, rvol: np.ndarray, horizons: tuple[int, ...]) -> np.ndarray:
    """LABELS (they look ahead): log(close[t+h]/close[t]) / (rvol[t]·√h), shape (S, T, H)."""
    return forward_log_returns(close, horizons) / (rvol[..., None] * np.sqrt(np.asarray(horizons, dtype=float)))


def forward_log_returns(close: np.ndarray, horizons: tuple[int, ...]) -> np.ndarray:
    """LABELS: log(close[t+h]/close[t]) per horizon, shape (S, T, H); NaN past the end."""
    s, t = close.shape
    out = np.full((s, t, len(horizons)), np.nan)
    c = np.where(close > 0, close, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, h in enumerate(horizons):
            if t > h:
                out[:, : t - h, k] = np.log(c[:, h:] / c[:, : t - h])
    return out


@dataclass(frozen=True, slots=True)
class Normaliser:
    """Per-column mean and std of the training span (the checkpoint carries both)."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)

    @staticmethod
    def fit(rows: np.ndarray) -> "Normaliser":
        """Statistics of the finite rows of `rows` (..., F) — pass the training span only."""
        flat = rows.reshape(-1, rows.shape[-1])
        flat = flat[np.isfinite(flat).all(axis=1)]
        if len(flat) < 2:
            raise ValueError("fewer than two complete feature rows to fit the normalisation on")
        std = flat.std(axis=0)
        return Normaliser(mean=flat.mean(axis=0), std=np.where(std > 1e-12, std, 1.0))

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Standardised, clipped rows as float32 (NaN stays NaN)."""
        z = (rows - self.mean) / self.std
        return np.clip(z, -CLIP, CLIP).astype(np.float32)


def complete_windows(rows: np.ndarray, length: int) -> np.ndarray:
    """(S, T) bool: True where rows[t-length+1 .. t] are all finite."""
    bad = ~np.isfinite(rows).all(axis=-1)
    s, t = bad.shape
    run = np.zeros((s, t + 1), dtype=np.int64)
    np.cumsum(bad, axis=1, out=run[:, 1:])
    ok = np.zeros((s, t), dtype=bool)
    if t >= length:
        ok[:, length - 1:] = (run[:, length:] - run[:, : t + 1 - length]) == 0
    return ok


def gather(rows: np.ndarray, sym: np.ndarray, end: np.ndarray, length: int) -> np.ndarray:
    """Windows rows[s, t-length+1 .. t] for each (s, t) pair → (N, length, F).

    Only the requested windows are copied; `end` must be ≥ length-1.
    """
    view = np.lib.stride_tricks.sliding_window_view(rows, length, axis=1)  # (S, T-L+1, F, L)
    return np.ascontiguousarray(view[sym, end - (length - 1)].transpose(0, 2, 1))


class FeatureRing:
    """The newest `length` input rows per symbol, fed one bar at a time by predict.

    Seeded from the fit's history; a bar that never reached predict (a gap
    in `ts`) enters as a NaN row, so windows that include it are not scored
    until it has scrolled out. Owned by the model under its lock.
    """

    def __init__(self, n_symbols: int, length: int, step_ns: int) -> None:
        self.length = length
        self.step_ns = step_ns
        self.rows = np.full((n_symbols, length, len(INPUTS)), np.nan)
        self.rvol = np.full(n_symbols, np.nan)
        self.close = np.full(n_symbols, np.nan)
        self.last_ts: int | None = None

    def seed(self, rows: np.ndarray, ts: int, rvol: np.ndarray, close: np.ndarray) -> None:
        """Take the newest rows of a history (S, n, F) ending at bar `ts`."""
        n = min(self.length, rows.shape[1])
        self.rows[:] = np.nan
        if n:
            self.rows[:, -n:] = rows[:, -n:]
        self.rvol = np.array(rvol, dtype=float)
        self.close = np.array(close, dtype=float)
        self.last_ts = int(ts)

    def push(self, ts: int, rows: np.ndarray, rvol: np.ndarray, ret_1: np.ndarray,
             close: np.ndarray | None = None) -> bool:
        """Append one bar; returns False (and changes nothing) for a bar already seen.

        Without `close`, the last close is carried forward by exp(ret_1); a
        missing bar breaks that chain (NaN) until the next seed.
        """
        if self.last_ts is not None and ts <= self.last_ts:
            return False
        missed = 0 if self.last_ts is None else max(0, (ts - self.last_ts) // self.step_ns - 1)
        shift = min(self.length, missed + 1)
        self.rows[:, :-shift] = self.rows[:, shift:].copy()
        self.rows[:, -shift:] = np.nan
        self.rows[:, -1] = rows
        self.rvol = np.array(rvol, dtype=float)
        if close is not None:
            self.close = np.array(close, dtype=float)
        elif missed:
            self.close = np.full_like(self.close, np.nan)
        else:
            self.close = self.close * np.exp(ret_1)
        self.last_ts = int(ts)
        return True

    def window(self) -> np.ndarray:
        return self.rows.copy()


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Standardised inputs, scaled targets and the (symbol, end bar) of every usable window.

    Walk-forward inside one fit: the last `holdout` share of bars is the
    validation span; training windows end at least max(horizons) bars before
    it, so no training label reaches into it, and the normaliser sees only
    rows before that purge line.
    """

    rows: np.ndarray  # (S, T, F) float32, standardised
    targets: np.ndarray  # (S, T, H) float32, scaled labels
    rvol: np.ndarray  # (S, T) float64
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    normaliser: Normaliser


def training_set(features: np.ndarray, names: tuple[str, ...], close: np.ndarray, *, horizons: tuple[int, ...],
                 length: int, train_bars: int, holdout: float) -> TrainingSet:
    """Everything a fit needs from the newest `train_bars` bars of a history."""
    start = max(0, features.shape[1] - train_bars)
    raw = input_rows(features[:, start:], names)
    rvol = bar_volatility(features[:, start:], names)
    y = scaled_targets(close[:, start:], rvol, horizons)
    usable = complete_windows(raw, length) & np.isfinite(y).all(axis=-1)
    n = raw.shape[1]
    cut = int(round(n * (1.0 - holdout))) if holdout > 0 else n
    purge = cut - max(horizons)
    t = np.arange(n)
    train = np.nonzero(usable & (t < purge))
    val = np.nonzero(usable & (t >= cut))
    normaliser = Normaliser.fit(raw[:, : max(purge, 0)])
    return TrainingSet(rows=normaliser.apply(raw), targets=y.astype(np.float32), rvol=rvol,
                       train=train, val=val, normaliser=normaliser)
