"""Pilot tests of the trading loop's UI: the confirm dialog, the orders pane, the journal, the HALTED badge.

The FakeEngine answers commands the way the engine does: the test delivers
the ProposalResolved / OrderUpdate / Fill / PortfolioSnapshot events the
desk would publish after an ApproveTrade or RejectTrade.
"""

from __future__ import annotations

import math

import pytest
from textual.widgets import Button

from app import format as fmt
from app.cockpit import CockpitApp
from app.screens.confirm_trade import ConfirmTradeScreen, ProposalQueue
from app.screens.help import HelpScreen
from app.screens.journal import JournalScreen
from engine.commands import ApproveTrade, RejectTrade, ShowJournal
from engine.events import CommandRejected
from tests.app.fakes import (
    candles,
    deliver,
    ensemble_engine,
    fill,
    journal_entry,
    journal_page,
    order,
    portfolio,
    position,
    proposal,
    resolved,
    resources,
    running,
)

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def make():
    apps: list[CockpitApp] = []

    def build(**kw):
        engine = ensemble_engine()
        app = CockpitApp(engine, **kw)
        apps.append(app)
        return app, engine

    yield build
    assert [app.ui_errors for app in apps] == [0] * len(apps)


def dialog(app: CockpitApp) -> ConfirmTradeScreen:
    screen = app.screen
    assert isinstance(screen, ConfirmTradeScreen), f"expected the confirm dialog, got {screen!r}"
    return screen


def toasts(app: CockpitApp) -> list[str]:
    return [n.message for n in app._notifications]


def decisions(engine) -> list[tuple[str, str]]:
    return [(type(c).__name__, c.proposal_id) for c in engine.commands if isinstance(c, (ApproveTrade, RejectTrade))]


