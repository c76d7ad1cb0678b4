"""The ledger's SQLite schema and its migrations (append a step, never edit one)."""

from __future__ import annotations

SCHEMA_VERSION = 1

_SCHEMA_V1 = """
CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL DEFAULT '',
    proposal_id     TEXT NOT NULL DEFAULT '',
    mode            TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type      TEXT NOT NULL CHECK (order_type IN ('market', 'limit')),
    quantity        REAL NOT NULL CHECK (quantity > 0),
    limit_price     REAL,
    status          TEXT NOT NULL CHECK (status IN
                    ('new', 'submitted', 'partially_filled', 'filled', 'cancelled', 'rejected')),
    filled          REAL NOT NULL DEFAULT 0,
    average_price   REAL,
    fees            REAL NOT NULL DEFAULT 0,
    message         TEXT NOT NULL DEFAULT '',
    placed_ts       INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX orders_status ON orders (mode, status);
CREATE TABLE fills (
    fill_id         TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    order_id        TEXT NOT NULL DEFAULT '',
    mode            TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    quantity        REAL NOT NULL CHECK (quantity > 0),
    price           REAL NOT NULL CHECK (price > 0),
    fee             REAL NOT NULL CHECK (fee >= 0),
    realized_pnl    REAL NOT NULL,
    ts              INTEGER NOT NULL,
    recorded_at     REAL NOT NULL
);
CREATE INDEX fills_order ON fills (client_order_id);
CREATE TABLE account (
    mode            TEXT PRIMARY KEY,
    starting_cash   REAL NOT NULL,
    cash            REAL NOT NULL,
    fees_paid       REAL NOT NULL DEFAULT 0,
    realized_pnl    REAL NOT NULL DEFAULT 0,
    updated_at      REAL NOT NULL
);
CREATE TABLE positions (
    mode            TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    quantity        REAL NOT NULL,
    average_price   REAL NOT NULL,
    realized_pnl    REAL NOT NULL,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (mode, symbol)
);
CREATE TABLE risk_days (
    mode            TEXT NOT NULL,
    day             TEXT NOT NULL,
    start_equity    REAL NOT NULL,
    halted_reason   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mode, day)
);
CREATE TABLE journal (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id     TEXT NOT NULL UNIQUE,
    mode            TEXT NOT NULL,
    ts              INTEGER NOT NULL,
    created_at      REAL NOT NULL,
    decided_at      REAL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    quantity        REAL NOT NULL,
    price           REAL NOT NULL,
    notional        REAL NOT NULL,
    score           REAL NOT NULL,
    outcome         TEXT NOT NULL,
    rule            TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    summary         TEXT NOT NULL DEFAULT '',
    client_order_id TEXT NOT NULL DEFAULT '',
    contributions   TEXT NOT NULL DEFAULT '[]'
);
"""

MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _SCHEMA_V1),)
"""(version, SQL) in order; a new schema appends a step, never edits an old one."""
