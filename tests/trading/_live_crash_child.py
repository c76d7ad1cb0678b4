"""Child process for the live SIGKILL tests: trade through the stand-in, then die at a chosen point.

Usage: python _live_crash_child.py DATA_DIR BASE_URL CASE
- in_flight: approve and send; the stand-in makes the order and holds the
  reply, and the parent kills this process before the ack reaches the ledger
- after_ack: print READY once the exchange's ack is in the ledger (the fill
  is not), then wait to be killed
- before_send: SIGKILL inside the broker right before the HTTP request
"""

from __future__ import annotations

import os
import signal
import sys
import time

from engine.trading.live import LiveBroker
from tests.standin_exchange import api_urls_for
from tests.trading._live_support import bar, make_desk, propose_and_approve


def die(*_: object, **__: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(data_dir: str, base_url: str, case: str) -> None:
    desk = make_desk(data_dir, api_urls_for(base_url), timeout_ms=60_000)
    desk.on_bar(bar(0), 1)
    if case == "before_send":
        LiveBroker._create = die  # type: ignore[method-assign]
    print("SENDING", flush=True)
    propose_and_approve(desk, 1, BTC=0.9)
    if case == "after_ack":
        print("READY", flush=True)
        time.sleep(60)
    print("NOT KILLED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
