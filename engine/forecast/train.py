"""`cockpit train forecast`: fit the forecaster on a history and write its checkpoint.

The checkpoint is `<checkpoint_dir>/<name>.pt`: the model's state_dict
(params, horizons, normalisation statistics, weights, holdout score) saved
with torch.save and read back with `weights_only=True` (plain containers and
tensors only, no pickled code). `LSTMForecaster.warmup` loads it when its
params match.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from engine.data.panel import CandlePanel
from engine.models._torch import checkpoint_path, save_checkpoint
from engine.models._torch import load_checkpoint as _load_checkpoint
from engine.forecast.lstm import ForecastParams, LSTMForecaster
from engine.models.protocol import History, ModelContext


@dataclass(frozen=True, slots=True)
class TrainResult:
    path: Path
    epochs: int
    seconds: float
    summary: str


def load_checkpoint(path: str | Path) -> Mapping[str, Any]:
    return _load_checkpoint(path, kind="a forecast")


def train_forecast(panel: CandlePanel, params: ForecastParams | Mapping[str, Any] | None = None, *,
                   checkpoint_dir: str | Path, name: str = "lstm", seed: int = 7, threads: int = 2,
                   log: Callable[[str], None] = print) -> TrainResult:
    """Fit on the newest `train_bars` bars of `panel`, log each epoch, save the checkpoint."""
    from engine.features import FeatureSpec, compute_features

    if isinstance(params, ForecastParams):
        values: Mapping[str, Any] = {k: getattr(params, k) for k in params.__dataclass_fields__}
    else:
        values = dict(params or {})
    model = LSTMForecaster(name, **values)
    keep = model.params.train_bars + model.params.window + 64
    panel = panel.slice(max(0, panel.n_bars - keep), panel.n_bars)
    block = compute_features(panel, FeatureSpec())
    t0 = time.perf_counter()
    model.warmup(ModelContext(checkpoint_dir=str(checkpoint_dir), seed=seed, threads=threads))
    epochs = 0
    for progress in model.fit(History(panel=panel, features=block.values, names=block.names)):
        epochs = progress.done
        log(f"{name}: {progress.message}")
    path = save_checkpoint(model, checkpoint_path(checkpoint_dir, name))
    summary = model.describe()
    log(f"{name}: {summary}")
    log(f"{name}: checkpoint {path}")
    return TrainResult(path=path, epochs=epochs, seconds=time.perf_counter() - t0, summary=summary)
