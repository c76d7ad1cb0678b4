"""The background search must start from inside the running TUI, where Textual
has replaced sys.stdout/stderr (multiprocessing once failed there with
"bad value(s) in fds_to_keep")."""

import pytest
from textual.app import App

from engine.strategy.background import EvolutionSpec, EvolutionWorker


class _Starter(App):
    def __init__(self, worker: EvolutionWorker) -> None:
        super().__init__()
        self.worker = worker
        self.error: BaseException | None = None

    def on_mount(self) -> None:
        try:
            self.worker.start()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            self.error = exc


@pytest.mark.timeout(60)
def test_the_search_starts_inside_a_running_textual_app(tmp_path):
    worker = EvolutionWorker(EvolutionSpec(source="synthetic", n_symbols=2, bars=1500, trials=5, data_dir=tmp_path))
    app = _Starter(worker)
    try:
        app.run(headless=True, auto_pilot=_quit)
        assert app.error is None, repr(app.error)
        assert worker.pid is not None
    finally:
        worker.stop()


async def _quit(pilot) -> None:
    await pilot.pause()
    pilot.app.exit()
