"""The optuna side of the search: storage, study, NSGA-II sampler, objective, stale trials.

Objectives: walk-forward out-of-sample Sharpe (maximise) and max drawdown
(minimise); the trade-count floor is an optuna constraint
(`trial.set_constraint`: infeasible trials lose every NSGA-II comparison
with feasible ones). The sampler is optuna's NSGAIISampler (population,
crossover, mutation; seeded) with its generation count made incremental.

Storage (optuna's own persistence and distributed mode, nothing home-made):
- default: an optuna journal file `evolve.journal` in the data directory.
  Several worker processes on this machine may share it (writes are
  serialised by an flock). Measured here, optuna's RDB storage on SQLite
  managed 0.7–2 trials/s (SQLAlchemy work for each of the ~20 writes a trial
  makes) and the stock journal backend ~4/s (an fsync per write); this
  backend skips the per-write fsync: a killed process loses nothing (the
  kernel has the bytes), a power cut may lose the last trials.
- `--storage URL`: any optuna RDB URL (postgresql://…, mysql://…,
  sqlite:///…) — the way to spread workers over several machines — with
  optuna's heartbeat, so trials of a dead worker are failed after the grace
  period; or `journal:PATH` for a journal file elsewhere.

Stale trials: a worker killed mid-trial leaves it RUNNING. Every trial
records its worker (host, pid, process start time); on start-up a worker
marks FAIL the RUNNING trials of workers on this host that no longer exist
(and, on RDB storages, optuna's heartbeat does the same across machines).
A failed trial is never counted or re-used; the sampler simply goes on.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.strategy.fitness import Evaluator
from engine.strategy.genome import Genome, suggest_params

DIRECTIONS = ("maximize", "minimize")  # walk-forward Sharpe ↑, max drawdown ↓
JOURNAL_FILE = "evolve.journal"
RESULT_ATTR = "result"
WORKER_ATTR = "worker"
GENERATION_ATTR = "NSGAIISampler:generation"


class FlockLock:
    """An exclusive fcntl.flock on a side file kept open: no file-system metadata writes per lock.

    Same interface as optuna's journal file locks (acquire/release); local file systems only.
    """

    def __init__(self, lock_path: str) -> None:
        self._path = lock_path
        self._fd: int | None = None
        self._pid = -1

    def _handle(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> bool:
        import fcntl

        fcntl.flock(self._handle(), fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        import fcntl

        fcntl.flock(self._handle(), fcntl.LOCK_UN)


def journal_backend(path: Path) -> Any:
    """optuna's journal file backend, flock-serialised, without an fsync per write."""
    import json

    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl  # noqa: F401

        lock: Any = FlockLock(str(path) + ".flock")
    except ImportError:  # pragma: no cover - not POSIX
        lock = JournalFileOpenLock(str(path))

    class Backend(JournalFileBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
            lock.acquire()
            try:
                fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, data)  # one write, O_APPEND: lands whole at the end
                finally:
                    os.close(fd)
            finally:
                lock.release()

    _repair_tail(path, lock)
    return Backend(str(path), lock_obj=lock)


def _repair_tail(path: Path, lock: Any) -> None:
    """Drop a half-written last line (a write cut short), which would block every later read."""
    if not path.exists():
        return
    lock.acquire()
    try:
        size = path.stat().st_size
        if size == 0:
            return
        with open(path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return
            f.seek(max(0, size - (1 << 20)))
            tail = f.read()
            cut = tail.rfind(b"\n")
            f.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)
    finally:
        lock.release()


def open_storage(url: str | None, data_dir: Path | None, *, heartbeat_interval: int = 60,
                 grace_period: int = 180) -> Any:
    """The optuna storage for `url` (None = the journal file in `data_dir`)."""
    import optuna

    if url is None:
        if data_dir is None:
            raise ConfigError("no storage for the evolution study", hint="pass --storage URL or a data directory")
        return optuna.storages.JournalStorage(journal_backend(Path(data_dir) / JOURNAL_FILE))
    if url.startswith("journal:"):
        return optuna.storages.JournalStorage(journal_backend(Path(url[len("journal:"):]).expanduser()))
    if "://" not in url:
        raise ConfigError(f"--storage {url!r} is not a storage URL",
                          hint="use e.g. postgresql://user@host/db, sqlite:///path.db or journal:/path/evolve.journal")
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        kwargs["engine_kwargs"] = {"creator": _sqlite_creator(url[len("sqlite:///"):])}
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat: stable in practice
            return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_interval,
                                              grace_period=grace_period, **kwargs)
    except Exception as exc:  # sqlalchemy/driver errors: tell the user which URL and why
        raise ConfigError(f"cannot open optuna storage {mask_url(url)}: {exc}",
                          hint="check the URL, that the database server is reachable and its driver installed") from exc


def _sqlite_creator(path: str) -> Callable[[], Any]:
    import sqlite3

    def connect() -> Any:
        conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return connect


