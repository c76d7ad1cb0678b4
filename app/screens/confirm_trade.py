"""Confirm or reject one trade proposal; proposals wait their turn in a FIFO queue.

The dialog shows what would be traded and why (each source's value and
weight), and counts down to the engine's deadline. Focus starts on Reject,
so a stray enter never approves; `y` approves, `n` or escape rejects. The
engine enforces the timeout: when its `ProposalResolved` arrives for the
proposal on screen, the app closes the dialog (`close_resolved`). The
dialog dismisses with "approve", "reject" or None (closed from outside);
the app turns that into a command. Nothing here ever approves on its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from app import format as fmt
from app.widgets.text import update
from engine.events import Contribution, Side, TradeProposal

APPROVE = "approve"
REJECT = "reject"
TICK_S = 0.25
SHORT_BELOW = 32
NOTE_WIDTH = 30


class ProposalQueue:
    """Proposals waiting for the trader's decision, oldest first (UI thread only)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, TradeProposal] = OrderedDict()

    def add(self, proposal: TradeProposal) -> None:
        """Queue a proposal (a repeated id keeps its place)."""
        if proposal.proposal_id not in self._items:
            self._items[proposal.proposal_id] = proposal

    def remove(self, proposal_id: str) -> TradeProposal | None:
        return self._items.pop(proposal_id, None)

    def oldest(self) -> TradeProposal | None:
        return next(iter(self._items.values()), None)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, proposal_id: object) -> bool:
        return proposal_id in self._items

    def __iter__(self) -> Iterator[TradeProposal]:
        return iter(tuple(self._items.values()))


def describe_proposal(p: TradeProposal) -> str:
    """'BUY 0.0123 BTC/USD' — a proposal in a few words (toasts, log lines)."""
    return f"{str(p.side).upper()} {fmt.quantity(p.quantity)} {p.symbol}"


def reason_lines(reasons: tuple[Contribution, ...]) -> Content:
    """One aligned line per contribution: source, value (with its side of 0.5), weight, note."""
    if not reasons:
        return Content.from_markup("[$muted]no contributions were reported[/]")
    width = min(max(len(c.source) for c in reasons), 24)
    lines = []
    for c in reasons:
        if fmt.finite(c.value):
            up = c.value >= 0.5
            value = Content.from_markup(f"[${'bull' if up else 'bear'}]$v $arrow[/]",
                                        v=fmt.probability(c.value), arrow="↑" if up else "↓")
        else:
            value = Content.from_markup("[$muted]$v  [/]", v=fmt.NA)
        lines.append(
            Content.from_markup("$source ", source=fmt.elide(c.source, width).ljust(width))
            + value
            + Content.from_markup("  [$muted]weight[/] $w  [$muted]$note[/]",
                                  w=fmt.share(c.weight, decimals=1).rjust(6),
                                  note=fmt.elide(" ".join(x for x in (c.family, c.note) if x), NOTE_WIDTH))
        )
    return Content("\n").join(lines)


