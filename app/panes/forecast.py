"""The forecaster's view: the selected symbol's closes with the forecast path and band,
its numbers per horizon, and across the watchlist the top predicted movers.

Fed by `show_forecast(Forecast)` and `show_candles(Candles)`; `select_symbol`
switches symbol. The path starts at the forecast bar's close and reaches
close·exp(q) at each horizon: median as a line, the band's ends dashed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from textual.app import ComposeResult, RenderResult
from textual.color import Color, ColorParseError
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static
from textual_plotext import PlotextPlot

from app import format as fmt
from app.panes.quote import short_names, tone
from app.widgets.text import update
from engine.events import Candles
from engine.forecast.events import Forecast

MOVERS = 6


@dataclass(frozen=True, slots=True)
class Path:
    """One symbol's forecast in prices: origin close, then (bars ahead, low, median, high)."""

    origin: float
    steps: tuple[tuple[int, float, float, float], ...]
    hours: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Mover:
    symbol: str
    move: float  # median log return at the signal horizon
    lower: float
    upper: float
    p_up: float


def forecast_path(event: Forecast, symbol: str, fallback_close: float = math.nan) -> Path | None:
    """The symbol's path in prices, or None when it has no finite forecast or no close to start from."""
    if symbol not in event.symbols:
        return None
    i = event.symbols.index(symbol)
    origin = event.last_close[i] if fmt.finite(event.last_close[i]) else fallback_close
    if not fmt.finite(origin):
        return None
    rows = [(h, hours, lo, mid, hi) for h, hours, lo, mid, hi
            in zip(event.horizons, event.horizon_hours, event.lower[i], event.point[i], event.upper[i])
            if fmt.finite(lo) and fmt.finite(mid) and fmt.finite(hi)]
    if not rows:
        return None
    steps = tuple((h, origin * math.exp(lo), origin * math.exp(mid), origin * math.exp(hi)) for h, _, lo, mid, hi in rows)
    return Path(origin=origin, steps=steps, hours=tuple(r[1] for r in rows))


def top_movers(event: Forecast, n: int = MOVERS) -> list[Mover]:
    """The `n` symbols with the largest |median move| at the signal horizon (unscored ones left out)."""
    k = event.horizons.index(event.signal_horizon) if event.signal_horizon in event.horizons else -1
    movers = [Mover(s, event.point[i][k], event.lower[i][k], event.upper[i][k], event.p_up[i])
              for i, s in enumerate(event.symbols) if fmt.finite(event.point[i][k])]
    movers.sort(key=lambda m: (-abs(m.move), m.symbol))
    return movers[:n]


def _pct(log_return: float) -> str:
    return fmt.change_pct(math.expm1(log_return)) if fmt.finite(log_return) else fmt.NA


class ForecastChart(PlotextPlot):
    """Closes, then the forecast path and band; at most one rebuild per `min_interval` seconds."""

    def __init__(self, *, id: str | None = None, min_interval: float = 1.0) -> None:
        super().__init__(id=id)
        self._min_interval = min_interval
        self._closes: tuple[float, ...] = ()
        self._origin_at = -1
        self._path: Path | None = None
        self._last_draw = -math.inf
        self._timer: Timer | None = None
        self._version = 0
        self._cache: tuple[tuple[object, ...], RenderResult] | None = None
        self.draws = 0

    @property
    def picture(self) -> tuple[tuple[float, ...], Path | None]:
        """What the chart shows: the closes and the forecast path."""
        return self._closes, self._path

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())
        self._draw()

    def show(self, closes: tuple[float, ...], path: Path | None, origin_at: int) -> None:
        """`origin_at` = index in `closes` of the forecast bar (the path starts there)."""
        self._closes, self._path, self._origin_at = closes, path, origin_at
        wait = self._min_interval - (time.monotonic() - self._last_draw)
        if wait <= 0:
            self._draw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._draw)

    def render(self) -> RenderResult:
        key = (self._version, self.size, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, super().render())
        return self._cache[1]

    def _rgb(self, name: str) -> tuple[int, int, int]:
        try:
            return Color.parse(self.app.theme_variables.get(name, "")).rgb
        except ColorParseError:
            return (128, 128, 128)

    def _draw(self) -> None:
        self._timer = None
        self._last_draw = time.monotonic()
        self.draws += 1
        self._version += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        pairs = [(i, v) for i, v in enumerate(self._closes) if fmt.finite(v)]
        path = self._path
        if len(pairs) < 2 and path is None:
            plt.title("waiting for a forecast…")
            self.refresh()
            return
        if len(pairs) >= 2:
            plt.plot([i for i, _ in pairs], [v for _, v in pairs], marker="braille", color=self._rgb("muted"))
        if path is not None:
            x0 = self._origin_at if self._origin_at >= 0 else max(len(self._closes) - 1, 0)
            xs = [x0] + [x0 + h for h, *_ in path.steps]
            mid = [path.origin] + [m for _, _, m, _ in path.steps]
            colour = self._rgb("bull" if mid[-1] >= path.origin else "bear")
            for values in ([path.origin] + [lo for _, lo, _, _ in path.steps],
                           [path.origin] + [hi for _, _, _, hi in path.steps]):
                plt.plot(xs, values, marker="dot", color=self._rgb("accent"))
            plt.plot(xs, mid, marker="braille", color=colour)
            plt.xlim(0, max(xs[-1], 1))
            plt.xticks([x0, xs[-1]], ["now", f"+{path.hours[-1]:g}h"])
        self.refresh()


