"""Fusion of every family's signal, weights from measured skill, the explanation, the selector trial."""

import dataclasses

import numpy as np
import pytest

from engine.commands import ShowJournal
from engine.config import Config
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.events import FusionStatus, JournalPage, MemberVote, Signal, TradeProposal, Votes
from engine.fusion import VOTE_SOURCE, FamilyWeights, SourceInput, explain, fuse, source_inputs
from engine.models.logreg import LogisticBaseline
from engine.models.protocol import Family
from engine.models.zoo import build_members
from engine.runtime import Engine
from engine.scoreboard import Scoreboard
from engine.selector import SelectorTrial
from engine.signals_hub import SignalHub
from engine.threads import cap_threads
from engine.trading.desk import TradingDesk
from engine.trading.settings import RiskSettings, TradingSettings

SYMBOLS = ("A", "B", "C")


def signal(source, family, values, cycle=1):
    return Signal(source=source, family=family, cycle=cycle, symbols=SYMBOLS, values=tuple(values), horizon=1)


def votes(final, cycle=1, members=()):
    return Votes(source="ensemble", cycle=cycle, symbols=SYMBOLS, members=tuple(members), final=tuple(final),
                 agreement=(1.0,) * len(final), horizon=1)


def test_fused_score_is_the_skill_weighted_mean_around_one_half():
    sources = (SourceInput("vote", "vote", np.array([0.7, 0.5, np.nan]), 0.3),
               SourceInput("dqn", "rl", np.array([0.4, 0.9, 0.6]), 0.1))
    result = fuse(SYMBOLS, sources)
    assert result.score[0] == pytest.approx(0.5 + (0.3 * 0.2 + 0.1 * -0.1) / 0.4)
    assert result.score[1] == pytest.approx(0.5 + (0.1 * 0.4) / 0.4)
    assert result.score[2] == pytest.approx(0.6), "only the DQN scored C"
    assert result.shares == pytest.approx([0.75, 0.25])


def test_a_source_without_measured_skill_has_no_say_and_no_skill_at_all_falls_back_to_the_vote():
    sources = (SourceInput(VOTE_SOURCE, "vote", np.array([0.7, 0.3, 0.5]), 0.0),
               SourceInput("cnn", "patterns", np.array([0.99, 0.99, 0.99]), 0.0))
    result = fuse(SYMBOLS, sources)
    assert result.fallback
    assert result.score == pytest.approx([0.7, 0.3, 0.5])
    assert result.shares == pytest.approx([1.0, 0.0])


def test_weights_follow_measured_skill_on_the_live_scoreboard():
    """A source that predicts well earns weight; a coin-flipper earns none; fusion follows."""
    rng = np.random.default_rng(3)
    symbols = tuple(f"S{i}" for i in range(20))
    board = Scoreboard(symbols, horizon=1, cost_bps=0.0, window=5000, min_scored=50)
    close = np.full(len(symbols), 100.0)
    for cycle in range(120):
        board.observe(cycle, close)
        step = rng.normal(0, 0.01, len(symbols))
        board.record("good", "rl", cycle, symbols, np.where(step > 0, 0.8, 0.2))  # knows the next move
        board.record("noise", "patterns", cycle, symbols, rng.uniform(0.3, 0.7, len(symbols)))
        close = close * np.exp(step)
    rows = {r.source: r for r in board.rows()}
    assert rows["good"].weight > 0.3 and rows["noise"].weight == 0.0
    sigs = [Signal(source=n, family=f, cycle=200, symbols=symbols, values=(0.9,) * 20 if n == "good" else (0.1,) * 20,
                   horizon=1) for n, f in (("good", "rl"), ("noise", "patterns"))]
    result = fuse(symbols, source_inputs(200, None, sigs, rows))
    assert result.shares == pytest.approx([1.0, 0.0])
    assert result.score == pytest.approx(np.full(20, 0.9))


def test_fixed_weighting_shares_a_family_weight_among_its_sources():
    sigs = [signal("s1", "strategy", [0.6] * 3), signal("s2", "strategy", [0.6] * 3), signal("dqn", "rl", [0.6] * 3)]
    inputs = source_inputs(1, votes([0.6] * 3), sigs, {}, weighting="fixed",
                           fixed=FamilyWeights(ensemble=0.5, rl=0.1, strategy=0.4))
    assert {s.name: s.weight for s in inputs} == pytest.approx({VOTE_SOURCE: 0.5, "s1": 0.2, "s2": 0.2, "dqn": 0.1})


def test_a_signal_from_an_older_cycle_is_not_fused():
    inputs = source_inputs(5, votes([0.6] * 3, cycle=5), [signal("news", "sentiment", [0.9] * 3, cycle=4)], {})
    assert [s.name for s in inputs] == [VOTE_SOURCE]


def test_the_explanation_lists_every_source_with_its_share_and_contribution():
    members = (MemberVote(name="lgbm", probs=(0.8, 0.6, 0.5), weight=0.75, state="running"),
               MemberVote(name="logreg", probs=(0.6, 0.4, 0.5), weight=0.25, state="running"))
    v = votes([0.75, 0.55, 0.5], members=members)
    sources = (SourceInput(VOTE_SOURCE, "vote", np.asarray(v.final), 0.2),
               SourceInput("dqn", "rl", np.array([0.3, 0.6, np.nan]), 0.2),
               SourceInput("cnn", "patterns", np.array([0.9, 0.9, 0.9]), 0.0))
    parts = explain(fuse(SYMBOLS, sources), v)
    a = {c.source: c for c in parts["A"]}
    assert set(a) == {"lgbm", "logreg", VOTE_SOURCE, "dqn", "cnn"}
    assert a["lgbm"].weight == pytest.approx(0.75 * 0.5) and a["logreg"].weight == pytest.approx(0.25 * 0.5)
    assert "+0.125" in a[VOTE_SOURCE].note and "-0.100" in a["dqn"].note
    assert a["cnn"].weight == 0 and "weight 0" in a["cnn"].note
    assert "dqn" not in {c.source for c in parts["C"]}, "a source that did not score a symbol is not listed for it"


