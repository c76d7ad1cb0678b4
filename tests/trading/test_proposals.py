import pytest

from engine.events import Fill, OrderUpdate, PortfolioSnapshot, ProposalResolved, Side, TradeProposal
from engine.trading import ProposalNotFound, RiskSettings, TradingSettings

from .helpers import SYMBOLS, FakeClock, make_bar, make_desk, scores, votes

PRICES = [100.0] * len(SYMBOLS)
NO_LIMITS = RiskSettings(max_position_notional=0, max_open_positions=0, max_daily_loss=0, cooldown_bars=0)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def desk(tmp_path, clock):
    d = make_desk(tmp_path, clock=clock)
    d.on_bar(make_bar(0), 1)
    yield d
    d.close()


def propose(desk, contributions=None, prices=PRICES, **by_symbol):
    return desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(**by_symbol), contributions or {}, prices)


def test_defaults_and_auto_approve_off():
    s = TradingSettings()
    assert (s.starting_cash, s.fee_bps, s.slippage_bps, s.order_notional) == (10_000, 10, 5, 1_000)
    assert (s.buy_threshold, s.sell_threshold, s.max_per_cycle, s.timeout_seconds) == (0.6, 0.45, 3, 60)
    assert s.auto_approve is False


def test_a_score_crossing_the_buy_threshold_makes_one_sized_proposal_with_its_reasons(desk, clock):
    assert propose(desk, AAA=0.59) == []
    (p,) = of(propose(desk, {"AAA": votes(0.7, 0.8, 0.4)}, AAA=0.6), TradeProposal)
    assert (p.symbol, p.side, p.score) == ("AAA", Side.BUY, 0.6)
    assert p.notional == pytest.approx(1_000.0) and p.quantity == pytest.approx(10.0)
    assert p.est_fee == pytest.approx(1.0) and p.est_slippage == pytest.approx(0.5)
    assert p.expires_at == clock.now + 60
    assert [c.value for c in p.reasons] == [0.7, 0.8, 0.4]
    assert "2 of 3 sources" in p.summary
    (row,) = desk.ledger.journal(5)
    assert row.outcome == "pending" and [c["value"] for c in row.contributions] == [0.7, 0.8, 0.4]


def test_a_sell_proposal_needs_a_position(desk):
    assert propose(desk, AAA=0.2) == []


def test_at_most_max_per_cycle_proposals_strongest_first(tmp_path):
    d = make_desk(tmp_path, risk=NO_LIMITS, max_per_cycle=2)
    d.on_bar(make_bar(0), 1)
    made = of(propose(d, AAA=0.61, BBB=0.9, CCC=0.75, DDD=0.8), TradeProposal)
    assert [p.symbol for p in made] == ["BBB", "DDD"]
    # next cycle: the pending ones are not proposed again; the rest get their turn
    assert [p.symbol for p in of(propose(d, AAA=0.61, BBB=0.9, CCC=0.75, DDD=0.8), TradeProposal)] == ["CCC", "AAA"]
    assert of(propose(d, AAA=0.61, BBB=0.9, CCC=0.75, DDD=0.8), TradeProposal) == []
    d.close()


