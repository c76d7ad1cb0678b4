"""Chart patterns: recent detections across the watchlist and the chart the CNN saw.

The table lists the newest PatternHit events first (symbol, pattern,
confidence, whether the rule detectors agree, bars ago). Below it, the
highlighted detection's window is drawn as candles in the terminal: one
column per bar (bars merged when the pane is narrower than the window),
half-block bodies for twice the vertical resolution, $bull / $bear colours.
"bars ago" counts from the newest Candles event the pane has seen.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from app import format as fmt
from app.theming import colour
from app.widgets.text import update
from engine.data.panel import TIMEFRAME_SECONDS
from engine.events import Candles
from engine.patterns.events import PatternHit

COLUMNS = (("symbol", "symbol"), ("pattern", "pattern"), ("confidence", "conf"), ("rules", "rules"),
           ("ago", "bars ago"))
MAX_ROWS = 50
LABELS = {
    "head_and_shoulders": "head & shoulders",
    "double_top": "double top",
    "double_bottom": "double bottom",
    "bull_flag": "bull flag",
    "bear_flag": "bear flag",
    "triangle": "triangle",
    "cup_and_handle": "cup & handle",
    "wedge": "wedge",
    "channel": "channel",
}


def label(pattern: str) -> str:
    return LABELS.get(pattern, pattern.replace("_", " "))


# -- the candle chart (pure functions, tested without an App) ---------------------------
def merge_bars(o: Sequence[float], h: Sequence[float], l: Sequence[float], c: Sequence[float],
               width: int) -> list[tuple[float, float, float, float]]:
    """At most `width` columns: consecutive bars merged (first open, max high, min low, last close)."""
    n = len(c)
    k = max(1, math.ceil(n / max(1, width)))
    out = []
    for start in range(0, n, k):
        group = [(o[i], h[i], l[i], c[i]) for i in range(start, min(n, start + k))
                 if all(math.isfinite(x) for x in (o[i], h[i], l[i], c[i]))]
        if not group:
            out.append((math.nan,) * 4)
            continue
        out.append((group[0][0], max(g[1] for g in group), min(g[2] for g in group), group[-1][3]))
    return out


def candle_cells(bars: Sequence[tuple[float, float, float, float]], height: int) -> list[list[tuple[str, str]]]:
    """Rows (top first) of (glyph, tone) cells; tone is "bull", "bear" or "" (blank)."""
    finite = [b for b in bars if all(math.isfinite(x) for x in b)]
    rows = [[(" ", "") for _ in bars] for _ in range(height)]
    if not finite or height < 1:
        return rows
    lo, hi = min(b[2] for b in finite), max(b[1] for b in finite)
    span = hi - lo if hi > lo else 1.0
    units = 2 * height - 1  # half-rows

    def unit(p: float) -> int:
        return int(round((p - lo) / span * units))

    for x, (o, h, l, c) in enumerate(bars):
        if not all(math.isfinite(v) for v in (o, h, l, c)):
            continue
        tone = "bull" if c >= o else "bear"
        b_lo, b_hi = unit(min(o, c)), unit(max(o, c))
        w_lo, w_hi = unit(l), unit(h)
        for r in range(height):
            lower, upper = 2 * r, 2 * r + 1
            body_lower, body_upper = b_lo <= lower <= b_hi, b_lo <= upper <= b_hi
            if body_lower and body_upper:
                glyph = "█"
            elif body_upper:
                glyph = "▀"
            elif body_lower:
                glyph = "▄"
            elif w_lo <= upper and w_hi >= lower:
                glyph = "│"
            else:
                continue
            rows[height - 1 - r][x] = (glyph, tone)
    return rows


def candle_markup(cells: list[list[tuple[str, str]]]) -> str:
    """Textual markup of the cells, runs of one tone in one tag."""
    lines = []
    for row in cells:
        parts, run, tone = [], "", None
        for glyph, t in row:
            if t != tone and run:
                parts.append(f"[${tone}]{run}[/]" if tone else run)
                run = ""
            tone = t
            run += glyph
        if run:
            parts.append(f"[${tone}]{run}[/]" if tone else run)
        lines.append("".join(parts))
    return "\n".join(lines)


@dataclass(slots=True)
class _Row:
    key: str
    hit: PatternHit


class PatternsPane(Vertical):
    """Recent PatternHit events and the highlighted one's chart."""

    def __init__(self, *, max_rows: int = MAX_ROWS) -> None:
        super().__init__(id="patterns", classes="pane")
        self.border_title = "patterns"
        self._rows: deque[_Row] = deque(maxlen=max_rows)
        self._serial = 0
        self._now_cycle = 0
        self._now_ts = 0
        self._timeframe = ""

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="patterns-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="patterns-title")
        yield Static(id="patterns-chart")

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#patterns-table", DataTable)

    def on_mount(self) -> None:
        for key, heading in COLUMNS:
            self.table.add_column(heading, key=key)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._repaint_table())
        self._paint_chart()

    # -- events ---------------------------------------------------------------------
    def show_pattern_hit(self, event: PatternHit) -> None:
        self._serial += 1
        row = _Row(f"hit-{self._serial}", event)
        if len(self._rows) == self._rows.maxlen:
            old = self._rows.popleft()
            self._remove(old.key)
        self._rows.append(row)
        self._now_cycle = max(self._now_cycle, event.cycle)
        self._now_ts = max(self._now_ts, event.ts)
        self._timeframe = event.timeframe or self._timeframe
        follow = self.table.row_count == 0 or self.table.cursor_row == 0
        self._repaint_table()
        if follow:
            self.table.move_cursor(row=0)
        self._paint_chart()

    def show_candles(self, event: Candles) -> None:
        if event.cycle == self._now_cycle and event.ts == self._now_ts:
            return
        self._now_cycle = max(self._now_cycle, event.cycle)
        self._now_ts = max(self._now_ts, event.ts)
        self._timeframe = event.timeframe or self._timeframe
        self._repaint_ago()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._paint_chart()

    def on_resize(self) -> None:
        if self.is_mounted:
            self._paint_chart()

    # -- queries (tests, diagnostics) -----------------------------------------------
    def highlighted(self) -> PatternHit | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        except RowDoesNotExist:
            return None
        return next((r.hit for r in self._rows if r.key == key.value), None)

    def row_texts(self) -> list[dict[str, str]]:
        """The plain text of every row, newest first."""
        out = []
        for row in reversed(self._rows):
            cells = self.table.get_row(row.key)
            out.append({key: cell.plain for (key, _), cell in zip(COLUMNS, cells)})
        return out

    def bars_ago(self, hit: PatternHit) -> int | None:
        if self._now_cycle and hit.cycle:
            return max(0, self._now_cycle - hit.cycle)
        step = TIMEFRAME_SECONDS.get(self._timeframe or hit.timeframe)
        if step and self._now_ts and hit.ts:
            return max(0, round((self._now_ts - hit.ts) / (step * 1e9)))
        return None

    # -- painting -------------------------------------------------------------------
    def _tone(self, name: str) -> str:
        return colour(self.app.theme_variables, name)

    def _cells(self, hit: PatternHit) -> tuple[Text, ...]:
        ago = self.bars_ago(hit)
        bearish = hit.pattern in ("head_and_shoulders", "double_top", "bear_flag")
        bullish = hit.pattern in ("double_bottom", "bull_flag", "cup_and_handle")
        tone = self._tone("bear") if bearish else self._tone("bull") if bullish else ""
        agree = Text("✓", style=self._tone("success")) if hit.rules_agree else Text("·", style=self._tone("muted"))
        return (
            Text(hit.symbol, style="bold"),
            Text(label(hit.pattern), style=tone),
            Text(fmt.probability(hit.confidence), justify="right"),
            agree,
            Text("–" if ago is None else fmt.count(ago), justify="right"),
        )

    def _remove(self, key: str) -> None:
        try:
            self.table.remove_row(key)
        except RowDoesNotExist:
            pass

    def _repaint_table(self) -> None:
        table = self.table
        cursor = table.cursor_row
        table.clear()
        for row in reversed(self._rows):
            table.add_row(*self._cells(row.hit), key=row.key)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def _repaint_ago(self) -> None:
        for row in self._rows:
            ago = self.bars_ago(row.hit)
            cell = Text("–" if ago is None else fmt.count(ago), justify="right")
            try:
                table_cell = self.table.get_cell(row.key, "ago")
            except Exception:  # noqa: BLE001 - the row may be gone
                continue
            if table_cell != cell:
                self.table.update_cell(row.key, "ago", cell)

    def _paint_chart(self) -> None:
        title = self.query_one("#patterns-title", Static)
        chart = self.query_one("#patterns-chart", Static)
        hit = self.highlighted()
        if hit is None:
            update(title, Content.from_markup("[$muted]no pattern detected yet[/]"))
            update(chart, Content(""))
            return
        rules = ", ".join(label(r) for r in hit.rules) or "none"
        update(title, Content.from_markup(
            "[b]$symbol[/] $pattern [$muted]$conf · $when · rules: $rules[/]",
            symbol=hit.symbol, pattern=label(hit.pattern), conf=fmt.probability(hit.confidence),
            when=fmt.market_time(hit.ts), rules=rules))
        width = max(8, chart.content_size.width or 64)
        height = max(3, chart.content_size.height or 8)
        bars = merge_bars(hit.open, hit.high, hit.low, hit.close, width)
        update(chart, Content.from_markup(candle_markup(candle_cells(bars, height))), fixed=True)
