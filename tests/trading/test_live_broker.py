"""The live broker through the real ccxt binance client against the loopback stand-in.

The order path (ledger first, client order id, fills keyed by the exchange's
trade id), precision and limits, refusals that are not retried, cancels,
and start-up reconciliation.
"""

from __future__ import annotations

import pytest

from engine.errors import CredentialsRejected, InsufficientFunds, OrderRejected
from engine.events import Fill, LogMessage, OrderUpdate, ProposalResolved, Side
from engine.trading.broker import OrderRequest
from engine.trading.ledger import Ledger
from tests.standin_exchange import StandinExchange

from ._live_support import (
    KEY,
    PRICES,
    SYMBOLS,
    assert_ledger_matches,
    bar,
    make_broker,
    make_desk,
    propose_and_approve,
)

START = 10_000.0


@pytest.fixture
def standin():
    with StandinExchange(api_key=KEY, balances={"USDT": START}, timeout_fault_seconds=1.5) as server:
        for market, price in PRICES.items():
            server.set_price(market, price)
        yield server


def order(cid: str = "pc-test-1", *, side: Side = Side.BUY, qty: float = 0.01, order_type: str = "market",
          limit: float | None = None, symbol: str = "BTC/USDT") -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, order_type=order_type, quantity=qty,
                        limit_price=limit)


def test_an_approved_order_is_sent_once_with_its_client_id_and_its_fill_lands_in_the_ledger(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls())
    events = desk.on_bar(bar(0), 1)
    assert not [e for e in events if isinstance(e, LogMessage) and e.level == "warning"]
    cid, events = propose_and_approve(desk, 1, BTC=0.9)

    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert update.status == "submitted" and update.order_id
    sent = standin.book.order_by_client(cid)
    assert sent is not None and sent.status == "FILLED"
    assert standin.order_posts(cid) == 1 and standin.book.created[cid] == 1
    assert standin.book.api_keys and set(standin.book.api_keys) == {KEY}  # ccxt sent the key header
    # the ledger holds the order exactly as sent: rounded to the market's 0.00001 step
    record = desk.ledger.order(cid)
    assert record.quantity == pytest.approx(float(sent.quantity), abs=1e-12)
    assert round(record.quantity / 0.00001) * 0.00001 == pytest.approx(record.quantity, abs=1e-12)

    events = desk.on_bar(bar(1), 2)
    (fill,) = [e for e in events if isinstance(e, Fill)]
    (trade,) = standin.book.trades_of(sent.order_id)
    assert fill.quantity == pytest.approx(trade.qty) and fill.price == pytest.approx(trade.price)
    assert fill.fee == pytest.approx(trade.commission)  # the exchange's own commission
    assert desk.ledger.order(cid).status == "filled"
    assert_ledger_matches(desk, standin, start_usdt=START)
    assert desk.on_bar(bar(2), 3)[-1].open_orders == 0  # nothing reported twice
    assert len(desk.ledger.fills()) == 1
    desk.close()


def test_live_proposals_wait_for_the_trader_unless_an_auto_approve_rule_covers_them(standin, tmp_path):
    desk = make_desk(tmp_path / "manual", standin.api_urls())
    desk.on_bar(bar(0), 1)
    made = desk.propose(1, desk.ts, SYMBOLS, [0.9, 0.5], {}, list(PRICES.values()))
    assert [type(e).__name__ for e in made] == ["TradeProposal"]
    assert desk.ledger.orders() == () and standin.book.orders == {}
    desk.close()

    auto = make_desk(tmp_path / "auto", standin.api_urls(), auto_approve=True, auto_approve_max_notional=2_000.0)
    auto.on_bar(bar(0), 1)
    made = auto.propose(1, auto.ts, SYMBOLS, [0.9, 0.5], {}, list(PRICES.values()))
    (resolved,) = [e for e in made if isinstance(e, ProposalResolved)]
    assert resolved.outcome == "approved" and "auto-approved" in resolved.reason
    assert len(standin.book.orders) == 1
    auto.close()


def test_amounts_and_prices_are_rounded_to_the_market_before_sending(standin):
    broker = make_broker(standin)
    fitted = broker.fit(order(qty=0.0123456789, order_type="limit", limit=41_000.123456))
    assert fitted.quantity == pytest.approx(0.01234) and fitted.limit_price == pytest.approx(41_000.12)


