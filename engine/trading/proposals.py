"""ProposalBook: fused scores → trade proposals → the trader's decision → orders.

Each cycle a symbol becomes a candidate when its probability reaches
`buy_threshold` (enter long; not while it is held or has an open buy) or
falls below `sell_threshold` while held (exit the whole position; not while
a sell is open). No symbol gets a second proposal while one is pending.
Candidates are ranked by their distance past the threshold and at most
`max_per_cycle` proposals are made. Each passes the risk rules first: a
blocked one is journalled (once per symbol, side and rule until the
condition clears, so a halted day does not flood the journal) and emits
`ProposalResolved(outcome="blocked")` naming the rule.

Entries are sized at `order_notional`, capped by the room left under
`max_position_notional` and by the free cash (cash not promised to open
buys or pending buy proposals, after estimated fee and slippage); a buy the
free cash cannot cover at `min_notional` is blocked with rule "cash". Every outcome — approved, rejected, expired,
blocked — is written to the journal with the contributions behind it and
announced by a `ProposalResolved` event. Approval re-checks risk against the
portfolio of that moment. Auto-approval (off by default) approves at once a
proposal within `auto_approve_max_notional`; it still went through risk and
is journalled as "approved" with "auto-approved" in its reason.
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid
from typing import Callable, Mapping, Sequence

from engine.errors import CockpitError
from engine.events import Contribution, Event, ProposalResolved, Side, TradeProposal
from engine.trading.broker import OrderRequest
from engine.trading.ledger import Ledger
from engine.trading.orders import OrderRouter, new_client_order_id
from engine.trading.portfolio import PortfolioState
from engine.trading.risk import RiskRules
from engine.trading.settings import TradingSettings

OUTCOMES = ("approved", "rejected", "expired", "blocked")


class ProposalNotFound(CockpitError):
    """Approve/reject of a proposal that is not pending (unknown, decided or expired)."""


def _contribution_json(c: Contribution) -> dict[str, object]:
    return {"source": c.source, "family": c.family, "value": c.value, "weight": c.weight, "note": c.note}


def summarize(side: Side, quantity: float, symbol: str, notional: float, price: float, score: float,
              reasons: Sequence[Contribution]) -> str:
    text = f"{side.upper()} {quantity:.6g} {symbol} ≈ {notional:,.2f} @ {price:,.6g} · p={score:.2f}"
    voters = [c for c in reasons if math.isfinite(c.value) and c.weight > 0]
    if voters:
        up = sum(1 for c in voters if c.value >= 0.5)
        text += f" · {up} of {len(voters)} sources ≥ 0.5"
    return text


class ProposalBook:
    def __init__(self, settings: TradingSettings, *, ledger: Ledger, router: OrderRouter, risk: RiskRules,
                 state: Callable[[], PortfolioState], source: str = "proposals",
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.ledger = ledger
        self.router = router
        self.risk = risk
        self._state = state
        self.source = source
        self._clock = clock
        self._pending: dict[str, TradeProposal] = {}
        self._quiet_until: dict[str, int] = {}  # symbol → first cycle it may be proposed again
        self._blocked: dict[str, tuple[Side, str]] = {}

    def pending(self) -> tuple[TradeProposal, ...]:
        return tuple(self._pending.values())

    def recover(self, *, cycle: int = 0, ts: int = 0) -> list[Event]:
        """Proposals left pending by a previous run can no longer be decided: journal them as expired."""
        events: list[Event] = []
        for row in self.ledger.journal(1_000_000, outcome="pending"):
            if row.proposal_id in self._pending:
                continue
            reason = "engine restarted before a decision"
            if self.ledger.journal_decide(row.proposal_id, outcome="expired", reason=reason):
                events.append(self._resolved(row.proposal_id, row.symbol, "expired", reason, cycle, ts))
        return events

    # -- making proposals ------------------------------------------------------
    def propose(self, *, cycle: int, ts: int, symbols: Sequence[str], scores: Sequence[float],
                contributions_by_symbol: Mapping[str, Sequence[Contribution]],
                prices: Sequence[float], rank_key: Mapping[str, float] | None = None) -> list[Event]:
        """`rank_key`, when given (the DQN selecting), names the entries to rank first and their order:
        buy candidates outside it are not proposed; exits are ranked as always."""
        s = self.settings
        state = self._with_pending(self._state())
        pending_symbols = {p.symbol for p in self._pending.values()}
        candidates: list[tuple[float, int, str, Side, float, float]] = []
        for i, (symbol, p, price) in enumerate(zip(symbols, scores, prices, strict=True)):
            if not (math.isfinite(p) and math.isfinite(price) and price > 0) or symbol in pending_symbols:
                continue
            if cycle < self._quiet_until.get(symbol, 0):
                continue
            held = state.quantity(symbol)
            if p >= s.buy_threshold and held <= 0 and state.pending_buy(symbol) <= 0:
                if rank_key is not None and symbol not in rank_key:
                    continue
                key = rank_key[symbol] if rank_key is not None else p - s.buy_threshold
                candidates.append((key, i, symbol, Side.BUY, float(p), float(price)))
            elif p < s.sell_threshold and held > 0 and state.pending_sell(symbol) <= 0:
                candidates.append((s.sell_threshold - p, i, symbol, Side.SELL, float(p), float(price)))
        candidates.sort(key=lambda c: (-c[0], c[1]))
        for symbol in set(self._blocked) - {c[2] for c in candidates}:
            del self._blocked[symbol]  # its condition cleared: a new block is news again
        events: list[Event] = []
        made = 0
        for _, _, symbol, side, p, price in candidates:
            if made >= s.max_per_cycle:
                break
            proposal = self._build(cycle, ts, symbol, side, p, price, state,
                                   tuple(contributions_by_symbol.get(symbol, ())))
            if proposal is None:
                continue
            decision = self.risk.check(proposal, state)
            if not decision.allowed:
                events += self._block(proposal, decision.rule, decision.reason)
                continue
            free = self._free_cash(state)
            if proposal.side is Side.BUY and proposal.notional * self._cost_rate > free * (1 + 1e-9):
                events += self._block(proposal, "cash", f"the buy needs ≈{proposal.notional * self._cost_rate:.2f}"
                                                        f" with costs, {max(free, 0.0):.2f} is free")
                continue
            self._blocked.pop(symbol, None)
            self._journal_open(proposal)
            self._pending[proposal.proposal_id] = proposal
            events.append(proposal)
            made += 1
            state = self._with_pending(self._state())
            if s.auto_approve and proposal.notional <= s.auto_approve_max_notional:
                events += self.approve(proposal.proposal_id, cycle=cycle, ts=ts,
                                       reason=f"auto-approved: notional {proposal.notional:.2f} ≤ "
                                              f"{s.auto_approve_max_notional:.2f}")
        return events

    def _build(self, cycle: int, ts: int, symbol: str, side: Side, p: float, price: float,
               state: PortfolioState, reasons: tuple[Contribution, ...]) -> TradeProposal | None:
        s = self.settings
        if side is Side.BUY:
            notional = min(s.order_notional, self.risk.headroom(symbol, state))
            if notional < s.min_notional:
                notional = s.order_notional  # too little room: let the risk rule say why
            affordable = self._free_cash(state) / self._cost_rate
            if s.min_notional <= affordable < notional:
                notional = affordable
            quantity = notional / price
        else:
            quantity = state.quantity(symbol) - state.pending_sell(symbol)
            notional = quantity * price
        if quantity <= 0:
            return None
        return TradeProposal(
            source=self.source, cycle=cycle, ts=ts, proposal_id="pr-" + uuid.uuid4().hex[:12], symbol=symbol,
            side=side, quantity=quantity, price=price, notional=notional,
            est_fee=notional * s.fee_bps / 1e4, est_slippage=notional * s.slippage_bps / 1e4, score=p,
            reasons=reasons, summary=summarize(side, quantity, symbol, notional, price, p, reasons),
            expires_at=self._clock() + s.timeout_seconds, mode=s.mode)

    @property
    def _cost_rate(self) -> float:
        return 1 + (self.settings.fee_bps + self.settings.slippage_bps) / 1e4

    @staticmethod
    def _free_cash(state: PortfolioState) -> float:
        """Cash not already promised to open buy orders or pending buy proposals."""
        return state.cash - sum(n for _, n in state.open_buy_notional)

    def _with_pending(self, state: PortfolioState) -> PortfolioState:
        """The state as if every pending buy proposal were an open order (so limits hold across them)."""
        buys = dict(state.open_buy_notional)
        for p in self._pending.values():
            if p.side is Side.BUY:
                buys[p.symbol] = buys.get(p.symbol, 0.0) + p.notional
        return dataclasses.replace(state, open_buy_notional=tuple(sorted(buys.items())))

    def _block(self, proposal: TradeProposal, rule: str, reason: str) -> list[Event]:
        key = (proposal.side, rule)
        if self._blocked.get(proposal.symbol) == key:
            return []
        self._blocked[proposal.symbol] = key
        self._journal_open(proposal, outcome="blocked", rule=rule, reason=reason)
        return [self._resolved(proposal.proposal_id, proposal.symbol, "blocked", f"{rule}: {reason}",
                               proposal.cycle, proposal.ts)]

    # -- decisions -------------------------------------------------------------
    def approve(self, proposal_id: str, *, cycle: int, ts: int, reason: str = "approved by the trader") -> list[Event]:
        proposal = self._take(proposal_id)
        if self._clock() >= proposal.expires_at:
            return self._expire_one(proposal, cycle, ts)
        decision = self.risk.check(proposal, self._state())
        if not decision.allowed:
            self.ledger.journal_decide(proposal_id, outcome="blocked", rule=decision.rule, reason=decision.reason)
            return [self._resolved(proposal_id, proposal.symbol, "blocked", f"{decision.rule}: {decision.reason}",
                                   cycle, ts)]
        request = OrderRequest(client_order_id=new_client_order_id(), symbol=proposal.symbol, side=proposal.side,
                               order_type="market", quantity=proposal.quantity, proposal_id=proposal_id)
        record, events = self.router.place(request, placed_ts=ts, cycle=cycle, approval=reason)
        if record.status == "rejected":
            self.ledger.journal_note(proposal_id, f"order {record.client_order_id} rejected: {record.message}")
            reason = f"{reason}; order rejected: {record.message}"
        return [self._resolved(proposal_id, proposal.symbol, "approved", reason, cycle, ts), *events]

    def reject(self, proposal_id: str, reason: str, *, cycle: int, ts: int) -> list[Event]:
        proposal = self._take(proposal_id)
        self._quiet_until[proposal.symbol] = cycle + self.settings.quiet_bars
        self.ledger.journal_decide(proposal_id, outcome="rejected", reason=reason)
        return [self._resolved(proposal_id, proposal.symbol, "rejected", reason, cycle, ts)]

    def expire(self, now: float | None = None, *, cycle: int, ts: int) -> list[Event]:
        """Reject, as "expired", every proposal whose time ran out by `now` (wall time)."""
        now = self._clock() if now is None else now
        events: list[Event] = []
        for proposal in [p for p in self._pending.values() if now >= p.expires_at]:
            del self._pending[proposal.proposal_id]
            events += self._expire_one(proposal, cycle, ts)
        return events

    def _expire_one(self, proposal: TradeProposal, cycle: int, ts: int) -> list[Event]:
        reason = f"no decision within {self.settings.timeout_seconds:g} s"
        self._quiet_until[proposal.symbol] = cycle + self.settings.quiet_bars
        self.ledger.journal_decide(proposal.proposal_id, outcome="expired", reason=reason)
        return [self._resolved(proposal.proposal_id, proposal.symbol, "expired", reason, cycle, ts)]

    def _take(self, proposal_id: str) -> TradeProposal:
        proposal = self._pending.pop(proposal_id, None)
        if proposal is None:
            raise ProposalNotFound(f"no pending proposal {proposal_id!r}",
                                   hint="it was already decided, expired, or never made")
        return proposal

    def _journal_open(self, p: TradeProposal, *, outcome: str = "pending", rule: str = "", reason: str = "") -> None:
        self.ledger.journal_open(proposal_id=p.proposal_id, ts=p.ts, symbol=p.symbol, side=str(p.side),
                                 quantity=p.quantity, price=p.price, notional=p.notional, score=p.score,
                                 summary=p.summary, contributions=[_contribution_json(c) for c in p.reasons],
                                 outcome=outcome, rule=rule, reason=reason)

    def _resolved(self, proposal_id: str, symbol: str, outcome: str, reason: str, cycle: int,
                  ts: int) -> ProposalResolved:
        return ProposalResolved(source=self.source, cycle=cycle, ts=ts, proposal_id=proposal_id, symbol=symbol,
                                outcome=outcome, reason=reason)
