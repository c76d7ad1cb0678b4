"""Every exchange fault through the real ccxt client: documented behaviour, no order lost, none doubled.

Documented behaviour (engine/trading/live.py):
- 429 / 418: refused unprocessed → sent again after the backoff (same client id);
- timeout, dropped connection, 5xx, malformed reply, reply lost after the
  order was made: fate unknown → looked up by client id; found → adopted,
  never resent; not found after the receive window → sent again once;
- a repeated trade in the fill report counts once; a partly filled order is
  reported as partially filled, then filled;
- retries are bounded; when even the lookup fails the order stays in doubt
  and later bars settle it, never resending late.
`standin.order_posts(cid)` counts order requests received, `book.created`
orders made.
"""

from __future__ import annotations

import time

import pytest

from engine.data.ccxt_feed import RetryPolicy
from engine.errors import OrderRejected, TemporaryExchangeError
from engine.events import Fill, OrderUpdate, Side
from engine.trading.broker import OrderRequest
from tests.standin_exchange import StandinExchange

from ._live_support import KEY, PRICES, assert_ledger_matches, bar, make_broker, make_desk, propose_and_approve

START = 10_000.0
RECV_MS = 1000
HOLD_S = 2.0  # a "timeout" fault holds the request this long, past the client's 500 ms


@pytest.fixture
def standin():
    with StandinExchange(api_key=KEY, balances={"USDT": START}, timeout_fault_seconds=HOLD_S) as server:
        for market, price in PRICES.items():
            server.set_price(market, price)
        yield server


def buy(cid: str = "pc-fault-1", qty: float = 0.01) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol="BTC/USDT", side=Side.BUY, order_type="market", quantity=qty)


def broker_for(standin, **kw):
    broker = make_broker(standin, timeout_ms=500, recv_window_ms=RECV_MS, **kw)
    broker.reconcile([], cash=START, positions=[])
    return broker


FAULTS = [  # (fault on the order POST, order requests received, looked up by client id)
    ("429", 2, False),
    ("418", 2, False),
    ("500", 2, True),
    ("503", 2, True),
    ("reset", 2, True),
    ("timeout", 2, True),
    ("malformed", 1, True),
    ("lost", 1, True),
]


@pytest.mark.parametrize(("fault", "posts", "looked_up"), FAULTS)
def test_each_send_fault_ends_with_exactly_one_order_and_one_fill(standin, tmp_path, fault, posts, looked_up):
    desk = make_desk(tmp_path, standin.api_urls(), timeout_ms=500, recv_window_ms=RECV_MS)
    desk.on_bar(bar(0), 1)
    standin.reset_counts()
    standin.inject(fault, path="/api/v3/order", method="POST")
    cid, events = propose_and_approve(desk, 1, BTC=0.9)

    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert update.status == "submitted", update.message
    if looked_up:
        assert "found by its client id" in update.message or "attempt 2" in update.message
    assert standin.order_posts(cid) == posts
    assert standin.book.created[cid] == 1  # never two orders
    lookups = [p for path, p in standin.requests if path == "/api/v3/order" and "origClientOrderId" in p]
    assert bool(lookups) == looked_up and all(p["origClientOrderId"] == cid for p in lookups)

    if fault == "timeout":  # the held copy reaches the exchange after the window and is refused there
        time.sleep(HOLD_S)
        assert standin.book.created[cid] == 1
    events = desk.on_bar(bar(1), 2)
    assert len([e for e in events if isinstance(e, Fill)]) == 1
    assert desk.ledger.order(cid).status == "filled"
    assert_ledger_matches(desk, standin, start_usdt=START)
    desk.close()


def test_retries_are_bounded_and_a_never_placed_order_is_refused(standin):
    broker = broker_for(standin, max_retries=2)
    standin.inject("429", times=10, path="/api/v3/order", method="POST")
    with pytest.raises(OrderRejected, match=r"not placed after 3 attempt\(s\).*DDoSProtection"):
        broker.submit(buy())
    assert standin.order_posts("pc-fault-1") == 3 and standin.book.created["pc-fault-1"] == 0


def test_an_order_in_doubt_that_never_arrived_is_cancelled_later_not_resent(standin):
    broker = broker_for(standin, max_retries=1)
    standin.inject("reset", path="/api/v3/order", method="POST")
    standin.inject("500", times=20, path="/api/v3/order", method="GET")  # the lookups fail too
    with pytest.raises(TemporaryExchangeError, match="lookup by client id failed"):
        broker.submit(buy())
    assert standin.book.created["pc-fault-1"] == 0
    standin.clear_faults()
    time.sleep((RECV_MS + 600) / 1000)
    (ack,) = broker.on_bar(bar(1))
    assert ack.status == "cancelled" and "never reached" in ack.message
    assert standin.order_posts("pc-fault-1") == 1  # sent once, never again


