"""The loop of issue 3 through the real engine: votes → proposal → approve →
paper order → next-bar fill → ledger → portfolio; reject and a broken member."""

import dataclasses

import numpy as np
import pytest

from engine.commands import ApproveTrade, RejectTrade, ShowJournal
from engine.config import Config
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.events import Fill, JournalPage, ModelState, PortfolioSnapshot, ProposalResolved, TradeProposal, Votes
from engine.models.zoo import build_members
from engine.runtime import Engine
from engine.signals_hub import SignalHub
from engine.threads import cap_threads
from engine.trading.desk import TradingDesk
from engine.trading.settings import RiskSettings, TradingSettings


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    cap_threads(1)


def make(tmp_path, names=("logreg", "gaussian_nb", "decision_tree")):
    panel = synthetic_panel(3, 900, seed=5)
    feed = ReplayFeed(panel, start=700, speed=0.0)
    members = build_members(names, horizon=2, train_bars=600, cost_bps=0.0, tiny=True)
    trading = TradingSettings(buy_threshold=0.2, sell_threshold=0.1, timeout_seconds=3600)
    desk = TradingDesk.paper(tmp_path, trading, RiskSettings(), symbols=feed.symbols, timeframe=feed.timeframe)
    config = dataclasses.replace(Config(), trading=trading)
    engine = Engine(config, feed=feed, models=members, hub=SignalHub(feed.symbols, horizon=2, cost_bps=0.0),
                    desk=desk)
    seen = []
    engine.subscribe(seen.append)
    engine.prepare()
    return engine, feed, seen


def of(seen, kind):
    return [e for e in seen if isinstance(e, kind)]


def test_approve_fills_on_the_next_bar_and_reject_is_journalled(tmp_path):
    engine, feed, seen = make(tmp_path)
    engine.step(feed.next_bar(timeout=0))
    proposals = of(seen, TradeProposal)
    assert len(proposals) >= 2, "a low buy threshold must produce proposals"
    first, second = proposals[:2]
    families = {r.family for r in first.reasons}
    assert families == {"ensemble", "vote"}, "the members, then the vote they form (the only fused source here)"
    assert first.score == pytest.approx(next(r.value for r in first.reasons if r.family == "vote"))
    assert of(seen, Votes)[-1].members
    engine.submit(ApproveTrade(proposal_id=first.proposal_id))
    engine.submit(RejectTrade(proposal_id=second.proposal_id, reason="not today"))
    engine.apply_commands()
    assert not of(seen, Fill), "nothing fills on the bar the order was placed"
    engine.step(feed.next_bar(timeout=0))
    (fill,) = of(seen, Fill)
    assert fill.symbol == first.symbol and fill.quantity > 0
    snapshot = of(seen, PortfolioSnapshot)[-1]
    held = {p.symbol: p.quantity for p in snapshot.positions}
    assert held.get(first.symbol, 0) == pytest.approx(fill.quantity)
    assert snapshot.cash < 10_000
    outcomes = {r.proposal_id: r.outcome for r in of(seen, ProposalResolved)}
    assert outcomes[first.proposal_id] == "approved" and outcomes[second.proposal_id] == "rejected"
    engine.submit(ShowJournal(limit=10))
    engine.apply_commands()
    journal = of(seen, JournalPage)[-1]
    assert {e.outcome for e in journal.entries} >= {"approved", "rejected"}
    assert any("not today" in e.reason for e in journal.entries)


def test_a_broken_member_is_marked_failed_and_the_vote_goes_on(tmp_path):
    engine, feed, seen = make(tmp_path)
    broken = engine.slots[1]
    broken.model.predict = lambda batch: (_ for _ in ()).throw(ValueError("bad weights"))
    engine.step(feed.next_bar(timeout=0))
    votes = of(seen, Votes)[-1]
    rows = {m.name: m for m in votes.members}
    assert rows[broken.name].state == ModelState.FAULTED and rows[broken.name].weight == 0
    assert broken.error.startswith("ValueError: bad weights")
    assert np.isfinite(votes.final).all()
    assert sum(m.weight for m in votes.members) == pytest.approx(1.0)
