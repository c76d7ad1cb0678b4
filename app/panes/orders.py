"""The paper account: cash, equity, PnL and fees; positions; open and recent orders; fills.

Everything here is the ledger's word as the engine reports it: positions and
totals come from `PortfolioSnapshot`, orders from `OrderUpdate`, fills from
`Fill`. The pane computes nothing but the layout. `HaltedBadge` is the
header's kill-switch badge, shown while the snapshot says trading is halted.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import DataTable, Label, Static

from app import format as fmt
from app.theming import colour
from app.widgets.text import update
from engine.events import Fill, OrderUpdate, PortfolioSnapshot, Side

POSITION_COLUMNS = (
    ("symbol", "symbol"), ("qty", "qty"), ("avg", "avg price"), ("last", "last"),
    ("unrealized", "unrealised"), ("realized", "realised"),
)
ORDER_COLUMNS = (
    ("time", "time"), ("symbol", "symbol"), ("side", "side"), ("type", "type"), ("qty", "qty"),
    ("filled", "filled"), ("avg", "avg price"), ("status", "status"), ("message", "note"),
)
FILL_COLUMNS = (
    ("time", "time"), ("symbol", "symbol"), ("side", "side"), ("qty", "qty"), ("price", "price"), ("fee", "fee"),
)
TERMINAL = frozenset({"filled", "cancelled", "rejected"})
STATUS_TONES = {"filled": "success", "cancelled": "muted", "rejected": "error", "partially_filled": "accent"}
MAX_ORDERS = 40
MAX_FILLS = 40
MESSAGE_WIDTH = 40
SIDE_BY_SIDE_FROM = 150
"""Pane widths from which orders and fills sit side by side (else stacked)."""

Cells = tuple[Text, ...]


def sync_rows(table: DataTable[Text], rows: Mapping[str, Cells]) -> None:
    """Make `table` show exactly `rows`, in order, touching only what changed (the cursor stays put)."""
    keys = list(rows)
    current = [key.value for key in table.rows]
    if current != keys:
        cursor = table.cursor_row
        table.clear()
        for key, cells in rows.items():
            table.add_row(*cells, key=key)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)
        return
    columns = list(table.columns)
    for key, cells in rows.items():
        for column, old, cell in zip(columns, table.get_row(key), cells):
            if cell != old:
                grow = cell.cell_len > table.columns[column].content_width
                table.update_cell(key, column, cell, update_width=grow)


def _plain(table: DataTable[Text], columns: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{name: cell.plain for (name, _), cell in zip(columns, table.get_row(key.value))}
            for key in table.rows]


class HaltedBadge(Label):
    """' HALTED: <reason> ' in the header while the daily-loss kill switch holds."""

    def __init__(self) -> None:
        super().__init__(id="header-halted")
        self.display = False

    def show(self, event: PortfolioSnapshot) -> None:
        self.display = event.halted
        if event.halted:
            update(self, f" HALTED: {event.halted_reason or 'no new entries'} ")


class OrdersPane(Vertical):
    """`show_portfolio`, `show_order`, `show_fill` feed it."""

    def __init__(self, *, mode: str) -> None:
        super().__init__(id="orders")
        self.border_title = "orders"
        self._mode = mode
        self._snapshot: PortfolioSnapshot | None = None
        self._orders: OrderedDict[str, OrderUpdate] = OrderedDict()
        self._fills: deque[Fill] = deque(maxlen=MAX_FILLS)
        self._summary = Static(id="orders-summary")
        self.positions: DataTable[Text] = DataTable(id="positions-table", cursor_type="row", zebra_stripes=True)
        self.orders: DataTable[Text] = DataTable(id="orders-table", cursor_type="row", zebra_stripes=True)
        self.fills: DataTable[Text] = DataTable(id="fills-table", cursor_type="row", zebra_stripes=True)
        self._positions_caption = Static(id="positions-caption", classes="orders-caption")
        self._orders_caption = Static(id="orders-caption", classes="orders-caption")
        self._fills_caption = Static(id="fills-caption", classes="orders-caption")

    def compose(self) -> ComposeResult:
        yield self._summary
        with Vertical(id="positions-box"):
            yield self._positions_caption
            yield self.positions
        with Horizontal(id="orders-activity"):
            with Vertical(id="orders-box"):
                yield self._orders_caption
                yield self.orders
            with Vertical(id="fills-box"):
                yield self._fills_caption
                yield self.fills

    def on_mount(self) -> None:
        for table, columns in ((self.positions, POSITION_COLUMNS), (self.orders, ORDER_COLUMNS),
                               (self.fills, FILL_COLUMNS)):
            for key, label in columns:
                table.add_column(label, key=key)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.repaint_all())
        self.repaint_all()

    # -- queries (tests and diagnostics) -----------------------------------------
    def summary_text(self) -> str:
        return str(self._summary.render())

    def position_rows(self) -> dict[str, dict[str, str]]:
        return {row["symbol"]: row for row in _plain(self.positions, POSITION_COLUMNS)}

    def order_rows(self) -> list[dict[str, str]]:
        return _plain(self.orders, ORDER_COLUMNS)

    def fill_rows(self) -> list[dict[str, str]]:
        return _plain(self.fills, FILL_COLUMNS)

    # -- updates -----------------------------------------------------------------
    def show_portfolio(self, event: PortfolioSnapshot) -> None:
        self._snapshot = event
        self._mode = event.mode or self._mode
        self._paint_summary()
        self._paint_positions()

    def show_order(self, event: OrderUpdate) -> None:
        key = event.client_order_id or event.order_id
        self._orders.pop(key, None)
        self._orders[key] = event
        while len(self._orders) > MAX_ORDERS:
            oldest_done = next((k for k, o in self._orders.items() if o.status in TERMINAL), None)
            self._orders.pop(oldest_done if oldest_done is not None else next(iter(self._orders)))
        self._paint_orders()

    def show_fill(self, event: Fill) -> None:
        self._fills.appendleft(event)
        self._paint_fills()

    def repaint_all(self) -> None:
        self._paint_summary()
        self._paint_positions()
        self._paint_orders()
        self._paint_fills()

    # -- painting ----------------------------------------------------------------
    def _tone(self, name: str) -> str:
        return colour(self.app.theme_variables, name)

    def _pnl(self, x: float) -> Text:
        tone = "muted" if not fmt.finite(x) or round(x, 2) == 0 else ("bull" if x > 0 else "bear")
        return Text(fmt.money(x, signed=True), style=self._tone(tone), justify="right")

    def _side(self, side: Side | str) -> Text:
        buy = str(side) == Side.BUY
        return Text(str(side), style=self._tone("bull" if buy else "bear"))

    def _paint_summary(self) -> None:
        mode = self._mode.upper()
        badge = Content.from_markup(f"[b $background on ${'live' if mode == 'LIVE' else 'paper'}] $mode [/]",
                                    mode=mode)
        s = self._snapshot
        if s is None:
            update(self._summary, badge + Content.from_markup(" [$muted]waiting for the ledger…[/]"))
            return
        parts = [
            Content.from_markup("[$muted]cash[/] [b]$v[/]", v=fmt.money(s.cash)),
            Content.from_markup("[$muted]equity[/] [b]$v[/]", v=fmt.money(s.equity)),
            Content.from_markup(f"[$muted]realised[/] [${self._tone_name(s.realized_pnl)}]$v[/]",
                                v=fmt.money(s.realized_pnl, signed=True)),
            Content.from_markup(f"[$muted]unrealised[/] [${self._tone_name(s.unrealized_pnl)}]$v[/]",
                                v=fmt.money(s.unrealized_pnl, signed=True)),
            Content.from_markup("[$muted]fees[/] $v", v=fmt.money(s.fees_paid)),
            Content.from_markup("[$muted]$v[/]", v=f"{s.open_orders} open order{'' if s.open_orders == 1 else 's'}"),
        ]
        dot = Content.from_markup(" [$muted]·[/] ")
        one_line = badge + Content(" ") + dot.join(parts)
        width = self._summary.content_size.width or self.content_size.width or 80
        if one_line.cell_length <= width:
            line = one_line
        else:  # two lines: the account, then the PnL
            line = badge + Content(" ") + dot.join([parts[0], parts[1], parts[4]]) + Content("\n") + dot.join(
                [parts[2], parts[3], parts[5]])
        if s.halted:
            line = Content.from_markup("[b $error]HALTED[/] [$error]$reason[/]\n",
                                       reason=s.halted_reason or "no new entries") + line
        update(self._summary, line)

    def on_resize(self) -> None:
        if self.is_mounted:
            self.set_class(self.size.width < SIDE_BY_SIDE_FROM, "-stacked")
            self._paint_summary()

    @staticmethod
    def _tone_name(x: float) -> str:
        if not fmt.finite(x) or round(x, 2) == 0:
            return "muted"
        return "bull" if x > 0 else "bear"

    def _paint_positions(self) -> None:
        positions = self._snapshot.positions if self._snapshot is not None else ()
        rows = {
            p.symbol: (
                Text(p.symbol, style="bold"),
                Text(fmt.quantity(p.quantity), justify="right"),
                Text(fmt.price(p.average_price), justify="right"),
                Text(fmt.price(p.last_price), justify="right"),
                self._pnl(p.unrealized_pnl),
                self._pnl(p.realized_pnl),
            )
            for p in positions
        }
        sync_rows(self.positions, rows)
        update(self._positions_caption, Content.from_markup(
            "[b]positions[/] [$muted]$n[/]", n="none" if not rows else f"{len(rows)} open"))

    def _paint_orders(self) -> None:
        newest_first = reversed(self._orders.items())
        ordered = sorted(newest_first, key=lambda kv: kv[1].status in TERMINAL)  # stable: open ones first
        rows: dict[str, Cells] = {}
        for key, o in ordered:
            done = o.status in TERMINAL
            muted = self._tone("muted") if done else ""
            rows[key] = (
                Text(fmt.wall_clock(o.emitted), style=self._tone("muted")),
                Text(o.symbol, style="bold"),
                self._side(o.side),
                Text(o.order_type, style=muted),
                Text(fmt.quantity(o.quantity), justify="right"),
                Text(fmt.quantity(o.filled), justify="right"),
                Text(fmt.price(o.average_price) if o.average_price is not None else "–", justify="right"),
                Text(o.status, style=self._tone(STATUS_TONES.get(o.status, "warning"))),
                Text(fmt.elide(o.message, MESSAGE_WIDTH), style=self._tone("muted")),
            )
        sync_rows(self.orders, rows)
        open_count = sum(1 for o in self._orders.values() if o.status not in TERMINAL)
        update(self._orders_caption, Content.from_markup(
            "[b]orders[/] [$muted]$n open · newest first[/]", n=str(open_count)))

    def _paint_fills(self) -> None:
        rows: dict[str, Cells] = {}
        for f in self._fills:
            key = f.fill_id or f"fill-{id(f)}"  # unique while the fill is held
            rows[key] = (
                Text(fmt.wall_clock(f.emitted), style=self._tone("muted")),
                Text(f.symbol, style="bold"),
                self._side(f.side),
                Text(fmt.quantity(f.quantity), justify="right"),
                Text(fmt.price(f.price), justify="right"),
                Text(fmt.money(f.fee), justify="right"),
            )
        sync_rows(self.fills, rows)
        update(self._fills_caption, Content.from_markup(
            "[b]fills[/] [$muted]$n[/]", n="none yet" if not rows else "newest first"))
