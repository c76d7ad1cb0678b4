"""The feature formulas, shared by the batch and the incremental path.

Each path gathers the same "parts" (recursive outputs, window sums and
moments) — batch as (S, T) arrays, incremental as (S,) vectors — and
`finish` turns them into features with the same elementwise arithmetic.
"""

from __future__ import annotations

import numpy as np

from engine.features.spec import FeatureSpec
from engine.features.windows import (
    last_mean_var,
    last_sum,
    missing_counts,
    rolling_mean_var,
    rolling_sum,
    window_incomplete,
)

# A window whose standard deviation is below this fraction of its mean is
# flat: its z-score/band position is 0 instead of rounding noise over noise.
FLAT = 1e-12


def sanitise(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
             volume: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(valid, high, low, close, volume) with every field NaN where the bar is missing.

    A bar counts as present only if all five fields are finite, prices are
    positive and volume is non-negative; anything else is a missing bar.
    """
    with np.errstate(invalid="ignore"):
        valid = (np.isfinite(open_) & np.isfinite(high) & np.isfinite(low) & np.isfinite(close)
                 & np.isfinite(volume) & (open_ > 0) & (high > 0) & (low > 0) & (close > 0) & (volume >= 0))
    nan = np.nan
    return (valid, np.where(valid, high, nan), np.where(valid, low, nan), np.where(valid, close, nan),
            np.where(valid, volume, nan))


def derived(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> dict[str, np.ndarray]:
    """Per-bar series the window features sum over (elementwise: same bits for (S,) or (S, T))."""
    tp = (high + low + close) / 3.0
    return {"close": close, "logc": np.log(close), "tp": tp, "tpv": tp * volume, "volume": volume,
            "logv": np.log1p(volume)}


RING_SERIES = ("close", "logc", "tp", "tpv", "volume", "logv")


def window_parts_batch(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                       valid: np.ndarray, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Window sums/moments for every bar of (S, T) sanitised arrays."""
    parts: dict[str, np.ndarray] = {}
    s, t = close.shape
    d = derived(high, low, close, volume)
    logc = d["logc"]
    counts = missing_counts(valid)
    for h in spec.return_horizons:
        ret = np.full((s, t), np.nan)
        if t > h:
            diff = logc[:, h:] - logc[:, :t - h]
            diff[window_incomplete(counts, h + 1)] = np.nan
            ret[:, h:] = diff
        parts[f"ret_{h}"] = ret
    r = np.full((s, t), np.nan)
    r[:, 1:] = logc[:, 1:] - logc[:, :-1]
    parts["rv_sum"] = rolling_sum(r * r, spec.rvol_window)
    n = spec.vwap_window
    parts["vwap_num"] = rolling_sum(d["tpv"], n)
    parts["vwap_den"] = rolling_sum(d["volume"], n)
    parts["tp_mean"] = rolling_sum(d["tp"], n) / n
    parts["logv"] = d["logv"]
    parts["vz_mean"], parts["vz_var"] = rolling_mean_var(d["logv"], spec.volume_window)
    parts["bb_mean"], parts["bb_var"] = rolling_mean_var(close, spec.bb_window)
    return parts


def window_parts_last(ring: dict[str, np.ndarray], run: np.ndarray, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """The same parts for the newest bar only.

    `ring[name]` is an (S, W) buffer of the newest W values of `derived`
    series `name` (oldest first); `run` counts each symbol's consecutive
    present bars up to and including the newest.
    """
    parts: dict[str, np.ndarray] = {}
    logc = ring["logc"]
    for h in spec.return_horizons:
        parts[f"ret_{h}"] = np.where(run > h, logc[:, -1] - logc[:, -1 - h], np.nan)
    n = spec.rvol_window
    r = logc[:, -n:] - logc[:, -n - 1:-1]
    parts["rv_sum"] = last_sum(r * r)
    n = spec.vwap_window
    parts["vwap_num"] = last_sum(ring["tpv"][:, -n:])
    parts["vwap_den"] = last_sum(ring["volume"][:, -n:])
    parts["tp_mean"] = last_sum(ring["tp"][:, -n:]) / n
    logv = ring["logv"]
    parts["logv"] = logv[:, -1]
    parts["vz_mean"], parts["vz_var"] = last_mean_var(logv[:, -spec.volume_window:])
    parts["bb_mean"], parts["bb_var"] = last_mean_var(ring["close"][:, -spec.bb_window:])
    return parts


def finish(rec: dict[str, np.ndarray], win: dict[str, np.ndarray], high: np.ndarray, low: np.ndarray,
           close: np.ndarray, spec: FeatureSpec) -> list[np.ndarray]:
    """Features in `spec.names()` order.

    Every formula involves the bar's own close or a window/state output that
    is NaN at a missing bar, so a missing bar yields NaN throughout; callers
    still enforce it on the assembled array.
    """
    nan = np.nan
    out: list[np.ndarray] = [win[f"ret_{h}"] for h in spec.return_horizons]
    out += [close / rec[f"ema_{s}"] - 1.0 for s in spec.ema_spans]
    up, down = rec["gain"], rec["loss"]
    total = up + down
    out.append(np.where(total > 0, 100.0 * up / total, np.where(np.isnan(total), nan, 50.0)))
    line, signal = rec["macd"], rec["signal"]
    out += [line / close, signal / close, (line - signal) / close]
    sd = np.sqrt(win["bb_var"])
    mid = win["bb_mean"]
    flat = sd <= FLAT * np.abs(mid)
    out.append(np.where(flat, 0.0, (close - mid) / (spec.bb_k * sd)))
    out.append(2.0 * spec.bb_k * sd / mid)
    out.append(rec["tr"] / close)
    vwap = np.where(win["vwap_den"] > 0, win["vwap_num"] / win["vwap_den"], win["tp_mean"])
    out.append(close / vwap - 1.0)
    sd = np.sqrt(win["vz_var"])
    mean = win["vz_mean"]
    flat = sd <= FLAT * np.abs(mean)
    out.append(np.where(flat, 0.0, (win["logv"] - mean) / sd))
    out.append(np.sqrt(win["rv_sum"] / spec.rvol_window))
    out.append((high - low) / close)
    return out
