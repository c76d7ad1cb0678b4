"""The strategy search as the cockpit's lowest-priority background job.

`EvolutionWorker` runs `run_evolve` in a separate process (multiprocessing
"spawn" context, so nothing of the engine's threads or locks is inherited).
The child lowers its own priority (`os.nice(15)`: below the engine's threads,
which run at nice 10) before anything else,
loads its panel from a small picklable `EvolutionSpec`, and puts every
`EvolutionProgress` on a queue the engine drains with `poll()`.

Pausing is POSIX job control: `pause()` sends SIGSTOP, so a paused search
uses no CPU at all (it is frozen between two instructions, not between two
trials); `resume()` sends SIGCONT. Stopping terminates the process; the
study lives in optuna storage, so the next start resumes it.

Caveats of SIGSTOP: a search paused while it holds the journal file's lock
blocks other workers of the same study until it resumes, and a progress
message larger than the pipe buffer could be half-written when the child
stops (the parent only reads complete messages that are already there —
`poll()` never waits).
"""

from __future__ import annotations

import os
import queue as queue_mod
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.events import Event, LogMessage, ModelState, ModelStatus

SOURCES = ("embedded", "synthetic")


@dataclass(frozen=True, slots=True)
class EvolutionSpec:
    """Everything the child needs to build its panel and run the search (picklable).

    source "embedded": the packaged candles of `symbols` (all when empty);
    source "synthetic": `synthetic_panel(n_symbols, bars, seed)` (tests, demos).
    `bars` keeps only the newest bars (0 = all).
    """

    source: str = "embedded"
    symbols: tuple[str, ...] = ()
    bars: int = 0
    n_symbols: int = 3
    trials: int | None = None
    hours: float | None = None
    data_dir: Path | None = None
    storage_url: str | None = None
    study_name: str = "cockpit-evolve"
    seed: int = 7
    nice: int = 15
    config: Any = None  # an EvolveConfig (None = its defaults)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"strategy.source = {self.source!r}", hint="expected one of " + ", ".join(SOURCES))
        if self.trials is None and self.hours is None:
            raise ConfigError("the background search needs a budget", hint="set strategy trials or hours")
        if self.bars < 0:
            raise ConfigError(f"strategy.bars = {self.bars}", hint="expected 0 (all) or a positive bar count")


def load_panel(spec: EvolutionSpec) -> Any:
    """The CandlePanel the search runs on."""
    if spec.source == "embedded":
        from engine.data.embedded import load_embedded

        panel = load_embedded(spec.symbols or None)
    else:
        from engine.data.synthetic import synthetic_panel

        panel = synthetic_panel(spec.n_symbols, spec.bars or 4000, seed=spec.seed)
    if spec.bars and panel.n_bars > spec.bars:
        panel = panel.slice(panel.n_bars - spec.bars, panel.n_bars)
    return panel


def _quiet_stdio(spec: EvolutionSpec) -> None:
    """Send the child's stdout/stderr to a log file: under the TUI they are the trader's screen."""
    directory = Path(spec.data_dir) if spec.data_dir else None
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "evolution.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _child_main(spec: EvolutionSpec, out: Any) -> None:
    """The search process: lowest priority first, then the search; errors go to the queue."""
    _quiet_stdio(spec)
    try:
        os.nice(spec.nice)
    except OSError:  # pragma: no cover - nice is best effort
        pass
    try:
        from engine.strategy.evolve import EvolveConfig, run_evolve

        panel = load_panel(spec)
        summary = run_evolve(panel, trials=spec.trials, hours=spec.hours, storage_url=spec.storage_url,
                             study_name=spec.study_name, seed=spec.seed, progress_callback=out.put,
                             data_dir=spec.data_dir, config=spec.config or EvolveConfig())
        out.put(LogMessage(source="evolution", level="info",
                           message=(f"strategy search {summary.study}: {summary.trials_total} trials "
                                    f"({summary.trials_run} this run, {summary.trials_per_second:.1f}/s)")))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then the process fails
        out.put(LogMessage(source="evolution", level="error",
                           message=f"strategy search failed: {type(exc).__name__}: {exc}"))
        out.close()
        out.join_thread()
        sys.exit(1)
    out.close()
    out.join_thread()  # flush the queue before exiting


