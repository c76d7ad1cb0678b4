"""Small DataTable chores shared by the panes (no engine knowledge)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


def repaint_row(table: DataTable[Text], row_key: str, column_keys: Sequence[str], cells: Iterable[Text]) -> None:
    """Update only the cells that changed; widen a column only when a cell outgrows it."""
    painted = table.get_row(row_key)
    for key, old, cell in zip(column_keys, painted, cells):
        if cell == old:
            continue
        grow = cell.cell_len > table.columns[ColumnKey(key)].content_width
        table.update_cell(row_key, key, cell, update_width=grow)


def relabel_column(table: DataTable[Text], column_key: str, label: str, any_row_key: str | None) -> None:
    """Give a column a new heading and re-measure it so the heading fits."""
    column = table.columns.get(ColumnKey(column_key))
    if column is None:
        return
    column.label = Text(label)
    if any_row_key is not None:
        table.update_cell(any_row_key, column_key, table.get_cell(any_row_key, column_key), update_width=True)
    table.refresh()
