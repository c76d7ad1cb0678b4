"""The forecaster's parameters (what the checkpoint and `[models.forecast]` carry) and its horizons."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Any, Mapping

from engine.data.panel import timeframe_seconds
from engine.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastParams:
    """Everything that defines a forecaster (the checkpoint carries it)."""

    hours: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)
    window: int = 48
    hidden: int = 32
    layers: int = 1
    dropout: float = 0.1
    epochs: int = 8
    batch_size: int = 256
    lr: float = 2e-3
    train_bars: int = 8000
    windows_per_epoch: int = 16384
    holdout: float = 0.2
    patience: int = 3
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    cost_bps: float = 20.0
    signal_hours: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hours", tuple(float(h) for h in self.hours))
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))
        ints = {"window": 2, "hidden": 1, "layers": 1, "epochs": 1, "batch_size": 1, "train_bars": 100,
                "windows_per_epoch": 1, "patience": 1}
        for key, low in ints.items():
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"models.forecast.{key} = {value!r}", hint=f"expected an integer ≥ {low}")
        if not self.hours or any(h <= 0 for h in self.hours):
            raise ConfigError(f"models.forecast.hours = {list(self.hours)}", hint="expected positive hours")
        if self.signal_hours not in self.hours:
            raise ConfigError(f"models.forecast.signal_hours = {self.signal_hours}",
                              hint=f"must be one of hours = {list(self.hours)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"models.forecast.dropout = {self.dropout}", hint="expected 0 ≤ dropout < 1")
        if not 0.0 <= self.holdout < 0.9:
            raise ConfigError(f"models.forecast.holdout = {self.holdout}", hint="expected 0 ≤ holdout < 0.9")
        q = self.quantiles
        if len(q) < 3 or list(q) != sorted(q) or 0.5 not in q or not all(0 < x < 1 for x in q):
            raise ConfigError(f"models.forecast.quantiles = {list(q)}",
                              hint="expected increasing levels inside (0, 1), 0.5 among them")
        if self.lr <= 0 or self.cost_bps < 0:
            raise ConfigError("models.forecast.lr and cost_bps", hint="lr > 0, cost_bps ≥ 0")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "ForecastParams":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            raise ConfigError(f"models.forecast: unknown key {unknown[0]!r}",
                              hint=f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(sorted(known)))
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def horizon_bars(timeframe: str, hours: tuple[float, ...]) -> tuple[int, ...]:
    """Bars of `timeframe` in each horizon, rounded, at least one, distinct."""
    step = timeframe_seconds(timeframe)
    bars = [max(1, round(h * 3600 / step)) for h in hours]
    if len(set(bars)) != len(bars):
        raise ConfigError(f"models.forecast.hours = {list(hours)} collapse to bars {bars} on {timeframe} data",
                          hint="choose hours at least one bar apart")
    return tuple(bars)
