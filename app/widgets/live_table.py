"""A DataTable whose cell updates re-render only the cells that changed.

Textual's `DataTable.update_cell` bumps one counter that every render cache is
keyed on and refreshes the whole widget, so a single changed cell re-renders
every visible cell of the table (the largest rendering cost of the cockpit's
model tables in `cockpit bench --ui`). Here an update that keeps the column
widths drops only that cell's cached render and that row's cached lines, and
refreshes that row's region. Anything that changes the geometry (a wider
cell, new rows or columns, sorting) takes DataTable's own path.

It reaches into DataTable's render caches (Textual 8.2): `tests/app` checks
that the table shows each update, so a Textual change that breaks this fails
there rather than on screen.
"""

from __future__ import annotations

from typing import Any

from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


class LiveTable(DataTable[Any]):
    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *,
                    update_width: bool = False) -> None:
        row_key = RowKey(row_key) if isinstance(row_key, str) else row_key
        column_key = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if update_width or row_key not in self._row_locations or column_key not in self._column_locations:
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        try:
            caches = (self._cell_render_cache, self._row_render_cache, self._row_renderable_cache, self._line_cache)
        except AttributeError:  # a Textual whose DataTable keeps its caches differently: its own (slower) path
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        cells, rows, renderables, lines = caches
        self._data[row_key][column_key] = value
        row_index = self._row_locations.get(row_key)
        # The caches are keyed by the table's own key objects: compare by identity, inline,
        # because the cell cache holds thousands of entries and this runs for every changed cell.
        row = self.rows[row_key].key
        column = self.columns[column_key].key
        _discard(cells, [k for k in cells.keys() if k[0] is row and k[1] is column])  # noqa: SIM118
        _discard(rows, [k for k in rows.keys() if k[0] is row])  # noqa: SIM118
        _discard(renderables, [k for k in renderables.keys() if k[1] == row_index])  # noqa: SIM118
        lines.clear()  # keyed by screen line; rebuilt cheaply from the cached rows
        self.refresh_row(row_index)


def _discard(cache: LRUCache[Any, Any], keys: list[Any]) -> None:
    for key in keys:
        cache.discard(key)