class ForecastPane(Vertical):
    """One forecaster's latest Forecast for the selected symbol and the watchlist."""

    def __init__(self, *, selected: str, model: str = "lstm") -> None:
        super().__init__(id="forecast")
        self._symbol = selected
        self._model = model
        self._forecast: Forecast | None = None
        self._candles: Candles | None = None

    @property
    def symbol(self) -> str:
        return self._symbol

    def compose(self) -> ComposeResult:
        with Horizontal(id="forecast-body"):
            yield ForecastChart(id="forecast-chart")
            with Vertical(id="forecast-side"):
                yield Static(id="forecast-stats")
                yield Static(id="forecast-movers")

    def on_mount(self) -> None:
        self._paint()

    # -- updates -----------------------------------------------------------------
    def show_forecast(self, event: Forecast) -> None:
        if event.source != self._model:
            return  # another forecaster: this pane follows one model
        self._forecast = event
        self._paint()

    def show_candles(self, candles: Candles) -> None:
        self._candles = candles
        self._paint_chart()

    def select_symbol(self, symbol: str) -> None:
        self._symbol = symbol
        self._paint()

    # -- painting ----------------------------------------------------------------
    def _paint(self) -> None:
        title = f"forecast · {self._model} · {self._symbol}"
        if self.border_title != title:
            self.border_title = title
        self._paint_chart()
        self._paint_stats()
        self._paint_movers()

    def _closes(self) -> tuple[tuple[float, ...], tuple[int, ...]]:
        c = self._candles
        if c is None or self._symbol not in c.symbols:
            return (), ()
        i = c.symbols.index(self._symbol)
        return (c.closes[i] if i < len(c.closes) else ()), c.history_ts

    def _paint_chart(self) -> None:
        closes, ts = self._closes()
        event = self._forecast
        path, origin_at = None, -1
        if event is not None:
            finite = [v for v in closes if fmt.finite(v)]
            if event.ts in ts:
                origin_at = ts.index(event.ts)
            path = forecast_path(event, self._symbol, finite[-1] if finite else math.nan)
        self.query_one(ForecastChart).show(closes, path, origin_at)

    def _paint_stats(self) -> None:
        stats = self.query_one("#forecast-stats", Static)
        event = self._forecast
        if event is None:
            update(stats, Content.from_markup("[$muted]waiting for $model…[/]", model=self._model))
            return
        if self._symbol not in event.symbols:
            update(stats, Content.from_markup("[$muted]$symbol is not forecast[/]", symbol=self._symbol))
            return
        i = event.symbols.index(self._symbol)
        band = f"q{event.band[0] * 100:g}–q{event.band[1] * 100:g}"
        lines = [Content.from_markup("[b]$sym[/] [$muted]at $time[/]", sym=self._symbol,
                                     time=fmt.market_time(event.ts))]
        for h, hours, lo, mid, hi in zip(event.horizons, event.horizon_hours, event.lower[i], event.point[i],
                                         event.upper[i]):
            lines.append(Content.from_markup(
                f"[$muted]$h[/] [${tone(mid)}]$mid[/] [$muted]$band[/]",
                h=f"{hours:g}h".rjust(4), mid=_pct(mid).rjust(7), band=f"{_pct(lo)}…{_pct(hi)}"))
        p = event.p_up[i]
        hours = dict(zip(event.horizons, event.horizon_hours)).get(event.signal_horizon, math.nan)
        lines.append(Content.from_markup(
            f"[$muted]p(up $h > $cost)[/] [${'bull' if fmt.finite(p) and p > 0.5 else 'muted'}]$p[/] [$muted]$band[/]",
            h=f"{hours:g}h", cost=f"{event.cost * 1e4:g}bp", p=fmt.probability(p), band=band))
        update(stats, Content("\n").join(lines))

    def _paint_movers(self) -> None:
        box = self.query_one("#forecast-movers", Static)
        event = self._forecast
        if event is None:
            update(box, Content(""))
            return
        movers = top_movers(event)
        hours = dict(zip(event.horizons, event.horizon_hours)).get(event.signal_horizon, math.nan)
        head = Content.from_markup("[b]top movers[/] [$muted]$h[/]", h=f"{hours:g}h")
        if not movers:
            update(box, head + Content.from_markup("\n[$muted]no symbol scored yet[/]"))
            return
        names = short_names(event.symbols)
        width = min(max(len(names[m.symbol]) for m in movers), 9)
        lines = [head]
        for m in movers:
            mark = "▸" if m.symbol == self._symbol else " "
            lines.append(Content.from_markup(
                f"$mark$sym [${tone(m.move)}]$move[/] [$muted]$band p$p[/]", mark=mark,
                sym=fmt.elide(names[m.symbol], width).ljust(width), move=_pct(m.move).rjust(7),
                band=f"{_pct(m.lower)}…{_pct(m.upper)}", p=fmt.probability(m.p_up)))
        update(box, Content("\n").join(lines))