def mask_url(url: str | None) -> str:
    """The storage URL without a password, for logs and summaries."""
    if not url:
        return "journal (data directory)"
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in cred else url
    return url


def worker_identity() -> dict[str, Any]:
    import psutil

    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": round(psutil.Process(pid).create_time(), 3)}


def _alive(worker: dict[str, Any]) -> bool:
    import psutil

    try:
        return abs(psutil.Process(int(worker["pid"])).create_time() - float(worker["started"])) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, ValueError, TypeError):
        return False


def reap_stale_trials(study: Any, storage: Any, *, orphan_after_s: float = 600.0) -> int:
    """Mark FAIL the RUNNING trials whose worker on this host is gone; returns how many.

    A RUNNING trial without a worker record (killed between its creation and
    the first line of the objective) is failed once older than `orphan_after_s`.
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    host = socket.gethostname()
    now = time.time()
    reaped = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get(WORKER_ATTR)
        if worker is not None:
            dead = worker.get("host") == host and not _alive(worker)
        else:
            started = t.datetime_start.timestamp() if t.datetime_start else now
            dead = now - started > orphan_after_s
        if dead:
            try:
                storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
                reaped += 1
            except UpdateFinishedTrialError:
                pass
    return reaped


@functools.cache
def _sampler_class() -> type:
    from optuna.samplers import NSGAIISampler
    from optuna.trial import TrialState

    class Sampler(NSGAIISampler):
        """optuna's NSGA-II with one change: `get_trial_generation` counts incrementally.

        The stock method rescans every completed trial for each new trial
        (~30 ms per trial at 5,000 trials here, most of a trial's cost).
        Completed trials never change, so counting each once gives the same
        generation. Storage keys are NSGAIISampler's: plain optuna workers
        can join the same study.
        """

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._counted: set[int] = set()
            self._per_generation: dict[int, int] = {}
            self._study_id: int | None = None

        def get_trial_generation(self, study: Any, trial: Any) -> int:
            key = self._get_generation_key()
            generation = trial.system_attrs.get(key)
            if generation is not None:
                return generation
            if study._study_id != self._study_id:
                self._counted, self._per_generation, self._study_id = set(), {}, study._study_id
            done = study._get_trials(deepcopy=False, states=[TrialState.COMPLETE], use_cache=True)
            if len(done) != len(self._counted):
                for t in done:
                    if t._trial_id not in self._counted:
                        self._counted.add(t._trial_id)
                        g = t.system_attrs.get(key, -1)
                        self._per_generation[g] = self._per_generation.get(g, 0) + 1
            newest = max((g for g in self._per_generation if g >= 0), default=0)
            generation = newest if self._per_generation.get(newest, 0) < self.population_size else newest + 1
            study._storage.set_trial_system_attr(trial._trial_id, key, generation)
            return generation

    Sampler._GENERATION_KEY = NSGAIISampler._GENERATION_KEY
    Sampler._PARENT_CACHE_KEY_PREFIX = NSGAIISampler._PARENT_CACHE_KEY_PREFIX
    return Sampler


def make_sampler(*, population: int, seed: int | None) -> Any:
    """optuna's NSGA-II sampler (seeded), with the generation count made incremental."""
    return _sampler_class()(population_size=population, seed=seed)


def load_study(storage: Any, study_name: str, sampler: Any, fingerprint: dict[str, Any]) -> Any:
    """Create the study or join the existing one (refusing one made for other data or settings)."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=study_name, directions=list(DIRECTIONS),
                                sampler=sampler, load_if_exists=True)
    if [d.name.lower() for d in study.directions] != list(DIRECTIONS):
        raise ConfigError(f"study {study_name!r} exists with other objectives",
                          hint="choose another --study name for the strategy search")
    known = study.user_attrs.get("fingerprint")
    if known is None:
        study.set_user_attr("fingerprint", fingerprint)
    elif known != fingerprint:
        diff = sorted(k for k in set(known) | set(fingerprint) if known.get(k) != fingerprint.get(k))
        raise ConfigError(f"study {study_name!r} was run on other data or settings ({', '.join(diff)} differ)",
                          hint="resume it with the same data and settings, or start a new --study name")
    return study


def make_objective(evaluator: Evaluator, *, allow_short: bool, min_trades: int,
                   worker: dict[str, Any]) -> Callable[[Any], tuple[float, float]]:
    """The optuna objective: sample a genome, score it walk-forward on the evaluator's data only."""

    def objective(trial: Any) -> tuple[float, float]:
        trial.set_user_attr(WORKER_ATTR, worker)
        genome = Genome.from_params(suggest_params(trial, allow_short=allow_short))
        fit = evaluator.evaluate(genome)
        trial.set_user_attr(RESULT_ATTR, {"strategy": genome.describe(), **fit.as_dict()})
        trial.set_constraint("min_trades", float(min_trades - fit.trades))
        return fit.sharpe, fit.max_drawdown

    return objective
