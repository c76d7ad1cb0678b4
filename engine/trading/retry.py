"""The live broker's exchange calls: which ccxt errors are retried, which refuse at once.

- Temporary (`ccxt.OperationFailed`: NetworkError, RequestTimeout,
  ExchangeNotAvailable, DDoSProtection, RateLimitExceeded, an exchange's
  "internal error", a malformed response): retried with exponential backoff
  and equal jitter, at most `max_retries` times and never past the call's
  budget, then `TemporaryExchangeError`. ccxt's own rate limiter
  (enableRateLimit) still spaces every request.
- `InsufficientFunds` → `InsufficientFunds`; `AuthenticationError`,
  `PermissionDenied`, `AccountSuspended` → `CredentialsRejected`;
  `InvalidOrder`, `BadRequest` and any other exchange error →
  `OrderRejected`. None of these is retried.
Every message passes through the redactor, so no credential can ride out
on an error text.
"""

from __future__ import annotations

import random
from typing import Callable, TypeVar

import ccxt

from engine.data.ccxt_feed import RetryPolicy, WallClock
from engine.errors import CredentialsRejected, ExchangeError, InsufficientFunds, OrderRejected, TemporaryExchangeError

T = TypeVar("T")
PARSE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError)
"""What ccxt raises when it tries to parse a body that is not the JSON it expected."""


def short(text: object, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def refused_before_processing(exc: BaseException) -> bool:
    """The exchange turned the request away unprocessed: sending it again cannot duplicate anything."""
    return isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded, ccxt.InvalidNonce))


def temporary(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.OperationFailed)


def refusal(exc: ccxt.BaseError, what: str, redact: Callable[[str], str]) -> ExchangeError:
    """A non-temporary ccxt error as the cockpit error that says what to do."""
    kind = type(exc).__name__
    detail = redact(short(exc))
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(f"{what}: the exchange says the balance is too small ({detail})",
                                 hint="not retried; a smaller order or a deposit would fit")
    if isinstance(exc, ccxt.AuthenticationError):  # PermissionDenied and AccountSuspended are subclasses
        return CredentialsRejected(
            f"{what}: the exchange refused the credentials ({kind}: {detail})",
            hint="not retried; check the API key and secret, that the key may trade spot, and its IP allow-list")
    if isinstance(exc, ccxt.InvalidNonce):
        return OrderRejected(f"{what}: the exchange refused the request time ({detail})",
                             hint="this machine's clock is off; check NTP (timedatectl)")
    return OrderRejected(f"{what}: the exchange refused it ({kind}: {detail})", hint="not retried")


def gave_up(exc: BaseException, what: str, attempts: int, redact: Callable[[str], str]) -> TemporaryExchangeError:
    return TemporaryExchangeError(
        f"{what} failed after {attempts} attempt(s): {type(exc).__name__}: {redact(short(exc))}",
        hint="the exchange or the network is having trouble; it is tried again later")


class Caller:
    """Runs one exchange call with the retry policy; sleeps only through `clock`."""

    def __init__(self, policy: RetryPolicy, clock: WallClock, *, budget_seconds: float,
                 redact: Callable[[str], str], seed: int | None = None) -> None:
        self.policy = policy
        self.clock = clock
        self.budget_seconds = budget_seconds
        self.redact = redact
        self.rng = random.Random(seed)

    def delay(self, attempt: int) -> float:
        return self.policy.delay(attempt, self.rng)

    def read(self, fn: Callable[[], T], what: str, *, check: Callable[[], bool] | None = None) -> T:
        """`fn()` retried on temporary errors; `check()` False means the body was not JSON."""
        deadline = self.clock.monotonic() + self.budget_seconds
        attempt = 0
        while True:
            try:
                try:
                    result = fn()
                except PARSE_ERRORS as exc:
                    raise ccxt.BadResponse(f"ccxt could not parse the response ({type(exc).__name__})") from exc
                if check is not None and not check():
                    raise ccxt.BadResponse("the response is not valid JSON")
                return result
            except ccxt.BaseError as exc:
                if not temporary(exc):
                    raise refusal(exc, what, self.redact) from None
                wait = self.delay(attempt)
                if attempt >= self.policy.max_retries or self.clock.monotonic() + wait > deadline:
                    raise gave_up(exc, what, attempt + 1, self.redact) from None
                self.clock.sleep(wait)
                attempt += 1
