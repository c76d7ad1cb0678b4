import math

import numpy as np
import pytest

from engine.errors import OrderRejected
from engine.events import Side
from engine.trading import FillReport, OrderAck, OrderRequest, PaperBroker
from engine.trading.accounting import Position
from engine.trading.broker import Broker, KnownOrder

from .helpers import SYMBOLS, make_bar

FEE, SLIP = 10.0, 5.0  # bps


def broker(cash: float = 10_000.0, **kw) -> PaperBroker:
    return PaperBroker(SYMBOLS, fee_bps=FEE, slippage_bps=SLIP, cash=cash, **kw)


def order(cid: str, side: Side = Side.BUY, qty: float = 1.0, symbol: str = "AAA", limit: float | None = None):
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, order_type="limit" if limit else "market",
                        quantity=qty, limit_price=limit)


def fills(reports) -> list[FillReport]:
    return [r for r in reports if isinstance(r, FillReport)]


def test_the_paper_broker_is_a_broker():
    assert isinstance(broker(), Broker)


def test_a_market_order_fills_on_the_next_bar_open_never_the_same_bar():
    b = broker()
    assert b.on_bar(make_bar(0, 100.0, close=101.0)) == []
    ack = b.submit(order("c1", qty=2.0))
    assert ack.status == "submitted" and ack.filled == 0.0
    assert fills(b.on_bar(make_bar(0, 100.0, close=101.0))) == []  # the same bar delivered again: no fill
    reports = b.on_bar(make_bar(1, 120.0, close=130.0))
    (fill,) = fills(reports)
    assert fill.price == pytest.approx(120.0 * (1 + SLIP / 1e4))
    assert fill.fee == pytest.approx(2.0 * fill.price * FEE / 1e4)
    assert fill.ts == make_bar(1).ts
    assert [r.status for r in reports if isinstance(r, OrderAck)] == ["filled"]
    assert b.balances().cash == pytest.approx(10_000.0 - 2.0 * fill.price - fill.fee)
    assert b.open_orders() == ()


def test_a_market_sell_fills_below_the_open_and_realises_pnl_net_of_fees():
    b = broker()
    b.on_bar(make_bar(0))
    b.submit(order("buy", qty=1.0))
    (buy,) = fills(b.on_bar(make_bar(1, 100.0)))
    b.submit(order("sell", Side.SELL, qty=1.0))
    (sell,) = fills(b.on_bar(make_bar(2, 110.0)))
    assert sell.price == pytest.approx(110.0 * (1 - SLIP / 1e4))
    expected = (sell.price - buy.price) - buy.fee - sell.fee
    assert b.position("AAA") == Position(quantity=0.0, average_price=0.0, realized_pnl=pytest.approx(expected))
    assert b.balances().cash == pytest.approx(10_000.0 + expected)


def test_unrealised_pnl_marks_to_the_last_close():
    b = broker()
    b.on_bar(make_bar(0))
    b.submit(order("c1", qty=3.0))
    (f,) = fills(b.on_bar(make_bar(1, 100.0, close=105.0)))
    avg = f.price + f.fee / 3.0
    assert b.position("AAA").average_price == pytest.approx(avg)
    assert b.unrealized_pnl() == pytest.approx(3.0 * (105.0 - avg))
    assert b.equity() == pytest.approx(b.balances().cash + 3.0 * 105.0)


class TestLimitOrders:
    def test_a_buy_limit_waits_until_the_low_reaches_it_then_fills_at_the_limit(self):
        b = broker()
        b.on_bar(make_bar(0))
        b.submit(order("c1", qty=1.0, limit=95.0))
        assert fills(b.on_bar(make_bar(1, 100.0, low=96.0, high=101.0))) == []
        assert len(b.open_orders()) == 1
        (f,) = fills(b.on_bar(make_bar(2, 100.0, low=94.0, high=101.0)))
        assert f.price == 95.0  # no slippage on limits
        assert f.fee == pytest.approx(95.0 * FEE / 1e4)

    def test_a_buy_limit_fills_at_the_open_when_the_bar_gaps_below_it(self):
        b = broker()
        b.on_bar(make_bar(0))
        b.submit(order("c1", limit=95.0))
        (f,) = fills(b.on_bar(make_bar(1, 90.0, low=89.0, high=91.0)))
        assert f.price == 90.0

    def test_a_sell_limit_needs_the_high_and_fills_at_max_of_limit_and_open(self):
        b = broker(positions=[("AAA", Position(quantity=2.0, average_price=100.0))])
        b.on_bar(make_bar(0))
        b.submit(order("s1", Side.SELL, qty=1.0, limit=110.0))
        b.submit(order("s2", Side.SELL, qty=1.0, limit=105.0))
        reports = b.on_bar(make_bar(1, 100.0, high=109.0, low=99.0))
        assert [f.price for f in fills(reports)] == [105.0]
        (f,) = fills(b.on_bar(make_bar(2, 112.0, high=113.0, low=111.0)))
        assert f.client_order_id == "s1" and f.price == 112.0

    def test_a_limit_placed_on_a_bar_does_not_fill_on_that_bar(self):
        b = broker()
        b.on_bar(make_bar(0, 100.0, low=80.0))
        b.submit(order("c1", limit=95.0))
        assert fills(b.on_bar(make_bar(0, 100.0, low=80.0))) == []


