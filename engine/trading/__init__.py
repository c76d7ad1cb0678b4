"""Trading: the paper broker, the SQLite ledger, risk rules, proposals and the desk facade.

The runtime talks to `TradingDesk` only; `Broker` is the interface the live
(ccxt) broker implements later. Nothing here starts a thread.
"""

from engine.trading.broker import Balances, Broker, FillReport, OrderAck, OrderRequest, ReconcileReport
from engine.trading.desk import TradingDesk
from engine.trading.ledger import LEDGER_FILE, Ledger
from engine.trading.paper import PaperBroker
from engine.trading.proposals import ProposalBook, ProposalNotFound
from engine.trading.risk import RiskDecision, RiskRules
from engine.trading.settings import RiskSettings, TradingSettings

__all__ = [
    "LEDGER_FILE",
    "Balances",
    "Broker",
    "FillReport",
    "Ledger",
    "OrderAck",
    "OrderRequest",
    "PaperBroker",
    "ProposalBook",
    "ProposalNotFound",
    "ReconcileReport",
    "RiskDecision",
    "RiskRules",
    "RiskSettings",
    "TradingDesk",
    "TradingSettings",
]
