"""The order path shared by paper and live: ledger first, then the broker, then the ledger again.

`place` commits the order as "new" before `broker.submit`, so a crash while
sending leaves a trace; `apply` records each broker report (fills atomically,
duplicates ignored); `reconcile` settles the ledger's unfinished orders with
the broker at start-up.

Restart rule for orders left unfinished by a crash:
- "submitted"/"partially_filled": the broker is asked (`reconcile`); the
  paper broker resumes them, so they fill on the next bar by the usual rules.
- "new" (written, sending not confirmed) that the broker does not know: it
  never left; it is marked cancelled and NOT resent (the trader approved it
  at a price that is now stale).
- Known to the ledger as submitted but unknown to the broker: cancelled,
  with a message saying so.
"""

from __future__ import annotations

import uuid
from typing import Sequence

from engine.errors import ExchangeError, OrderRejected
from engine.events import Event, Fill, LogMessage, OrderUpdate
from engine.trading.broker import Broker, BrokerNotice, BrokerReport, FillReport, OrderAck, OrderRequest
from engine.trading.ledger import Ledger
from engine.trading.records import OrderRecord


def new_client_order_id() -> str:
    """Short (≤ 36 chars, as exchanges require), unique, and recognisable as ours."""
    return "pc-" + uuid.uuid4().hex[:20]


def order_update(record: OrderRecord, *, source: str, cycle: int, ts: int) -> OrderUpdate:
    return OrderUpdate(source=source, cycle=cycle, ts=ts, order_id=record.order_id,
                       client_order_id=record.client_order_id, symbol=record.symbol, side=record.side,
                       order_type=record.order_type, quantity=record.quantity, limit_price=record.limit_price,
                       status=record.status, filled=record.filled, average_price=record.average_price,
                       message=record.message)


class OrderRouter:
    def __init__(self, ledger: Ledger, broker: Broker, *, source: str = "broker") -> None:
        self.ledger = ledger
        self.broker = broker
        self.source = source

    def place(self, request: OrderRequest, *, placed_ts: int, cycle: int,
              approval: str | None = None) -> tuple[OrderRecord, list[Event]]:
        """Ledger ("new", plus the journal's approval when given), then the broker, then the ledger."""
        refused = ""
        fit = getattr(self.broker, "fit", None)
        if fit is not None:
            try:
                request = fit(request)
            except OrderRejected as exc:
                refused = str(exc)
        self.ledger.record_order(request, placed_ts=placed_ts, approval=approval)
        try:
            if refused:
                raise OrderRejected(refused)
            ack = self.broker.submit(request)
        except OrderRejected as exc:
            ack = self._ack(request, "rejected", str(exc))
        except ExchangeError as exc:
            # the order may or may not have arrived: keep it "new", reconcile looks it up by client id
            ack = self._ack(request, "new", f"send outcome unknown ({exc}); reconciled at the next start")
        record = self.ledger.update_order(ack)
        return record, [order_update(record, source=self.source, cycle=cycle, ts=placed_ts)]

    def cancel(self, client_order_id: str, *, cycle: int, ts: int) -> list[Event]:
        ack = self.broker.cancel(client_order_id)
        record = self.ledger.update_order(ack)
        return [order_update(record, source=self.source, cycle=cycle, ts=ts)]

    def apply(self, reports: Sequence[BrokerReport], *, cycle: int, ts: int) -> list[Event]:
        """Record broker reports in the ledger; events only for what changed it."""
        events: list[Event] = []
        for report in reports:
            if isinstance(report, BrokerNotice):
                events.append(LogMessage(source=self.source, cycle=cycle, ts=ts, level=report.level,
                                         message=report.message))
                continue
            if isinstance(report, FillReport):
                applied = self.ledger.apply_fill(report)
                if applied is None:
                    continue
                events.append(Fill(source=self.source, cycle=cycle, ts=report.ts,
                                   order_id=report.client_order_id, symbol=report.symbol, side=report.side,
                                   quantity=report.quantity, price=report.price, fee=report.fee))
            else:
                record = self.ledger.update_order(report)
                events.append(order_update(record, source=self.source, cycle=cycle, ts=report.ts or ts))
        return events

    def reconcile(self, *, cycle: int = 0, ts: int = 0) -> list[Event]:
        unfinished = self.ledger.unfinished_orders()
        report = self.broker.reconcile([o.known() for o in unfinished], cash=self.ledger.cash(),
                                       positions=[(s, p.quantity) for s, p in self.ledger.positions()])
        events = self.apply(report.fills, cycle=cycle, ts=ts)
        events += self.apply(report.orders, cycle=cycle, ts=ts)
        by_id = {o.client_order_id: o for o in unfinished}
        cancelled = 0
        for cid in report.unknown:
            known = by_id.get(cid)
            if known is None:
                continue
            why = ("not sent: the engine stopped after recording it and before sending; not resent"
                   if known.status == "new" else "the broker has no record of it")
            events += self.apply([self._ack(known.request, "cancelled", why)], cycle=cycle, ts=ts)
            cancelled += 1
        for difference in report.differences:
            events.append(LogMessage(source=self.source, cycle=cycle, ts=ts, level="warning",
                                     message=f"reconcile: {difference}"))
        if unfinished or report.differences:
            resumed = sum(1 for a in report.orders if a.status in ("submitted", "partially_filled"))
            events.append(LogMessage(
                source=self.source, cycle=cycle, ts=ts, level="info",
                message=f"reconciled {len(unfinished)} unfinished order(s) with the {self.broker.mode} broker: "
                        f"{resumed} resumed, {cancelled} cancelled, {len(report.fills)} fill(s) reported, "
                        f"{len(report.differences)} difference(s)"))
        return events

    def _ack(self, request: OrderRequest, status: str, message: str) -> OrderAck:
        return OrderAck(client_order_id=request.client_order_id, order_id="", symbol=request.symbol,
                        side=request.side, order_type=request.order_type, quantity=request.quantity,
                        limit_price=request.limit_price, status=status, message=message)
