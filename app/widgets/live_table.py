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

from collections.abc import Callable
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
        _drop(cells, lambda key: key[0] == row_key and key[1] == column_key)
        _drop(rows, lambda key: key[0] == row_key)
        _drop(renderables, lambda key: key[1] == row_index)
        lines.clear()  # keyed by screen line; rebuilt cheaply from the cached rows
        self.refresh_row(row_index)


def _drop(cache: LRUCache[Any, Any], stale: Callable[[Any], bool]) -> None:
    for key in [key for key in cache.keys() if stale(key)]:  # noqa: SIM118 - an LRUCache, not a dict
        cache.discard(key)
