"""Double DQN: experience replay, a target network, epsilon-greedy exploration with linear decay.

Seeded: the agent owns a numpy Generator (exploration, replay sampling) and
`DQNAgent(seed=...)` calls `seed_everything` before building the network, so
weight init and dropout masks repeat too. Same seed, same observations → the
same training curve (on one machine, one thread count).

Checkpoints (`state_dict`) hold only tensors and plain containers, so they
load with `torch.load(..., weights_only=True)`: weights, target weights,
optimizer state, the replay buffer, the exploration and dropout RNG states
and the counters — a restored agent learns exactly as the original would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.models._torch import seed_everything, torch_setup
from engine.rl.network import q_network


@dataclass(frozen=True, slots=True, kw_only=True)
class DQNConfig:
    gamma: float = 0.9
    lr: float = 5e-4
    batch_size: int = 64
    buffer_size: int = 50_000
    learn_starts: int = 500
    """Transitions in the buffer before the first gradient step."""
    target_sync: int = 500
    """Gradient steps between copies of the online net into the target net."""
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 10_000
    """Environment steps over which epsilon falls linearly from start to end."""
    dropout: float = 0.1
    grad_clip: float = 10.0
    weight_decay: float = 1e-5

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma!r}")
        if self.batch_size < 1 or self.buffer_size < self.batch_size:
            raise ValueError(f"need 1 ≤ batch_size ≤ buffer_size, got {self.batch_size}, {self.buffer_size}")
        if not 0.0 <= self.epsilon_end <= self.epsilon_start <= 1.0:
            raise ValueError("need 0 ≤ epsilon_end ≤ epsilon_start ≤ 1")


class ReplayBuffer:
    """A circular buffer of (obs, action, reward, next_obs, done) in numpy arrays."""

    def __init__(self, capacity: int, n_obs: int) -> None:
        self.capacity, self.n_obs = capacity, n_obs
        self.obs = np.zeros((capacity, n_obs), np.float32)
        self.next_obs = np.zeros((capacity, n_obs), np.float32)
        self.action = np.zeros(capacity, np.int64)
        self.reward = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.size = 0
        self.pos = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, done: bool) -> None:
        i = self.pos
        self.obs[i], self.action[i], self.reward[i] = obs, action, reward
        self.next_obs[i], self.done[i] = next_obs, float(done)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        idx = rng.integers(0, self.size, n)
        return self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.done[idx]

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        return {"capacity": self.capacity, "n_obs": self.n_obs, "size": n, "pos": self.pos,
                "obs": self.obs[:n].copy(), "next_obs": self.next_obs[:n].copy(), "action": self.action[:n].copy(),
                "reward": self.reward[:n].copy(), "done": self.done[:n].copy()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReplayBuffer:
        buf = cls(int(state["capacity"]), int(state["n_obs"]))
        n = int(state["size"])
        for name in ("obs", "next_obs", "action", "reward", "done"):
            getattr(buf, name)[:n] = np.asarray(state[name])
        buf.size, buf.pos = n, int(state["pos"])
        return buf


class DQNAgent:
    def __init__(self, n_obs: int, n_actions: int = 4, *, config: DQNConfig | None = None, seed: int = 7,
                 threads: int = 1) -> None:
        config = config or DQNConfig()
        self.torch = torch_setup(threads)
        seed_everything(seed)
        self.n_obs, self.n_actions, self.config, self.seed = n_obs, n_actions, config, seed
        self.net = q_network(n_obs, n_actions, dropout=config.dropout)
        self.target = q_network(n_obs, n_actions, dropout=config.dropout)
        self.target.load_state_dict(self.net.state_dict())
        self.target.eval()
        self.optimizer = self.torch.optim.Adam(self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.buffer = ReplayBuffer(config.buffer_size, n_obs)
        self.rng = np.random.default_rng(seed)
        self.torch_rng = self.torch.get_rng_state()  # dropout masks: the agent's own stream
        self.env_steps = 0
        self.updates = 0
        self.losses: list[float] = []  # the last 100 losses

    # -- acting ---------------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        c = self.config
        frac = min(1.0, self.env_steps / max(1, c.epsilon_decay_steps))
        return c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """(N, n_obs) → (N, n_actions), one batched forward pass in eval mode."""
        torch = self.torch
        self.net.eval()
        with torch.inference_mode():
            return self.net(torch.as_tensor(np.asarray(obs, np.float32))).numpy()

    def act(self, obs: np.ndarray, *, explore: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Epsilon-greedy (or greedy) actions for a batch; returns (actions, q_values)."""
        q = self.q_values(obs)
        actions = q.argmax(axis=1)
        if explore:
            eps = self.epsilon
            random = self.rng.random(len(actions)) < eps
            actions = np.where(random, self.rng.integers(0, self.n_actions, len(actions)), actions)
        return actions, q

    # -- learning ---------------------------------------------------------------------
    def observe(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, done: bool) -> None:
        self.buffer.add(obs, action, reward, next_obs, done)
        self.env_steps += 1

    def learn(self, steps: int = 1) -> float | None:
        """Up to `steps` gradient steps (none before `learn_starts`); the last loss or None."""
        loss = None
        for _ in range(steps):
            if len(self.buffer) < max(self.config.learn_starts, self.config.batch_size):
                break
            loss = self._gradient_step()
        return loss

    def _gradient_step(self) -> float:
        torch = self.torch
        with torch.random.fork_rng(devices=[]):  # other models' draws don't shift ours, nor ours theirs
            torch.set_rng_state(self.torch_rng)
            loss = self._gradient_step_seeded()
            self.torch_rng = torch.get_rng_state()
        return loss

    def _gradient_step_seeded(self) -> float:
        torch, c = self.torch, self.config
        obs, action, reward, next_obs, done = (torch.as_tensor(a) for a in self.buffer.sample(self.rng, c.batch_size))
        with torch.no_grad():
            self.net.eval()
            best = self.net(next_obs).argmax(dim=1, keepdim=True)  # Double DQN: the online net picks…
            next_q = self.target(next_obs).gather(1, best).squeeze(1)  # …the target net values it
            target = reward + c.gamma * (1.0 - done) * next_q
        self.net.train()
        q = self.net(obs).gather(1, action.unsqueeze(1)).squeeze(1)
        loss = torch.nn.functional.smooth_l1_loss(q, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), c.grad_clip)
        self.optimizer.step()
        self.updates += 1
        if self.updates % c.target_sync == 0:
            self.target.load_state_dict(self.net.state_dict())
        value = float(loss.item())
        self.losses.append(value)
        del self.losses[:-100]
        return value

    @property
    def recent_loss(self) -> float | None:
        return float(np.mean(self.losses[-20:])) if self.losses else None

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"n_obs": self.n_obs, "n_actions": self.n_actions, "seed": self.seed, "config": asdict(self.config),
                "net": self.net.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "buffer": {k: self.torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                           for k, v in self.buffer.state_dict().items()},
                "rng": self.rng.bit_generator.state, "torch_rng": self.torch_rng.clone(), "env_steps": self.env_steps, "updates": self.updates,
                "losses": list(self.losses)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, threads: int = 1) -> DQNAgent:
        agent = cls(int(state["n_obs"]), int(state["n_actions"]), config=DQNConfig(**state["config"]),
                    seed=int(state["seed"]), threads=threads)
        agent.net.load_state_dict(state["net"])
        agent.target.load_state_dict(state["target"])
        agent.optimizer.load_state_dict(state["optimizer"])
        agent.buffer = ReplayBuffer.from_state(state["buffer"])
        agent.rng.bit_generator.state = state["rng"]
        agent.torch_rng = state["torch_rng"].clone()
        agent.env_steps, agent.updates = int(state["env_steps"]), int(state["updates"])
        agent.losses = list(state["losses"])
        return agent
