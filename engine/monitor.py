"""Resource monitor: psutil for CPU/RAM, Pi sensors for temperature, clock, throttling.

`Monitor.sample()` is cheap (psutil calls and at most one small file read);
`vcgencmd` is a subprocess, so its answers are cached for `slow_interval`
seconds. Every source is injectable, so tests drive the real code with
recorded outputs. A sensor that is absent reads None, never 0, and
`sensors_note` says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import psutil

from engine.pi_sensors import (
    MAX_PLAUSIBLE_C,
    MIN_PLAUSIBLE_C,
    ThrottleState,
    parse_measure_clock,
    parse_measure_temp,
    parse_throttled,
    read_thermal_zone,
)

__all__ = [
    "CommandRunner",
    "HistorySeries",
    "Monitor",
    "MonitorHistory",
    "ResourceReading",
    "ThrottleState",
]

DEFAULT_THERMAL_PATH = "/sys/class/thermal/thermal_zone0/temp"
PI_PSUTIL_TEMP_KEYS: tuple[str, ...] = ("cpu_thermal", "cpu-thermal")
_MB = 1024 * 1024

_GET_THROTTLED = ("vcgencmd", "get_throttled")
_MEASURE_CLOCK = ("vcgencmd", "measure_clock", "arm")
_MEASURE_TEMP = ("vcgencmd", "measure_temp")

RunCommand = Callable[[list[str]], "str | None"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceReading:
    """One sample of the machine. None means the sensor is absent, never 0."""

    cpu_percent_per_core: tuple[float, ...]
    cpu_percent: float
    load_avg: tuple[float, float, float] | None
    ram_total_mb: float
    ram_available_mb: float
    ram_percent: float
    process_rss_mb: float
    swap_used_mb: float | None
    soc_temp_c: float | None
    arm_clock_mhz: float | None
    throttle: ThrottleState | None
    sensors_note: str = ""


class CommandRunner:
    """Runs a short command; returns its stdout, or None if missing or failing.

    Each binary is looked up with shutil.which once per runner.
    """

    def __init__(self, timeout: float = 1.0) -> None:
        self._timeout = timeout
        self._paths: dict[str, str | None] = {}

    def __call__(self, argv: list[str]) -> str | None:
        name = argv[0]
        if name not in self._paths:
            self._paths[name] = shutil.which(name)
        path = self._paths[name]
        if path is None:
            return None
        try:
            done = subprocess.run(
                [path, *argv[1:]],
                capture_output=True,
                text=True,
                timeout=self._timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Slow:
    """A cached subprocess sensor outcome: a value, or why there is none."""

    fetched_at: float
    value: Any
    missing: bool = False
    note: str = ""


class Monitor:
    """Samples CPU, RAM, process RSS and Pi sensors; one sampler thread at a time.

    The constructor primes psutil's per-core CPU counters, so the first
    `sample()` reports usage since construction.
    """

    def __init__(
        self,
        *,
        run_command: RunCommand | None = None,
        psutil_module: ModuleType | Any = None,
        thermal_path: str | os.PathLike[str] = DEFAULT_THERMAL_PATH,
        pid: int | None = None,
        slow_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if slow_interval < 0:
            raise ValueError(f"slow_interval must be >= 0 seconds, got {slow_interval}")
        self._run = run_command if run_command is not None else CommandRunner()
        self._ps = psutil_module if psutil_module is not None else psutil
        self._thermal_path = thermal_path
        self.pid = pid if pid is not None else os.getpid()
        self._process = self._ps.Process(self.pid)
        self._slow_interval = slow_interval
        self._clock = clock
        self._slow: dict[str, _Slow] = {}
        self._psutil_temp_retry_at = float("-inf")
        self._ps.cpu_percent(percpu=True, interval=None)

    def sample(self) -> ResourceReading:
        notes: list[str] = []
        per_core = tuple(
            float(x) for x in self._ps.cpu_percent(percpu=True, interval=None)
        )
        memory = self._ps.virtual_memory()
        throttle = self._slow_value("throttle", _GET_THROTTLED, parse_throttled)
        clock_mhz = self._slow_value("clock", _MEASURE_CLOCK, parse_measure_clock)
        missing = [
            what
            for what, slow in (("throttle", throttle), ("ARM clock", clock_mhz))
            if slow.missing
        ]
        if missing:
            notes.append(f"no vcgencmd: {' and '.join(missing)} unknown")
        notes.extend(slow.note for slow in (throttle, clock_mhz) if slow.note)
        return ResourceReading(
            cpu_percent_per_core=per_core,
            cpu_percent=sum(per_core) / len(per_core) if per_core else 0.0,
            load_avg=self._load_avg(),
            ram_total_mb=memory.total / _MB,
            ram_available_mb=memory.available / _MB,
            ram_percent=float(memory.percent),
            process_rss_mb=self._process.memory_info().rss / _MB,
            swap_used_mb=self._swap_used_mb(),
            soc_temp_c=self._temperature(notes),
            arm_clock_mhz=clock_mhz.value,
            throttle=throttle.value,
            sensors_note="; ".join(notes),
        )

    def _load_avg(self) -> tuple[float, float, float] | None:
        getloadavg = getattr(self._ps, "getloadavg", None)
        if getloadavg is None:
            return None
        try:
            one, five, fifteen = getloadavg()
        except OSError:
            return None
        return (float(one), float(five), float(fifteen))

    def _swap_used_mb(self) -> float | None:
        """None when no swap is configured (total 0) or it cannot be read."""
        try:
            swap = self._ps.swap_memory()
        except OSError:
            return None
        return swap.used / _MB if swap.total > 0 else None

    def _temperature(self, notes: list[str]) -> float | None:
        """psutil's Pi sensor, then the thermal zone file, then vcgencmd."""
        found = self._psutil_temperature(notes)
        if found is not None:
            return found
        try:
            found = read_thermal_zone(self._thermal_path)
        except ValueError as exc:
            notes.append(f"thermal zone ignored: {exc}")
        if found is not None:
            return found
        slow = self._slow_value("temp", _MEASURE_TEMP, parse_measure_temp)
        if slow.note:
            notes.append(slow.note)
        if slow.value is None:
            notes.append("no temperature sensor")
        return slow.value

    def _psutil_temperature(self, notes: list[str]) -> float | None:
        # A machine without the Pi key rarely grows one: ask again only
        # every slow_interval, since the call reads many sysfs files.
        now = self._clock()
        sensors = getattr(self._ps, "sensors_temperatures", None)
        if sensors is None or now < self._psutil_temp_retry_at:
            return None
        try:
            readings = sensors()
        except (OSError, RuntimeError):
            readings = {}
        for key in PI_PSUTIL_TEMP_KEYS:
            entries = readings.get(key)
            if not entries or entries[0].current is None:
                continue
            value = float(entries[0].current)
            if MIN_PLAUSIBLE_C <= value <= MAX_PLAUSIBLE_C:
                return value
            notes.append(f"psutil {key} ignored: {value:g} °C is implausible")
        self._psutil_temp_retry_at = now + self._slow_interval
        return None

    def _slow_value(
        self, key: str, argv: tuple[str, ...], parse: Callable[[str], Any]
    ) -> _Slow:
        """Run a subprocess sensor at most once per slow_interval; cache the outcome."""
        now = self._clock()
        cached = self._slow.get(key)
        if cached is None or now - cached.fetched_at >= self._slow_interval:
            cached = self._fetch(argv, parse, now)
            self._slow[key] = cached
        return cached

    def _fetch(
        self, argv: tuple[str, ...], parse: Callable[[str], Any], now: float
    ) -> _Slow:
        text = self._run(list(argv))
        if text is None:
            return _Slow(fetched_at=now, value=None, missing=True)
        try:
            return _Slow(fetched_at=now, value=parse(text))
        except ValueError as exc:
            return _Slow(fetched_at=now, value=None, note=str(exc))


@dataclass(frozen=True, slots=True, kw_only=True)
class HistorySeries:
    """Oldest-first series for sparklines; temperature keeps None where absent."""

    cpu_percent: tuple[float, ...]
    ram_percent: tuple[float, ...]
    soc_temp_c: tuple[float | None, ...]


class MonitorHistory:
    """A bounded ring of recent readings, safe to append and read across threads."""

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError(f"MonitorHistory maxlen must be >= 1, got {maxlen}")
        self.maxlen = maxlen
        self._readings: deque[ResourceReading] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, reading: ResourceReading) -> None:
        with self._lock:
            self._readings.append(reading)

    def __len__(self) -> int:
        return len(self._readings)

    def latest(self) -> ResourceReading | None:
        with self._lock:
            return self._readings[-1] if self._readings else None

    def readings(self) -> tuple[ResourceReading, ...]:
        with self._lock:
            return tuple(self._readings)

    def series(self) -> HistorySeries:
        readings = self.readings()
        return HistorySeries(
            cpu_percent=tuple(r.cpu_percent for r in readings),
            ram_percent=tuple(r.ram_percent for r in readings),
            soc_temp_c=tuple(r.soc_temp_c for r in readings),
        )
