import sqlite3
import threading

import pytest

from engine.errors import DataError
from engine.events import Side
from engine.trading import FillReport, Ledger, OrderAck, OrderRequest
from engine.trading.schema import SCHEMA_VERSION


@pytest.fixture
def ledger(tmp_path):
    with Ledger.in_dir(tmp_path, starting_cash=1_000.0) as led:
        yield led


def request(cid: str = "c1", side: Side = Side.BUY, qty: float = 2.0, symbol: str = "AAA") -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, order_type="market", quantity=qty)


def ack(cid: str = "c1", status: str = "submitted", side: Side = Side.BUY, qty: float = 2.0, message: str = ""):
    return OrderAck(client_order_id=cid, order_id=f"P-{cid}", symbol="AAA", side=side, order_type="market",
                    quantity=qty, limit_price=None, status=status, message=message)


def fill(fid: str, cid: str = "c1", qty: float = 2.0, price: float = 100.0, fee: float = 0.2,
         side: Side = Side.BUY, ts: int = 1) -> FillReport:
    return FillReport(fill_id=fid, client_order_id=cid, order_id=f"P-{cid}", symbol="AAA", side=side,
                      quantity=qty, price=price, fee=fee, ts=ts)


def test_the_file_is_in_wal_mode_with_a_schema_version(ledger, tmp_path):
    assert ledger.path == tmp_path / "ledger.sqlite"
    raw = sqlite3.connect(ledger.path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    assert ledger.schema_version() == SCHEMA_VERSION
    assert ledger.account().cash == 1_000.0


def test_an_order_is_new_until_the_broker_answers_then_fills_move_everything_together(ledger):
    rec = ledger.record_order(request(), placed_ts=7)
    assert (rec.status, rec.placed_ts, rec.filled) == ("new", 7, 0.0)
    assert ledger.update_order(ack()).status == "submitted"
    applied = ledger.apply_fill(fill("f1", qty=1.0, price=100.0, fee=0.1))
    assert applied.order.status == "partially_filled"
    assert ledger.update_order(ack(status="submitted")).status == "partially_filled"
    applied = ledger.apply_fill(fill("f2", qty=1.0, price=102.0, fee=0.1))
    assert applied.order.status == "filled"
    assert applied.order.average_price == pytest.approx(101.0)
    assert applied.order.fees == pytest.approx(0.2)
    assert applied.cash == pytest.approx(1_000.0 - 202.0 - 0.2)
    assert ledger.position("AAA").quantity == 2.0
    assert ledger.position("AAA").average_price == pytest.approx(101.1)
    assert ledger.account().fees_paid == pytest.approx(0.2)
    assert ledger.audit() == ()


def test_a_duplicate_fill_report_is_ignored(ledger):
    ledger.record_order(request())
    assert ledger.apply_fill(fill("f1")) is not None
    assert ledger.apply_fill(fill("f1")) is None
    assert len(ledger.fills()) == 1
    assert ledger.cash() == pytest.approx(1_000.0 - 200.2)
    assert ledger.audit() == ()


def test_a_losing_exit_is_remembered_for_the_cooldown(ledger):
    ledger.record_order(request())
    ledger.apply_fill(fill("f1", ts=10))
    ledger.record_order(request("c2", Side.SELL))
    applied = ledger.apply_fill(fill("f2", "c2", price=90.0, fee=0.18, side=Side.SELL, ts=20))
    assert applied.fill.realized_pnl == pytest.approx(2.0 * (90.0 - 100.1) - 0.18)
    assert ledger.last_losses() == {"AAA": 20}
    assert ledger.account().realized_pnl == pytest.approx(applied.fill.realized_pnl)
    assert ledger.audit() == ()


def test_finished_orders_keep_their_status(ledger):
    ledger.record_order(request())
    ledger.update_order(ack(status="rejected", message="insufficient cash"))
    rec = ledger.update_order(ack(status="submitted"))
    assert (rec.status, rec.message) == ("rejected", "insufficient cash")


def test_unknown_orders_and_duplicate_ids_are_refused_clearly(ledger):
    with pytest.raises(DataError, match="does not hold"):
        ledger.apply_fill(fill("f1", cid="nope"))
    with pytest.raises(DataError, match="does not hold"):
        ledger.update_order(ack("nope"))
    ledger.record_order(request())
    with pytest.raises(ValueError, match="already in the ledger"):
        ledger.record_order(request())


def test_audit_catches_a_ledger_whose_cash_disagrees_with_its_fills(ledger):
    ledger.record_order(request())
    ledger.apply_fill(fill("f1"))
    raw = sqlite3.connect(ledger.path)
    raw.execute("UPDATE account SET cash = cash + 5")
    raw.commit()
    raw.close()
    (problem,) = ledger.audit()
    assert problem.startswith("cash")


def test_reopening_keeps_the_balance_and_ignores_a_new_starting_cash(tmp_path):
    with Ledger.in_dir(tmp_path, starting_cash=1_000.0) as led:
        led.record_order(request())
        led.apply_fill(fill("f1"))
    with Ledger.in_dir(tmp_path, starting_cash=50_000.0) as led:
        assert led.cash() == pytest.approx(1_000.0 - 200.2)
        assert led.orders()[0].status == "filled"


def test_modes_do_not_mix(tmp_path):
    with Ledger.in_dir(tmp_path, mode="paper") as paper, \
            Ledger.in_dir(tmp_path, mode="live", starting_cash=5.0) as live:
        paper.record_order(request())
        assert live.orders() == ()
        assert live.cash() == 5.0


def test_a_newer_schema_or_a_corrupt_file_is_refused_naming_the_file(tmp_path):
    with Ledger.in_dir(tmp_path):
        pass
    raw = sqlite3.connect(tmp_path / "ledger.sqlite")
    raw.execute("UPDATE schema_version SET version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(DataError, match="newer than this program"):
        Ledger.in_dir(tmp_path)
    bad = tmp_path / "bad" / "ledger.sqlite"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DataError, match=str(bad)):
        Ledger(bad)


def test_journal_rows_are_decided_once_and_read_newest_first(ledger):
    for k in range(3):
        ledger.journal_open(proposal_id=f"p{k}", ts=k, symbol="AAA", side="buy", quantity=1.0, price=1.0,
                            notional=1.0, score=float("nan"), summary=f"s{k}",
                            contributions=[{"source": "m", "value": float("nan")}])
    assert ledger.journal_decide("p1", outcome="rejected", reason="no")
    assert not ledger.journal_decide("p1", outcome="approved")
    rows = ledger.journal(2)
    assert [r.proposal_id for r in rows] == ["p2", "p1"]
    assert rows[1].outcome == "rejected" and rows[1].decided_at is not None
    assert rows[0].contributions == ({"source": "m", "value": None},)
    assert [r.proposal_id for r in ledger.journal(10, outcome="pending")] == ["p2", "p0"]


def test_approval_and_order_are_written_in_one_transaction(ledger):
    ledger.journal_open(proposal_id="p1", ts=0, symbol="AAA", side="buy", quantity=2.0, price=1.0,
                        notional=2.0, score=0.7, summary="", contributions=[])
    req = OrderRequest(client_order_id="c1", symbol="AAA", side=Side.BUY, order_type="market", quantity=2.0,
                       proposal_id="p1")
    ledger.record_order(req, approval="ok")
    (row,) = ledger.journal(1)
    assert (row.outcome, row.client_order_id) == ("approved", "c1")
    with pytest.raises(ValueError, match="not pending"):
        ledger.record_order(OrderRequest(client_order_id="c2", symbol="AAA", side=Side.BUY, order_type="market",
                                         quantity=1.0, proposal_id="p1"), approval="again")
    assert ledger.order("c2") is None  # rolled back with the failed approval


def test_the_ledger_can_be_shared_by_threads(ledger):
    def work(k: int) -> None:
        for j in range(8):
            cid = f"t{k}-{j}"
            ledger.record_order(request(cid, qty=0.01))
            ledger.apply_fill(fill(f"{cid}-f", cid=cid, qty=0.01, price=10.0, fee=0.0))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.fills()) == 32
    assert ledger.position("AAA").quantity == pytest.approx(0.32)
    assert ledger.audit() == ()


def test_the_day_row_keeps_its_first_equity_and_first_halt_reason(ledger):
    assert ledger.day("2024-01-01") is None
    assert ledger.start_day("2024-01-01", 1_000.0) == (1_000.0, "")
    assert ledger.start_day("2024-01-01", 5.0) == (1_000.0, "")
    ledger.halt_day("2024-01-01", "first")
    ledger.halt_day("2024-01-01", "second")
    assert ledger.day("2024-01-01") == (1_000.0, "first")