def test_the_selector_uses_the_dqn_only_once_it_measurably_beats_the_ranking():
    rng = np.random.default_rng(0)
    n = 10
    trial = SelectorTrial(mode="auto", horizon=1, cost_bps=0.0, min_outcomes=30, min_t=2.0)
    close = np.full(n, 100.0)
    used = []
    for cycle in range(80):
        trial.observe(cycle, close)
        move = rng.normal(0, 0.01, n)
        score = 0.7 + rng.uniform(0, 0.1, n)  # every symbol a candidate; the ranking knows nothing
        dqn = np.where(move > 0, 0.9, 0.1)  # the DQN knows the next move
        used.append(trial.choose(cycle, score, dqn, threshold=0.6, n=3)[1])
        close = close * np.exp(move)
    verdict = trial.verdict()
    assert used[5] == "rank", "no record yet: the ranking selects"
    assert verdict.used == "dqn" and verdict.t_stat > 2 and verdict.dqn_mean_bp > verdict.rank_mean_bp
    assert "measurably beats" in verdict.reason


def test_a_dqn_that_knows_nothing_never_gets_the_choice():
    rng = np.random.default_rng(1)
    trial = SelectorTrial(mode="auto", horizon=1, cost_bps=10.0, min_outcomes=30)
    close = np.full(8, 50.0)
    for cycle in range(200):
        trial.observe(cycle, close)
        trial.choose(cycle, np.full(8, 0.7), rng.uniform(0, 1, 8), threshold=0.6, n=2)
        close = close * np.exp(rng.normal(0, 0.01, 8))
    verdict = trial.verdict()
    assert verdict.outcomes >= 30 and verdict.used == "rank"


def test_dqn_selection_restricts_and_orders_the_entries(tmp_path):
    desk = TradingDesk.paper(tmp_path, TradingSettings(buy_threshold=0.6, sell_threshold=0.4, max_per_cycle=2,
                                                       timeout_seconds=3600),
                             RiskSettings(max_open_positions=5), symbols=SYMBOLS, timeframe="1h")
    events = desk.propose(1, 3_600_000_000_000, SYMBOLS, [0.9, 0.8, 0.7], {}, [10.0, 10.0, 10.0],
                          rank_key={"C": 2.0, "B": 1.0})
    assert [e.symbol for e in events if isinstance(e, TradeProposal)] == ["C", "B"], "A is the top score but not picked"


class ForecastLike(LogisticBaseline):
    """A real logistic model that reports as another family, to fuse a second source in the engine."""

    family = Family.FORECAST


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    cap_threads(1)


def test_the_engine_fuses_every_family_and_a_proposal_explains_every_source(tmp_path):
    panel = synthetic_panel(3, 900, seed=5)
    feed = ReplayFeed(panel, start=700, speed=0.0)
    members = build_members(("logreg", "gaussian_nb"), horizon=2, train_bars=600, cost_bps=0.0, tiny=True)
    other = ForecastLike("lstm-like", horizon=2, train_bars=600, cost_bps=0.0)
    trading = TradingSettings(buy_threshold=0.2, sell_threshold=0.1, timeout_seconds=3600)
    config = dataclasses.replace(Config(), trading=trading)
    desk = TradingDesk.paper(tmp_path, trading, RiskSettings(), symbols=feed.symbols, timeframe=feed.timeframe)
    hub = SignalHub(feed.symbols, horizon=2, cost_bps=0.0, buy_threshold=0.2)
    engine = Engine(config, feed=feed, models=[*members, other], hub=hub, desk=desk)
    seen = []
    engine.subscribe(seen.append)
    engine.prepare()
    engine.step(feed.next_bar(timeout=0))
    status = [e for e in seen if isinstance(e, FusionStatus)][-1]
    assert {s.name for s in status.sources} == {VOTE_SOURCE, "lstm-like"}
    assert status.selector == "rank" and status.selector_outcomes == 0, "no DQN here: the ranking selects"
    proposal = next(e for e in seen if isinstance(e, TradeProposal))
    listed = {c.source for c in proposal.reasons}
    assert listed == {"logreg", "gaussian_nb", VOTE_SOURCE, "lstm-like"}
    assert proposal.score == pytest.approx(float(hub.last_fusion.score[feed.symbols.index(proposal.symbol)]))
    engine.submit(ShowJournal(limit=5))
    engine.apply_commands()
    journal = [e for e in seen if isinstance(e, JournalPage)][-1]
    stored = desk.ledger.journal(5)[0]
    assert {c["source"] for c in stored.contributions} == listed, "the journal keeps the full explanation"
    assert journal.entries
    for _ in range(6):  # the fused score and the vote are scored live like any source
        engine.step(feed.next_bar(timeout=0))
    rows = {r.source: r for r in hub.score_rows()}
    assert rows["fused"].scored > 0 and rows[VOTE_SOURCE].scored > 0
