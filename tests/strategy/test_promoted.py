"""Promotion writes only passing strategies; the model's signals are the backtester's positions; disable persists."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.data.synthetic import synthetic_panel
from engine.errors import ConfigError, DataError
from engine.events import Signal
from engine.models.protocol import FeatureBatch, Model, ModelContext
from engine.strategy.backtest import backtest
from engine.strategy.events import StrategyRow
from engine.strategy.genome import Genome
from engine.strategy.market import Market
from engine.strategy.promoted import (
    PromotedStrategies,
    genome_from_dict,
    load_promoted,
    promote,
    strategy_id,
)
from engine.strategy.signals import build_signals

BASE = {"timeframe": "30m", "indicator": "ema", "entry": "crossover", "exit": "trailing", "filter": "none",
        "reverse_exit": True, "period_fast": 5, "period_slow": 20, "period_signal": 9, "band": 0.3, "exit_a": 0.4,
        "exit_b": 0.3, "filter_period": 50, "filter_level": 0.5}
G1 = Genome.from_params(BASE)
G2 = Genome.from_params({**BASE, "indicator": "rsi", "entry": "mean_reversion", "exit": "time", "timeframe": "1h",
                         "filter": "trend"})
G3 = Genome.from_params({**BASE, "indicator": "bollinger", "entry": "breakout", "exit": "target"})


def _row(trial: int, genome: Genome, passes: bool) -> StrategyRow:
    return StrategyRow(trial=trial, strategy=genome.describe(), wf_sharpe=1.2, wf_max_drawdown=0.1, wf_trades=40,
                       wf_return=0.3, deflated_sharpe=0.97 if passes else 0.5, holdout_sharpe=0.8,
                       holdout_return=0.05, holdout_max_drawdown=0.04, holdout_trades=9, passes=passes)


def _batch(panel, symbols=None) -> FeatureBatch:
    symbols = symbols or panel.symbols
    return FeatureBatch(cycle=3, ts=int(panel.ts[-1]), symbols=symbols, names=(), values=np.zeros((len(symbols), 0)),
                        valid=np.ones(len(symbols), bool), window=panel)


def _held(panel, genome: Genome) -> list[int]:
    """Independently from the model: which symbols' last backtest trade is still open at the last close."""
    sig = build_signals(Market.from_panel(panel), genome)
    result = backtest(panel, sig.entries, sig.reverse, rules=genome.exit_rules(panel.timeframe),
                      direction=genome.direction)
    out = []
    for sym in panel.symbols:
        t = result.trades_of(sym)
        out.append(int(len(t) > 0 and t.reasons()[-1] == "end" and int(t.exit_bar[-1]) == panel.n_bars - 1))
    return out


def test_promote_writes_only_passing_rows(tmp_path):
    path = tmp_path / "promoted.json"
    rows = [_row(1, G1, True), _row(2, G2, False), _row(3, G3, True)]
    entries = promote(rows, path, genomes={1: G1, 2: G2, 3: G3}, study="s1")
    assert {e.id for e in entries} == {strategy_id(G1), strategy_id(G3)}
    doc = json.loads(path.read_text())
    assert [s["trial"] for s in doc["strategies"]] == [1, 3]
    first = doc["strategies"][0]
    assert first["strategy"] == G1.describe() and first["metrics"]["holdout_sharpe"] == 0.8
    assert first["promoted_at"].endswith("Z") and first["enabled"] is True
    assert genome_from_dict(first["genome"]) == G1  # the stored genome rebuilds exactly
    assert [e.genome for e in load_promoted(path)] == [G1, G3]
    with pytest.raises(ConfigError, match="trial 5"):
        promote([_row(5, G2, True)], path, genomes={})


def test_a_malformed_file_names_the_file_and_the_entry(tmp_path):
    path = tmp_path / "promoted.json"
    path.write_text(json.dumps({"version": 1, "strategies": [{"id": "x", "genome": {"timeframe": "7m"}}]}))
    with pytest.raises(DataError, match=r"promoted.json.*#0"):
        load_promoted(path)


def test_no_promoted_strategies_is_ready_and_silent(tmp_path):
    model = PromotedStrategies(path=tmp_path / "promoted.json")
    assert isinstance(model, Model)
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path)))
    assert model.ready and "no promoted strategies" in model.describe()
    assert model.predict(_batch(synthetic_panel(2, 100, seed=1))) == ()
    other = PromotedStrategies("other", path=tmp_path / "elsewhere.json", step=0.2)
    other.load_state_dict(model.state_dict())
    assert other.get_params() == model.get_params()


def test_signal_equals_the_backtesters_position_at_the_last_bar(tmp_path):
    path = tmp_path / "promoted.json"
    promote([_row(1, G1, True), _row(2, G2, True)], path, genomes={1: G1, 2: G2})
    model = PromotedStrategies(path=path, step=0.1)
    assert model.window_bars >= 600
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path)))
    panel = synthetic_panel(3, 900, seed=4)
    seen = set()
    for end in range(400, 900, 23):
        window = panel.slice(0, end)
        signals = {s.source: s for s in model.predict(_batch(window))}
        assert set(signals) == {f"strategy:{strategy_id(G1)}", f"strategy:{strategy_id(G2)}"}
        for genome in (G1, G2):
            sig = signals[f"strategy:{strategy_id(genome)}"]
            assert isinstance(sig, Signal) and sig.family == "strategy" and sig.symbols == panel.symbols
            expected = [0.6 if h else 0.4 for h in _held(window, genome)]
            assert sig.values == pytest.approx(expected)
            seen.update(sig.values)
    assert {round(v, 6) for v in seen} == {0.6, 0.4}  # both states occur: the check can fail


