"""run_evolve end to end on a small slice: results, resume, and a hold-out the search never sees."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from engine.data.embedded import load_embedded
from engine.data.panel import CandlePanel
from engine.errors import ConfigError
from engine.strategy import evolve as evolve_mod
from engine.strategy.events import EvolutionProgress
from engine.strategy.evolve import (
    EvolveConfig,
    format_summary,
    run_evolve,
    split_holdout,
)
from engine.strategy.fitness import Evaluator

CFG = EvolveConfig(population=10, min_trades_per_fold=1, n_folds=3, progress_interval_s=0.0)
BARS = 4000


@pytest.fixture(scope="module")
def panel() -> CandlePanel:
    return load_embedded().slice(20_000, 20_000 + BARS)


def _trials(summary_dir, name="cockpit-evolve"):
    import optuna

    from engine.strategy.search import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(None, summary_dir)).trials


def test_run_evolve_returns_top_strategies_with_walk_forward_holdout_and_overfitting(panel, tmp_path, capsys):
    events: list[EvolutionProgress] = []
    s = run_evolve(panel, trials=30, data_dir=tmp_path, seed=3, progress_callback=events.append, json_summary=True,
                   config=CFG)
    assert s.trials_total == 30 and s.trials_run == 30
    assert 1 <= len(s.top) <= CFG.top_k
    for row in s.top:
        assert row.strategy and " · exit " in row.strategy
        assert np.isfinite(row.wf_sharpe) and row.wf_trades >= CFG.min_trades_per_fold * CFG.n_folds
        assert row.holdout_sharpe is not None and row.holdout_trades is not None
        assert row.deflated_sharpe is None or 0.0 <= row.deflated_sharpe <= 1.0
    assert s.pbo is not None and 0.0 <= s.pbo.pbo <= 1.0
    assert 1 < s.deflation["n_trials"] <= 30 and s.deflation["var_bar_sharpe"] >= 0  # distinct genomes
    assert s.holdout["bars"] == BARS - split_holdout(panel, CFG.holdout_fraction)[1]
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and json.loads(out[0])["trials_total"] == 30  # --json: one object on stdout
    assert events and events[-1].finished and events[-1].trials_done == 30
    assert events[-1].best_fitness and len(events[-1].best_fitness) == len(events[-1].median_fitness)
    assert events[-1].pareto and events[-1].coalesce_key == "evolution:evolution"
    assert "hold-out" in format_summary(s)


def test_a_second_run_resumes_the_study(panel, tmp_path):
    first = run_evolve(panel, trials=12, data_dir=tmp_path, seed=3, config=CFG)
    before = {t.number: t.values for t in _trials(tmp_path)}
    second = run_evolve(panel, trials=20, data_dir=tmp_path, seed=3, config=CFG)
    after = _trials(tmp_path)
    assert first.trials_total == 12 and second.trials_total == 20 and second.trials_run == 8
    assert len({t.number for t in after}) == len(after) == 20
    assert all(after[n].values == v for n, v in before.items())  # nothing lost or rewritten
    assert run_evolve(panel, trials=20, data_dir=tmp_path, seed=3, config=CFG).trials_run == 0


def test_a_study_refuses_other_data(panel, tmp_path):
    run_evolve(panel, trials=3, data_dir=tmp_path, config=CFG)
    other = load_embedded().slice(1000, 1000 + BARS)
    with pytest.raises(ConfigError, match="other data"):
        run_evolve(other, trials=6, data_dir=tmp_path, config=CFG)
    with pytest.raises(ConfigError, match="budget"):
        run_evolve(panel, data_dir=tmp_path, config=CFG)


def _poison_holdout(panel: CandlePanel, start: int) -> CandlePanel:
    rng = np.random.default_rng(99)
    fields = {}
    for name in ("open", "high", "low", "close", "volume"):
        a = np.array(getattr(panel, name))
        a[:, start:] *= rng.uniform(0.5, 2.0, a[:, start:].shape)
        fields[name] = a
    fields["high"] = np.maximum.reduce([fields["open"], fields["high"], fields["close"]])
    fields["low"] = np.minimum.reduce([fields["open"], fields["low"], fields["close"]])
    return CandlePanel(symbols=panel.symbols, timeframe=panel.timeframe, ts=panel.ts, **fields)


def test_the_holdout_never_reaches_the_objective(panel, tmp_path, monkeypatch):
    _, start = split_holdout(panel, CFG.holdout_fraction)
    holdout_ts = int(panel.ts[start])
    reads: list[tuple[bool, int, int]] = []
    in_objective = threading.local()
    original_evaluate = Evaluator.evaluate
    original_make = evolve_mod.search.make_objective

    def recording_evaluate(self, genome):
        reads.append((getattr(in_objective, "on", False), int(self.market.ts[-1]), self.market.n_bars))
        return original_evaluate(self, genome)

    def wrapped_make(*args, **kwargs):
        objective = original_make(*args, **kwargs)

        def flagged(trial):
            in_objective.on = True
            try:
                return objective(trial)
            finally:
                in_objective.on = False
        return flagged

    monkeypatch.setattr(Evaluator, "evaluate", recording_evaluate)
    monkeypatch.setattr(evolve_mod.search, "make_objective", wrapped_make)
    clean = run_evolve(panel, trials=15, data_dir=tmp_path / "clean", seed=5, config=CFG)

    searched = [r for r in reads if r[0]]
    assert len(searched) == 15
    assert all(last_ts < holdout_ts and n == start for _, last_ts, n in searched)
    assert any(not on and last_ts >= holdout_ts for on, last_ts, _ in reads)  # only the report scores the hold-out

    # Rewriting the hold-out bars changes nothing in the search, only the hold-out column.
    poisoned = run_evolve(_poison_holdout(panel, start), trials=15, data_dir=tmp_path / "poisoned", seed=5,
                          config=CFG)
    a, b = _trials(tmp_path / "clean"), _trials(tmp_path / "poisoned")
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.values for t in a] == [t.values for t in b]
    assert [r.wf_sharpe for r in clean.top] == [r.wf_sharpe for r in poisoned.top]
    assert [r.holdout_return for r in clean.top] != [r.holdout_return for r in poisoned.top]