def test_a_symbol_without_a_bar_fills_nothing_until_it_has_one():
    b = broker()
    b.on_bar(make_bar(0))
    b.submit(order("c1"))
    assert fills(b.on_bar(make_bar(1, [math.nan, 100.0, 100.0, 100.0]))) == []
    assert len(fills(b.on_bar(make_bar(2, 100.0)))) == 1


def test_long_only_rejects_a_sell_larger_than_the_position_with_a_reason():
    b = broker(positions=[("AAA", Position(quantity=1.0, average_price=100.0))])
    b.on_bar(make_bar(0))
    assert b.submit(order("s1", Side.SELL, qty=0.6)).status == "submitted"
    ack = b.submit(order("s2", Side.SELL, qty=0.6))
    assert ack.status == "rejected"
    assert "exceeds the position" in ack.message and "long-only" in ack.message
    assert b.submit(order("s3", Side.SELL, qty=0.5, symbol="BBB")).status == "rejected"


def test_a_buy_beyond_the_free_cash_is_rejected_at_submit():
    b = broker(cash=1_000.0)
    b.on_bar(make_bar(0, 100.0))
    assert b.submit(order("c1", qty=6.0)).status == "submitted"
    ack = b.submit(order("c2", qty=5.0))  # 6 already reserved
    assert ack.status == "rejected" and "insufficient cash" in ack.message


def test_a_market_buy_that_gaps_beyond_the_cash_is_rejected_at_the_fill_not_part_filled():
    b = broker(cash=1_000.0)
    b.on_bar(make_bar(0, 100.0))
    b.submit(order("c1", qty=9.0))
    reports = b.on_bar(make_bar(1, 200.0))
    assert fills(reports) == []
    (ack,) = reports
    assert ack.status == "rejected" and "insufficient cash at the fill" in ack.message
    assert b.balances().cash == 1_000.0


def test_unknown_symbol_and_cancel():
    b = broker()
    assert "unknown symbol" in b.submit(order("c1", symbol="ZZZ")).message
    b.on_bar(make_bar(0))
    b.submit(order("c2", limit=50.0))
    assert b.cancel("c2").status == "cancelled"
    assert fills(b.on_bar(make_bar(1, 40.0))) == []
    with pytest.raises(OrderRejected, match="no open paper order"):
        b.cancel("c2")


def test_a_resubmitted_client_order_id_is_not_sent_twice():
    b = broker()
    b.on_bar(make_bar(0))
    b.submit(order("c1"))
    b.submit(order("c1"))
    assert len(fills(b.on_bar(make_bar(1)))) == 1


def test_reconcile_resumes_submitted_orders_and_reports_unsent_ones():
    b = broker(cash=5_000.0)
    known = [KnownOrder(request=order("sent", qty=1.0), order_id="P-sent", status="submitted", filled=0.0,
                        placed_ts=make_bar(0).ts),
             KnownOrder(request=order("unsent", qty=1.0), order_id="", status="new", filled=0.0, placed_ts=0)]
    report = b.reconcile(known, cash=5_000.0, positions=[])
    assert [a.client_order_id for a in report.orders] == ["sent"]
    assert report.unknown == ("unsent",)
    assert report.differences == ()
    (f,) = fills(b.on_bar(make_bar(0, 100.0)))  # first bar after a restart fills the resumed order
    assert f.client_order_id == "sent"


def test_reconcile_reports_and_adopts_a_different_cash_and_position():
    b = broker(cash=1.0)
    report = b.reconcile([], cash=2.0, positions=[("AAA", 3.0)])
    assert len(report.differences) == 2
    assert b.balances().cash == 2.0 and b.balances().quantity("AAA") == 3.0
    assert np.isfinite(b.equity())
