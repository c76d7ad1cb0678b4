"""Trading and risk settings: frozen dataclasses whose defaults ARE the defaults.

The lead maps `config.toml` ([trading], [risk]) onto these. A risk limit ≤ 0
switches that rule off.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ConfigError

MODES = ("paper", "live")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")


def _at_least_zero(name: str, value: float) -> None:
    if not value >= 0:
        raise ConfigError(f"{name} must be ≥ 0, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingSettings:
    mode: str = "paper"
    starting_cash: float = 10_000.0
    """Cash of a new paper account; an existing ledger keeps its own balance."""
    fee_bps: float = 10.0
    slippage_bps: float = 5.0
    order_notional: float = 1_000.0
    """Size of an entry, in quote currency, before risk caps it."""
    buy_threshold: float = 0.6
    sell_threshold: float = 0.45
    max_per_cycle: int = 3
    timeout_seconds: float = 60.0
    auto_approve: bool = False
    auto_approve_max_notional: float = 0.0
    """With auto_approve on, proposals up to this notional skip the dialog (still risk-checked)."""
    min_notional: float = 10.0
    """A proposal smaller than this (after the risk cap) is not made."""
    quiet_bars: int = 12
    """After a rejected or expired proposal, that symbol gets no new one for this many bars."""
    key_file: str = ""
    """Live only: a TOML file (mode 0600) with api_key and secret; "" = the environment variables only."""
    sandbox: bool = False
    """Live only: trade on the exchange's test network (ccxt set_sandbox_mode)."""
    recv_window_ms: int = 5000
    """Live only: the exchange refuses a signed request this late; an order in doubt is resent only after it."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"trading.mode must be one of {MODES}, got {self.mode!r}")
        _positive("trading.starting_cash", self.starting_cash)
        _at_least_zero("trading.fee_bps", self.fee_bps)
        _at_least_zero("trading.slippage_bps", self.slippage_bps)
        _positive("trading.order_notional", self.order_notional)
        _positive("trading.timeout_seconds", self.timeout_seconds)
        _at_least_zero("trading.min_notional", self.min_notional)
        _at_least_zero("trading.quiet_bars", self.quiet_bars)
        _at_least_zero("trading.auto_approve_max_notional", self.auto_approve_max_notional)
        if not 100 <= self.recv_window_ms <= 60_000:
            raise ConfigError(f"trading.recv_window_ms must be between 100 and 60000, got {self.recv_window_ms!r}")
        if self.max_per_cycle < 1:
            raise ConfigError(f"trading.max_per_cycle must be ≥ 1, got {self.max_per_cycle!r}")
        if not 0.0 <= self.sell_threshold < self.buy_threshold <= 1.0:
            raise ConfigError(
                f"need 0 ≤ trading.sell_threshold < trading.buy_threshold ≤ 1, "
                f"got {self.sell_threshold!r} and {self.buy_threshold!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskSettings:
    max_position_notional: float = 2_000.0
    """Largest exposure (quantity × last price + open buy orders) in one symbol."""
    max_open_positions: int = 3
    """Symbols held or with an open buy order, at most."""
    max_daily_loss: float = 300.0
    """Equity drop since the UTC day's start that halts new entries for the rest of the day."""
    cooldown_bars: int = 12
    """Bars during which a symbol takes no new entry after a losing exit."""

    def __post_init__(self) -> None:
        for name in ("max_position_notional", "max_open_positions", "max_daily_loss", "cooldown_bars"):
            _at_least_zero(f"risk.{name}", getattr(self, name))
