"""LiveTable shows every update while re-rendering only the cells that changed;
panes on a closed tab defer their painting until it opens."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from app.widgets.live_table import LiveTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTable(id="t")

    def on_mount(self) -> None:
        table = self.query_one(LiveTable)
        table.add_column("name", key="name")
        table.add_column("value", key="value")
        for n in range(5):
            table.add_row(Text(f"row{n}"), Text(f"{n:>6}"), key=f"r{n}")


def _lines(table: LiveTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_an_update_is_on_screen_and_only_its_cell_is_rendered_again():
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(LiveTable)
        await pilot.pause()
        assert any("row3" in line and "3" in line for line in _lines(table))
        rendered: list[tuple[object, object]] = []
        render_cell = table._render_cell

        def counting(row_index, column_index, *args, **kwargs):
            rendered.append((row_index, column_index))
            return render_cell(row_index, column_index, *args, **kwargs)

        table._render_cell = counting
        table.update_cell("r3", "value", Text("  9999"))
        await pilot.pause()
        lines = _lines(table)
        assert any("row3" in line and "9999" in line for line in lines)
        assert not any("row2" in line and "9999" in line for line in lines)
        assert table.get_cell("r3", "value").plain == "  9999"
        rows_rendered = {row for row, _ in rendered}
        assert rows_rendered == {3}, rendered  # DataTable alone re-renders every visible row
        assert (3, 1) in rendered


async def test_a_wider_cell_still_widens_its_column():
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(LiveTable)
        await pilot.pause()
        table.update_cell("r1", "value", Text("a much wider value"), update_width=True)
        await pilot.pause()
        assert any("a much wider value" in line for line in _lines(table))


async def test_a_hidden_ensemble_pane_paints_when_its_tab_opens_or_is_read():
    from app.cockpit import CockpitApp
    from engine.events import ModelState
    from tests.app.fakes import FakeEngine, deliver, running, status

    members = (("logreg", "ensemble"), ("knn", "ensemble"))
    engine = FakeEngine(model_names=members)
    app = CockpitApp(engine)
    async with running(app, engine, (120, 40)) as pilot:
        pane = app.main.ensemble
        await deliver(pilot, engine, status("logreg", ModelState.RUNNING, family="ensemble"))
        assert app.main.active_tab == "models"
        assert pane.table.get_row("logreg")[1].plain == "waiting"  # hidden: recorded, not painted
        await pilot.press("2")
        await pilot.pause()
        assert pane.table.get_row("logreg")[1].plain == "running"
        await pilot.press("1")
        await deliver(pilot, engine, status("logreg", ModelState.PAUSED, family="ensemble"))
        assert pane.row_text("logreg")["state"] == "paused"  # a read catches up
    assert app.ui_errors == 0
