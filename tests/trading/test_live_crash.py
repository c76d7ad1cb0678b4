"""SIGKILL around a live order, then a restart: the reconciled ledger matches the exchange.

The child trades through the real ccxt client against the stand-in in this
process. Restart rule (engine/trading/orders.py, live.py): an unfinished
order is looked up by its client id; found → its fills are applied; never
seen by the exchange → cancelled, not resent.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.events import Fill, LogMessage, OrderUpdate
from engine.trading import Ledger
from tests.standin_exchange import StandinExchange

from ._live_support import KEY, PRICES, assert_ledger_matches, make_desk

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("_live_crash_child.py")
START = 10_000.0


def standin_server() -> StandinExchange:
    server = StandinExchange(api_key=KEY, balances={"USDT": START}).start()
    for market, price in PRICES.items():
        server.set_price(market, price)
    return server


def spawn(data_dir: Path, standin: StandinExchange, case: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(CHILD), str(data_dir), standin.base_url, case], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen, want: str, seconds: float = 90) -> None:
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, f"the child did not print {want} within {seconds} s"
    line = proc.stdout.readline()
    assert line.strip() == want, line + proc.stderr.read()


def finish(proc: subprocess.Popen, *, kill: bool) -> None:
    try:
        if kill:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()


def restart(data_dir: Path, standin: StandinExchange):
    desk = make_desk(data_dir, standin.api_urls(), recv_window_ms=500)
    return desk, desk.start()


def only_order(data_dir: Path):
    ledger = Ledger.in_dir(data_dir, mode="live")
    (order,) = ledger.orders()
    assert ledger.fills() == () and ledger.cash() == START
    ledger.close()
    return order


def test_killed_after_the_exchange_took_the_order_and_before_the_ack_was_recorded(tmp_path):
    standin = standin_server()
    try:
        standin.inject("hold", path="/api/v3/order", method="POST")
        proc = spawn(tmp_path, standin, "in_flight")
        wait_for_line(proc, "SENDING")
        deadline = time.monotonic() + 60
        while not standin.book.created and time.monotonic() < deadline:
            time.sleep(0.02)
        assert standin.book.created, "the order never reached the stand-in"
        finish(proc, kill=True)
        standin.release()

        order = only_order(tmp_path)
        assert order.status == "new" and order.order_id == ""  # the ack never reached the ledger
        (cid,) = standin.book.created
        assert order.client_order_id == cid

        desk, events = restart(tmp_path, standin)
        assert len([e for e in events if isinstance(e, Fill)]) == 1
        assert any(isinstance(e, LogMessage) and "reconciled 1 unfinished order" in e.message for e in events)
        record = desk.ledger.order(cid)
        assert record.status == "filled" and record.order_id == str(standin.book.order_by_client(cid).order_id)
        assert standin.order_posts(cid) == 1 and standin.book.created[cid] == 1  # never resent
        assert_ledger_matches(desk, standin, start_usdt=START)
        desk.close()
    finally:
        standin.stop()


def test_killed_after_the_ack_before_the_fill_was_recorded(tmp_path):
    standin = standin_server()
    try:
        proc = spawn(tmp_path, standin, "after_ack")
        wait_for_line(proc, "SENDING")
        wait_for_line(proc, "READY")
        finish(proc, kill=True)
        order = only_order(tmp_path)
        assert order.status == "submitted" and order.order_id

        desk, events = restart(tmp_path, standin)
        (fill,) = [e for e in events if isinstance(e, Fill)]
        assert fill.order_id == order.client_order_id
        assert desk.ledger.order(order.client_order_id).status == "filled"
        assert standin.book.created[order.client_order_id] == 1
        assert_ledger_matches(desk, standin, start_usdt=START)
        desk.close()
    finally:
        standin.stop()


def test_killed_before_sending_the_restart_cancels_and_does_not_resend(tmp_path):
    standin = standin_server()
    try:
        proc = spawn(tmp_path, standin, "before_send")
        finish(proc, kill=False)
        order = only_order(tmp_path)
        assert order.status == "new"

        desk, events = restart(tmp_path, standin)
        (update,) = [e for e in events if isinstance(e, OrderUpdate)]
        assert update.status == "cancelled" and "not sent" in update.message
        assert standin.counts["/api/v3/order"] >= 1 and not standin.book.created  # looked up, never made
        assert_ledger_matches(desk, standin, start_usdt=START)
        desk.close()
    finally:
        standin.stop()
