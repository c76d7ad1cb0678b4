"""Opening a live desk: credentials, the ccxt exchange, a pre-flight check, the ledger.

Both opt-ins (engine/trading/live_opt_in.py) are checked before this.
Prices must come from the same exchange (`[data] source = "ccxt"`). The
ledger of a live account is `<data dir>/live/<exchange>/` (`<exchange>-sandbox`
on a test network); a new one starts with the exchange's quote balance as
its cash.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping, Sequence

import ccxt

from engine.data.ccxt_feed import RetryPolicy, make_exchange
from engine.errors import ConfigError
from engine.trading.desk import TradingDesk
from engine.trading.ledger import Ledger
from engine.trading.live import LiveBroker
from engine.trading.secrets import Credentials, load_credentials
from engine.trading.settings import RiskSettings, TradingSettings


def live_exchange(exchange_id: str, credentials: Credentials, *, api_urls: Mapping[str, str] | None = None,
                  timeout_ms: int = 10_000, sandbox: bool = False, recv_window_ms: int = 5000,
                  rate_limit_ms: int | None = None) -> ccxt.Exchange:
    """A rate-limited ccxt exchange holding the credentials; `api_urls` apply after the sandbox switch."""
    options = {"recvWindow": int(recv_window_ms), "warnOnFetchOpenOrdersWithoutSymbol": False,
               "fetchMargins": False}
    exchange = make_exchange(exchange_id, timeout_ms=timeout_ms, options=options, rate_limit_ms=rate_limit_ms)
    exchange.apiKey = credentials.api_key
    exchange.secret = credentials.secret
    if sandbox:
        if not exchange.urls.get("test"):
            raise ConfigError(f"{exchange_id} has no test network in ccxt", hint="set [trading] sandbox = false")
        exchange.set_sandbox_mode(True)
    if api_urls:
        current = exchange.urls.get("api")
        unknown = sorted(set(api_urls) - set(current)) if isinstance(current, dict) else sorted(api_urls)
        if unknown:
            raise ConfigError(f"{exchange_id} has no API URL entry {unknown[0]!r}")
        exchange.urls = {**exchange.urls, "api": {**current, **api_urls}}
    return exchange


def live_dir(data_dir: Path, exchange_id: str, sandbox: bool) -> Path:
    return data_dir / "live" / (f"{exchange_id}-sandbox" if sandbox else exchange_id)


def open_live_desk(*, settings: TradingSettings, risk: RiskSettings, exchange: ccxt.Exchange,
                   symbols: Sequence[str], timeframe: str, data_dir: Path, policy: RetryPolicy,
                   credentials: Credentials) -> TradingDesk:
    """Connect (markets and balances: a refused key or an unknown symbol stops here), then open the ledger.

    Proposals estimate fees at the markets' highest taker fee instead of `fee_bps`.
    """
    broker = LiveBroker(exchange, symbols, policy=policy, recv_window_ms=settings.recv_window_ms,
                        redact=credentials.redactor())
    balances = broker.connect()
    settings = dataclasses.replace(settings, fee_bps=max(r.taker for r in broker.rules.values()) * 1e4)
    ledger = Ledger.in_dir(data_dir, mode="live", starting_cash=balances.cash)
    return TradingDesk(settings, risk, ledger=ledger, broker=broker, symbols=symbols, timeframe=timeframe)


def build_live_desk(config, symbols: Sequence[str], timeframe: str, *,  # noqa: ANN001 - engine.config.Config
                    env: Mapping[str, str] | None = None) -> TradingDesk:
    """The live desk the config describes (opt-ins already checked)."""
    where = config.source_file or "config"
    if config.data.source != "ccxt":
        raise ConfigError(f'{where}: live trading needs live prices from the exchange: set [data] source = "ccxt" '
                          f'(now "{config.data.source}")')
    t, c = config.trading, config.ccxt
    credentials = load_credentials(t.key_file, env=env)
    exchange = live_exchange(c.exchange, credentials, api_urls=dict(c.api_urls) or None, timeout_ms=c.timeout_ms,
                             sandbox=t.sandbox, recv_window_ms=t.recv_window_ms)
    directory = live_dir(config.data_dir(), c.exchange, t.sandbox)
    return open_live_desk(settings=t, risk=config.risk, exchange=exchange, symbols=symbols, timeframe=timeframe,
                          data_dir=directory, policy=RetryPolicy(c.max_retries, c.backoff_seconds),
                          credentials=credentials)
