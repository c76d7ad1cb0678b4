"""Storage plumbing: stale-trial reaping, journal repair, URLs."""

from __future__ import annotations

import socket
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from engine.errors import ConfigError
from engine.strategy.search import (
    JOURNAL_FILE,
    WORKER_ATTR,
    mask_url,
    open_storage,
    reap_stale_trials,
    worker_identity,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_running_trials_of_dead_local_workers_are_failed(tmp_path):
    storage = open_storage(None, tmp_path)
    study = optuna.create_study(storage=storage, study_name="s", directions=["maximize", "minimize"])
    dead, alive, remote, _orphan = (study.ask() for _ in range(4))
    dead.set_user_attr(WORKER_ATTR, {"host": socket.gethostname(), "pid": _dead_pid(), "started": 1.0})
    alive.set_user_attr(WORKER_ATTR, worker_identity())
    remote.set_user_attr(WORKER_ATTR, {"host": "another-machine", "pid": 1, "started": 1.0})
    done = study.ask()
    study.tell(done, [1.0, 0.1])

    assert reap_stale_trials(study, storage) == 1
    states = {t.number: t.state for t in study.trials}
    assert states == {0: TrialState.FAIL, 1: TrialState.RUNNING, 2: TrialState.RUNNING, 3: TrialState.RUNNING,
                      4: TrialState.COMPLETE}
    assert reap_stale_trials(study, storage, orphan_after_s=0.0) == 1  # no worker record at all: failed once old
    assert study.trials[3].state == TrialState.FAIL


def test_a_half_written_journal_line_is_dropped(tmp_path):
    study = optuna.create_study(storage=open_storage(None, tmp_path), study_name="s",
                                directions=["maximize", "minimize"])
    t = study.ask()
    study.tell(t, [1.0, 0.1])
    with open(tmp_path / JOURNAL_FILE, "ab") as f:
        f.write(b'{"op_code":4,"worker_id":"x","study_id":0,"dat')  # killed mid-write
    again = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path))
    again.tell(again.ask(), [2.0, 0.2])
    assert [tr.state for tr in optuna.load_study(study_name="s", storage=open_storage(None, tmp_path)).trials] == \
        [TrialState.COMPLETE, TrialState.COMPLETE]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_storage_urls(tmp_path):
    assert mask_url("postgresql://bob:secret@db.local/optuna") == "postgresql://bob:***@db.local/optuna"
    assert "secret" not in mask_url("mysql://u:secret@h/d")
    with pytest.raises(ConfigError, match="not a storage URL"):
        open_storage("just-a-name", tmp_path)
    journal = open_storage(f"journal:{tmp_path / 'elsewhere' / 'x.journal'}", None)
    optuna.create_study(storage=journal, study_name="j")
    assert (tmp_path / "elsewhere" / "x.journal").exists()
    rdb = open_storage(f"sqlite:///{tmp_path / 'evolve.db'}", None, heartbeat_interval=5, grace_period=10)
    study = optuna.create_study(storage=rdb, study_name="r", directions=["maximize", "minimize"])
    study.tell(study.ask(), [1.0, 0.5])
    assert len(study.trials) == 1


def test_the_sampler_is_optunas_nsga2_step_for_step():
    from engine.strategy.genome import suggest_params
    from engine.strategy.search import GENERATION_ATTR, make_sampler

    def objective(trial):
        p = suggest_params(trial)
        return p["period_fast"] * p["band"], p["exit_a"]

    stock = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(population_size=6, seed=4))
    ours = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(population=6, seed=4))
    stock.optimize(objective, n_trials=30)
    ours.optimize(objective, n_trials=30)
    assert [t.params for t in ours.trials] == [t.params for t in stock.trials]
    assert [t.system_attrs for t in ours.trials] == [t.system_attrs for t in stock.trials]
    assert ours.trials[-1].system_attrs[GENERATION_ATTR] == 4