def test_an_order_in_doubt_that_did_arrive_is_adopted_on_the_next_bar(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls(), timeout_ms=500, recv_window_ms=RECV_MS)
    desk.on_bar(bar(0), 1)
    desk.router.broker.call.policy = RetryPolicy(1, 0.01, 0.05)  # give up on the lookups quickly
    standin.inject("lost", path="/api/v3/order", method="POST")
    standin.inject("503", times=20, path="/api/v3/order", method="GET")
    cid, events = propose_and_approve(desk, 1, BTC=0.9)
    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert update.status == "new" and "send outcome unknown" in update.message

    standin.clear_faults()
    events = desk.on_bar(bar(1), 2)
    assert len([e for e in events if isinstance(e, Fill)]) == 1
    assert desk.ledger.order(cid).status == "filled"
    assert standin.order_posts(cid) == 1 and standin.book.created[cid] == 1
    assert_ledger_matches(desk, standin, start_usdt=START)
    desk.close()


def test_a_duplicate_fill_report_counts_once(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls())
    desk.on_bar(bar(0), 1)
    cid, _ = propose_and_approve(desk, 1, BTC=0.9)
    standin.inject("duplicate_fill")
    events = desk.on_bar(bar(1), 2)
    assert len([e for e in events if isinstance(e, Fill)]) == 1
    assert standin.book.duplicate_next == 0  # the repeated trade was served
    assert len(desk.ledger.fills()) == 1
    assert_ledger_matches(desk, standin, start_usdt=START)
    desk.close()


def test_a_partially_filled_order_is_reported_in_two_fills(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls())
    desk.on_bar(bar(0), 1)
    standin.inject("partial")
    cid, _ = propose_and_approve(desk, 1, BTC=0.9)

    events = desk.on_bar(bar(1), 2)
    (first,) = [e for e in events if isinstance(e, Fill)]
    record = desk.ledger.order(cid)
    assert record.status == "partially_filled" and record.filled == pytest.approx(first.quantity)
    assert first.quantity < record.quantity
    assert desk.snapshot().open_orders == 1
    assert_ledger_matches(desk, standin, start_usdt=START)

    standin.book.release_partials()
    events = desk.on_bar(bar(2), 3)
    (second,) = [e for e in events if isinstance(e, Fill)]
    assert first.quantity + second.quantity == pytest.approx(record.quantity)
    assert desk.ledger.order(cid).status == "filled"
    assert standin.book.created[cid] == 1
    assert_ledger_matches(desk, standin, start_usdt=START)
    desk.close()


@pytest.mark.parametrize("fault", ["500", "429", "reset", "malformed"])
def test_polling_faults_are_retried_and_nothing_is_lost(standin, tmp_path, fault):
    desk = make_desk(tmp_path, standin.api_urls(), timeout_ms=500)
    desk.on_bar(bar(0), 1)
    cid, _ = propose_and_approve(desk, 1, BTC=0.9)
    standin.inject(fault, path="/api/v3/myTrades")
    standin.inject(fault, path="/api/v3/order", method="GET")
    events = desk.on_bar(bar(1), 2)
    assert len([e for e in events if isinstance(e, Fill)]) == 1
    assert_ledger_matches(desk, standin, start_usdt=START)
    desk.close()


def test_an_unreachable_exchange_is_a_notice_and_the_next_bar_catches_up(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls(), timeout_ms=500)
    desk.on_bar(bar(0), 1)
    cid, _ = propose_and_approve(desk, 1, BTC=0.9)
    standin.inject("503", times=50)
    events = desk.on_bar(bar(1), 2)
    notices = [e.message for e in events if type(e).__name__ == "LogMessage" and e.level == "warning"]
    assert any("could not check order" in n and "ExchangeNotAvailable" in n for n in notices), notices
    assert desk.ledger.order(cid).status == "submitted"
    standin.clear_faults()
    events = desk.on_bar(bar(2), 3)
    assert len([e for e in events if isinstance(e, Fill)]) == 1
    assert_ledger_matches(desk, standin, start_usdt=START)
    desk.close()


def test_an_order_the_exchange_stops_finding_is_cancelled_only_after_three_bars(standin):
    broker = broker_for(standin)
    broker.submit(OrderRequest(client_order_id="pc-vanish-1", symbol="BTC/USDT", side=Side.BUY,
                               order_type="limit", quantity=0.01, limit_price=30_000.0))
    standin.book.orders.clear()  # as if the exchange lost track of it for a while
    for k in (1, 2):
        (notice,) = broker.on_bar(bar(k))
        assert f"does not find order pc-vanish-1 ({k}/3)" in notice.message
    (ack,) = broker.on_bar(bar(3))
    assert ack.status == "cancelled" and "no longer knows" in ack.message
