"""Training labels. These look into the FUTURE: never use them as features."""

from __future__ import annotations

import numpy as np

from engine.data.panel import CandlePanel


def forward_return(panel: CandlePanel, horizon: int) -> np.ndarray:
    """LABEL, not a feature: log(close[t+h] / close[t]), shape (S, T).

    Bar t's value is known only at bar t+h, so feeding it to a model at bar t
    is lookahead. NaN in the last `horizon` bars and wherever either close is
    missing (bars in between may be missing: the label only needs both ends).
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    close = np.where(panel.close > 0, panel.close, np.nan)
    s, t = close.shape
    out = np.full((s, t), np.nan)
    if t > horizon:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, :t - horizon] = np.log(close[:, horizon:] / close[:, :t - horizon])
    return out