def test_symbols_missing_from_the_window_are_nan(tmp_path):
    path = tmp_path / "promoted.json"
    promote([_row(1, G1, True)], path, genomes={1: G1})
    model = PromotedStrategies(path=path)
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path)))
    panel = synthetic_panel(2, 300, seed=2)
    (sig,) = model.predict(_batch(panel, symbols=(panel.symbols[1], "NOPE/USD")))
    assert not math.isnan(sig.values[0]) and math.isnan(sig.values[1])


def test_disable_removes_its_signal_and_persists(tmp_path):
    path = tmp_path / "promoted.json"
    promote([_row(1, G1, True), _row(3, G3, True)], path, genomes={1: G1, 3: G3})
    model = PromotedStrategies(path=path)
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path)))
    panel = synthetic_panel(2, 700, seed=3)
    model.disable(f"strategy:{strategy_id(G1)}")
    assert [s.source for s in model.predict(_batch(panel))] == [f"strategy:{strategy_id(G3)}"]

    again = PromotedStrategies(path=path)  # a restart reads the flag back
    again.warmup(ModelContext(checkpoint_dir=str(tmp_path)))
    assert [s.source for s in again.predict(_batch(panel))] == [f"strategy:{strategy_id(G3)}"]
    # re-promoting keeps the trader's choice
    promote([_row(1, G1, True)], path, genomes={1: G1})
    assert {e.id: e.enabled for e in load_promoted(path)}[strategy_id(G1)] is False

    again.enable(strategy_id(G1))
    assert len(again.predict(_batch(panel))) == 2
    with pytest.raises(ConfigError, match="no promoted strategy"):
        again.disable("deadbeef")


def test_study_genomes_match_the_summarys_rows(tmp_path):
    from dataclasses import replace

    from engine.strategy.evolve import EvolveConfig, run_evolve
    from engine.strategy.promoted import study_genomes

    cfg = EvolveConfig(population=4, n_folds=2, min_trades_per_fold=1, top_k=3, blocks=4)
    summary = run_evolve(synthetic_panel(2, 1200, seed=5), trials=8, data_dir=tmp_path, study_name="p", seed=1,
                         config=cfg)
    assert summary.top
    genomes = study_genomes("p", data_dir=tmp_path, trials=[r.trial for r in summary.top])
    assert [genomes[r.trial].describe() for r in summary.top] == [r.strategy for r in summary.top]
    forced = replace(summary, top=tuple(replace(r, passes=i == 0) for i, r in enumerate(summary.top)))
    entries = promote(forced, tmp_path / "promoted.json", genomes=genomes)
    assert [e.strategy for e in entries] == [summary.top[0].strategy] and entries[0].study == "p"


def test_the_trader_switches_a_promoted_strategy_off_through_the_engine(tmp_path):
    """SetStrategyEnabled reaches the model, persists, stops its signal, and lists the new state."""
    import dataclasses

    from engine.commands import SetStrategyEnabled
    from engine.config import Config
    from engine.data.replay import ReplayFeed
    from engine.data.synthetic import synthetic_panel
    from engine.events import CommandRejected, Signal
    from engine.runtime import Engine
    from engine.strategy.events import PromotedList
    from engine.strategy.promoted import PromotedEntry, save_promoted

    genome = G1
    path = tmp_path / "promoted.json"
    save_promoted(path, [PromotedEntry(id="abc12345", genome=genome, strategy=genome.describe(),
                                       metrics={"holdout_sharpe": 1.2}, promoted_at="2026-11-25T00:00:00Z",
                                       trial=1, study="s")])
    model = PromotedStrategies("strategies", path=path)
    panel = synthetic_panel(2, 1400, seed=2)
    engine = Engine(dataclasses.replace(Config()), feed=ReplayFeed(panel, start=1200, speed=0.0), models=[model])
    seen = []
    engine.subscribe(seen.append)
    engine.prepare()
    engine.step(engine.feed.next_bar(timeout=0))
    assert [e.source for e in seen if isinstance(e, Signal)] == ["strategy:abc12345"]
    engine.submit(SetStrategyEnabled(strategy_id="abc12345", enabled=False))
    engine.submit(SetStrategyEnabled(strategy_id="nope", enabled=False))
    engine.apply_commands()
    listing = [e for e in seen if isinstance(e, PromotedList)][-1]
    assert [(r.id, r.enabled) for r in listing.entries] == [("abc12345", False)]
    assert "nope" in [e for e in seen if isinstance(e, CommandRejected)][-1].reason
    seen.clear()
    engine.step(engine.feed.next_bar(timeout=0))
    assert not [e for e in seen if isinstance(e, Signal)]
    assert '"enabled": false' in path.read_text()
