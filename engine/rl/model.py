"""The DQN trader as a cockpit model (family "rl").

fit: walk-forward pretraining on the history's last `train_bars` bars in
chunks of `chunk_steps` environment steps (one Progress each), one
gradient step every `learn_every` environment steps. Chunk k of
C draws its episodes from the k-th of C consecutive windows of that span,
so the agent meets history in time order and ends on the newest bars. A
refit continues the same agent (weights, replay buffer, epsilon).

predict: one batched forward pass for the whole watchlist (each symbol's
feature row, standardised with the training statistics, plus the agent's
own shadow position in it) → a `QValues` event and a `Signal`:

    p(up) = sigmoid((Q_flat[BUY] − max(Q_flat[HOLD], Q_flat[SELL], Q_flat[EXIT])) / temperature)

where Q_flat are the Q-values of the same row as if the agent were flat
(the same forward pass): the advantage of opening a long over staying out,
so p > 0.5 exactly when the agent would enter. The action reported is the
agent's behaviour: epsilon-greedy while learning, greedy while frozen.

Online learning, per watchlist symbol and bar: predict records (obs,
action); `update(feedback)` turns `feedback.realised_return[s]` (the
symbol's close-to-close return over the bar that followed the prediction)
into a reward like the environment's:

    reward = reward_scale × invest_fraction × (held × r − (fee + slippage) × |Δheld|)

(held = the shadow position after the action, 1 / 0.5 / 0 of the
all-in size), and runs `online_steps` gradient steps; the next predict
completes the transition with its observation and stores it in the replay
buffer (only when its cycle is the next one: a skipped bar drops the
transition rather than joining two distant bars). `freeze_learning()`
stops both (no transitions stored, no gradient steps, update count
stays); actions and signals continue.

Runtime hook, per bar t+1: `update(Feedback(cycle=t+1, symbols,
realised_return=close[t+1] / close[t] − 1))`, then `predict(batch_{t+1})`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from engine.errors import NotReadyError
from engine.events import Event, Signal
from engine.models.protocol import (
    Budget,
    Family,
    FeatureBatch,
    Feedback,
    History,
    ModelContext,
    Progress,
)
from engine.rl.agent import DQNAgent, DQNConfig
from engine.rl.env import BUY, EXIT, HOLD, N_ACTIONS, SELL, TradingEnv
from engine.rl.events import QValues
from engine.rl.rollout import Standardiser, Trainer

SIGNAL_MEANING = "sigmoid((Q[BUY] − max other Q) / T) if flat: the agent's case for entering"


class DQNModel:
    family = Family.RL

    def __init__(self, name: str = "dqn", *, train_bars: int = 4000, pretrain_steps: int = 20_000,
                 chunk_steps: int = 500, episode_bars: int = 500, fee_bps: float = 10.0, slippage_bps: float = 5.0,
                 invest_fraction: float = 0.95, reward_scale: float = 100.0, online_steps: int = 1,
                 temperature: float = 1.0, horizon: int = 1, learn_every: int = 4, config: DQNConfig | Mapping[str, Any] | None = None
                 ) -> None:
        if chunk_steps < 1 or pretrain_steps < chunk_steps:
            raise ValueError(f"need 1 ≤ chunk_steps ≤ pretrain_steps, got {chunk_steps}, {pretrain_steps}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        self.name = name
        self.train_bars, self.pretrain_steps, self.chunk_steps = train_bars, pretrain_steps, chunk_steps
        self.episode_bars, self.fee_bps, self.slippage_bps = episode_bars, fee_bps, slippage_bps
        self.invest_fraction, self.reward_scale = invest_fraction, reward_scale
        self.online_steps, self.temperature, self.horizon = online_steps, temperature, horizon
        self.learn_every = learn_every
        self.config = config if isinstance(config, DQNConfig) else DQNConfig(**(config or {}))
        self.budget = Budget(ram_mb=120.0, latency_ms=30.0, threads=1)
        self._seed, self._threads = 7, 1
        self.agent: DQNAgent | None = None
        self.standardiser: Standardiser | None = None
        self.learning_frozen = False
        self._held: dict[str, float] = {}
        self._unrealised: dict[str, float] = {}
        # symbol → (cycle, obs, action, reward once known): completed by the next cycle's predict
        self._pending: dict[str, tuple[int, np.ndarray, int, float | None]] = {}
        self._before: dict[str, float] = {}  # shadow position before the last action
        self.checkpoint_note = ""

    def get_params(self) -> Mapping[str, Any]:
        return {"name": self.name, "train_bars": self.train_bars, "pretrain_steps": self.pretrain_steps,
                "chunk_steps": self.chunk_steps, "episode_bars": self.episode_bars, "fee_bps": self.fee_bps,
                "slippage_bps": self.slippage_bps, "invest_fraction": self.invest_fraction,
                "reward_scale": self.reward_scale, "online_steps": self.online_steps,
                "temperature": self.temperature, "horizon": self.horizon, "learn_every": self.learn_every,
                "config": asdict(self.config)}

    @property
    def ready(self) -> bool:
        return self.agent is not None and self.standardiser is not None

    def save_on_stop(self, checkpoint_dir: str) -> None:
        """Keep what online learning taught: the engine calls this on shutdown."""
        if not self.ready or not checkpoint_dir:
            return
        from engine.rl.train import checkpoint_path, save_checkpoint

        save_checkpoint(self, checkpoint_path(checkpoint_dir, self.name))

    def warmup(self, ctx: ModelContext) -> None:
        """Remember seed and threads; load `<checkpoint_dir>/<name>.pt` if it exists with the same params."""
        self._seed, self._threads = ctx.seed, ctx.threads
        self.checkpoint_note = ""
        if not ctx.checkpoint_dir:
            return
        from engine.rl.train import checkpoint_path, load_checkpoint

        path = checkpoint_path(ctx.checkpoint_dir, self.name)
        if not path.exists():
            return
        state = load_checkpoint(path)
        if dict(state["params"]) != dict(self.get_params()):
            self.checkpoint_note = f"{path}: params differ from the configured ones; starting fresh"
            return
        self.load_state_dict(state)
        self._seed, self._threads = ctx.seed, ctx.threads
        agent = self.agent
        self.checkpoint_note = (f"resumed {path}: {agent.updates} updates, replay {len(agent.buffer)}"
                                if agent is not None else f"{path}: params only (never trained)")

    # -- learning switch ---------------------------------------------------------------
    def freeze_learning(self) -> None:
        """Act, don't learn: no transitions stored, no gradient steps."""
        self.learning_frozen = True
        self._pending.clear()

    def unfreeze_learning(self) -> None:
        self.learning_frozen = False

    # -- fit ------------------------------------------------------------------------------
    def fit(self, history: History) -> Iterator[Progress]:
        panel = history.panel
        start = max(0, panel.n_bars - self.train_bars)
        feats = history.features[:, start:, :]
        if panel.n_bars - start < self.episode_bars + 2:
            raise ValueError(f"{panel.n_bars - start} bars of history; need more than episode_bars "
                             f"{self.episode_bars} + 1")
        standardiser = Standardiser.fit(feats)
        z = standardiser(feats)
        envs = [TradingEnv(panel.open[s, start:], panel.close[s, start:], z[s], fee_bps=self.fee_bps,
                           slippage_bps=self.slippage_bps, invest_fraction=self.invest_fraction,
                           reward_scale=self.reward_scale) for s in range(panel.n_symbols)]
        n_obs = envs[0].observation_space.shape[0]
        agent = self.agent
        if agent is None or agent.n_obs != n_obs:
            agent = DQNAgent(n_obs, N_ACTIONS, config=self.config, seed=self._seed, threads=self._threads)
        trainer = Trainer(agent, envs, episode_bars=self.episode_bars, learn_every=self.learn_every)
        chunks = self.pretrain_steps // self.chunk_steps
        span = panel.n_bars - start - self.episode_bars
        yield Progress(done=0, total=chunks, message=f"{panel.n_symbols} symbols × {panel.n_bars - start} bars")
        for k in range(chunks):
            window = (k * span // chunks, max((k + 1) * span // chunks, k * span // chunks + 1))
            trainer.run(self.chunk_steps, window)
            rewards = trainer.episode_rewards[-10:]
            metrics = [("epsilon", agent.epsilon), ("updates", float(agent.updates))]
            if agent.recent_loss is not None:
                metrics.append(("loss", agent.recent_loss))
            if rewards:
                metrics.append(("episode_reward", float(np.mean(rewards))))
            yield Progress(done=k + 1, total=chunks, metrics=tuple(metrics), message=f"window {window[0]}–{window[1]}")
        self.agent, self.standardiser = agent, standardiser

    # -- predict ----------------------------------------------------------------------------
    def _observations(self, batch: FeatureBatch) -> tuple[np.ndarray, np.ndarray]:
        assert self.standardiser is not None
        z = self.standardiser(np.asarray(batch.values, dtype=np.float64))
        held = np.array([self._held.get(s, 0.0) for s in batch.symbols], dtype=np.float32)
        unreal = np.array([self._unrealised.get(s, 0.0) for s in batch.symbols], dtype=np.float32)
        actual = np.column_stack([z, (held > 0).astype(np.float32), np.where(held > 0, unreal, 0.0)])
        flat = np.column_stack([z, np.zeros((len(z), 2), np.float32)])
        return actual.astype(np.float32), flat.astype(np.float32)

    def predict(self, batch: FeatureBatch) -> Sequence[Event]:
        agent = self.agent
        if agent is None or self.standardiser is None:
            raise NotReadyError(f"{self.name} has not been trained")
        n = len(batch.symbols)
        actual, flat = self._observations(batch)
        q_all = agent.q_values(np.concatenate([actual, flat]))  # one forward pass for the whole watchlist
        q, q_flat = q_all[:n], q_all[n:]
        valid = np.asarray(batch.valid, dtype=bool)
        greedy = q.argmax(axis=1)
        learning = not self.learning_frozen
        if learning:
            explore = agent.rng.random(n) < agent.epsilon
            actions = np.where(explore, agent.rng.integers(0, N_ACTIONS, n), greedy)
        else:
            actions = greedy
        rest = np.max(q_flat[:, [HOLD, SELL, EXIT]], axis=1)
        p_up = 1.0 / (1.0 + np.exp(-np.clip((q_flat[:, BUY] - rest) / self.temperature, -50, 50)))
        sorted_q = np.sort(q, axis=1)
        advantage = sorted_q[:, -1] - sorted_q[:, :-1].mean(axis=1)

        for i, symbol in enumerate(batch.symbols):
            if not valid[i]:
                continue
            done = self._pending.pop(symbol, None)
            if learning and done is not None and done[3] is not None and batch.cycle == done[0] + 1:
                agent.observe(done[1], done[2], done[3], actual[i], False)
            if learning:
                self._pending[symbol] = (batch.cycle, actual[i], int(actions[i]), None)
        ok = valid.tolist()
        nan_row = (np.nan,) * 4
        q_out = tuple(tuple(row) if v else nan_row for row, v in zip(q.astype(float).tolist(), ok))
        act_out = tuple(np.where(valid, actions, -1).tolist())
        for i, symbol in enumerate(batch.symbols):
            if valid[i]:
                self._apply_shadow(symbol, int(actions[i]))
        return (
            QValues(source=self.name, cycle=batch.cycle, ts=batch.ts, symbols=batch.symbols, q=q_out, actions=act_out,
                    advantage=tuple(np.where(valid, advantage, np.nan).astype(float).tolist()),
                    positions=tuple(self._held.get(s, 0.0) for s in batch.symbols),
                    epsilon=agent.epsilon if learning else 0.0, replay_size=len(agent.buffer),
                    recent_loss=agent.recent_loss, updates=agent.updates, learning_frozen=self.learning_frozen),
            Signal(source=self.name, cycle=batch.cycle, ts=batch.ts, family=str(self.family), symbols=batch.symbols,
                   values=tuple(np.where(valid, p_up, np.nan).astype(float).tolist()), horizon=self.horizon,
                   meaning=SIGNAL_MEANING),
        )

    def _apply_shadow(self, symbol: str, action: int) -> None:
        held = self._held.get(symbol, 0.0)
        if action == BUY and held == 0.0:
            self._held[symbol], self._unrealised[symbol] = 1.0, 0.0
        elif action == SELL and held > 0.0:
            self._held[symbol] = held / 2.0
        elif action == EXIT and held > 0.0:
            self._held[symbol], self._unrealised[symbol] = 0.0, 0.0
        self._before[symbol] = held

    # -- online learning ---------------------------------------------------------------------
    def update(self, feedback: Feedback) -> None:
        """Rewards for the last predictions, then up to `online_steps` gradient steps (unless frozen)."""
        before = self._before
        cost = (self.fee_bps + self.slippage_bps) / 1e4
        returns = np.asarray(feedback.realised_return, dtype=np.float64)
        for symbol, r in zip(feedback.symbols, returns):
            held = self._held.get(symbol, 0.0)
            if held > 0 and np.isfinite(r):
                self._unrealised[symbol] = (1.0 + self._unrealised.get(symbol, 0.0)) * (1.0 + r) - 1.0
            pending = self._pending.get(symbol)
            if pending is None or not np.isfinite(r):
                continue
            change = abs(held - before.get(symbol, held))
            reward = self.reward_scale * self.invest_fraction * (held * r - cost * change)
            self._pending[symbol] = (pending[0], pending[1], pending[2], float(reward))
        if not self.learning_frozen and self.agent is not None:
            self.agent.learn(self.online_steps)

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> Mapping[str, Any]:
        """Tensors and plain containers only (loads with torch.load(weights_only=True))."""
        state: dict[str, Any] = {"params": dict(self.get_params()), "seed": self._seed,
                                 "learning_frozen": self.learning_frozen,
                                 "held": dict(self._held), "unrealised": dict(self._unrealised)}
        if self.agent is not None and self.standardiser is not None:
            state["agent"] = self.agent.state_dict()
            state["mean"] = self.standardiser.mean.tolist()
            state["std"] = self.standardiser.std.tolist()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        params = dict(state["params"])
        threads = self._threads
        self.__init__(**params)  # type: ignore[misc]
        self._seed, self._threads = int(state.get("seed", 7)), threads
        self.learning_frozen = bool(state.get("learning_frozen", False))
        self._held = {str(k): float(v) for k, v in state.get("held", {}).items()}
        self._unrealised = {str(k): float(v) for k, v in state.get("unrealised", {}).items()}
        if "agent" in state:
            self.agent = DQNAgent.from_state(state["agent"], threads=threads)
            self.standardiser = Standardiser(np.asarray(state["mean"]), np.asarray(state["std"]))
