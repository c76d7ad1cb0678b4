"""Technical features for every symbol at once, in batch and per new bar.

`compute_features(panel, spec)` → `FeatureBlock` (S, T, F) over a history;
`IncrementalFeatures` produces the same numbers one bar at a time for the
live engine; `forward_return` is a training LABEL (it looks ahead).

Missing bars follow `engine.data.panel`: nothing is forward-filled; at a
missing bar every feature is NaN; recursive indicators (EMA, MACD, Wilder
RSI/ATR) hold their state across it; a window that includes one is NaN.

Features (default spec; windows in bars):
- ret_h: log(close_t / close_{t-h}), h in 1, 3, 12, 48 (NaN if any bar of the
  h+1 is missing)
- ema_dist_s: close / EMA_s(close) - 1, s in 12, 26, 50
- rsi_14: Wilder RSI, 0..100 (50 when the averages are both zero)
- macd, macd_signal, macd_hist: MACD(12, 26, 9) line, signal and histogram,
  each divided by close
- bb_pos_20: (close - SMA20) / (2σ); bb_width_20: 4σ / SMA20 (σ population
  std of the 20 closes; position 0 for a flat window)
- atr_14: Wilder ATR / close
- vwap_dist_48: close / (Σ typical·volume / Σ volume) - 1 over 48 bars,
  typical = (high+low+close)/3 (mean typical price if the volume is all 0)
- volume_z_48: z-score of log1p(volume) against its 48-bar mean and
  population std (current bar included; 0 for a flat window)
- rvol_24: sqrt(mean of the 24 squared one-bar log returns)
- hl_range: (high - low) / close
"""

from engine.features.batch import FeatureBlock, compute_features
from engine.features.incremental import IncrementalFeatures
from engine.features.labels import forward_return
from engine.features.spec import FEATURE_NAMES, FeatureSpec

__all__ = ["FEATURE_NAMES", "FeatureBlock", "FeatureSpec", "IncrementalFeatures", "compute_features",
           "forward_return"]
