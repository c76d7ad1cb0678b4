"""Which features exist and with which windows: one frozen, recordable spec."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from engine.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Windows and periods of every feature (bars of the panel's timeframe).

    `get_params()` returns them as a plain dict so a model can record exactly
    which features it was trained on; `names()` lists the feature columns in
    the order of `FeatureBlock.values[..., i]`.
    """

    return_horizons: tuple[int, ...] = (1, 3, 12, 48)
    ema_spans: tuple[int, ...] = (12, 26, 50)
    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_window: int = 20
    bb_k: float = 2.0
    atr_period: int = 14
    vwap_window: int = 48
    volume_window: int = 48
    rvol_window: int = 24

    def __post_init__(self) -> None:
        for name in ("return_horizons", "ema_spans"):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            if not value or any(not _positive_int(v) for v in value):
                raise ConfigError(f"features.{name} = {value!r}", hint="expected a non-empty list of positive integers")
            if len(set(value)) != len(value):
                raise ConfigError(f"features.{name} = {value!r}", hint="values must be distinct")
        for f in fields(self):
            if f.name in ("return_horizons", "ema_spans", "bb_k"):
                continue
            value = getattr(self, f.name)
            if not _positive_int(value):
                raise ConfigError(f"features.{f.name} = {value!r}", hint="expected a positive integer")
        if not isinstance(self.bb_k, (int, float)) or not self.bb_k > 0:
            raise ConfigError(f"features.bb_k = {self.bb_k!r}", hint="expected a positive number")
        if self.macd_fast >= self.macd_slow:
            raise ConfigError(f"features.macd_fast = {self.macd_fast}",
                              hint=f"must be below macd_slow = {self.macd_slow}")

    def get_params(self) -> dict[str, object]:
        """The parameters as a plain dict (tuples become lists, JSON-ready)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_params(cls, params: dict[str, object]) -> "FeatureSpec":
        """Inverse of `get_params()`; unknown keys are a ConfigError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"unknown feature parameter {unknown[0]!r}",
                              hint="expected one of " + ", ".join(sorted(known)))
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})  # type: ignore[arg-type]

    def names(self) -> tuple[str, ...]:
        """Feature column names, in order."""
        return (
            *(f"ret_{h}" for h in self.return_horizons),
            *(f"ema_dist_{s}" for s in self.ema_spans),
            f"rsi_{self.rsi_period}",
            "macd", "macd_signal", "macd_hist",
            f"bb_pos_{self.bb_window}", f"bb_width_{self.bb_window}",
            f"atr_{self.atr_period}",
            f"vwap_dist_{self.vwap_window}",
            f"volume_z_{self.volume_window}",
            f"rvol_{self.rvol_window}",
            "hl_range",
        )

    def ring_length(self) -> int:
        """Bars of raw history the window features need (incremental ring size)."""
        return max(max(self.return_horizons) + 1, self.rvol_window + 1, self.bb_window,
                   self.vwap_window, self.volume_window)

    def ema_set(self) -> tuple[int, ...]:
        """Every EMA span computed on close (distance spans ∪ MACD fast/slow)."""
        return tuple(sorted(set(self.ema_spans) | {self.macd_fast, self.macd_slow}))


def _positive_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


FEATURE_NAMES: tuple[str, ...] = FeatureSpec().names()