@pytest.mark.parametrize(("request_", "why"), [
    (order(qty=0.000001), "rounds to 0"),
    (order(qty=0.0001), r"order value ≈4\.2 USDT is below BTC/USDT's minimum 5 USDT"),
    (order(qty=150.0), "above BTC/USDT's maximum 100 for a market order"),
    (order(order_type="limit", limit=0.001), "rounds to 0"),
    (order(symbol="DOGE/USDT"), "'DOGE/USDT' is not on the live watchlist"),
])
def test_orders_outside_the_market_limits_are_refused_before_sending(standin, tmp_path, request_, why):
    broker = make_broker(standin)
    with pytest.raises(OrderRejected, match=why):
        broker.fit(request_)
    assert standin.counts["/api/v3/order"] == 0


def test_a_refused_order_is_journalled_and_shown_and_the_desk_keeps_trading(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls())
    desk.on_bar(bar(0), 1)
    standin.book.set_free("USDT", 50.0)  # spent elsewhere since the desk started
    cid, events = propose_and_approve(desk, 1, BTC=0.9)

    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert update.status == "rejected" and "balance is too small" in update.message
    (resolved,) = [e for e in events if isinstance(e, ProposalResolved)]
    assert "order rejected" in resolved.reason and "balance is too small" in resolved.reason
    assert "balance is too small" in desk.ledger.journal(1)[0].reason
    assert standin.order_posts(cid) == 1 and standin.book.created[cid] == 0  # not retried

    standin.book.set_free("USDT", START)
    desk.on_bar(bar(1), 2)
    cid2, events = propose_and_approve(desk, 20, ETH=0.9)  # after the quiet bars
    assert [e.status for e in events if isinstance(e, OrderUpdate)] == ["submitted"]
    desk.close()


@pytest.mark.parametrize(("fault", "error", "text"), [
    ("401", CredentialsRejected, r"refused the credentials \(AuthenticationError"),
    ("permission", CredentialsRejected, r"refused the credentials \(PermissionDenied"),
    ("invalid", OrderRejected, r"refused it \(InvalidOrder"),
])
def test_refusals_are_not_retried(standin, fault, error, text):
    broker = make_broker(standin)
    broker.reconcile([], cash=START, positions=[])
    standin.inject(fault, path="/api/v3/order", method="POST")
    with pytest.raises(error, match=text) as info:
        broker.submit(order())
    assert standin.order_posts("pc-test-1") == 1 and standin.book.created["pc-test-1"] == 0
    assert KEY not in str(info.value)


def test_insufficient_funds_raises_the_cockpit_error(standin):
    broker = make_broker(standin)
    broker.reconcile([], cash=START, positions=[])
    with pytest.raises(InsufficientFunds, match="balance is too small"):
        broker.submit(order(qty=1.0))
    assert standin.order_posts("pc-test-1") == 1


def test_no_order_is_sent_before_reconciliation(standin):
    broker = make_broker(standin)
    with pytest.raises(OrderRejected, match="waits for the start-up reconciliation"):
        broker.submit(order())
    assert standin.counts["/api/v3/order"] == 0


def test_a_resting_limit_order_fills_when_the_price_crosses_and_can_be_cancelled(standin):
    broker = make_broker(standin)
    broker.reconcile([], cash=START, positions=[])
    ack = broker.submit(order("pc-limit-1", order_type="limit", limit=41_000.0))
    assert ack.status == "submitted" and ack.filled == 0
    assert [o.client_order_id for o in broker.open_orders()] == ["pc-limit-1"]
    assert standin.book.balance("USDT") == pytest.approx(START)  # reserved, not spent
    assert broker.on_bar(bar(1)) == []

    standin.set_price("BTCUSDT", 40_900.0)
    reports = broker.on_bar(bar(2, {"BTCUSDT": 40_900.0, "ETHUSDT": 2_300.0}))
    fill, ack = reports
    assert fill.price == pytest.approx(40_900.0) and fill.quantity == pytest.approx(0.01)
    assert broker.open_orders() == ()

    second = broker.submit(order("pc-limit-2", order_type="limit", limit=30_000.0))
    assert second.status == "submitted"
    cancelled = broker.cancel("pc-limit-2")
    assert cancelled.status == "cancelled"
    assert standin.book.order_by_client("pc-limit-2").status == "CANCELED"
    with pytest.raises(OrderRejected, match="no open live order"):
        broker.cancel("pc-limit-2")


