"""CPU per core, RAM, process RSS, SoC temperature, ARM clock and throttling.

Absent sensors (None in the sample) read "n/a"/"absent", never 0, and leave
gaps in the sparklines. The layout adapts to the space it gets: one bar per
core when there is room, otherwise a strip of one-cell columns.
"""

from __future__ import annotations

import math
from collections import deque

from textual.content import Content
from textual.widgets import Static

from app import format as fmt
from app.widgets.glyphs import hbar, spark, vbar
from app.widgets.text import update
from engine.events import ResourceSample
from engine.governor_events import GovernorStatus

HISTORY = 120


def level(percent: float | None, *, mid: float = 60.0, high: float = 85.0) -> str:
    """The theme variable for a gauge at `percent`."""
    if not fmt.finite(percent):
        return "muted"
    if percent >= high:
        return "gauge-high"
    return "gauge-mid" if percent >= mid else "gauge-low"


class ResourcesPane(Static):
    def __init__(self) -> None:
        super().__init__(id="resources")
        self.border_title = "resources"
        self._sample: ResourceSample | None = None
        self._governor: GovernorStatus | None = None
        self._cpu: deque[float | None] = deque(maxlen=HISTORY)
        self._ram: deque[float | None] = deque(maxlen=HISTORY)
        self._temp: deque[float | None] = deque(maxlen=HISTORY)

    def on_mount(self) -> None:
        self._paint()

    def on_resize(self) -> None:
        self._paint()

    def show(self, sample: ResourceSample) -> None:
        self._sample = sample
        self._cpu.append(sample.cpu_percent)
        self._ram.append(sample.ram_percent)
        self._temp.append(sample.soc_temp_c)
        self._paint()

    def show_governor(self, status: GovernorStatus) -> None:
        self._governor = status
        self._paint()

    def governor_text(self) -> str:
        """The governor line as plain text ("" before its first status)."""
        line = self._governor_line()
        return line.plain if line is not None else ""

    def _paint(self) -> None:
        s = self._sample
        if s is None:
            update(self, Content.from_markup("[$muted]waiting for the first sample…[/]"))
            return
        width = max(self.content_size.width, 24)
        height = self.content_size.height or 12
        load = " ".join(f"{x:.1f}" for x in s.load_avg) if s.load_avg else fmt.NA
        cpu = Content.from_markup(
            f"[$muted]cpu [/] [b ${level(s.cpu_percent)}]$pct[/] [$muted]load[/] $load",
            pct=fmt.percent(s.cpu_percent).rjust(4), load=load,
        )
        ram = Content.from_markup(
            f"[$muted]ram [/] [b ${level(s.ram_percent)}]$pct[/] $avail [$muted]free of[/] $total",
            pct=fmt.percent(s.ram_percent).rjust(4),
            avail=fmt.megabytes(s.ram_available_mb),
            total=fmt.megabytes(s.ram_total_mb),
        )
        temp = Content.from_markup(
            f"[$muted]temp[/] [b ${level(s.soc_temp_c, mid=70, high=80)}]$temp[/] [$muted]arm[/] $clock",
            temp=fmt.celsius(s.soc_temp_c).rjust(7),
            clock=fmt.clock_mhz(s.arm_clock_mhz),
        )
        rss = Content.from_markup(
            "[$muted]rss [/] $rss  [$muted]swap[/] $swap",
            rss=fmt.megabytes(s.process_rss_mb), swap=fmt.megabytes(s.swap_used_mb),
        )
        throttle = self._throttle_line(s)
        note = Content.from_markup("[$muted]$note[/]", note=fmt.elide(s.sensors_note, width))
        governor = self._governor_line()
        fixed = [cpu, ram, rss, temp, throttle] + ([governor] if governor else []) + ([note] if s.sensors_note else [])
        spare = height - sum(_rows(line, width) for line in fixed)
        cores = self._core_lines(s.cpu_percent_per_core, width, rows=spare)
        if cores is None:
            room = max(width - cpu.cell_length - 1, 1)
            strip = "".join(f"[${level(p)}]{vbar(p / 100)}[/]" for p in s.cpu_percent_per_core[:room])
            cpu = cpu + Content(" ") + Content.from_markup(strip)
            cores = []
        history = spare - len(cores) >= 4
        if not history:
            cpu = _with_spark(cpu, self._cpu, width, lo=0, hi=100)
            ram = _with_spark(ram, self._ram, width, lo=0, hi=100)
            temp = _with_spark(temp, self._temp, width, lo=30, hi=90)
        lines = [cpu, *cores, ram, rss, temp, throttle] + ([governor] if governor else [])
        if history:
            lines += [Content(""), *self._history_lines(width)]
        if s.sensors_note:
            lines.append(note)
        update(self, Content("\n").join(lines), fixed=True)

    def _history_lines(self, width: int) -> list[Content]:
        """Full-width sparklines of CPU, RAM and temperature (gaps where absent)."""
        room = max(width - 11, 3)
        rows = (
            ("cpu %", self._cpu, 0.0, 100.0),
            ("ram %", self._ram, 0.0, 100.0),
            ("temp °C", self._temp, 30.0, 90.0),
        )
        return [
            Content.from_markup("[$muted]$label[/] [$primary]$s[/]", label=label.ljust(8),
                                s=spark(values, room, lo=lo, hi=hi))
            for label, values, lo, hi in rows
        ]

    @staticmethod
    def _core_lines(cores: tuple[float, ...], width: int, *, rows: int) -> list[Content] | None:
        """One bar per core in up to `rows` lines, or None when they do not fit."""
        if not cores:
            return []
        n = len(cores)
        label_w = len(str(n - 1))
        cell_w = label_w + 1 + 6 + 5  # "3 " + a bar of at least 6 + " 100%"
        widest = max(1, min(n, (width + 2) // (cell_w + 2)))
        if math.ceil(n / widest) > rows:
            return None
        # One core per line if the rows allow (leaving 4 for the history block), else pack.
        budget = max(rows - 4, math.ceil(n / widest))
        per_line = next(p for p in range(1, widest + 1) if math.ceil(n / p) <= budget)
        per_line = math.ceil(n / math.ceil(n / per_line))  # balance the lines
        bar_w = min((width - (per_line - 1) * 2) // per_line - (label_w + 6), 30)
        lines = []
        for start in range(0, n, per_line):
            parts = [
                f"[$muted]{i:>{label_w}}[/] [${level(cores[i])}]{hbar(cores[i] / 100, bar_w)}[/]"
                f" {fmt.percent(cores[i]).rjust(4)}"
                for i in range(start, min(start + per_line, n))
            ]
            lines.append(Content.from_markup("  ".join(parts)))
        return lines

    def _governor_line(self) -> Content | None:
        """"governor ok", or what it sheds and why (wrapped, never cut), or what it will resume."""
        g = self._governor
        if g is None:
            return None
        if not g.enabled:
            return Content.from_markup("[$muted]governor off[/]")
        shed = ", ".join(name for name, _ in g.shed)
        if g.pressure:
            what = f"shedding {shed}" if shed else "under pressure"
            return Content.from_markup("[$muted]governor[/] [b $error]$what[/] [$warning]$why[/]",
                                       what=what, why=f"({'; '.join(g.pressure)})")
        if shed:
            return Content.from_markup("[$muted]governor[/] [$warning]$what[/] [$muted]$why[/]",
                                       what=f"paused {shed}", why=f"({g.note or 'pressure clear'})")
        return Content.from_markup("[$muted]governor[/] [$success]ok[/]")

    @staticmethod
    def _throttle_line(s: ResourceSample) -> Content:
        now_tone = "muted" if not s.throttle_now else "error"
        past_tone = "muted" if not s.throttle_past else "warning"
        return Content.from_markup(
            f"[$muted]throttle[/] [${now_tone}]$now[/] [$muted]· past[/] [${past_tone}]$past[/]",
            now=fmt.flags(s.throttle_now), past=fmt.flags(s.throttle_past),
        )


def _with_spark(line: Content, values: deque[float | None], width: int, *, lo: float, hi: float) -> Content:
    """`line` followed by a sparkline of `values` in whatever room is left."""
    room = min(width - line.cell_length - 1, 30)
    if room < 3:
        return line
    return line + Content(" ") + Content.from_markup("[$primary]$s[/]", s=spark(values, room, lo=lo, hi=hi))


def _rows(line: Content, width: int) -> int:
    """Screen rows a line takes once wrapped at `width`."""
    return max(1, math.ceil(line.cell_length / max(width, 1)))
