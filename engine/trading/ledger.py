"""The ledger: orders, fills, cash, positions, risk days and the decision journal.

One SQLite file (`<data_dir>/ledger.sqlite`) in WAL mode with synchronous=FULL,
so a committed transaction survives a kill -9 or a power cut. The order path:
1. `record_order` writes the order as "new" (committed) BEFORE it is sent;
2. `update_order` records the broker's answer (order id, submitted/rejected);
3. `apply_fill` inserts the fill and moves the position, the cash and the
   order's filled quantity in ONE transaction. A fill whose `fill_id` is
   already stored is ignored, so a repeated report never counts twice.
A kill at any point leaves either all or none of a fill, and `audit()`
replays every fill to prove cash, positions and orders agree.

Positions are maintained transactionally (table `positions`) and are always
derivable from the fills (`audit` recomputes them). Rows carry the mode
("paper" or "live"); a Ledger instance reads and writes one mode.

Thread-safety: one connection guarded by a re-entrant lock; every public
method takes it, so one Ledger may be shared by threads (calls serialise).
Other processes may read the file concurrently (WAL); writers wait up to 5 s.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from engine.errors import DataError
from engine.events import Side
from engine.trading.accounting import Position, apply_fill, is_zero
from engine.trading.broker import OPEN_STATUSES, FillReport, OrderAck, OrderRequest
from engine.trading.records import (
    AccountState,
    AppliedFill,
    FillRecord,
    JournalRecord,
    OrderRecord,
    fill_from_row,
    journal_from_row,
    order_from_row,
)
from engine.trading.schema import MIGRATIONS, SCHEMA_VERSION

LEDGER_FILE = "ledger.sqlite"

_TERMINAL = ("filled", "cancelled", "rejected")
_ACK_STATUSES = ("submitted", "cancelled", "rejected")


class Ledger:
    """Durable record of one trading mode's orders, fills, cash, positions and decisions."""

    def __init__(self, path: str | Path, *, mode: str = "paper", starting_cash: float = 10_000.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.mode = mode
        self._clock = clock
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        except sqlite3.Error as exc:
            raise DataError(f"cannot open the ledger {self.path}: {exc}") from exc
        try:
            self._setup(float(starting_cash))
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise DataError(f"cannot open the ledger {self.path}: {exc}",
                            hint="move the file aside to start a fresh ledger") from exc
        except BaseException:
            self._conn.close()
            raise

    def _setup(self, starting_cash: float) -> None:
        self._conn.row_factory = sqlite3.Row
        journal_mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(journal_mode).lower() != "wal":
            raise DataError(f"the ledger {self.path} could not switch to WAL mode (got {journal_mode!r})")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO account (mode, starting_cash, cash, updated_at) VALUES (?, ?, ?, ?)",
                       (self.mode, starting_cash, starting_cash, self._clock()))

    @classmethod
    def in_dir(cls, data_dir: str | Path, **kwargs: Any) -> "Ledger":
        return cls(Path(data_dir) / LEDGER_FILE, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > SCHEMA_VERSION:
                raise DataError(f"the ledger {self.path} has schema version {current}, newer than this "
                                f"program's {SCHEMA_VERSION}", hint="upgrade pi-cockpit or use another data_dir")
            for version, sql in MIGRATIONS:
                if version > current:
                    for statement in sql.split(";"):
                        if statement.strip():
                            db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif current < SCHEMA_VERSION:
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT version FROM schema_version").fetchone()[0])

    # -- orders -------------------------------------------------------------------
    def record_order(self, request: OrderRequest, *, placed_ts: int = 0,
                     approval: str | None = None) -> OrderRecord:
        """Write an order as "new" (committed) before anyone sends it.

        With `approval` (a reason), the order's proposal is marked approved in
        the journal in the same transaction: a crash leaves both or neither.
        """
        now = self._clock()
        try:
            with self._tx() as db:
                if approval is not None and not self._decide(db, request.proposal_id, outcome="approved",
                                                             reason=approval, client_order_id=request.client_order_id):
                    raise ValueError(f"proposal {request.proposal_id!r} is not pending in the journal")
                db.execute(
                    "INSERT INTO orders (client_order_id, proposal_id, mode, symbol, side, order_type, quantity,"
                    " limit_price, status, placed_ts, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?)",
                    (request.client_order_id, request.proposal_id, self.mode, request.symbol, str(request.side),
                     request.order_type, request.quantity, request.limit_price, int(placed_ts), now, now))
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"order {request.client_order_id!r} is already in the ledger") from exc
        return self._order_or_fail(request.client_order_id)

    def update_order(self, ack: OrderAck) -> OrderRecord:
        """Record a broker's answer: order id, message, submitted/cancelled/rejected.

        Filled quantities come only from fills. A finished order (filled,
        cancelled, rejected) keeps its status; a partly filled one stays
        partially_filled until it is filled or cancelled.
        """
        with self._tx() as db:
            current = self._order_row(db, ack.client_order_id)
            if current is None:
                raise DataError(f"the broker reported order {ack.client_order_id!r}, which the ledger "
                                f"{self.path} does not hold")
            status = current["status"]
            if ack.status in _ACK_STATUSES and status not in _TERMINAL:
                if not (status == "partially_filled" and ack.status == "submitted"):
                    status = ack.status
            order_id = ack.order_id or current["order_id"]
            message = ack.message or current["message"]
            if (order_id, status, message) != (current["order_id"], current["status"], current["message"]):
                db.execute("UPDATE orders SET order_id = ?, status = ?, message = ?, updated_at = ?"
                           " WHERE client_order_id = ?",
                           (order_id, status, message, self._clock(), ack.client_order_id))
        return self._order_or_fail(ack.client_order_id)

    def order(self, client_order_id: str) -> OrderRecord | None:
        with self._lock:
            row = self._order_row(self._conn, client_order_id)
        return order_from_row(row) if row else None

    def orders(self, statuses: Sequence[str] | None = None, *, limit: int | None = None) -> tuple[OrderRecord, ...]:
        """Orders of this mode, oldest first (the newest `limit` when given)."""
        sql, args = "SELECT * FROM orders WHERE mode = ?", [self.mode]
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return tuple(order_from_row(r) for r in reversed(rows))

    def unfinished_orders(self) -> tuple[OrderRecord, ...]:
        return self.orders(OPEN_STATUSES)

    def _order_row(self, db: sqlite3.Connection, client_order_id: str) -> sqlite3.Row | None:
        return db.execute("SELECT * FROM orders WHERE client_order_id = ? AND mode = ?",
                          (client_order_id, self.mode)).fetchone()

    def _order_or_fail(self, client_order_id: str) -> OrderRecord:
        record = self.order(client_order_id)
        if record is None:
            raise DataError(f"order {client_order_id!r} vanished from the ledger {self.path}")
        return record

    # -- fills --------------------------------------------------------------------
    def apply_fill(self, fill: FillReport) -> AppliedFill | None:
        """Record one fill with its cash, position and order effects atomically; None if already recorded."""
        now = self._clock()
        with self._tx() as db:
            order = self._order_row(db, fill.client_order_id)
            if order is None:
                raise DataError(f"fill {fill.fill_id!r} is for order {fill.client_order_id!r}, which the ledger "
                                f"{self.path} does not hold")
            if db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone():
                return None
            effect = apply_fill(self._position(db, fill.symbol), fill.side, fill.quantity, fill.price, fill.fee)
            db.execute("INSERT INTO fills (fill_id, client_order_id, order_id, mode, symbol, side, quantity, price,"
                       " fee, realized_pnl, ts, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (fill.fill_id, fill.client_order_id, fill.order_id, self.mode, fill.symbol, str(fill.side),
                        fill.quantity, fill.price, fill.fee, effect.realized_delta, int(fill.ts), now))
            self._write_position(db, fill.symbol, effect.position, now)
            self._write_account(db, effect.cash_delta, fill.fee, effect.realized_delta, now)
            filled = order["filled"] + fill.quantity
            average = ((order["average_price"] or 0.0) * order["filled"] + fill.price * fill.quantity) / filled
            status = "filled" if filled >= order["quantity"] * (1 - 1e-9) else "partially_filled"
            if order["status"] in ("cancelled", "rejected"):
                status = order["status"]  # a late fill of a finished order still counts, its status stays
            db.execute("UPDATE orders SET filled = ?, average_price = ?, fees = fees + ?, status = ?,"
                       " order_id = COALESCE(NULLIF(order_id, ''), ?), updated_at = ? WHERE client_order_id = ?",
                       (filled, average, fill.fee, status, fill.order_id, now, fill.client_order_id))
            cash = db.execute("SELECT cash FROM account WHERE mode = ?", (self.mode,)).fetchone()[0]
        record = FillRecord(fill_id=fill.fill_id, client_order_id=fill.client_order_id, order_id=fill.order_id,
                            symbol=fill.symbol, side=Side(fill.side), quantity=fill.quantity, price=fill.price,
                            fee=fill.fee, realized_pnl=effect.realized_delta, ts=int(fill.ts))
        return AppliedFill(fill=record, order=self._order_or_fail(fill.client_order_id),
                           position=effect.position, cash=float(cash))

    def _position(self, db: sqlite3.Connection, symbol: str) -> Position:
        row = db.execute("SELECT quantity, average_price, realized_pnl FROM positions WHERE mode = ? AND symbol = ?",
                         (self.mode, symbol)).fetchone()
        return Position(quantity=row[0], average_price=row[1], realized_pnl=row[2]) if row else Position()

    def _write_position(self, db: sqlite3.Connection, symbol: str, pos: Position, now: float) -> None:
        db.execute("INSERT INTO positions (mode, symbol, quantity, average_price, realized_pnl, updated_at)"
                   " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (mode, symbol) DO UPDATE SET quantity = excluded.quantity,"
                   " average_price = excluded.average_price, realized_pnl = excluded.realized_pnl,"
                   " updated_at = excluded.updated_at",
                   (self.mode, symbol, pos.quantity, pos.average_price, pos.realized_pnl, now))

    def _write_account(self, db: sqlite3.Connection, cash_delta: float, fee: float, realized: float,
                       now: float) -> None:
        db.execute("UPDATE account SET cash = cash + ?, fees_paid = fees_paid + ?, realized_pnl = realized_pnl + ?,"
                   " updated_at = ? WHERE mode = ?", (cash_delta, fee, realized, now, self.mode))

    def fills(self, symbol: str | None = None) -> tuple[FillRecord, ...]:
        sql, args = "SELECT * FROM fills WHERE mode = ?", [self.mode]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY rowid", args).fetchall()
        return tuple(fill_from_row(r) for r in rows)

    def last_losses(self) -> dict[str, int]:
        """Per symbol, the market time (ns) of its latest fill that realised a loss (net of fees)."""
        with self._lock:
            rows = self._conn.execute("SELECT symbol, MAX(ts) FROM fills WHERE mode = ? AND realized_pnl < 0"
                                      " GROUP BY symbol", (self.mode,)).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # -- account and positions ----------------------------------------------------
    def account(self) -> AccountState:
        with self._lock:
            row = self._conn.execute("SELECT * FROM account WHERE mode = ?", (self.mode,)).fetchone()
        return AccountState(mode=self.mode, starting_cash=row["starting_cash"], cash=row["cash"],
                            fees_paid=row["fees_paid"], realized_pnl=row["realized_pnl"])

    def cash(self) -> float:
        return self.account().cash

    def position(self, symbol: str) -> Position:
        with self._lock:
            return self._position(self._conn, symbol)

    def positions(self) -> tuple[tuple[str, Position], ...]:
        """Every symbol ever traded in this mode (flat ones keep their realised PnL), by symbol."""
        with self._lock:
            rows = self._conn.execute("SELECT symbol, quantity, average_price, realized_pnl FROM positions"
                                      " WHERE mode = ? ORDER BY symbol", (self.mode,)).fetchall()
        return tuple((r[0], Position(quantity=r[1], average_price=r[2], realized_pnl=r[3])) for r in rows)

    def audit(self) -> tuple[str, ...]:
        """Replay every fill and list where cash, positions or orders disagree (empty = consistent)."""
        with self._lock:
            account = self.account()
            fills = self.fills()
            stored = dict(self.positions())
            orders = {o.client_order_id: o for o in self.orders()}
        problems: list[str] = []
        cash, fees = account.starting_cash, 0.0
        derived: dict[str, Position] = {}
        per_order: dict[str, float] = {}
        for f in fills:
            effect = apply_fill(derived.get(f.symbol, Position()), f.side, f.quantity, f.price, f.fee)
            derived[f.symbol] = effect.position
            cash += effect.cash_delta
            fees += f.fee
            per_order[f.client_order_id] = per_order.get(f.client_order_id, 0.0) + f.quantity
        if not _close(cash, account.cash):
            problems.append(f"cash {account.cash:.8f} ≠ {cash:.8f} replayed from {len(fills)} fills")
        if not _close(fees, account.fees_paid):
            problems.append(f"fees_paid {account.fees_paid:.8f} ≠ {fees:.8f} from the fills")
        for symbol in sorted(set(derived) | set(stored)):
            want, have = derived.get(symbol, Position()), stored.get(symbol, Position())
            if not (_close(want.quantity, have.quantity) and _close(want.average_price, have.average_price)
                    and _close(want.realized_pnl, have.realized_pnl)):
                problems.append(f"position {symbol} {have} ≠ {want} replayed from the fills")
        for cid, order in orders.items():
            done = per_order.get(cid, 0.0)
            if not _close(done, order.filled):
                problems.append(f"order {cid} says filled {order.filled:g}, its fills sum to {done:g}")
            full = done >= order.quantity * (1 - 1e-9)
            if order.status == "filled" and not full:
                problems.append(f"order {cid} is 'filled' with {done:g} of {order.quantity:g}")
            if order.status in ("new", "submitted") and done > 0:
                problems.append(f"order {cid} is {order.status!r} but has fills ({done:g})")
        return tuple(problems)

    # -- the risk day (daily loss kill switch) --------------------------------------
    def day(self, day: str) -> tuple[float, str] | None:
        """(start equity, halted reason) of a UTC day ("YYYY-MM-DD"), None if not started."""
        with self._lock:
            row = self._conn.execute("SELECT start_equity, halted_reason FROM risk_days WHERE mode = ? AND day = ?",
                                     (self.mode, day)).fetchone()
        return (float(row[0]), str(row[1])) if row else None

    def start_day(self, day: str, start_equity: float) -> tuple[float, str]:
        """Record the day's starting equity unless already recorded; returns the stored row."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO risk_days (mode, day, start_equity) VALUES (?, ?, ?)",
                       (self.mode, day, float(start_equity)))
        return self.day(day)  # type: ignore[return-value]

    def halt_day(self, day: str, reason: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE risk_days SET halted_reason = ? WHERE mode = ? AND day = ? AND halted_reason = ''",
                       (reason, self.mode, day))

    # -- the decision journal ------------------------------------------------------
    def journal_open(self, *, proposal_id: str, ts: int, symbol: str, side: str, quantity: float, price: float,
                     notional: float, score: float, summary: str, contributions: Sequence[dict[str, Any]],
                     outcome: str = "pending", rule: str = "", reason: str = "") -> None:
        """Write a proposal's journal row (outcome "pending" until decided, or already decided)."""
        now = self._clock()
        with self._tx() as db:
            db.execute("INSERT INTO journal (proposal_id, mode, ts, created_at, decided_at, symbol, side, quantity,"
                       " price, notional, score, outcome, rule, reason, summary, contributions)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (proposal_id, self.mode, int(ts), now, None if outcome == "pending" else now, symbol, side,
                        quantity, price, notional, _finite(score), outcome, rule, reason, summary,
                        json.dumps(_jsonable(list(contributions)), allow_nan=False, default=str)))

    def journal_decide(self, proposal_id: str, *, outcome: str, reason: str = "", rule: str = "",
                       client_order_id: str = "") -> bool:
        """Record a pending proposal's outcome; False if it was not pending (decided once only)."""
        with self._tx() as db:
            return self._decide(db, proposal_id, outcome=outcome, reason=reason, rule=rule,
                                client_order_id=client_order_id)

    def _decide(self, db: sqlite3.Connection, proposal_id: str, *, outcome: str, reason: str, rule: str = "",
                client_order_id: str = "") -> bool:
        cur = db.execute("UPDATE journal SET outcome = ?, reason = ?, rule = ?, client_order_id = ?,"
                         " decided_at = ? WHERE proposal_id = ? AND mode = ? AND outcome = 'pending'",
                         (outcome, reason, rule, client_order_id, self._clock(), proposal_id, self.mode))
        return cur.rowcount == 1

    def journal_note(self, proposal_id: str, note: str) -> None:
        """Append what happened after the decision (e.g. the broker refused the order)."""
        with self._tx() as db:
            db.execute("UPDATE journal SET reason = reason || ? WHERE proposal_id = ? AND mode = ?",
                       (f"; {note}", proposal_id, self.mode))

    def journal(self, limit: int = 50, *, outcome: str | None = None) -> tuple[JournalRecord, ...]:
        """The newest `limit` journal rows, newest first."""
        sql, args = "SELECT * FROM journal WHERE mode = ?", [self.mode]
        if outcome is not None:
            sql += " AND outcome = ?"
            args.append(outcome)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id DESC LIMIT ?", args + [int(limit)]).fetchall()
        return tuple(journal_from_row(r) for r in rows)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or is_zero(a - b, max(abs(a), abs(b)))


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def _jsonable(value: Any) -> Any:
    """JSON has no NaN: a value a source could not give becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
