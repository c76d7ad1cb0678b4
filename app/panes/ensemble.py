"""The ensemble's vote: one row per member, and the verdict for the selected symbol.

A row shows the member's vote and probability for the selected symbol, its
share of the vote, its live (out-of-sample) hit rate next to the baseline's
on the same scored rows, how many rows were scored, how many bars ago it was
last trained, and its state. The state comes from the member's ModelStatus
(the engine's word); a key press only adds a "pause requested…" note until
that status confirms it, exactly like the models pane.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from app import format as fmt
from app.panes.quote import short_names
from app.theming import colour
from app.widgets.deferred_paint import DeferredPaint
from app.widgets.live_table import LiveTable
from app.widgets.table_cells import relabel_column, repaint_row
from app.widgets.text import update
from engine.events import FusionStatus, MemberVote, ModelState, ModelStatus, ScoreboardRow, Votes

FAMILY = "ensemble"
COLUMNS = (
    ("name", "member"),
    ("state", "state"),
    ("vote", "p"),
    ("weight", "weight"),
    ("hit", "live hit/base"),
    ("scored", "scored"),
    ("age", "trained"),
    ("note", "note"),
)
STATE_TONES = {
    "loading": "muted",
    "ready": "primary",
    "running": "success",
    "paused": "warning",
    "faulted": "error",
    "stopped": "muted",
}
NAME_WIDTH = 18
NOTE_WIDTH = 48


@dataclass(slots=True)
class _Member:
    """What the pane knows about one member (UI-thread state, never shared)."""

    name: str
    status: ModelStatus | None = None
    vote: MemberVote | None = None
    score: ScoreboardRow | None = None
    pending: str = ""
    pending_id: str = ""
    pending_from: ModelState | None = None

    @property
    def state(self) -> str | None:
        """The engine's latest word on the member: its ModelStatus, else the vote's snapshot."""
        if self.status is not None:
            return str(self.status.state)
        return self.vote.state if self.vote is not None else None

    def settle(self) -> None:
        self.pending, self.pending_id, self.pending_from = "", "", None


def age_in_bars(cycle: int, trained_at: int | None) -> str:
    """'12 bars' since the last training; 'never' before the first one."""
    if trained_at is None:
        return "never"
    bars = max(cycle - trained_at, 0)
    return f"{fmt.count(bars)} bar{'' if bars == 1 else 's'}"


def _brier(x: float | None) -> str:
    return f"{x:.3f}" if fmt.finite(x) else fmt.NA


class EnsemblePane(DeferredPaint, Vertical):
    """`show_votes`, `show_status`, `show_score` feed it; `select_symbol` picks the column shown."""

    def __init__(self, members: tuple[str, ...], *, symbols: tuple[str, ...], symbol: str) -> None:
        super().__init__(id="ensemble")
        self.border_title = "ensemble"
        self._members: dict[str, _Member] = {name: _Member(name) for name in members}
        self._symbol = symbol
        self._short = short_names(symbols)
        self._votes: Votes | None = None
        self._fusion: FusionStatus | None = None
        self._summary = Static(id="ensemble-summary")
        self._fusion_line = Static(id="ensemble-fusion")
        self.table: DataTable[Text] = LiveTable(id="ensemble-table", cursor_type="row", zebra_stripes=True)
        self._detail = Static(id="ensemble-detail")

    def compose(self) -> ComposeResult:
        yield self._summary
        yield self.table
        yield self._fusion_line
        yield self._detail

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.table.add_column(label, key=key)
        for member in self._members.values():
            self.table.add_row(*self._cells(member), key=member.name)
        self._label_p_column()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.repaint_all())
        self._paint_summary()
        self._paint_fusion()
        self._paint_detail()

    # -- queries ---------------------------------------------------------------
    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self._members)

    def highlighted(self) -> str | None:
        """The member under the cursor, if any."""
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        except RowDoesNotExist:
            return None
        return key.value

    def state_of(self, name: str) -> ModelState | None:
        """The member's state as its last ModelStatus said (None before any)."""
        member = self._members.get(name)
        return member.status.state if member and member.status else None

    def row_text(self, name: str) -> dict[str, str]:
        """The plain text of each cell of one row (for tests and diagnostics)."""
        self._catch_up()
        cells = self.table.get_row(name)
        return {key: cell.plain for (key, _), cell in zip(COLUMNS, cells)}

    def summary_text(self) -> str:
        self._catch_up()
        return str(self._summary.render())

    # -- updates -----------------------------------------------------------------
    def show_votes(self, event: Votes) -> None:
        self._votes = event
        for vote in event.members:
            member = self._member(vote.name)
            member.vote = vote
        self.repaint_all()
        self._paint_summary()

    def show_fusion(self, event: FusionStatus) -> None:
        self._fusion = event
        self._paint_fusion()

    def fusion_text(self) -> str:
        self._catch_up()
        return str(self._fusion_line.render())

    def show_status(self, event: ModelStatus) -> None:
        member = self._member(event.source)
        member.status = event
        if member.pending and event.state != member.pending_from:
            member.settle()  # the engine acted on the request
        self._repaint(member)

    def show_score(self, event: ScoreboardRow) -> None:
        member = self._members.get(event.source)
        if member is None:
            return  # another family's scoreboard row
        member.score = event
        self._repaint(member)

    def select_symbol(self, symbol: str) -> None:
        self._symbol = symbol
        self._label_p_column()
        self.repaint_all()
        self._paint_summary()
        self._paint_fusion()

    def mark_pending(self, name: str, note: str, command_id: str) -> None:
        member = self._members.get(name)
        if member is None:
            return
        member.pending, member.pending_id = note, command_id
        member.pending_from = member.status.state if member.status else None
        self._repaint(member)

    def clear_pending(self, command_id: str) -> tuple[str, ...]:
        """Forget a rejected command's notes; returns the members they were on."""
        cleared = []
        for member in self._members.values():
            if member.pending_id == command_id:
                member.settle()
                self._repaint(member)
                cleared.append(member.name)
        return tuple(cleared)

    def repaint_all(self) -> None:
        for member in self._members.values():
            self._repaint(member)

    def _paint_all(self) -> None:
        self.repaint_all()
        self._paint_summary()
        self._paint_fusion()
        self._paint_detail()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._paint_detail()

    # -- painting ----------------------------------------------------------------
    def _member(self, name: str) -> _Member:
        member = self._members.get(name)
        if member is None:
            member = self._members[name] = _Member(name)
            if self.table.columns:
                self.table.add_row(*self._cells(member), key=name)
        return member

    def _at(self) -> int | None:
        """Index of the selected symbol in the latest vote."""
        votes = self._votes
        if votes is None or self._symbol not in votes.symbols:
            return None
        return votes.symbols.index(self._symbol)

    def _repaint(self, member: _Member) -> None:
        if not self.table.columns or self._deferred():
            return
        repaint_row(self.table, member.name, [key for key, _ in COLUMNS], self._cells(member))
        if member.name == self.highlighted():
            self._paint_detail()

    def _label_p_column(self) -> None:
        relabel_column(self.table, "vote", f"p({fmt.elide(self._short.get(self._symbol, self._symbol), 8)})",
                       next(iter(self._members), None))

    def _tone(self, name: str) -> str:
        return colour(self.app.theme_variables, name)

    def _cells(self, member: _Member) -> tuple[Text, ...]:
        vote = member.vote
        at = self._at()
        p = vote.probs[at] if vote is not None and at is not None and at < len(vote.probs) else None
        voting = vote is not None and vote.weight > 0 and fmt.finite(p)
        if voting:
            up = p >= 0.5
            vote_cell = Text.assemble(("↑ " if up else "↓ ", self._tone("bull" if up else "bear") + " bold"),
                                      fmt.probability(p), justify="right")
        else:  # not in this vote: its probability, if any, greyed
            vote_cell = Text(f"· {fmt.probability(p) if p is not None else '–'}", style=self._tone("muted"),
                             justify="right")
        weight = Text(fmt.share(vote.weight) if vote is not None else "–", justify="right",
                      style="" if voting else self._tone("muted"))
        return (
            Text(fmt.elide(member.name, NAME_WIDTH), style="bold"),
            self._state_cell(member),
            vote_cell,
            weight,
            self._hit_cell(vote),
            Text(fmt.count(vote.scored) if vote is not None else "–", justify="right"),
            Text(age_in_bars(self._votes.cycle, vote.trained_at_cycle) if vote is not None and self._votes else "–",
                 justify="right"),
            self._note_cell(member),
        )

    def _hit_cell(self, vote: MemberVote | None) -> Text:
        if vote is None or vote.live_hit_rate is None:
            return Text("–" if vote is None else fmt.versus(None, vote.live_baseline_hit_rate),
                        style=self._tone("muted"), justify="right")
        hit, base = vote.live_hit_rate, vote.live_baseline_hit_rate
        tone = "muted"
        if fmt.finite(hit) and fmt.finite(base):
            tone = "success" if hit > base else ("warning" if hit < base else "muted")
        return Text(fmt.versus(hit, base), style=self._tone(tone), justify="right")

    def _state_cell(self, member: _Member) -> Text:
        state = member.state
        if state is None:
            return Text("waiting", style=self._tone("muted"))
        bold = " bold" if state == ModelState.FAULTED else ""
        return Text(state, style=self._tone(STATE_TONES.get(state, "muted")) + bold)

    def _note_cell(self, member: _Member) -> Text:
        s = member.status
        if s is not None and s.state == ModelState.FAULTED:
            return Text(fmt.elide(s.error or "faulted (no error text)", NOTE_WIDTH), style=self._tone("error"))
        if member.pending:
            return Text(member.pending, style=self._tone("accent"))
        return Text("")

    def _paint_summary(self) -> None:
        if self._deferred():
            return
        votes, at = self._votes, self._at()
        symbol = self._symbol
        if votes is None:
            update(self._summary, Content.from_markup("[b]$symbol[/] [$muted]waiting for the first vote…[/]",
                                                      symbol=symbol))
            return
        final = votes.final[at] if at is not None else None
        agreement = votes.agreement[at] if at is not None else None
        voters = sum(1 for m in votes.members if m.weight > 0 and at is not None and fmt.finite(m.probs[at]))
        if fmt.finite(final):
            up = final >= 0.5
            verdict = Content.from_markup(f"[b ${'bull' if up else 'bear'}]$arrow $p[/]",
                                          arrow="↑" if up else "↓", p=fmt.probability(final))
        else:
            verdict = Content.from_markup("[$muted]no vote[/]")
        line = Content.from_markup("[b]$symbol[/] final ", symbol=symbol) + verdict + Content.from_markup(
            " [$muted]·[/] agreement $agreement [$muted]· $voters of $members voting · horizon $h bars[/]",
            agreement=fmt.share(agreement), voters=str(voters), members=str(len(votes.members)),
            h=str(votes.horizon),
        )
        if votes.equal_weight_fallback:
            line += Content.from_markup(
                "\n[b $warning]⚠ equal weights[/] [$warning]— no member has measured skill yet[/]")
        update(self._summary, line)

    def _paint_fusion(self) -> None:
        if self._deferred():
            return
        f = self._fusion
        if f is None:
            update(self._fusion_line, Content.from_markup("[$muted]fusion: waiting for the first cycle…[/]"))
            return
        at = f.symbols.index(self._symbol) if self._symbol in f.symbols else None
        p = f.score[at] if at is not None else None
        if fmt.finite(p):
            up = p >= 0.5
            verdict = Content.from_markup(f"[b ${'bull' if up else 'bear'}]$arrow $p[/]",
                                          arrow="↑" if up else "↓", p=fmt.probability(p))
        else:
            verdict = Content.from_markup("[$muted]–[/]")
        shares = " · ".join(f"{s.name} {fmt.share(s.share)}" for s in sorted(f.sources, key=lambda s: -s.share))
        record = (f"live hit {fmt.share(f.fused_hit_rate)} vs vote {fmt.share(f.vote_hit_rate)} "
                  f"over {fmt.count(f.fused_scored)}" if f.fused_scored else "not scored yet")
        line = (Content.from_markup("[b]fused[/] ") + verdict
                + Content.from_markup(" [$muted]· $weighting weights: $shares · $record[/]",
                                      weighting=f.weighting, shares=shares, record=record)
                + Content.from_markup("\n[b]selector[/] $used [$muted]— $reason[/]",
                                      used=f.selector, reason=f.selector_reason))
        update(self._fusion_line, line)

    def _paint_detail(self) -> None:
        if self._deferred():
            return
        name = self.highlighted()
        member = self._members.get(name) if name else None
        if member is None:
            update(self._detail, Content(""))
            return
        parts: list[str] = [member.state or "waiting for status"]
        score = member.score
        if score is not None:
            parts.append(f"live hit {fmt.share(score.hit_rate)} vs majority {fmt.share(score.baseline_hit_rate)}"
                         f", always-up {fmt.share(score.always_up_hit_rate)} over {fmt.count(score.scored)}"
                         f" of {fmt.count(score.window)} scored")
            if fmt.finite(score.brier):
                parts.append(f"brier {_brier(score.brier)} vs {_brier(score.baseline_brier)}")
        vote = member.vote
        if vote is not None and vote.trained_at_cycle is not None:
            parts.append(f"trained at bar {fmt.count(vote.trained_at_cycle)}")
        s = member.status
        if s is not None and s.detail:
            parts.append(s.detail)
        if member.pending:
            parts.insert(0, member.pending)
        about = Content.from_markup("[b]$name[/] [$muted]$rest[/]", name=member.name, rest=" · ".join(parts))
        if s is not None and s.state == ModelState.FAULTED:
            about = Content.from_markup("[b]$name[/] [$error]$error[/] [$muted](r retries)[/]\n",
                                        name=member.name, error=s.error or "faulted (no error text)") + about
        update(self._detail, about)
