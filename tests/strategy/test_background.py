"""The background search process: events arrive, SIGSTOP pauses it, SIGCONT resumes, stop ends it."""

from __future__ import annotations

import time

import psutil
import pytest

from engine.errors import ConfigError
from engine.events import LogMessage, ModelState
from engine.strategy.background import EvolutionSpec, EvolutionWorker
from engine.strategy.events import EvolutionProgress
from engine.strategy.evolve import EvolveConfig

FAST = EvolveConfig(population=4, n_folds=2, min_trades_per_fold=1, top_k=2, progress_interval_s=0.05, blocks=4)


def _collect(worker: EvolutionWorker, until, timeout: float) -> list:
    events: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events += worker.poll()
        if until(events):
            break
        time.sleep(0.05)
    return events


def _trials(events: list) -> int:
    return max((e.trials_done for e in events if isinstance(e, EvolutionProgress)), default=-1)


def test_spec_needs_a_budget_and_a_known_source(tmp_path):
    with pytest.raises(ConfigError):
        EvolutionSpec(source="embedded", data_dir=tmp_path)
    with pytest.raises(ConfigError):
        EvolutionSpec(source="nowhere", trials=5, data_dir=tmp_path)


@pytest.mark.timeout(120)
def test_events_pause_resume_stop(tmp_path):
    spec = EvolutionSpec(source="synthetic", n_symbols=2, bars=1500, trials=100_000, data_dir=tmp_path,
                         study_name="bg-test", seed=3, config=FAST)
    worker = EvolutionWorker(spec)
    worker.start()
    try:
        events = _collect(worker, lambda ev: _trials(ev) >= 3, timeout=60)
        assert _trials(events) >= 3, f"no progress from the search process: {events!r}"
        assert worker.alive and not worker.paused

        assert worker.status().state == ModelState.RUNNING
        assert worker.pause() and worker.paused
        assert worker.status().state == ModelState.PAUSED
        time.sleep(0.3)  # messages already in the pipe
        frozen = _trials(events + worker.poll())
        proc = psutil.Process(worker.pid)
        assert proc.status() == psutil.STATUS_STOPPED
        cpu = sum(proc.cpu_times()[:2])
        time.sleep(1.0)
        during = worker.poll()
        assert _trials(during) <= frozen  # no trial completes while paused
        assert sum(proc.cpu_times()[:2]) == pytest.approx(cpu, abs=0.02)  # and no CPU is used
        assert worker.alive

        assert worker.resume() and not worker.paused
        later = _collect(worker, lambda ev: _trials(ev) > frozen, timeout=60)
        assert _trials(later) > frozen
    finally:
        code = worker.stop(timeout=5)
    assert not worker.alive and worker.status().state == ModelState.STOPPED
    assert code is not None and code != 0
    tail = _collect(worker, lambda ev: any(isinstance(e, LogMessage) for e in ev), timeout=5)
    ends = [e for e in tail if isinstance(e, LogMessage)]
    assert ends and "exit code" in ends[-1].message
    assert worker.poll() == []  # the end is reported once


@pytest.mark.timeout(120)
def test_a_tiny_budget_finishes_and_reports_success(tmp_path):
    spec = EvolutionSpec(source="synthetic", n_symbols=2, bars=1200, trials=6, data_dir=tmp_path,
                         study_name="bg-done", seed=5, config=FAST)
    worker = EvolutionWorker(spec)
    worker.start()
    try:
        events = _collect(worker, lambda ev: any(isinstance(e, LogMessage) and "exit code" in e.message
                                                 for e in ev), timeout=90)
    finally:
        worker.stop()
    finals = [e for e in events if isinstance(e, EvolutionProgress) and e.finished]
    assert finals and finals[-1].trials_done >= 6
    logs = [e for e in events if isinstance(e, LogMessage)]
    assert logs[-1].level == "info" and "exit code 0" in logs[-1].message
    assert not worker.pause()  # nothing to pause once it has ended
    assert worker.status().state == ModelState.STOPPED and "exit code 0" in worker.status().detail


@pytest.mark.timeout(60)
def test_a_failing_search_reports_why_and_its_exit_code(tmp_path):
    worker = EvolutionWorker(EvolutionSpec(source="embedded", symbols=("NOPE/USD",), trials=3, data_dir=tmp_path))
    worker.start()
    try:
        events = _collect(worker, lambda ev: any("exit code" in getattr(e, "message", "") for e in ev), timeout=40)
    finally:
        worker.stop()
    logs = [e for e in events if isinstance(e, LogMessage)]
    assert logs[0].level == "error" and "strategy search failed" in logs[0].message and "NOPE" in logs[0].message
    assert logs[-1].level == "error" and "exit code 1" in logs[-1].message
    assert worker.status().state == ModelState.FAULTED
