"""Shared pieces of the live-trading tests: the real ccxt binance client pointed at the stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from engine.data.ccxt_feed import RetryPolicy
from engine.data.panel import Bar
from engine.trading.desk import TradingDesk
from engine.trading.live import LiveBroker
from engine.trading.live_desk import live_exchange, open_live_desk
from engine.trading.secrets import Credentials
from engine.trading.settings import RiskSettings, TradingSettings

SYMBOLS = ("BTC/USDT", "ETH/USDT")
MARKET_IDS = ("BTCUSDT", "ETHUSDT")
PRICES = {"BTCUSDT": 42_000.0, "ETHUSDT": 2_300.0}
KEY = "StandinApiKey" + "Kq7Zp" * 10
SECRET = "StandinSecret" + "Sx3Wm" * 10
CREDENTIALS = Credentials(KEY, SECRET, "test")
BAR_NS = 3600 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000


def exchange_for(api_urls: Mapping[str, str], *, timeout_ms: int = 1000, recv_window_ms: int = 1500):
    exchange = live_exchange("binance", CREDENTIALS, api_urls=api_urls, timeout_ms=timeout_ms,
                             recv_window_ms=recv_window_ms, rate_limit_ms=1)
    exchange.session.trust_env = False  # never route loopback requests through a proxy
    return exchange


def make_broker(standin, *, timeout_ms: int = 1000, recv_window_ms: int = 1500, max_retries: int = 3,
                connect: bool = True, budget_seconds: float = 30.0) -> LiveBroker:
    broker = LiveBroker(exchange_for(standin.api_urls(), timeout_ms=timeout_ms, recv_window_ms=recv_window_ms),
                        SYMBOLS, policy=RetryPolicy(max_retries, 0.01, 0.05), recv_window_ms=recv_window_ms,
                        budget_seconds=budget_seconds, redact=CREDENTIALS.redactor(), seed=1)
    if connect:
        broker.connect()
    return broker


def make_desk(data_dir: Path, api_urls: Mapping[str, str], *, timeout_ms: int = 1000, recv_window_ms: int = 1500,
              **settings: object) -> TradingDesk:
    params: dict[str, object] = {"mode": "live", "recv_window_ms": recv_window_ms}
    params.update(settings)
    return open_live_desk(settings=TradingSettings(**params), risk=RiskSettings(),  # type: ignore[arg-type]
                          exchange=exchange_for(api_urls, timeout_ms=timeout_ms, recv_window_ms=recv_window_ms),
                          symbols=SYMBOLS, timeframe="1h", data_dir=Path(data_dir),
                          policy=RetryPolicy(3, 0.01, 0.05), credentials=CREDENTIALS)


def bar(i: int, prices: Mapping[str, float] = PRICES) -> Bar:
    closes = np.array([prices[m] for m in MARKET_IDS], dtype=np.float64)
    return Bar(T0 + i * BAR_NS, closes.copy(), closes.copy(), closes.copy(), closes.copy(), np.ones(len(closes)))


def scores(**by_base: float) -> list[float]:
    return [by_base.get(s.split("/")[0], 0.5) for s in SYMBOLS]


def propose_and_approve(desk: TradingDesk, cycle: int, **by_base: float) -> tuple[str, list]:
    """A proposal for the given scores, approved; (its client order id, the events)."""
    prices = [PRICES[m] for m in MARKET_IDS]
    made = desk.propose(cycle, desk.ts, SYMBOLS, scores(**by_base), {}, prices)
    (proposal,) = [e for e in made if type(e).__name__ == "TradeProposal"]
    events = desk.approve(proposal.proposal_id)
    (order,) = desk.ledger.orders()[-1:]
    return order.client_order_id, events


def assert_ledger_matches(desk: TradingDesk, standin, *, start_usdt: float) -> None:
    """The ledger's cash and BTC equal the stand-in's balances; every fill replays cleanly."""
    ledger = desk.ledger
    assert ledger.audit() == ()
    assert ledger.account().starting_cash == start_usdt
    assert abs(ledger.cash() - standin.book.balance("USDT")) < 1e-6
    for symbol, market in zip(SYMBOLS, MARKET_IDS):
        base = market.removesuffix("USDT")
        assert abs(ledger.position(symbol).quantity - standin.book.balance(base)) < 1e-9, symbol
