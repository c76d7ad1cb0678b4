"""Driving the agent through environments: training rollouts, greedy and baseline policies.

Shared by the model's walk-forward pretraining (`engine.rl.model`) and the
out-of-sample evaluation (`engine.rl.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.rl.agent import DQNAgent
from engine.rl.env import BUY, EXIT, HOLD, TradingEnv

STANDARDISE_BLOCK_VALUES = 1 << 20
"""Values standardised per block (8 MB of float64)."""


@dataclass(frozen=True, slots=True)
class Standardiser:
    """Per-feature mean and std from a training span; applied to any row."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> Standardiser:
        flat = features[np.isfinite(features).all(axis=-1)]  # the finite rows, one copy, in C order
        if len(flat) < 2:
            raise ValueError(f"only {len(flat)} finite feature rows: cannot standardise")
        std = flat.std(axis=0)
        return cls(flat.mean(axis=0), np.where(std > 1e-12, std, 1.0))

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Standardised, cleaned, clipped float32 rows. Computed in float64 a block of the leading
        axis at a time: 500 symbols × 900 bars at once made ~200 MB of float64 temporaries."""
        features = np.asarray(features)
        if features.ndim < 2:
            return self._standardise(features)
        out = np.empty(features.shape, dtype=np.float32)
        step = max(1, STANDARDISE_BLOCK_VALUES // max(1, int(np.prod(features.shape[1:]))))
        for i in range(0, len(features), step):
            out[i:i + step] = self._standardise(features[i:i + step])
        return out

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        return np.clip(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -10.0, 10.0).astype(np.float32)


class Trainer:
    """Epsilon-greedy rollouts over several environments, one gradient step per env step.

    Each episode picks the next environment (round-robin) and a start drawn
    from `window` (a [lo, hi) range of start bars; episodes last
    `episode_bars` or until the data ends). Moving the window forward
    chunk by chunk is the walk-forward pretraining.
    """

    def __init__(self, agent: DQNAgent, envs: list[TradingEnv], *, episode_bars: int, learn_every: int = 1) -> None:
        if not envs:
            raise ValueError("no environments to train on")
        self.agent, self.envs, self.episode_bars, self.learn_every = agent, envs, episode_bars, learn_every
        self._env_index = -1
        self._env: TradingEnv | None = None
        self._obs: np.ndarray | None = None
        self.episode_rewards: list[float] = []
        self._episode_reward = 0.0

    def run(self, steps: int, window: tuple[int, int]) -> None:
        agent = self.agent
        for _ in range(steps):
            if self._obs is None:
                self._start_episode(window)
            env, obs = self._env, self._obs
            assert env is not None and obs is not None
            action, _ = agent.act(obs[None, :], explore=True)
            nxt, reward, done, _trunc, _info = env.step(int(action[0]))
            agent.observe(obs, int(action[0]), reward, nxt, done)
            self._episode_reward += reward
            if agent.env_steps % self.learn_every == 0:
                agent.learn(1)
            self._obs = None if done else nxt
            if done:
                self.episode_rewards.append(self._episode_reward)
                del self.episode_rewards[:-50]

    def _start_episode(self, window: tuple[int, int]) -> None:
        self._env_index = (self._env_index + 1) % len(self.envs)
        env = self.envs[self._env_index]
        lo, hi = window
        start = int(self.agent.rng.integers(lo, max(lo + 1, hi)))
        end = min(start + self.episode_bars, len(env.close))
        self._obs, _ = env.reset(options={"start": start, "end": end})
        self._env, self._episode_reward = env, 0.0


@dataclass(frozen=True, slots=True)
class PolicyRun:
    equity: float
    """Final equity over starting equity (1.0 = unchanged)."""
    trades: int
    bars: int


Policy = Callable[[np.ndarray, TradingEnv], int]


def run_policy(env: TradingEnv, policy: Policy, start: int, end: int) -> PolicyRun:
    obs, _ = env.reset(options={"start": start, "end": end})
    done = False
    while not done:
        obs, _r, done, _t, _i = env.step(policy(obs, env))
    return PolicyRun(env.equity() / env.initial_cash, env.trades, end - start - 1)


def run_greedy(agent: DQNAgent, envs: list[TradingEnv], start: int, end: int) -> list[PolicyRun]:
    """The greedy policy on every env over the same bars, one batched forward pass per bar."""
    obs = np.stack([env.reset(options={"start": start, "end": end})[0] for env in envs])
    for _ in range(end - start - 1):
        actions = agent.q_values(obs).argmax(axis=1)
        obs = np.stack([env.step(int(a))[0] for env, a in zip(envs, actions)])
    return [PolicyRun(env.equity() / env.initial_cash, env.trades, end - start - 1) for env in envs]


def greedy_policy(agent: DQNAgent) -> Policy:
    def act(obs: np.ndarray, _env: TradingEnv) -> int:
        return int(agent.q_values(obs[None, :])[0].argmax())
    return act


def buy_and_hold_policy(obs: np.ndarray, env: TradingEnv) -> int:
    return BUY if not env.long else HOLD


def random_toggle_policy(rate: float, rng: np.random.Generator) -> Policy:
    """Flip between flat and long with probability `rate` per bar: the same trade frequency, no skill."""
    def act(_obs: np.ndarray, env: TradingEnv) -> int:
        if rng.random() >= rate:
            return HOLD
        return EXIT if env.long else BUY
    return act