@pytest.mark.parametrize("size", SIZES)
async def test_approve_one_reject_another_and_the_orders_pane_follows_the_ledger(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await pilot.press("3")
        orders = app.main.orders
        await deliver(pilot, engine, portfolio(cash=10_000.0))
        assert orders.position_rows() == {} and orders.order_rows() == [] and "cash 10,000.00" in orders.summary_text()
        btc = proposal("pr-1", "BTC/USD", quantity=0.011, price=9_100.0)
        eth = proposal("pr-2", "ETH/USD", quantity=0.4, price=250.0)
        await deliver(pilot, engine, btc, eth)
        # The oldest first, with focus on Reject.
        shown = dialog(app)
        assert shown.proposal.proposal_id == "pr-1"
        assert app.focused is shown.query_one("#confirm-reject", Button)
        await pilot.press("y")
        assert decisions(engine) == [("ApproveTrade", "pr-1")]
        await pilot.pause()
        assert dialog(app).proposal.proposal_id == "pr-2"
        await pilot.press("n")
        assert decisions(engine) == [("ApproveTrade", "pr-1"), ("RejectTrade", "pr-2")]
        await pilot.pause()
        assert app.screen is app.main
        # What the engine publishes: the approval and its order, then the fill on the next bar.
        await deliver(pilot, engine, resolved("pr-1", "approved", reason="approved by the trader"),
                      order("pr-1", "submitted"), portfolio(cash=10_000.0, open_orders=1),
                      resolved("pr-2", "rejected", symbol="ETH/USD", reason="rejected by the trader"))
        assert [(o["symbol"], o["status"]) for o in orders.order_rows()] == [("BTC/USD", "submitted")]
        assert "1 open order" in orders.summary_text() and orders.position_rows() == {}
        await deliver(pilot, engine, fill("pr-1", quantity=0.011, price=9_104.55, fee=0.1),
                      order("pr-1", "filled", filled=0.011, average=9_104.55),
                      portfolio(position("BTC/USD", quantity=0.011, average=9_104.55, last=9_200.0),
                                cash=10_000.0 - 0.011 * 9_104.55 - 0.1, fees=0.1))
        rows = orders.position_rows()
        assert list(rows) == ["BTC/USD"]  # the rejected ETH proposal left no trace
        assert rows["BTC/USD"] == {"symbol": "BTC/USD", "qty": "0.011", "avg": "9,104.55", "last": "9,200.00",
                                   "unrealized": "+1.05", "realized": "0.00"}
        assert [(o["symbol"], o["status"], o["filled"]) for o in orders.order_rows()] == [("BTC/USD", "filled", "0.011")]
        assert [(f["symbol"], f["side"], f["price"], f["fee"]) for f in orders.fill_rows()] == [
            ("BTC/USD", "buy", "9,104.55", "0.10")]
        summary = orders.summary_text()
        assert "PAPER" in summary and "cash 9,899.75" in summary and "fees 0.10" in summary
        assert "0 open orders" in summary


async def test_the_dialog_says_what_why_and_how_long(make):
    now = 1_700_000_000.0
    app, engine = make(wall_clock=lambda: now)
    async with running(app, engine, (80, 24)) as pilot:
        p = proposal("pr-1", "BTC/USD", quantity=0.011, price=9_100.0, expires_in=42.0, now=now)
        await deliver(pilot, engine, p)
        text = dialog(app).text()
        for expected in ("BUY 0.011 BTC/USD", "expires in 42s", "price 9,100.00", "notional 100.10", "p(up) 0.63",
                         "est. fee 0.10", "slippage 0.05", "= 0.15", "3 sources",
                         "random_forest 0.68 ↑", "weight  50.0%", "live hit 55%", "knn", "0.44 ↓", "weight  20.0%"):
            assert expected in text, expected
        assert dialog(app).query_one("#confirm-dialog").border_title == "trade proposal · PAPER"
        region = dialog(app).query_one("#confirm-approve").region
        assert region.bottom <= 24 and region.right <= 80  # every fact and both buttons fit on 80×24


async def test_escape_and_enter_on_the_first_focus_reject_never_approve(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, proposal("pr-1"), proposal("pr-2", "ETH/USD"))
        await pilot.press("enter")  # focus starts on Reject
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert decisions(engine) == [("RejectTrade", "pr-1"), ("RejectTrade", "pr-2")]
        assert app.screen is app.main


async def test_q_quits_from_the_dialog_and_decides_nothing(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, proposal("pr-1"))
        dialog(app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and engine.stopped == 1 and decisions(engine) == []


@pytest.mark.parametrize("size", SIZES)
async def test_a_timeout_closes_the_dialog_with_a_toast_and_sends_nothing(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await deliver(pilot, engine, portfolio(), proposal("pr-1"))
        dialog(app)
        await deliver(pilot, engine, resolved("pr-1", "expired", reason="no decision within 60 s"))
        assert app.screen is app.main
        assert decisions(engine) == []
        assert any("expired" in t and "no decision within 60 s" in t for t in toasts(app))
        assert any("BUY 0.011 BTC/USD expired" in line for line in app.main.log_pane.plain_lines)
        await pilot.press("y")  # the dialog is gone: y means nothing now
        assert decisions(engine) == []


async def test_queued_proposals_show_one_after_the_other(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, proposal("pr-1"), proposal("pr-2", "ETH/USD"), proposal("pr-3", "LTC/USD"))
        assert dialog(app).proposal.proposal_id == "pr-1"
        assert "2 more waiting" in str(dialog(app).query_one("#confirm-dialog").border_subtitle)
        # The engine expires the one on screen: the next one shows.
        await deliver(pilot, engine, resolved("pr-1", "expired", reason="no decision within 60 s"))
        assert dialog(app).proposal.proposal_id == "pr-2"
        # One still in the queue is decided by the engine: it never shows.
        await deliver(pilot, engine, resolved("pr-3", "blocked", symbol="LTC/USD", reason="max_positions: 3 open"))
        assert "more waiting" not in str(dialog(app).query_one("#confirm-dialog").border_subtitle)
        await pilot.press("y")
        await pilot.pause()
        assert decisions(engine) == [("ApproveTrade", "pr-2")]
        assert app.screen is app.main


async def test_a_proposal_waits_behind_another_dialog_and_shows_when_it_closes(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("question_mark")
        await deliver(pilot, engine, proposal("pr-1"))
        assert isinstance(app.screen, HelpScreen)
        assert any("trade proposal waiting" in t for t in toasts(app))
        await pilot.press("escape")
        await pilot.pause()
        assert dialog(app).proposal.proposal_id == "pr-1"
        await pilot.press("question_mark")  # help from the dialog, then back to it
        assert isinstance(app.screen, HelpScreen)
        await deliver(pilot, engine, resolved("pr-1", "expired", reason="no decision within 60 s"))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main and decisions(engine) == []


async def test_an_approval_the_engine_refuses_is_explained(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, proposal("pr-1"))
        await pilot.press("y")
        approve = engine.commands[-1]
        await deliver(pilot, engine, CommandRejected(source="engine", command_id=approve.id,
                                                     reason="no pending proposal 'pr-1'"))
        assert "rejected approve BUY 0.011 BTC/USD: no pending proposal 'pr-1'" in app.main.log_pane.plain_lines[-1]


@pytest.mark.parametrize("size", SIZES)
async def test_the_journal_asks_the_engine_and_lists_its_entries(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await pilot.press("j")
        assert isinstance(app.screen, JournalScreen)
        assert engine.commands == [ShowJournal(limit=100, id=engine.commands[0].id)]
        assert "asking the engine" in app.screen.text()
        page = journal_page(
            journal_entry("pr-3", "blocked", symbol="LTC/USD", rule="max_positions", reason="3 open ≥ 3"),
            journal_entry("pr-2", "rejected", symbol="ETH/USD", side="buy", reason="rejected by the trader"),
            journal_entry("pr-1", "approved", reason="approved by the trader"),
        )
        await deliver(pilot, engine, page)
        rows = app.screen.row_texts()
        assert [(r["symbol"], r["side"], r["outcome"], r["rule"]) for r in rows] == [
            ("LTC/USD", "buy", "blocked", "max_positions"), ("ETH/USD", "buy", "rejected", ""),
            ("BTC/USD", "buy", "approved", "")]
        assert rows[0]["time"] == fmt.market_time(page.entries[0].ts)
        assert "votes: random_forest 0.68×0.50" in rows[0]["summary"]
        text = app.screen.text()
        assert "3 newest entries" in text and "1 blocked" in text
        assert "max_positions — 3 open ≥ 3" in text  # the highlighted entry in full
        await pilot.press("r")
        assert isinstance(engine.commands[-1], ShowJournal) and len(engine.commands) == 2
        await pilot.press("escape")
        assert app.screen is app.main


@pytest.mark.parametrize("size", SIZES)
async def test_the_header_shows_halted_with_the_reason_while_the_kill_switch_holds(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        badge = app.main.query_one("#header-halted")
        assert not badge.display
        await deliver(pilot, engine, portfolio(halted_reason="daily loss 3.1% ≥ 3.0%"))
        assert badge.display and "HALTED: daily loss 3.1% ≥ 3.0%" in str(badge.render())
        assert badge.region.width > 0 and badge.region.y == 0
        assert any("trading halted" in t for t in toasts(app))
        assert "HALTED" in app.main.orders.summary_text()
        await deliver(pilot, engine, portfolio())
        assert not badge.display and "HALTED" not in app.main.orders.summary_text()


@pytest.mark.parametrize("size", SIZES)
async def test_every_tab_and_dialog_renders_with_everything_at_once(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        many = [position(s, quantity=1.0 + i, average=100.0, last=101.0) for i, s in enumerate(("BTC/USD", "ETH/USD"))]
        await deliver(pilot, engine, candles(), resources(), portfolio(*many, halted_reason="daily loss"),
                      *(order(f"o{i}", "filled", filled=0.011, average=9_100.0) for i in range(30)),
                      *(fill(f"o{i}") for i in range(30)))
        for key in "1234":
            await pilot.press(key)
            await pilot.pause()
            pane = app.main.panes[app.main.active_tab]
            assert pane.region.height >= 5 and pane.region.bottom <= size[1] - 1, key  # above the footer
        assert len(app.main.orders.order_rows()) == 30 and len(app.main.orders.fill_rows()) == 30
        assert app.main.price.region.height >= 7  # the price pane stays on screen with the tabs
        await deliver(pilot, engine, proposal("pr-1", expires_in=5.0))
        await pilot.pause(0.3)
        assert "expires in" in dialog(app).text()
        await pilot.press("n", "j")
        await pilot.pause()
        assert isinstance(app.screen, JournalScreen)


def test_proposal_queue_is_first_in_first_out():
    queue = ProposalQueue()
    a, b, c = proposal("a"), proposal("b"), proposal("c")
    for p in (a, b, c, a):
        queue.add(p)
    assert [p.proposal_id for p in queue] == ["a", "b", "c"] and len(queue) == 3
    assert queue.oldest() is a
    assert queue.remove("b") is b and queue.remove("b") is None
    assert queue.remove("a") is a and queue.oldest() is c and "c" in queue and "a" not in queue


def test_money_quantity_share_versus_countdown():
    assert fmt.money(1234.5) == "1,234.50" and fmt.money(-0.004) == "0.00"
    assert fmt.money(12.3, signed=True) == "+12.30" and fmt.money(-4, signed=True) == "-4.00"
    assert fmt.money(0.001, signed=True) == "0.00"
    assert fmt.quantity(0.0123456789) == "0.0123457" and fmt.quantity(1250.0) == "1,250.00"
    assert fmt.share(0.125) == "12%" and fmt.share(0.125, decimals=1) == "12.5%"
    assert fmt.versus(0.54, 0.52) == "54% / 52%" and fmt.versus(None, 0.5) == "n/a / 50%"
    assert fmt.countdown(42.7) == "42s" and fmt.countdown(-3) == "0s" and fmt.countdown(65) == "1m 05s"
    for func in (fmt.money, fmt.quantity, fmt.share, fmt.countdown):
        assert func(math.nan) == fmt.NA and func(None) == fmt.NA

