"""What a headless run reports, and how a monitor reading becomes an event."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import ResourceSample


@dataclass(frozen=True, slots=True)
class ModelRunStats:
    name: str
    family: str
    state: str
    predictions: int
    mean_ms: float | None
    p95_ms: float | None
    detail: str
    error: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    bars: int
    symbols: int
    seconds: float
    first_ts: int
    last_ts: int
    models: tuple[ModelRunStats, ...]


def resource_sample(reading: object, *, cycle: int = 0) -> ResourceSample:
    """Wrap a monitor reading into the ResourceSample event."""
    r = reading
    throttle = getattr(r, "throttle", None)
    return ResourceSample(
        source="monitor", cycle=cycle,
        cpu_percent=r.cpu_percent, cpu_percent_per_core=tuple(r.cpu_percent_per_core),  # type: ignore[attr-defined]
        load_avg=r.load_avg, ram_total_mb=r.ram_total_mb, ram_available_mb=r.ram_available_mb,  # type: ignore[attr-defined]
        ram_percent=r.ram_percent, process_rss_mb=r.process_rss_mb, swap_used_mb=r.swap_used_mb,  # type: ignore[attr-defined]
        soc_temp_c=r.soc_temp_c, arm_clock_mhz=r.arm_clock_mhz,  # type: ignore[attr-defined]
        throttle_now=tuple(throttle.active_flags()) if throttle is not None else None,
        throttle_past=tuple(throttle.past_flags()) if throttle is not None else None,
        sensors_note=getattr(r, "sensors_note", ""),
    )
