"""Rolling-window sums and moments along time, for every symbol at once.

Batch (`rolling_sum`, `rolling_mean_var`) works on whole (S, T) arrays with
the van Herk/Gil-Werman split: the time axis is cut into blocks of `n` bars,
and the window ending at bar t is the suffix of one block plus the prefix of
the next. Prefix/suffix sums are cumulative sums inside a block, so every
window sum has at most 2n terms (error ~n·eps, no drift over long
histories, unlike a global cumsum). Moments use Welford's update for the
prefixes/suffixes and Chan's formula to join the two parts: a flat window
has exactly zero variance.

Incremental (`last_sum`, `last_mean_var`) computes the same quantities for
one window per symbol, straightforwardly, from an (S, n) buffer.

A NaN anywhere in a window makes its result NaN (NaN = missing bar); the
first n-1 bars have no full window and are NaN.
"""

from __future__ import annotations

import numpy as np


def _blocks(x: np.ndarray, n: int) -> np.ndarray:
    s, t = x.shape
    nb = -(-t // n)
    out = np.full((s, nb * n), np.nan)
    out[:, :t] = x
    return out.reshape(s, nb, n)


def rolling_sum(x: np.ndarray, n: int) -> np.ndarray:
    """out[:, t] = x[:, t-n+1] + … + x[:, t]; NaN for t < n-1."""
    s, t = x.shape
    out = np.full((s, t), np.nan)
    if t < n:
        return out
    xb = _blocks(x, n)
    prefix = np.cumsum(xb, axis=2).reshape(s, -1)
    suffix = np.cumsum(xb[:, :, ::-1], axis=2)[:, :, ::-1].reshape(s, -1)
    # Window ending at t starts at u = t-n+1: suffix of u's block, plus (unless
    # u opens a block) the prefix of t's block.
    split = (np.arange(t - n + 1) % n) > 0
    np.add(suffix[:, :t - n + 1], np.where(split, prefix[:, n - 1:t], 0.0), out=out[:, n - 1:])
    return out


def _welford(xb: np.ndarray, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """Running mean and sum of squared deviations inside each block (prefix or suffix)."""
    s, nb, n = xb.shape
    xt = np.ascontiguousarray(xb.transpose(2, 0, 1))  # (n, S, blocks): one bar of every block per step
    means = np.empty_like(xt)
    m2s = np.empty_like(xt)
    mean = np.zeros((s, nb))
    m2 = np.zeros((s, nb))
    order = range(n - 1, -1, -1) if reverse else range(n)
    for count, k in enumerate(order, start=1):
        xk = xt[k]
        delta = xk - mean
        mean = mean + delta / count
        m2 = m2 + delta * (xk - mean)
        means[k] = mean
        m2s[k] = m2
    return means.transpose(1, 2, 0).reshape(s, -1), m2s.transpose(1, 2, 0).reshape(s, -1)


def rolling_mean_var(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population variance (ddof=0) over n bars; NaN for t < n-1."""
    s, t = x.shape
    mean_out = np.full((s, t), np.nan)
    var_out = np.full((s, t), np.nan)
    if t < n:
        return mean_out, var_out
    xb = _blocks(x, n)
    p_mean, p_m2 = _welford(xb, reverse=False)
    s_mean, s_m2 = _welford(xb, reverse=True)
    w = t - n + 1
    # Window ending at t = u+n-1: suffix of u's block (na bars) joined by
    # Chan's formula with the prefix of t's block (nb bars; 0 if u opens a block).
    nb = (np.arange(w) % n).astype(np.float64)
    na = n - nb
    ma = s_mean[:, :w]
    delta = np.where(nb > 0, p_mean[:, n - 1:t] - ma, 0.0)
    mean_out[:, n - 1:] = ma + delta * (nb / n)
    m2 = s_m2[:, :w] + np.where(nb > 0, p_m2[:, n - 1:t], 0.0) + delta * delta * (na * nb / n)
    var_out[:, n - 1:] = m2 / n
    return mean_out, var_out


def last_sum(buf: np.ndarray) -> np.ndarray:
    """Sum over the window held in an (S, n) buffer (NaN if any bar is missing)."""
    return buf.sum(axis=1)


def last_mean_var(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-pass mean and population variance of an (S, n) window buffer."""
    mean = buf.mean(axis=1)
    dev = buf - mean[:, None]
    return mean, (dev * dev).mean(axis=1)


def missing_counts(valid: np.ndarray) -> np.ndarray:
    """(S, T+1) running count of missing bars, with a leading 0 column."""
    s = valid.shape[0]
    return np.concatenate([np.zeros((s, 1), np.int64), np.cumsum(~valid, axis=1)], axis=1)


def window_incomplete(counts: np.ndarray, n: int) -> np.ndarray:
    """(S, T-n+1): True where the n bars ending at t = n-1 … T-1 include a missing bar."""
    return (counts[:, n:] - counts[:, :counts.shape[1] - n]) > 0
