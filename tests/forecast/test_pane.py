"""The forecast pane renders Forecast events in a small Textual app (Pilot)."""

from __future__ import annotations

import math

import pytest
from textual.app import App, ComposeResult

import themes
from app.panes.forecast import ForecastChart, ForecastPane, forecast_path, top_movers
from app.theming import load_palettes
from engine.events import Candles
from engine.forecast.events import Forecast

SYMBOLS = ("BTC/USD", "ETH/USD", "LTC/USD")
T0 = 1_551_700_800 * 10**9
BAR = 30 * 60 * 10**9
NAN = math.nan


def forecast(*, source: str = "lstm", ts: int = T0 + 59 * BAR) -> Forecast:
    return Forecast(
        source=source, cycle=60, ts=ts, symbols=SYMBOLS, timeframe="30m", horizons=(2, 4, 6, 8),
        horizon_hours=(1.0, 2.0, 3.0, 4.0), band=(0.1, 0.9),
        point=((0.001, 0.002, 0.003, 0.004), (-0.02, -0.03, -0.035, -0.04), (NAN,) * 4),
        lower=((-0.01, -0.015, -0.02, -0.025), (-0.04, -0.06, -0.07, -0.08), (NAN,) * 4),
        upper=((0.012, 0.018, 0.025, 0.03), (0.0, 0.0, 0.002, 0.004), (NAN,) * 4),
        last_close=(100.0, NAN, NAN), p_up=(0.55, 0.12, NAN), signal_horizon=4, cost=0.002)


def candles() -> Candles:
    closes = tuple(tuple(base * (1 + 0.001 * k) for k in range(60)) for base in (100.0 / 1.059, 50.0, 20.0))
    return Candles(source="feed", cycle=60, ts=T0 + 59 * BAR, symbols=SYMBOLS, timeframe="30m",
                   open=tuple(c[-1] for c in closes), high=tuple(c[-1] for c in closes),
                   low=tuple(c[-1] for c in closes), close=tuple(c[-1] for c in closes), volume=(1.0, 1.0, 1.0),
                   history_ts=tuple(T0 + k * BAR for k in range(60)), closes=closes)


class PaneApp(App[None]):
    CSS_PATH = [themes.stylesheet_paths()[0], *[p for p in themes.stylesheet_paths() if p.stem == "forecast"]]

    def __init__(self) -> None:
        self._palettes = load_palettes()
        super().__init__()
        for palette in self._palettes.themes:
            self.register_theme(palette)
        self.theme = "cockpit-dark"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self._palettes.semantic_defaults()

    def compose(self) -> ComposeResult:
        yield ForecastPane(selected="BTC/USD")


def text(app: App, selector: str) -> str:
    return str(app.query_one(selector).render())


def test_path_in_prices_and_movers_ranked_by_expected_move():
    event = forecast()
    path = forecast_path(event, "BTC/USD")
    assert path.origin == 100.0 and [s[0] for s in path.steps] == [2, 4, 6, 8]
    assert path.steps[-1][2] == pytest.approx(100.0 * math.exp(0.004))
    assert forecast_path(event, "ETH/USD") is None  # no close known
    assert forecast_path(event, "ETH/USD", 50.0).steps[0][2] == pytest.approx(50.0 * math.exp(-0.02))
    assert forecast_path(event, "LTC/USD", 20.0) is None  # not scored
    assert [m.symbol for m in top_movers(event)] == ["ETH/USD", "BTC/USD"]


async def test_pane_renders_a_forecast_and_follows_the_selected_symbol():
    app = PaneApp()
    async with app.run_test(size=(110, 24)) as pilot:
        pane = app.query_one(ForecastPane)
        assert "waiting for lstm" in text(app, "#forecast-stats")
        pane.show_candles(candles())
        pane.show_forecast(forecast())
        await pilot.pause()
        stats = text(app, "#forecast-stats")
        assert "BTC/USD" in stats and "+0.10%" in stats and "+0.40%" in stats and "0.55" in stats
        assert "-1.00%…+1.21%" in stats and "p(up 2h > 20bp)" in stats  # the 1h band; signal at 4 bars
        movers = text(app, "#forecast-movers")
        assert movers.index("ETH") < movers.index("BTC") and "LTC" not in movers and "-2.96%" in movers
        chart = app.query_one(ForecastChart)
        closes, path = chart.picture
        assert len(closes) == 60 and path.origin == 100.0
        assert pane.border_title == "forecast · lstm · BTC/USD"

        pane.select_symbol("ETH/USD")
        await pilot.pause()
        assert "ETH/USD" in text(app, "#forecast-stats") and "-1.98%" in text(app, "#forecast-stats")
        _, path = app.query_one(ForecastChart).picture
        assert path.origin == pytest.approx(candles().closes[1][-1])  # anchored on the chart's last close

        pane.select_symbol("LTC/USD")
        await pilot.pause()
        assert "n/a" in text(app, "#forecast-stats")
        assert app.query_one(ForecastChart).picture[1] is None

        pane.show_forecast(forecast(source="other-model"))  # another forecaster's events are not this pane's
        await pilot.pause()
        assert pane.border_title == "forecast · lstm · LTC/USD"