@dataclass(slots=True)
class EvolutionWorker:
    """Parent-side handle of the background search process (owned by the runtime thread)."""

    spec: EvolutionSpec
    _proc: Any = field(default=None, init=False)
    _queue: Any = field(default=None, init=False)
    _paused: bool = field(default=False, init=False)
    _reported_end: bool = field(default=False, init=False)

    def start(self) -> None:
        """Spawn the search process (no-op if it is running)."""
        import multiprocessing

        if self.alive:
            return
        # Under the TUI sys.stdout/stderr are capture objects without a usable fileno(), which
        # multiprocessing's resource tracker and spawn need ("bad value(s) in fds_to_keep"):
        # use the real ones while the queue and the process are made.
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        try:
            ctx = multiprocessing.get_context("spawn")
            self._queue = ctx.Queue()
            self._proc = ctx.Process(target=_child_main, args=(self.spec, self._queue), name="cockpit-evolution",
                                     daemon=True)
            self._proc.start()
        finally:
            sys.stdout, sys.stderr = saved
        self._paused = False
        self._reported_end = False

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def paused(self) -> bool:
        return self._paused and self.alive

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def poll(self) -> list[Event]:
        """Every event waiting in the queue (never blocks), then one LogMessage once the process has ended."""
        out: list[Event] = []
        if self._queue is None:
            return out
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue_mod.Empty:
                break
            except (EOFError, OSError):  # pragma: no cover - the child died mid-message
                break
        proc = self._proc
        if proc is not None and not self._reported_end and not proc.is_alive():
            proc.join(timeout=0)
            code = proc.exitcode
            self._reported_end = True
            self._paused = False
            level = "info" if code == 0 else "error"
            detail = "finished" if code == 0 else (f"was killed by signal {-code}" if code is not None and code < 0
                                                     else "failed")
            out.append(LogMessage(source="evolution", level=level,
                                  message=f"strategy search process {detail} (exit code {code})"))
        return out

    def status(self, cycle: int = 0) -> ModelStatus:
        """The search as a models-pane row (name "evolution", family "strategy")."""
        if self._proc is None:
            state, detail = ModelState.STOPPED, "not started"
        elif self.paused:
            state, detail = ModelState.PAUSED, f"paused (SIGSTOP) · pid {self._proc.pid}"
        elif self.alive:
            state, detail = ModelState.RUNNING, f"searching at nice {self.spec.nice} · pid {self._proc.pid}"
        else:
            code = self._proc.exitcode
            state = ModelState.STOPPED if code in (0, -signal.SIGTERM) else ModelState.FAULTED
            detail = f"ended (exit code {code})"
        return ModelStatus(source="evolution", cycle=cycle, family="strategy", state=state, detail=detail)

    def pause(self) -> bool:
        """Freeze the search (SIGSTOP, POSIX only): it uses no CPU until `resume()`. False if not running."""
        if not self.alive:
            return False
        os.kill(self._proc.pid, signal.SIGSTOP)
        self._paused = True
        return True

    def resume(self) -> bool:
        """Continue a paused search (SIGCONT). False if not running."""
        if not self.alive:
            return False
        os.kill(self._proc.pid, signal.SIGCONT)
        self._paused = False
        return True

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the search (resumable: the study is in storage); returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.is_alive():
            proc.terminate()
            try:
                os.kill(proc.pid, signal.SIGCONT)  # a stopped process acts on SIGTERM only once continued
            except ProcessLookupError:
                pass
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout)
        self._paused = False
        return proc.exitcode


__all__ = ["EvolutionSpec", "EvolutionWorker", "load_panel"]
