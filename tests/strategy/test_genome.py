"""The genome: deterministic decoding, one readable line, every gene combination runs."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest

from engine.data.synthetic import synthetic_panel
from engine.errors import ConfigError
from engine.strategy.genome import (
    ENTRIES,
    EXITS,
    FILTERS,
    INDICATORS,
    TIMEFRAMES,
    Genome,
    suggest_params,
)
from engine.strategy.market import Market
from engine.strategy.signals import build_signals

BASE = {"timeframe": "4h", "indicator": "ema", "entry": "crossover", "exit": "trailing", "filter": "trend",
        "reverse_exit": False, "period_fast": 12, "period_slow": 48, "period_signal": 9, "band": 0.5,
        "exit_a": 0.26, "exit_b": 0.3, "filter_period": 200, "filter_level": 0.5}


def test_describe_is_one_readable_line():
    g = Genome.from_params(BASE)
    assert g.describe() == "4h EMA(12/48) crossover · exit trailing 3.0% · filter trend(EMA200) ↑"
    short = Genome.from_params({**BASE, "side": "short", "indicator": "rsi", "entry": "mean_reversion",
                                "exit": "target", "reverse_exit": True, "filter": "none"})
    assert short.describe() == "4h short RSI(12) mean reversion >70 · exit target +4.25% / stop −3.25% or reverse · no filter"
    assert "\n" not in short.describe()


def test_decoding_is_deterministic_and_drops_unused_genes():
    a = Genome.from_params(BASE)
    b = Genome.from_params({**BASE, "period_signal": 3, "band": 0.9, "exit_b": 0.9, "filter_level": 0.0})
    assert a == b and hash(a) == hash(b)  # those genes are dormant for this strategy
    assert dict(a.genes) == {"ema_fast": 12, "ema_slow": 48, "trailing_pct": 3.0, "filter_period": 200}
    swapped = Genome.from_params({**BASE, "period_fast": 50, "period_slow": 20})
    assert (swapped.p("ema_fast"), swapped.p("ema_slow")) == (20, 52)  # sorted; slow is the larger


def test_a_trial_decodes_to_the_same_genome_after_a_round_trip_through_storage(tmp_path):
    from engine.strategy.search import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(None, tmp_path)
    study = optuna.create_study(storage=storage, study_name="g", sampler=optuna.samplers.NSGAIISampler(seed=3),
                                directions=["maximize", "minimize"])
    seen = {}
    for _ in range(12):
        trial = study.ask()
        seen[trial.number] = Genome.from_params(suggest_params(trial, allow_short=True))
        study.tell(trial, [0.0, 0.0])
    reloaded = optuna.load_study(study_name="g", storage=open_storage(None, tmp_path))
    for t in reloaded.trials:
        assert Genome.from_params(t.params) == seen[t.number]
        assert Genome.from_params(t.params).describe() == seen[t.number].describe()


def test_bad_params_name_the_gene():
    with pytest.raises(ConfigError, match="period_slow"):
        Genome.from_params({k: v for k, v in BASE.items() if k != "period_slow"})
    with pytest.raises(ConfigError, match="indicator"):
        Genome.from_params({**BASE, "indicator": "ichimoku"})
    with pytest.raises(ConfigError, match="band"):
        Genome.from_params({**BASE, "band": 1.5})


@pytest.fixture(scope="module")
def small_market():
    return Market.from_panel(synthetic_panel(2, 1200, seed=5))


@pytest.mark.parametrize("side", ["long", "short"])
def test_every_indicator_entry_and_filter_builds_signals(small_market, side):
    for ind, entry, flt in itertools.product(INDICATORS, ENTRIES, FILTERS):
        g = Genome.from_params({**BASE, "timeframe": "1h", "indicator": ind, "entry": entry, "filter": flt,
                                "side": side, "reverse_exit": True, "period_fast": 6, "period_slow": 20,
                                "filter_period": 10})
        sig = build_signals(small_market, g)
        assert sig.entries.shape == small_market.close.shape and sig.entries.dtype == bool
        assert sig.reverse is not None and sig.reverse.shape == sig.entries.shape
        assert g.describe().startswith("1h ")


def test_every_timeframe_and_exit_decodes_to_rules(small_market):
    for tf, ex in itertools.product(TIMEFRAMES, EXITS):
        g = Genome.from_params({**BASE, "timeframe": tf, "exit": ex, "exit_a": 0.5})
        rules = g.exit_rules("30m")
        if ex == "time":
            per = {"30m": 1, "1h": 2, "4h": 8, "1d": 48}[tf]
            assert rules.max_bars == g.p("hold_bars") * per
        elif ex == "trailing":
            assert rules.trailing_stop == pytest.approx(g.p("trailing_pct") / 100)
        else:
            assert rules.take_profit and rules.stop_loss
        assert isinstance(build_signals(small_market, g).entries, np.ndarray)