class ConfirmTradeScreen(ModalScreen[str | None]):
    """Dismisses with "approve", "reject", or None when the engine decided first."""

    AUTO_FOCUS = "#confirm-reject"
    BINDINGS = [
        Binding("y", "decide('approve')", "Approve", id="confirm.approve",
                tooltip="Approve: send the order (paper mode fills on the next bar)"),
        Binding("n", "decide('reject')", "Reject", id="confirm.reject", tooltip="Reject this proposal"),
        Binding("escape", "decide('reject')", "Reject", id="confirm.cancel", tooltip="Reject this proposal"),
        Binding("left", "app.focus_previous", "Previous button", id="confirm.left", show=False),
        Binding("right", "app.focus_next", "Next button", id="confirm.right", show=False),
        Binding("down", "scroll_reasons(1)", "Scroll reasons", id="confirm.down", show=False),
        Binding("up", "scroll_reasons(-1)", "Scroll reasons", id="confirm.up", show=False),
        Binding("question_mark", "app.help", "Help", id="confirm.help", key_display="?", show=False),
        Binding("q", "app.quit", "Quit", id="confirm.quit", show=False,
                tooltip="Quit; the proposal stays undecided and the engine expires it"),
    ]

    def __init__(self, proposal: TradeProposal, *, waiting: int = 0,
                 wall_clock: Callable[[], float] = time.time) -> None:
        """`waiting` = proposals queued behind this one; `wall_clock` = seconds since the epoch."""
        super().__init__(id="confirm-trade")
        self.proposal = proposal
        self._waiting = waiting
        self._wall_clock = wall_clock
        self._decided = False
        self._resolved = ""

    def compose(self) -> ComposeResult:
        p = self.proposal
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = f"trade proposal · {p.mode.upper()}"
            dialog.border_subtitle = self._subtitle()
            with Horizontal(id="confirm-head"):
                yield Static(self._headline(), id="confirm-headline")
                yield Static(id="confirm-countdown")
            yield Static(self._figures(), id="confirm-figures")
            yield Static(Content.from_markup("[$muted]$s[/]", s=p.summary), id="confirm-summary")
            yield Static(Content.from_markup("[b]reasons[/] [$muted]$n, by weight[/]",
                                             n=f"{len(p.reasons)} source{'' if len(p.reasons) == 1 else 's'}"),
                         id="confirm-reasons-caption")
            with VerticalScroll(id="confirm-reasons", can_focus=False):
                yield Static(reason_lines(p.reasons), id="confirm-reasons-text")
            with Horizontal(id="confirm-buttons"):
                yield Button("Reject (n)", id="confirm-reject", variant="error", compact=True)
                yield Button("Approve (y)", id="confirm-approve", variant="success", compact=True)

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(TICK_S, self._tick)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_BELOW, "-short")

    # -- what the app calls --------------------------------------------------------
    def set_waiting(self, waiting: int) -> None:
        """How many more proposals wait behind this one."""
        self._waiting = waiting
        if self.is_mounted:
            self.query_one("#confirm-dialog").border_subtitle = self._subtitle()

    def close_resolved(self, outcome: str) -> None:
        """The engine decided this proposal (expired, blocked, …): close without a decision.

        Under another dialog (help), it closes as soon as it is on top again."""
        if self._decided:
            return
        self._decided = True
        self._resolved = outcome
        if self.is_active:
            self.dismiss(None)
        elif self.is_mounted:
            self._tick()

    def on_screen_resume(self) -> None:
        if self._resolved:
            self.dismiss(None)

    def seconds_left(self) -> float:
        return self.proposal.expires_at - self._wall_clock()

    def text(self) -> str:
        """Everything the dialog says, as plain text (for tests)."""
        return "\n".join(str(w.render()) for w in self.query(Static))

    # -- keys and buttons ----------------------------------------------------------
    def action_decide(self, decision: str) -> None:
        if self._decided or decision not in (APPROVE, REJECT):
            return
        self._decided = True
        self.dismiss(decision)

    def action_scroll_reasons(self, step: int) -> None:
        reasons = self.query_one("#confirm-reasons", VerticalScroll)
        reasons.scroll_relative(y=step, animate=False)

    @on(Button.Pressed, "#confirm-approve")
    def _approve(self) -> None:
        self.action_decide(APPROVE)

    @on(Button.Pressed, "#confirm-reject")
    def _reject(self) -> None:
        self.action_decide(REJECT)

    # -- painting ------------------------------------------------------------------
    def _subtitle(self) -> str:
        more = f" · {self._waiting} more waiting" if self._waiting else ""
        return f"y approves · n/esc rejects{more}"

    def _headline(self) -> Content:
        p = self.proposal
        tone = "bull" if p.side == Side.BUY else "bear"
        return Content.from_markup(f"[b ${tone}]$side[/] [b]$qty $symbol[/]",
                                   side=str(p.side).upper(), qty=fmt.quantity(p.quantity), symbol=p.symbol)

    def _figures(self) -> Content:
        p = self.proposal
        cost = p.est_fee + p.est_slippage
        cost_share = cost / p.notional if fmt.finite(cost) and fmt.finite(p.notional) and p.notional else None
        return Content.from_markup(
            "[$muted]price[/] $price [$muted]· notional[/] [b]$notional[/] [$muted]· p(up)[/] $score\n"
            "[$muted]est. fee[/] $fee [$muted]+ slippage[/] $slip [$muted]=[/] $cost [$muted]($share)[/]",
            price=fmt.price(p.price), notional=fmt.money(p.notional), score=fmt.probability(p.score),
            fee=fmt.money(p.est_fee), slip=fmt.money(p.est_slippage), cost=fmt.money(cost),
            share=fmt.share(cost_share, decimals=2),
        )

    def _tick(self) -> None:
        left = self.seconds_left()
        label = self.query_one("#confirm-countdown", Static)
        if self._resolved:
            update(label, Content.from_markup("[b $warning]$outcome by the engine[/]", outcome=self._resolved))
        elif left > 0:
            tone = "warning" if left <= 10 else "muted"
            update(label, Content.from_markup(f"[${tone}]expires in[/] [b ${tone}]$t[/]", t=fmt.countdown(left)))
        else:
            update(label, Content.from_markup("[b $warning]time is up — the engine rejects it[/]"))
        label.set_class(left <= 10, "-urgent")
