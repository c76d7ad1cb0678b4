"""Rows of the ledger as frozen dataclasses, and their conversion from SQLite rows."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from engine.events import Side
from engine.trading.accounting import Position
from engine.trading.broker import KnownOrder, OrderRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    client_order_id: str
    order_id: str
    proposal_id: str
    mode: str
    symbol: str
    side: Side
    order_type: str
    quantity: float
    limit_price: float | None
    status: str
    filled: float
    average_price: float | None
    fees: float
    message: str
    placed_ts: int
    created_at: float
    updated_at: float

    @property
    def request(self) -> OrderRequest:
        return OrderRequest(client_order_id=self.client_order_id, symbol=self.symbol, side=self.side,
                            order_type=self.order_type, quantity=self.quantity, limit_price=self.limit_price,
                            proposal_id=self.proposal_id)

    def known(self) -> KnownOrder:
        return KnownOrder(request=self.request, order_id=self.order_id, status=self.status,
                          filled=self.filled, placed_ts=self.placed_ts)


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRecord:
    fill_id: str
    client_order_id: str
    order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    realized_pnl: float
    ts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedFill:
    fill: FillRecord
    order: OrderRecord
    position: Position
    cash: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountState:
    mode: str
    starting_cash: float
    cash: float
    fees_paid: float
    realized_pnl: float


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRecord:
    proposal_id: str
    ts: int
    created_at: float
    decided_at: float | None
    symbol: str
    side: str
    quantity: float
    price: float
    notional: float
    score: float
    outcome: str
    rule: str
    reason: str
    summary: str
    client_order_id: str
    contributions: tuple[dict[str, Any], ...]


def order_from_row(r: sqlite3.Row) -> OrderRecord:
    return OrderRecord(client_order_id=r["client_order_id"], order_id=r["order_id"], proposal_id=r["proposal_id"],
                       mode=r["mode"], symbol=r["symbol"], side=Side(r["side"]), order_type=r["order_type"],
                       quantity=r["quantity"], limit_price=r["limit_price"], status=r["status"], filled=r["filled"],
                       average_price=r["average_price"], fees=r["fees"], message=r["message"],
                       placed_ts=r["placed_ts"], created_at=r["created_at"], updated_at=r["updated_at"])


def fill_from_row(r: sqlite3.Row) -> FillRecord:
    return FillRecord(fill_id=r["fill_id"], client_order_id=r["client_order_id"], order_id=r["order_id"],
                      symbol=r["symbol"], side=Side(r["side"]), quantity=r["quantity"], price=r["price"],
                      fee=r["fee"], realized_pnl=r["realized_pnl"], ts=r["ts"])


def journal_from_row(r: sqlite3.Row) -> JournalRecord:
    return JournalRecord(proposal_id=r["proposal_id"], ts=r["ts"], created_at=r["created_at"],
                         decided_at=r["decided_at"], symbol=r["symbol"], side=r["side"], quantity=r["quantity"],
                         price=r["price"], notional=r["notional"], score=r["score"], outcome=r["outcome"],
                         rule=r["rule"], reason=r["reason"], summary=r["summary"],
                         client_order_id=r["client_order_id"],
                         contributions=tuple(json.loads(r["contributions"])))
