"""The evolution pane in a tiny App: status, fitness plot, Pareto front, top strategies with PASS marks."""

from __future__ import annotations

from textual.app import App, ComposeResult

import themes
from app.panes.evolution import (
    NO_PASS,
    PASS,
    EvolutionPane,
    fitness_lines,
    pareto_lines,
)
from app.theming import load_palettes
from engine.strategy.events import EvolutionProgress, ParetoPoint, StrategyRow


class PaneApp(App[None]):
    CSS_PATH = themes.stylesheet_paths()

    def __init__(self) -> None:
        self._palettes = load_palettes()
        super().__init__()
        for palette in self._palettes.themes:
            self.register_theme(palette)
        self.theme = "cockpit-dark"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self._palettes.semantic_defaults()

    def compose(self) -> ComposeResult:
        yield EvolutionPane()


def row(trial: int, passes: bool, holdout: float | None = 0.9) -> StrategyRow:
    return StrategyRow(trial=trial, strategy=f"4h EMA(12/48) crossover · exit trailing 3.0% · no filter #{trial}",
                       wf_sharpe=1.5 - trial / 100, wf_max_drawdown=0.12, wf_trades=60, wf_return=0.4,
                       deflated_sharpe=0.97 if passes else 0.4, holdout_sharpe=holdout, holdout_return=0.1,
                       holdout_max_drawdown=0.05, holdout_trades=11, passes=passes)


def progress(done: int, *, generations: int = 3, finished: bool = False) -> EvolutionProgress:
    best = tuple(0.2 * g for g in range(1, generations + 1))
    return EvolutionProgress(
        source="evolution", study="night-1", trials_done=done, trials_target=300, trials_per_second=21.5,
        generation=generations - 1, best_fitness=best, median_fitness=tuple(b - 0.3 for b in best),
        pareto=tuple(ParetoPoint(trial=i, sharpe=1.5 - i / 10, max_drawdown=0.2 - i / 50) for i in range(6)),
        top=(row(7, True), row(19, False, holdout=None)), pbo=0.31, finished=finished)


def test_plot_and_front_text():
    lines = fitness_lines((0.1, 0.5, 0.9), (0.0, 0.2, 0.4), 40)
    assert lines[0].startswith("best") and lines[0].endswith("+0.90") and "█" in lines[0]
    assert lines[1].startswith("median") and lines[1].endswith("+0.40")
    assert fitness_lines((), (), 40) == ["no generation completed yet"]
    front = pareto_lines(progress(10).pareto, rows=4)
    assert front[0].startswith("Pareto front (6)") and front[-1] == "  … 2 more" and len(front) == 6


async def test_progress_events_fill_the_pane():
    app = PaneApp()
    async with app.run_test(size=(110, 30)) as pilot:
        pane = app.query_one(EvolutionPane)
        assert "not running" in str(pane.query_one("#evolution-status").render())
        pane.show_progress(progress(120))
        await pilot.pause()
        status = str(pane.query_one("#evolution-status").render())
        assert "generation 2" in status and "trials 120/300" in status and "21.5 trials/s" in status
        assert "PBO 0.31" in status
        plot = str(pane.query_one("#evolution-plot").render())
        assert "best" in plot and "median" in plot and "+0.60" in plot
        assert "#0" in str(pane.query_one("#evolution-pareto").render())
        table = pane.table
        assert table.row_count == 2
        first = [str(c) for c in table.get_row("trial-7")]
        assert first[0] == "#7" and first[1] == "+1.43" and first[3] == "+0.90" and first[4] == "0.97"
        assert first[5] == PASS
        second = [str(c) for c in table.get_row("trial-19")]
        assert second[3] == "-" and second[5] == NO_PASS

        pane.show_progress(progress(300, generations=5, finished=True))  # a newer event replaces the old one
        await pilot.pause()
        assert "trials 300/300" in str(pane.query_one("#evolution-status").render())
        assert "finished" in str(pane.query_one("#evolution-status").render())
        assert "+1.00" in str(pane.query_one("#evolution-plot").render())
        assert table.row_count == 2
        app.theme = "cockpit-light"  # repaint on theme change must not fail
        await pilot.pause()
        assert pane.last is not None and pane.last.trials_done == 300


async def test_d_asks_to_switch_the_highlighted_promoted_strategy_off():
    from engine.strategy.events import PromotedList, PromotedRow

    app = PaneApp()
    asked: list[tuple[str, bool]] = []
    async with app.run_test(size=(120, 40), message_hook=lambda m: asked.append((m.strategy_id, m.enabled))
                            if isinstance(m, EvolutionPane.ToggleStrategy) else None) as pilot:
        pane = app.query_one(EvolutionPane)
        pane.show_promoted(PromotedList(source="strategies", entries=(
            PromotedRow(id="aaaa1111", strategy="4h EMA(12/48) crossover", enabled=True, holdout_sharpe=1.1),
            PromotedRow(id="bbbb2222", strategy="1h RSI(14) mean reversion", enabled=False, holdout_sharpe=0.4))))
        await pilot.pause()
        assert pane.promoted_table.row_count == 2
        pane.promoted_table.focus()
        await pilot.press("d")
        await pilot.press("down", "d")
        await pilot.pause()
    assert list(dict.fromkeys(asked)) == [("aaaa1111", False), ("bbbb2222", True)]  # the hook sees each hop
