"""The Q-values pane in a small Textual app (Pilot), fed by a real tiny DQN model."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
from textual.app import App, ComposeResult

import themes
from app.panes.qvalues import QValuesPane
from app.theming import load_palettes
from engine.data.synthetic import synthetic_panel
from engine.features import compute_features
from engine.models.protocol import FeatureBatch, Feedback, History, ModelContext
from engine.rl.agent import DQNConfig
from engine.rl.events import QValues
from engine.rl.model import DQNModel

NAN = math.nan


class PaneApp(App[None]):
    CSS_PATH: ClassVar[list] = [themes.stylesheet_paths()[0], *[p for p in themes.stylesheet_paths() if p.stem == "qvalues"]]

    def __init__(self, model: DQNModel | None = None, symbol: str = "SYN000/USD") -> None:
        self._palettes = load_palettes()
        super().__init__()
        for palette in self._palettes.themes:
            self.register_theme(palette)
        self.theme = "cockpit-dark"
        self.model, self.symbol = model, symbol
        self.requests: list[bool] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self._palettes.semantic_defaults()

    def compose(self) -> ComposeResult:
        yield QValuesPane(symbol=self.symbol)

    def on_qvalues_pane_freeze_requested(self, message: QValuesPane.FreezeRequested) -> None:
        """Stands in for the app → engine command."""
        self.requests.append(message.frozen)
        if self.model is not None:
            (self.model.freeze_learning if message.frozen else self.model.unfreeze_learning)()


def event(**kw) -> QValues:
    base = {"source": "dqn", "cycle": 3, "symbols": ("BTC/USD", "ETH/USD", "SOL/USD"),
                "q": ((0.10, 0.40, -0.20, 0.0), (NAN,) * 4, (0.3, -0.1, 0.05, 0.2)), "actions": (1, -1, 0),
                "advantage": (0.43, NAN, 0.25), "epsilon": 0.12, "replay_size": 1234, "recent_loss": 0.0123, "updates": 456}
    base.update(kw)
    return QValues(**base)


async def test_bars_stats_and_top_symbols():
    app = PaneApp(symbol="BTC/USD")
    async with app.run_test(size=(90, 20)) as pilot:
        pane = app.query_one(QValuesPane)
        assert "waiting for the agent" in pane.bars_text()
        pane.show_qvalues(event())
        await pilot.pause()
        bars = pane.bars_text().splitlines()
        assert bars[0] == "BTC/USD" and len(bars) == 5
        assert bars[2].startswith("▶ BUY") and bars[2].endswith("+0.400") and "█" * 20 in bars[2]
        assert bars[3].strip().startswith("SELL") and "█" * 10 in bars[3] and bars[3].endswith("-0.200")
        assert "█" not in bars[4]  # EXIT = 0
        stats = pane.stats_text()
        assert "action BUY" in stats and "ε 0.120" in stats and "replay 1,234" in stats
        assert "loss 0.0123" in stats and "updates 456" in stats and "FROZEN" not in stats
        top = pane.top_text()
        assert top.index("BTC/USD BUY +0.430") < top.index("SOL/USD HOLD +0.250") and "ETH" not in top
        pane.select_symbol("ETH/USD")
        await pilot.pause()
        assert "not scored" in pane.bars_text()


@pytest.fixture(scope="module")
def trained() -> tuple[DQNModel, History]:
    panel = synthetic_panel(2, 220, seed=9)
    block = compute_features(panel)
    history = History(panel=panel, features=block.values, names=block.names)
    model = DQNModel(train_bars=220, pretrain_steps=80, chunk_steps=40, episode_bars=50, learn_every=2,
                     config=DQNConfig(learn_starts=30, batch_size=16, buffer_size=400, target_sync=10,
                                      epsilon_decay_steps=60))
    model.warmup(ModelContext(checkpoint_dir="", seed=1))
    for _ in model.fit(history):
        pass
    return model, history


def _cycle(model: DQNModel, history: History, cycle: int) -> QValues:
    values = history.features[:, -cycle, :]
    batch = FeatureBatch(cycle=cycle, ts=0, symbols=history.panel.symbols, names=history.names, values=values,
                         valid=np.isfinite(values).all(axis=1))
    q = model.predict(batch)[0]
    model.update(Feedback(cycle=cycle, symbols=batch.symbols, realised_return=np.array([0.003, -0.002])))
    return q


async def test_q_values_update_and_the_freeze_key_stops_learning(trained):
    model, history = trained
    app = PaneApp(model)
    async with app.run_test(size=(90, 20)) as pilot:
        pane = app.query_one(QValuesPane)
        seen = []
        for cycle in range(1, 4):
            pane.show_qvalues(_cycle(model, history, cycle))
            await pilot.pause()
            seen.append(pane.stats_text())
        assert seen[0] != seen[-1]  # updates count moves while learning
        learning_updates = model.agent.updates
        pane.focus()
        await pilot.press("f")
        assert app.requests == [True] and model.learning_frozen
        assert "freeze requested" in pane.stats_text()
        frozen = []
        for cycle in range(4, 8):
            q = _cycle(model, history, cycle)
            pane.show_qvalues(q)
            await pilot.pause()
            frozen.append(q)
        assert all(q.learning_frozen and q.updates == learning_updates for q in frozen)
        assert all(all(0 <= a < 4 for a in q.actions) for q in frozen)  # still acting
        assert model.agent.updates == learning_updates
        stats = pane.stats_text()
        assert "learning FROZEN" in stats and "requested" not in stats and f"updates {learning_updates:,}" in stats
        await pilot.press("f")
        assert app.requests == [True, False] and not model.learning_frozen
        pane.show_qvalues(_cycle(model, history, 9))
        await pilot.pause()
        assert model.agent.updates == learning_updates + 1 and "FROZEN" not in pane.stats_text()
