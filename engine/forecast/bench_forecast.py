"""`cockpit bench` rows for the forecaster: one batched forward pass for N symbols, fp32 vs int8.

The network is the cockpit's architecture, fitted for one short epoch on a
synthetic panel of N symbols (so its weights are trained-like, not raw
initialisation); the inputs are those symbols' real windows at the last bar.
int8 is `torch.ao.quantization.quantize_dynamic` over nn.LSTM and nn.Linear.
Reported: median latency of the forward pass, serialised state size, and the
largest and mean absolute difference between the fp32 and int8 forecasts
(log returns, in bp), plus the whole fp32 predict() (inputs, pass, events).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Mapping

import numpy as np

from engine.bench import BenchResult
from engine.features import compute_features
from engine.forecast.lstm import LSTMForecaster
from engine.forecast.windows import bar_volatility, input_rows
from engine.models.protocol import FeatureBatch, History, ModelContext

BENCH_BARS = 400
FIT = {"epochs": 1, "windows_per_epoch": 2048, "holdout": 0.1}


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def bench_forecast(symbols: int = 500, *, params: Mapping[str, Any] | None = None, seed: int = 7, threads: int = 1,
                   repeats: int = 5) -> list[BenchResult]:
    """fp32 and int8 forward passes over `symbols` windows, and the full predict() (rows family "forecast")."""
    from torch import nn

    from engine.data.synthetic import synthetic_panel
    from engine.models._torch import median_ms, quantize_dynamic_int8, state_size_bytes, torch_setup

    torch = torch_setup(threads)
    model = LSTMForecaster("lstm", **{**dict(params or {}), **FIT})
    p = model.params
    panel = synthetic_panel(symbols, max(BENCH_BARS, p.window + 200), seed=seed)
    block = compute_features(panel)
    model.warmup(ModelContext(checkpoint_dir="", seed=seed, threads=threads))
    for _ in model.fit(History(panel=panel, features=block.values, names=block.names)):
        pass
    fitted = model.fitted
    assert fitted is not None
    raw = input_rows(block.values[:, -p.window:], block.names)
    rvol = bar_volatility(block.values[:, -1], block.names)
    x = torch.from_numpy(fitted.normaliser.apply(raw))
    fp32 = fitted.net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch 2.13 flags its quantized tensors as deprecated
        int8 = quantize_dynamic_int8(copy.deepcopy(fp32), (nn.LSTM, nn.Linear)).eval()

    def forward(net: Any) -> np.ndarray:
        with torch.inference_mode():
            return net(x).numpy().astype(np.float64)

    scale = (rvol[:, None] * np.sqrt(np.asarray(fitted.horizons, dtype=float)))[..., None]
    q32, q8 = forward(fp32) * scale, forward(int8) * scale
    diff = np.abs(q32 - q8)[np.isfinite(q32)]
    common = {"hidden": p.hidden, "layers": p.layers, "window": p.window, "horizons": list(fitted.horizons),
              "threads": threads, "quantized_engine": torch.backends.quantized.engine}
    rows = []
    for label, net, out in (("fp32", fp32, q32), ("int8", int8, q8)):
        seconds = median_ms(lambda net=net: forward(net), repeats=repeats) / 1000.0
        extra = {**common, "state_bytes": state_size_bytes(net),
                 "max_abs_diff_bp": 0.0 if label == "fp32" else float(diff.max() * 1e4),
                 "mean_abs_diff_bp": 0.0 if label == "fp32" else float(diff.mean() * 1e4),
                 "finite_outputs": int(np.isfinite(out).all(axis=(1, 2)).sum())}
        rows.append(BenchResult(f"forecast.lstm.{label}", "forecast", symbols, seconds, _rss_mb(),
                                symbols / seconds, "symbols", extra))
    batch = FeatureBatch(cycle=1, ts=int(panel.ts[-1]), symbols=panel.symbols, names=block.names,
                         values=block.values[:, -1], valid=np.isfinite(block.values[:, -1]).all(axis=1))
    seconds = median_ms(lambda: model.predict(batch), repeats=repeats) / 1000.0
    rows.append(BenchResult("forecast.predict.fp32", "forecast", symbols, seconds, _rss_mb(), symbols / seconds,
                            "symbols", {**common, "includes": "ring update, normalise, forward, Forecast + Signal"}))
    return rows
