"""The one error tree of the cockpit: each class tells the caller what to do."""

from __future__ import annotations


class CockpitError(Exception):
    """Base of every error the cockpit raises on purpose."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(CockpitError):
    """A bad configuration key or value: stop, naming the key and the file."""


class DataError(CockpitError):
    """Bad market data: names the file and the row."""


class NotReadyError(CockpitError):
    """A model was asked to predict before it was warmed up or fitted."""


class ModelError(CockpitError):
    """A model raised: fault its slot, keep the others running."""


class BudgetExceeded(CockpitError):
    """A model went over its RAM or latency budget: degrade it."""


class ExchangeError(CockpitError):
    """An exchange or network failure, translated from ccxt at the boundary."""


class TemporaryExchangeError(ExchangeError):
    """Worth retrying with backoff (network, timeout, rate limit)."""


class OrderRejected(ExchangeError):
    """The exchange refused the order; do not retry."""


class InsufficientFunds(OrderRejected):
    """Not enough balance for the order; do not retry."""


class CredentialsRejected(OrderRejected):
    """The exchange refused the API key (authentication or permission); do not retry."""


class LiveTradingNotEnabled(CockpitError):
    """Live trading was asked for without both opt-ins."""
