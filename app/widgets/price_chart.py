"""A braille line chart of recent closes (Plotext), redrawn at a bounded rate.

No engine knowledge: it takes bar times (ns UTC) and values. The line is
coloured $bull when the window ends at or above where it started, else $bear,
and follows theme switches.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

from textual.app import RenderResult
from textual.color import Color, ColorParseError
from textual.timer import Timer
from textual_plotext import PlotextPlot

from app import format as fmt

_DAY_NS = 86_400 * 10**9


class PriceChart(PlotextPlot):
    """Recent closes; at most one Plotext rebuild per `min_interval` seconds."""

    def __init__(self, *, id: str | None = None, min_interval: float = 1.0) -> None:
        super().__init__(id=id)
        self._min_interval = min_interval
        self._ts: tuple[int, ...] = ()
        self._values: tuple[float, ...] = ()
        self._last_draw = -math.inf
        self._timer: Timer | None = None
        self._version = 0
        self._cache: tuple[tuple[object, ...], RenderResult] | None = None
        self.draws = 0

    @property
    def series(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """The times and values on the chart (drawn within `min_interval`)."""
        return self._ts, self._values

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())
        self._draw()

    def set_series(self, ts: Sequence[int], values: Sequence[float]) -> None:
        """New data; drawn now, or shortly when the last draw was very recent."""
        self._ts = tuple(ts)
        self._values = tuple(values)
        wait = self._min_interval - (time.monotonic() - self._last_draw)
        if wait <= 0:
            self._draw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._draw)

    def render(self) -> RenderResult:
        """Plotext's picture, rebuilt only when data, size or theme changed."""
        key = (self._version, self.size, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, super().render())
        return self._cache[1]

    def _line_colour(self, points: list[float]) -> tuple[int, int, int]:
        name = "bull" if points[-1] >= points[0] else "bear"
        try:
            return Color.parse(self.app.theme_variables.get(name, "")).rgb
        except ColorParseError:
            return (128, 128, 128)

    def _draw(self) -> None:
        self._timer = None
        if self._values:
            self._last_draw = time.monotonic()
        self.draws += 1
        self._version += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        pairs = [(i, v) for i, v in enumerate(self._values) if fmt.finite(v)]
        if len(pairs) >= 2:
            xs = [i for i, _ in pairs]
            ys = [v for _, v in pairs]
            plt.plot(xs, ys, marker="braille", color=self._line_colour(ys))
            plt.xticks(*self._ticks())
            plt.xlim(0, max(len(self._values) - 1, 1))
        else:
            plt.title("waiting for bars…")
        self.refresh()

    def _ticks(self) -> tuple[list[int], list[str]]:
        n = len(self._ts)
        if n < 2:
            return [], []
        with_date = self._ts[-1] - self._ts[0] > _DAY_NS
        count = 3 if self.size.width < 50 else 4
        positions = sorted({round(k * (n - 1) / (count - 1)) for k in range(count)})
        return positions, [fmt.axis_time(self._ts[p], with_date=with_date) for p in positions]