def test_reconcile_shows_differences_and_stray_orders_before_trading(standin, tmp_path):
    standin.book.set_free("ETH", 0.5)  # bought outside the cockpit
    outside = make_broker(standin)
    outside.reconcile([], cash=START, positions=[])
    outside.submit(order("manual-1", order_type="limit", limit=30_000.0))

    desk = make_desk(tmp_path, standin.api_urls())
    events = desk.start()
    warnings = [e.message for e in events if isinstance(e, LogMessage) and e.level == "warning"]
    assert any("0.5 ETH" in w and "left alone" in w for w in warnings), warnings
    assert any("open order the ledger does not know" in w and "manual-1" in w for w in warnings), warnings
    desk.close()


def test_a_failed_reconciliation_blocks_orders_until_a_later_bar_succeeds(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls())
    standin.inject("401", times=1, path="/api/v3/openOrders")
    events = desk.start()
    assert any(isinstance(e, LogMessage) and "could not reconcile" in e.message for e in events)
    cid, events = propose_and_approve(desk, 1, BTC=0.9)
    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert update.status == "rejected" and "reconciliation" in update.message
    assert standin.counts["/api/v3/order"] == 0

    events = desk.on_bar(bar(1), 2)
    assert any(isinstance(e, LogMessage) and "trading resumes" in e.message for e in events)
    cid, events = propose_and_approve(desk, 30, ETH=0.9)
    assert [e.status for e in events if isinstance(e, OrderUpdate)] == ["submitted"]
    desk.close()


def test_the_live_ledger_is_separate_from_paper_rows(standin, tmp_path):
    desk = make_desk(tmp_path, standin.api_urls())
    desk.on_bar(bar(0), 1)
    propose_and_approve(desk, 1, BTC=0.9)
    desk.close()
    paper = Ledger.in_dir(tmp_path, mode="paper")
    assert paper.orders() == ()
    paper.close()


def test_the_live_exchange_is_rate_limited_and_can_use_the_test_network():
    from engine.errors import ConfigError
    from engine.trading.live_desk import live_exchange

    from ._live_support import CREDENTIALS

    real = live_exchange("binance", CREDENTIALS, recv_window_ms=3000)
    assert real.enableRateLimit and real.options["recvWindow"] == 3000
    assert real.apiKey == KEY and "testnet" not in real.urls["api"]["private"]
    test = live_exchange("binance", CREDENTIALS, sandbox=True)
    assert "testnet.binance.vision" in test.urls["api"]["private"]
    local = live_exchange("binance", CREDENTIALS, sandbox=True, api_urls={"private": "http://127.0.0.1:9/api/v3"})
    assert local.urls["api"]["private"] == "http://127.0.0.1:9/api/v3"  # overrides apply after the switch
    with pytest.raises(ConfigError, match="bitfinex has no test network"):
        live_exchange("bitfinex", CREDENTIALS, sandbox=True)


def test_proposals_estimate_fees_from_the_exchange_markets(standin, tmp_path):
    from engine.data.ccxt_feed import RetryPolicy
    from engine.trading.live_desk import open_live_desk
    from engine.trading.settings import RiskSettings, TradingSettings

    from ._live_support import CREDENTIALS, exchange_for

    exchange = exchange_for(standin.api_urls())
    exchange.load_markets()
    exchange.markets["ETH/USDT"]["taker"] = 0.0025
    desk = open_live_desk(settings=TradingSettings(mode="live", fee_bps=1.0), risk=RiskSettings(), exchange=exchange,
                          symbols=SYMBOLS, timeframe="1h", data_dir=tmp_path, policy=RetryPolicy(1, 0.01),
                          credentials=CREDENTIALS)
    assert desk.settings.fee_bps == pytest.approx(25.0) and desk.book.settings.fee_bps == pytest.approx(25.0)
    desk.close()
