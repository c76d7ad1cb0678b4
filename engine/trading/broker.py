"""The broker interface the paper broker implements now and the live one later.

Contract, shared by every broker:
- The caller writes the order to the ledger (status "new") BEFORE `submit`,
  and records the returned `OrderAck` after it. `client_order_id` is the key
  everywhere: a live broker sends it to the exchange, so after a timeout or a
  crash it looks the order up by that id instead of sending it again.
- `on_bar(bar)` returns what happened since the last call (fills, order
  status changes) as plain reports; the caller applies each `FillReport` to
  the ledger (idempotent per `fill_id`) and turns them into engine events.
- `reconcile(orders)` is called once at start-up with the ledger's
  unfinished orders and answers, for each, what the broker knows.
- A broker may also offer `fit(order) -> OrderRequest`: the order rounded to
  what the venue accepts (or `OrderRejected` saying why); the caller records
  the fitted order, so the ledger holds exactly what is sent.
- Brokers own no threads; every call returns promptly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from engine.data.panel import Bar
from engine.events import Side

ORDER_TYPES = ("market", "limit")
STATUSES = ("new", "submitted", "partially_filled", "filled", "cancelled", "rejected")
OPEN_STATUSES = ("new", "submitted", "partially_filled")
"""Orders that may still fill. "new" = written to the ledger, sending not confirmed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    order_type: str
    quantity: float
    limit_price: float | None = None
    proposal_id: str = ""

    def __post_init__(self) -> None:
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order_type must be one of {ORDER_TYPES}, got {self.order_type!r}")
        if self.order_type == "limit" and not (self.limit_price is not None and self.limit_price > 0):
            raise ValueError(f"a limit order needs a positive limit_price, got {self.limit_price!r}")
        if not self.quantity > 0:
            raise ValueError(f"quantity must be > 0, got {self.quantity!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAck:
    """A broker's view of one order (answer to submit/cancel, or a status change)."""

    client_order_id: str
    order_id: str
    symbol: str
    side: Side
    order_type: str
    quantity: float
    limit_price: float | None
    status: str
    filled: float = 0.0
    average_price: float | None = None
    message: str = ""
    ts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FillReport:
    """One execution. `fill_id` is unique per execution: a repeated report is ignored."""

    fill_id: str
    client_order_id: str
    order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    ts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerNotice:
    """Something the trader should read that is not an order change (e.g. the exchange is unreachable)."""

    level: str  # "info" | "warning" | "error"
    message: str


BrokerReport = OrderAck | FillReport | BrokerNotice


@dataclass(frozen=True, slots=True, kw_only=True)
class Balances:
    cash: float
    positions: tuple[tuple[str, float], ...]

    def quantity(self, symbol: str) -> float:
        return dict(self.positions).get(symbol, 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownOrder:
    """What the ledger holds about an unfinished order (input to `reconcile`)."""

    request: OrderRequest
    order_id: str
    status: str
    filled: float
    placed_ts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileReport:
    """The broker's answer at start-up.

    `orders`: its current view of each order it knows; `fills`: executions the
    ledger may not have (duplicates are ignored by fill_id); `unknown`: client
    order ids it has never seen; `differences`: human-readable mismatches
    (balances, positions) to show before trading resumes.
    """

    orders: tuple[OrderAck, ...] = ()
    fills: tuple[FillReport, ...] = ()
    unknown: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()


@runtime_checkable
class Broker(Protocol):
    mode: str

    def submit(self, order: OrderRequest) -> OrderAck:
        """Send an order; returns its status ("submitted" or "rejected" with a reason)."""
        ...

    def cancel(self, client_order_id: str) -> OrderAck:
        """Cancel an open order; returns its final status."""
        ...

    def on_bar(self, bar: Bar) -> list[BrokerReport]:
        """Advance to a new bar; returns fills and order changes since the last call."""
        ...

    def open_orders(self) -> tuple[OrderAck, ...]:
        ...

    def balances(self) -> Balances:
        ...

    def reconcile(self, orders: Sequence[KnownOrder], *, cash: float,
                  positions: Sequence[tuple[str, float]]) -> ReconcileReport:
        """Compare the ledger's unfinished orders, cash and positions with the broker's."""
        ...
