"""The patterns pane in a tiny App: PatternHit rows, bars ago from Candles, the candle chart."""

from __future__ import annotations

import math

from textual.app import App, ComposeResult

import themes
from app.panes.patterns import PatternsPane, candle_cells, candle_markup, merge_bars
from app.theming import load_palettes
from engine.events import Candles
from engine.patterns.events import PatternHit
from tests.patterns.textbook import textbook

T0 = 1_551_700_800 * 10**9
BAR_NS = 30 * 60 * 10**9


class PaneApp(App[None]):
    CSS_PATH = themes.stylesheet_paths()

    def __init__(self) -> None:
        self._palettes = load_palettes()
        super().__init__()
        for palette in self._palettes.themes:
            self.register_theme(palette)
        self.theme = "cockpit-dark"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self._palettes.semantic_defaults()

    def compose(self) -> ComposeResult:
        yield PatternsPane(max_rows=3)


def hit(symbol: str = "BTC/USD", pattern: str = "double_top", *, cycle: int = 10, agree: bool = True,
        confidence: float = 0.91) -> PatternHit:
    o, h, l, c = textbook(pattern)
    return PatternHit(source="patterns", cycle=cycle, ts=T0 + cycle * BAR_NS, symbol=symbol, pattern=pattern,
                      confidence=confidence, window=64, timeframe="30m", window_ts=T0 + (cycle - 63) * BAR_NS,
                      rules=(pattern,) if agree else (), rules_agree=agree, open=tuple(o), high=tuple(h),
                      low=tuple(l), close=tuple(c))


def candles(cycle: int) -> Candles:
    syms = ("BTC/USD", "ETH/USD")
    return Candles(source="feed", cycle=cycle, ts=T0 + cycle * BAR_NS, symbols=syms, timeframe="30m",
                   open=(1.0, 1.0), high=(1.0, 1.0), low=(1.0, 1.0), close=(1.0, 1.0), volume=(1.0, 1.0),
                   history_ts=(), closes=((), ()))


async def test_hits_become_rows_newest_first_and_bars_ago_follows_candles():
    app = PaneApp()
    async with app.run_test(size=(80, 30)) as pilot:
        pane = app.query_one(PatternsPane)
        assert "no pattern detected yet" in str(pane.query_one("#patterns-title").render())
        pane.show_pattern_hit(hit(cycle=10))
        pane.show_pattern_hit(hit("ETH/USD", "bull_flag", cycle=12, agree=False, confidence=0.75))
        await pilot.pause()
        rows = pane.row_texts()
        assert [r["symbol"] for r in rows] == ["ETH/USD", "BTC/USD"]
        assert rows[0]["pattern"] == "bull flag" and rows[1]["pattern"] == "double top"
        assert rows[0]["rules"] == "·" and rows[1]["rules"] == "✓"
        assert rows[0]["ago"] == "0" and rows[1]["ago"] == "2"
        pane.show_candles(candles(20))
        await pilot.pause()
        assert [r["ago"] for r in pane.row_texts()] == ["8", "10"]
        # the newest detection is highlighted and drawn
        assert pane.highlighted().symbol == "ETH/USD"
        title = str(pane.query_one("#patterns-title").render())
        assert "ETH/USD" in title and "bull flag" in title
        chart = str(pane.query_one("#patterns-chart").render())
        assert "█" in chart or "▀" in chart or "▄" in chart
        # older rows fall off beyond max_rows
        for k in range(3):
            pane.show_pattern_hit(hit("LTC/USD", "wedge", cycle=21 + k))
        await pilot.pause()
        assert len(pane.row_texts()) == 3 and pane.table.row_count == 3


async def test_cursor_selects_the_chart():
    app = PaneApp()
    async with app.run_test(size=(80, 30)) as pilot:
        pane = app.query_one(PatternsPane)
        pane.show_pattern_hit(hit("BTC/USD", "head_and_shoulders", cycle=5))
        pane.show_pattern_hit(hit("ETH/USD", "cup_and_handle", cycle=6))
        await pilot.pause()
        pane.table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert pane.highlighted().pattern == "head_and_shoulders"
        assert "head & shoulders" in str(pane.query_one("#patterns-title").render())


def test_candle_cells_draw_bodies_and_wicks():
    bars = [(1.0, 4.0, 0.0, 3.0), (3.0, 3.5, 1.0, 1.5), (math.nan,) * 4]
    cells = candle_cells(bars, height=4)
    assert len(cells) == 4 and all(len(r) == 3 for r in cells)
    col0 = [row[0] for row in cells]
    assert {t for _, t in col0 if t} == {"bull"}
    assert col0[0][0] == "│" and col0[-1][0] == "│"  # wick above and below the body
    assert any(g in "█▀▄" for g, _ in col0)
    assert {t for _, t in (row[1] for row in cells) if t} == {"bear"}
    assert all(row[2] == (" ", "") for row in cells)
    markup = candle_markup(cells)
    assert "[$bull]" in markup and "[$bear]" in markup and markup.count("\n") == 3


def test_merge_bars_keeps_extremes():
    o, h, l, c = ([1, 2, 3, 4], [5, 6, 9, 7], [0, -1, 1, 2], [2, 3, 4, 5])
    assert merge_bars(o, h, l, c, 2) == [(1, 6, -1, 3), (3, 9, 1, 5)]
    assert len(merge_bars(o, h, l, c, 10)) == 4