def test_approve_places_an_order_that_fills_on_the_next_bar_into_a_position(desk):
    (p,) = of(propose(desk, AAA=0.7), TradeProposal)
    events = desk.approve(p.proposal_id)
    (resolved,) = of(events, ProposalResolved)
    assert (resolved.outcome, resolved.proposal_id) == ("approved", p.proposal_id)
    (update,) = of(events, OrderUpdate)
    assert update.status == "submitted" and update.quantity == pytest.approx(10.0)
    assert of(events, PortfolioSnapshot)[-1].open_orders == 1
    order = desk.ledger.order(update.client_order_id)
    assert order.status == "submitted" and order.proposal_id == p.proposal_id
    assert propose(desk, AAA=0.9) == []  # an open buy: no second proposal

    events = desk.on_bar(make_bar(1, 110.0, close=120.0), 2)
    (fill,) = of(events, Fill)
    price = 110.0 * 1.0005
    assert fill.price == pytest.approx(price) and fill.order_id == update.client_order_id
    assert of(events, OrderUpdate)[0].status == "filled"
    snap = of(events, PortfolioSnapshot)[-1]
    (row,) = snap.positions
    fee = 10.0 * price * 0.001
    assert row.symbol == "AAA" and row.quantity == pytest.approx(10.0)
    assert row.average_price == pytest.approx(price + fee / 10.0)
    assert row.unrealized_pnl == pytest.approx(10.0 * (120.0 - price) - fee)
    assert snap.cash == pytest.approx(10_000.0 - 10.0 * price - fee)
    assert snap.equity == pytest.approx(snap.cash + 10.0 * 120.0)
    assert snap.fees_paid == pytest.approx(fee) and snap.open_orders == 0
    assert propose(desk, AAA=0.9) == []  # a position open in that direction: no proposal

    (exit_,) = of(propose(desk, AAA=0.3), TradeProposal)
    assert exit_.side is Side.SELL and exit_.quantity == pytest.approx(10.0)
    desk.approve(exit_.proposal_id)
    snap = of(desk.on_bar(make_bar(2, 130.0), 3), PortfolioSnapshot)[-1]
    assert snap.positions == ()
    sell = 130.0 * 0.9995
    assert snap.realized_pnl == pytest.approx(10.0 * (sell - price) - fee - 10.0 * sell * 0.001)
    assert snap.equity == pytest.approx(10_000.0 + snap.realized_pnl)
    assert desk.ledger.audit() == ()
    assert [r.outcome for r in desk.ledger.journal(5)] == ["approved", "approved"]


def test_reject_is_journalled_with_the_reason_and_cannot_be_decided_twice(desk):
    (p,) = of(propose(desk, {"AAA": votes(0.9)}, AAA=0.7), TradeProposal)
    (r,) = desk.reject(p.proposal_id, "I do not like it")
    assert (r.outcome, r.reason) == ("rejected", "I do not like it")
    (row,) = desk.ledger.journal(1)
    assert (row.outcome, row.reason, row.proposal_id) == ("rejected", "I do not like it", p.proposal_id)
    assert row.contributions[0]["value"] == 0.9
    with pytest.raises(ProposalNotFound, match=p.proposal_id):
        desk.approve(p.proposal_id)
    assert desk.ledger.orders() == ()
    page = desk.journal(10)
    assert page.entries[0].outcome == "rejected" and page.entries[0].symbol == "AAA"
    assert page.entries[0].summary.endswith("votes: m0 0.90×1.00")


def test_a_proposal_times_out_into_the_journal(desk, clock):
    (p,) = of(propose(desk, AAA=0.7), TradeProposal)
    clock.now += 59.9
    assert desk.expire() == []
    clock.now += 0.1
    (r,) = desk.expire()
    assert (r.outcome, r.reason) == ("expired", "no decision within 60 s")
    assert desk.ledger.journal(1)[0].outcome == "expired"
    with pytest.raises(ProposalNotFound):
        desk.approve(p.proposal_id)


def test_an_approval_that_arrives_after_the_timeout_is_an_expiry(desk, clock):
    (p,) = of(propose(desk, AAA=0.7), TradeProposal)
    clock.now += 61
    events = desk.approve(p.proposal_id)
    assert [e.outcome for e in of(events, ProposalResolved)] == ["expired"]
    assert desk.ledger.orders() == ()


def test_the_next_bar_expires_overdue_proposals(desk, clock):
    propose(desk, AAA=0.7)
    clock.now += 120
    events = desk.on_bar(make_bar(1), 2)
    assert [e.outcome for e in of(events, ProposalResolved)] == ["expired"]


