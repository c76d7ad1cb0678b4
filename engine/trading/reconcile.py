"""Start-up reconciliation arithmetic: what the ledger will hold once the exchange's fills are in,
and how that differs from the exchange's balances.

Pure functions over plain values; the live broker fetches, these compare.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from engine.events import Side
from engine.trading.broker import FillReport


def unseen_fills(fills: Sequence[FillReport], ledger_filled: float) -> list[FillReport]:
    """The fills of one order beyond the quantity the ledger already holds (oldest first)."""
    remaining = ledger_filled
    out = []
    for fill in sorted(fills, key=lambda f: (f.ts, f.fill_id)):
        if remaining > fill.quantity * 1e-9:
            remaining -= fill.quantity
            continue
        out.append(fill)
    return out


def expected_after(cash: float, positions: Mapping[str, float],
                   fills: Iterable[FillReport]) -> tuple[float, dict[str, float]]:
    """The ledger's cash and quantities once `fills` are applied (the ledger's own rules)."""
    held = dict(positions)
    for f in fills:
        sign = 1.0 if f.side is Side.BUY else -1.0
        cash -= sign * f.quantity * f.price + f.fee
        held[f.symbol] = held.get(f.symbol, 0.0) + sign * f.quantity
    return cash, held


def _differ(a: float, b: float) -> bool:
    return abs(a - b) > max(1e-8, 1e-6 * max(abs(a), abs(b)))


def balance_differences(*, exchange_id: str, quote: str, exchange_cash: float, ledger_cash: float,
                        exchange_held: Mapping[str, float], ledger_held: Mapping[str, float],
                        bases: Mapping[str, str]) -> list[str]:
    """Human-readable mismatches between the exchange's totals and the ledger's (after its fills)."""
    out = []
    if _differ(exchange_cash, ledger_cash):
        out.append(f"{exchange_id} holds {exchange_cash:,.8g} {quote}, the ledger {ledger_cash:,.8g} {quote} "
                   f"({exchange_cash - ledger_cash:+,.8g}): deposits, withdrawals or trades outside the cockpit? "
                   "The ledger keeps its own figure")
    for symbol in sorted(set(bases) & (set(exchange_held) | set(ledger_held))):
        base = bases[symbol]
        theirs, ours = exchange_held.get(symbol, 0.0), ledger_held.get(symbol, 0.0)
        if not _differ(theirs, ours):
            continue
        if theirs < ours:
            out.append(f"{exchange_id} holds {theirs:.10g} {base}, the ledger {ours:.10g}: "
                       f"{ours - theirs:.10g} {base} the ledger counts are not on the exchange")
        else:
            out.append(f"{exchange_id} holds {theirs:.10g} {base}, the ledger {ours:.10g}: the other "
                       f"{theirs - ours:.10g} {base} were not bought by the cockpit and are left alone")
    return out
