"""SIGKILL an evolve run mid-search; the next run continues the same study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from engine.data.embedded import load_embedded
    from engine.strategy.evolve import EvolveConfig, run_evolve
    panel = load_embedded().slice(20_000, 24_000)
    config = EvolveConfig(population=8, min_trades_per_fold=1, n_folds=3, progress_interval_s=0.0)
    run_evolve(panel, trials=int(sys.argv[2]), data_dir=Path(sys.argv[1]), study_name="killme", seed=1,
               config=config, progress_callback=lambda e: print("done", e.trials_done, flush=True))
    print("finished", flush=True)
""")


def _study(data_dir: Path):
    import optuna

    from engine.strategy.search import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="killme", storage=open_storage(None, data_dir))


def _start(data_dir: Path, trials: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(data_dir), str(trials)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    from optuna.trial import TrialState

    proc = _start(tmp_path, 500)
    deadline = time.monotonic() + 120
    done = 0
    try:
        while done < 12:
            assert time.monotonic() < deadline, "the first run made too little progress"
            line = proc.stdout.readline()
            assert line, f"the first run ended early: {proc.stderr.read()}"
            if line.startswith("done"):
                done = int(line.split()[1])
        time.sleep(0.02)  # most likely inside the next trial
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    killed = _study(tmp_path).trials
    complete = {t.number: (t.values, t.params) for t in killed if t.state == TrialState.COMPLETE}
    assert len(complete) >= 12
    print("states at the kill:", sorted(t.state.name for t in killed if t.number not in complete))

    target = len(complete) + 6
    again = _start(tmp_path, target)
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert "finished" in out

    resumed = _study(tmp_path).trials
    numbers = [t.number for t in resumed]
    assert len(numbers) == len(set(numbers))  # no trial duplicated
    now_complete = {t.number: (t.values, t.params) for t in resumed if t.state == TrialState.COMPLETE}
    assert len(now_complete) == target  # the count grew to the budget
    assert all(now_complete[n] == v for n, v in complete.items())  # no completed trial lost or changed
    assert not [t for t in resumed if t.state == TrialState.RUNNING]  # the killed run's trial was failed
    assert {t.number for t in resumed if t.state == TrialState.FAIL} <= {t.number for t in killed} - set(complete)