def test_auto_approve_when_on_still_checks_risk_and_journals(tmp_path):
    d = make_desk(tmp_path, auto_approve=True, auto_approve_max_notional=1_000.0)
    d.on_bar(make_bar(0), 1)
    events = propose(d, AAA=0.7)
    assert [type(e).__name__ for e in events] == ["TradeProposal", "ProposalResolved", "OrderUpdate",
                                                  "PortfolioSnapshot"]
    (row,) = d.ledger.journal(1)
    assert row.outcome == "approved" and row.reason.startswith("auto-approved")
    d.close()
    d = make_desk(tmp_path / "small", auto_approve=True, auto_approve_max_notional=999.0)
    d.on_bar(make_bar(0), 1)
    assert [type(e).__name__ for e in propose(d, AAA=0.7)] == ["TradeProposal"]
    d.close()


def test_the_entry_size_is_capped_by_the_room_under_max_position_notional(tmp_path):
    d = make_desk(tmp_path, risk=RiskSettings(max_position_notional=400.0))
    d.on_bar(make_bar(0), 1)
    (p,) = of(propose(d, AAA=0.7), TradeProposal)
    assert p.notional == pytest.approx(400.0) and p.quantity == pytest.approx(4.0)
    d.close()


def test_a_blocked_proposal_names_the_rule_once_until_it_clears(tmp_path):
    d = make_desk(tmp_path, risk=RiskSettings(max_open_positions=1))
    d.on_bar(make_bar(0), 1)
    (p,) = of(propose(d, AAA=0.7), TradeProposal)
    d.approve(p.proposal_id)
    d.on_bar(make_bar(1), 2)
    (blocked,) = propose(d, BBB=0.8)
    assert isinstance(blocked, ProposalResolved) and blocked.outcome == "blocked"
    assert blocked.reason.startswith("max_open_positions:")
    assert propose(d, BBB=0.8) == []  # same block, not journalled again
    row = d.ledger.journal(1)[0]
    assert (row.outcome, row.rule, row.symbol) == ("blocked", "max_open_positions", "BBB")
    assert d.journal(1).entries[0].reason.startswith("max_open_positions:")
    assert propose(d, BBB=0.5) == []  # condition cleared ...
    assert len(of(propose(d, BBB=0.8), ProposalResolved)) == 1  # ... so a new block is news
    d.close()


def test_entries_are_capped_by_free_cash_and_blocked_when_it_is_gone(tmp_path):
    d = make_desk(tmp_path, starting_cash=1_500.0, risk=NO_LIMITS)
    d.on_bar(make_bar(0), 1)
    first, second = of(propose(d, AAA=0.9, BBB=0.8), TradeProposal)
    assert first.notional == pytest.approx(1_000.0)
    assert second.notional == pytest.approx((1_500.0 - 1_000.0) / 1.0015)
    (blocked,) = propose(d, CCC=0.8)
    assert blocked.outcome == "blocked" and blocked.reason.startswith("cash:")
    d.close()


def test_a_broker_refusal_after_approval_is_journalled(tmp_path):
    d = make_desk(tmp_path, risk=NO_LIMITS)
    d.on_bar(make_bar(0, 100.0), 1)
    (p,) = of(propose(d, AAA=0.9), TradeProposal)
    d.broker.reconcile([], cash=10.0, positions=[])  # the paper account drained behind the desk's back
    events = d.approve(p.proposal_id)
    (update,) = of(events, OrderUpdate)
    assert update.status == "rejected" and "insufficient cash" in update.message
    (row,) = d.ledger.journal(1)
    assert row.outcome == "approved" and "rejected: insufficient cash" in row.reason
    d.close()


def test_a_rejected_symbol_stays_quiet_for_quiet_bars(tmp_path):
    from engine.trading.desk import TradingDesk
    from engine.trading.settings import RiskSettings, TradingSettings

    desk = TradingDesk.paper(tmp_path, TradingSettings(quiet_bars=3), RiskSettings(), symbols=("A/USD",),
                             timeframe="30m")
    def propose(cycle):
        return [e for e in desk.propose(cycle, cycle, ("A/USD",), [0.9], {"A/USD": ()}, [100.0])
                if type(e).__name__ == "TradeProposal"]
    (first,) = propose(1)
    desk.reject(first.proposal_id)
    assert [c for c in range(2, 8) if propose(c)][:1] == [first.cycle + 3]
