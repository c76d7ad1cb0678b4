"""The forecast family's event (torch-free: the app imports it)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecast(Event):
    """One forecaster's view of the next hours, for every watchlist symbol.

    Values are log returns from `last_close` (the close of bar `ts`) to the
    close `horizons[k]` bars later. Per symbol and horizon: `point` is the
    median forecast, `lower`/`upper` the `band` quantiles (e.g. q10/q90, an
    80 % band). `p_up` is p(log return over `signal_horizon` bars > `cost`),
    the value of the matching `Signal`. NaN wherever a symbol could not be
    scored (missing bars in its window); `last_close` NaN when unknown.
    State-like: only the newest per model matters.
    """

    family: str = "forecast"
    symbols: tuple[str, ...]
    timeframe: str
    horizons: tuple[int, ...]
    horizon_hours: tuple[float, ...]
    band: tuple[float, float]
    point: tuple[tuple[float, ...], ...]
    lower: tuple[tuple[float, ...], ...]
    upper: tuple[tuple[float, ...], ...]
    last_close: tuple[float, ...]
    p_up: tuple[float, ...]
    signal_horizon: int
    cost: float

    @property
    def coalesce_key(self) -> str:
        return f"forecast:{self.source}"
