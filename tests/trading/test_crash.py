"""SIGKILL at each point of the order path, then a restart: nothing lost, nothing doubled.

Restart rule (engine/trading/orders.py): an order left "submitted" is resumed
and fills on the next bar; one left "new" (written, never sent) is cancelled
and not resent; a fill is either wholly in the ledger or not at all.
"""

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.events import Fill, LogMessage, OrderUpdate
from engine.trading import Ledger

from .helpers import make_bar, make_desk

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("_crash_child.py")
START = 10_000.0
FEE, SLIP = 10 / 1e4, 5 / 1e4


def run_child(data_dir: Path, case: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(CHILD), str(data_dir), case], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if case in ("after_submit", "after_fill"):
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "the child did not reach its kill point within 60 s"
            line = proc.stdout.readline()
            assert line.strip() == "READY", line + proc.stderr.read()
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()


def inspect(data_dir: Path) -> tuple[Ledger, object]:
    ledger = Ledger.in_dir(data_dir)
    assert ledger.audit() == ()
    (order,) = ledger.orders()
    return ledger, order


def assert_flat(ledger: Ledger) -> None:
    assert ledger.cash() == START
    assert ledger.fills() == ()
    assert all(p.quantity == 0 for _, p in ledger.positions())


def restart_and_step(data_dir: Path, open_: float):
    desk = make_desk(data_dir)
    events = desk.start() + desk.on_bar(make_bar(5, open_), 6)
    return desk, events


def test_killed_between_writing_the_order_and_sending_it(tmp_path):
    run_child(tmp_path, "before_send")
    ledger, order = inspect(tmp_path)
    assert order.status == "new"
    assert ledger.journal(1)[0].outcome == "approved"  # the decision was committed with the order
    assert_flat(ledger)
    ledger.close()
    desk, events = restart_and_step(tmp_path, 120.0)
    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert update.status == "cancelled" and "not sent" in update.message
    assert not [e for e in events if isinstance(e, Fill)]  # never resent
    assert_flat(desk.ledger)
    assert desk.ledger.audit() == ()
    desk.close()


def test_killed_between_order_and_fill_the_restart_fills_it_on_the_next_bar(tmp_path):
    run_child(tmp_path, "after_submit")
    ledger, order = inspect(tmp_path)
    assert order.status == "submitted" and order.order_id == f"P-{order.client_order_id}"
    assert_flat(ledger)
    ledger.close()
    desk, events = restart_and_step(tmp_path, 120.0)
    assert any(isinstance(e, LogMessage) and "1 resumed" in e.message for e in events)
    (fill,) = [e for e in events if isinstance(e, Fill)]
    price = 120.0 * (1 + SLIP)
    assert fill.price == pytest.approx(price)
    qty = order.quantity
    assert desk.ledger.order(order.client_order_id).status == "filled"
    assert desk.ledger.position("AAA").quantity == pytest.approx(qty)
    assert desk.ledger.cash() == pytest.approx(START - qty * price * (1 + FEE))
    assert desk.ledger.audit() == ()
    desk.close()


def test_killed_inside_the_fill_transaction_leaves_no_half_fill(tmp_path):
    run_child(tmp_path, "mid_fill")
    ledger, order = inspect(tmp_path)
    assert order.status == "submitted" and order.filled == 0.0
    assert_flat(ledger)
    ledger.close()
    desk, events = restart_and_step(tmp_path, 130.0)
    assert len([e for e in events if isinstance(e, Fill)]) == 1
    assert len(desk.ledger.fills()) == 1
    assert desk.ledger.cash() == pytest.approx(START - order.quantity * 130.0 * (1 + SLIP) * (1 + FEE))
    desk.close()


def test_killed_after_the_fill_the_restart_shows_it_once(tmp_path):
    run_child(tmp_path, "after_fill")
    ledger, order = inspect(tmp_path)
    price = 110.0 * (1 + SLIP)
    assert order.status == "filled" and order.average_price == pytest.approx(price)
    assert ledger.position("AAA").quantity == pytest.approx(order.quantity)
    assert ledger.cash() == pytest.approx(START - order.quantity * price * (1 + FEE))
    ledger.close()
    desk, events = restart_and_step(tmp_path, 130.0)
    assert not [e for e in events if isinstance(e, Fill)]
    assert len(desk.ledger.fills()) == 1
    snap = desk.snapshot()
    assert snap.positions[0].quantity == pytest.approx(order.quantity)
    desk.close()
