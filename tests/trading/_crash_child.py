"""Child process for the SIGKILL tests: trade on a desk, then die at a chosen point.

Usage: python _crash_child.py DATA_DIR CASE
- before_send: SIGKILL inside broker.submit (order written "new", never sent)
- after_submit: print READY after the approval, then wait to be killed by the parent
- mid_fill: SIGKILL inside the fill transaction (fill and position rows written, not committed)
- after_fill: print READY after the fill is committed, then wait to be killed
"""

from __future__ import annotations

import os
import signal
import sys
import time

from engine.trading import Ledger, PaperBroker, RiskSettings, TradingDesk, TradingSettings
from tests.trading.helpers import SYMBOLS, TIMEFRAME, make_bar, scores


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class DyingBroker(PaperBroker):
    def submit(self, order):
        die()


class DyingLedger(Ledger):
    def _write_account(self, *args, **kwargs):
        super()._write_account(*args, **kwargs)
        die()


def main(data_dir: str, case: str) -> None:
    settings = TradingSettings()
    ledger_cls = DyingLedger if case == "mid_fill" else Ledger
    ledger = ledger_cls.in_dir(data_dir, starting_cash=settings.starting_cash)
    broker_cls = DyingBroker if case == "before_send" else PaperBroker
    broker = broker_cls(SYMBOLS, fee_bps=settings.fee_bps, slippage_bps=settings.slippage_bps, cash=ledger.cash())
    desk = TradingDesk(settings, RiskSettings(), ledger=ledger, broker=broker, symbols=SYMBOLS, timeframe=TIMEFRAME)
    desk.on_bar(make_bar(0, 100.0), 1)
    (proposal,) = [e for e in desk.propose(1, desk.ts, SYMBOLS, scores(AAA=0.9), {}, [100.0] * len(SYMBOLS))
                   if type(e).__name__ == "TradeProposal"]
    desk.approve(proposal.proposal_id)
    if case == "after_submit":
        print("READY", flush=True)
        time.sleep(30)
    desk.on_bar(make_bar(1, 110.0), 2)
    if case == "after_fill":
        print("READY", flush=True)
        time.sleep(30)
    print("NOT KILLED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
