import pytest

from engine.events import Fill, LogMessage, PortfolioSnapshot, ProposalResolved, Side, TradeProposal
from engine.trading import RiskSettings, TradingDesk

from .helpers import BAR_NS, SYMBOLS, FakeClock, make_bar, make_desk, scores

PRICES = [100.0] * len(SYMBOLS)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def buy_and_fill(desk: TradingDesk, symbol: str, bar_index: int, open_: float = 100.0) -> None:
    (p,) = of(desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(**{symbol: 0.9}), {}, PRICES), TradeProposal)
    desk.approve(p.proposal_id)
    assert of(desk.on_bar(make_bar(bar_index, open_), bar_index + 1), Fill)


def test_the_daily_loss_kill_switch_halts_entries_says_so_and_still_lets_exits_through(tmp_path):
    clock = FakeClock()
    desk = make_desk(tmp_path, clock=clock, risk=RiskSettings(max_daily_loss=300, max_position_notional=0))
    desk.on_bar(make_bar(0), 1)
    buy_and_fill(desk, "AAA", 1)                                   # 10 AAA at ~100
    (pending,) = of(desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(BBB=0.9), {}, PRICES), TradeProposal)
    events = desk.on_bar(make_bar(2, [100.0, 100, 100, 100], close=[65.0, 100, 100, 100]), 3)  # −350
    (warning,) = of(events, LogMessage)
    assert warning.level == "warning" and "trading halted" in warning.message
    snap = of(events, PortfolioSnapshot)[-1]
    assert snap.halted and "daily loss" in snap.halted_reason and "limit 300.00" in snap.halted_reason
    # the pending entry is re-checked at approval and blocked by the kill switch
    (r,) = of(desk.approve(pending.proposal_id), ProposalResolved)
    assert (r.outcome, r.reason.split(":")[0]) == ("blocked", "max_daily_loss")
    # new entries are blocked, the exit is proposed and fills
    events = desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(AAA=0.1, CCC=0.9), {}, [65.0, 100, 100, 100])
    assert [e.outcome for e in of(events, ProposalResolved)] == ["blocked"]
    (exit_,) = of(events, TradeProposal)
    assert (exit_.symbol, exit_.side) == ("AAA", Side.SELL)
    desk.approve(exit_.proposal_id)
    events = desk.on_bar(make_bar(3, 66.0), 4)
    assert of(events, Fill) and of(events, PortfolioSnapshot)[-1].halted  # recovery does not lift the halt
    # a restart keeps the halt for the rest of the day; the next UTC day starts clean
    desk.close()
    desk = make_desk(tmp_path, clock=clock, risk=RiskSettings(max_daily_loss=300))
    assert of(desk.on_bar(make_bar(4, 66.0), 5), PortfolioSnapshot)[-1].halted
    assert not of(desk.on_bar(make_bar(24, 66.0), 6), PortfolioSnapshot)[-1].halted
    assert of(desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(CCC=0.9), {}, PRICES), TradeProposal)
    desk.close()


def test_a_losing_exit_starts_the_cooldown_for_that_symbol_only(tmp_path):
    desk = make_desk(tmp_path, risk=RiskSettings(cooldown_bars=3, max_daily_loss=0))
    desk.on_bar(make_bar(0), 1)
    buy_and_fill(desk, "AAA", 1)
    (exit_,) = of(desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(AAA=0.1), {}, PRICES), TradeProposal)
    desk.approve(exit_.proposal_id)
    desk.on_bar(make_bar(2, 90.0), 3)                               # sold at a loss on bar 2
    for i in (2, 3, 4):
        if i > 2:
            desk.on_bar(make_bar(i, 90.0), i + 1)
        events = desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(AAA=0.9), {}, PRICES)
        assert not of(events, TradeProposal), i
    assert "cooldown" in desk.ledger.journal(1)[0].rule
    desk.on_bar(make_bar(5, 90.0), 6)
    assert of(desk.propose(desk.cycle, desk.ts, SYMBOLS, scores(AAA=0.9), {}, PRICES), TradeProposal)
    desk.close()


def test_a_restart_expires_proposals_a_previous_run_left_pending(tmp_path):
    desk = make_desk(tmp_path)
    desk.on_bar(make_bar(0), 1)
    (p,) = of(desk.propose(1, desk.ts, SYMBOLS, scores(AAA=0.9), {}, PRICES), TradeProposal)
    desk.close()
    again = make_desk(tmp_path)
    (r,) = of(again.start(), ProposalResolved)
    assert (r.proposal_id, r.outcome, r.reason) == (p.proposal_id, "expired", "engine restarted before a decision")
    assert again.start() == []
    again.close()


def test_the_snapshot_before_any_bar_marks_at_the_average_price(tmp_path):
    desk = make_desk(tmp_path)
    desk.on_bar(make_bar(0), 1)
    buy_and_fill(desk, "AAA", 1, open_=100.0)
    desk.close()
    again = make_desk(tmp_path)
    snap = again.snapshot()
    (row,) = snap.positions
    assert row.unrealized_pnl == 0.0 and row.last_price == row.average_price
    assert snap.equity == pytest.approx(10_000.0 + snap.realized_pnl)
    again.close()


def test_journal_page_is_newest_first(tmp_path):
    desk = make_desk(tmp_path, risk=RiskSettings(max_open_positions=0))
    desk.on_bar(make_bar(0), 1)
    made = of(desk.propose(1, desk.ts, SYMBOLS, scores(AAA=0.7, BBB=0.8), {}, PRICES), TradeProposal)
    desk.reject(made[0].proposal_id, "no")
    desk.reject(made[1].proposal_id, "nope")
    page = desk.journal(1)
    assert [e.reason for e in page.entries] == ["nope"]
    assert page.coalesce_key == "journal"
    desk.close()


def test_bar_ns_matches_the_timeframe(tmp_path):
    desk = make_desk(tmp_path)
    assert desk.state().bar_ns == BAR_NS
    desk.close()


def test_a_long_auto_approved_session_stays_consistent(tmp_path):
    """Many random trades: the ledger audits clean and equity = start + realised + unrealised."""
    import numpy as np

    rng = np.random.default_rng(7)
    desk = make_desk(tmp_path, auto_approve=True, auto_approve_max_notional=5_000.0,
                     risk=RiskSettings(max_daily_loss=0, cooldown_bars=2))
    closes = np.full(len(SYMBOLS), 100.0)
    fills = 0
    for i in range(60):
        opens = closes * np.exp(rng.normal(0, 0.01, len(SYMBOLS)))
        closes = opens * np.exp(rng.normal(0, 0.02, len(SYMBOLS)))
        bar = make_bar(i, opens, close=closes)
        fills += len(of(desk.on_bar(bar, i + 1), Fill))
        desk.propose(i + 1, bar.ts, SYMBOLS, list(rng.uniform(0.2, 0.8, len(SYMBOLS))), {}, list(closes))
    assert fills > 10
    assert desk.ledger.audit() == ()
    snap = desk.snapshot()
    assert snap.equity == pytest.approx(desk.ledger.account().starting_cash + snap.realized_pnl + snap.unrealized_pnl)
    assert snap.cash >= 0 and all(p.quantity > 0 for p in snap.positions)
    desk.close()
