"""A gymnasium trading environment over one symbol's candles and features.

Time: an observation at step t describes bar t after its close (features at
t, the position held). The action chosen on it becomes a MARKET order that
fills at the OPEN of bar t+1 ± slippage, exactly as `PaperBroker` fills an
order placed after bar t; the step then advances to bar t+1 and marks the
account at its close. Accounting uses the paper broker's own rules and code
(`engine.trading.accounting.apply_fill`): fill price = open × (1 + slippage)
for a buy, × (1 − slippage) for a sell; fee = fee_bps × price × quantity on
every fill; equity = cash + quantity × last finite close.

Actions (long-only, like the paper broker's default; no shorts):

- HOLD (0): nothing, flat or long.
- BUY (1): flat → buy `invest_fraction` × cash / close[t] units (all-in
  minus headroom for slippage, fees and gaps); long → no-op (no pyramiding).
- SELL (2): long → sell half the position (scale out); flat → no-op.
- EXIT (3): long → sell the whole position; flat → no-op.

Broker rules mirrored: a buy whose estimated cost (quantity × last close ×
(1 + slippage) × (1 + fee)) exceeds the cash is refused when decided; a buy
that no longer fits the cash at the fill price (a gap up) is dropped at the
fill; a bar without an open (NaN) fills nothing and the order waits for the
next bar with one. While an order waits, new actions are no-ops.

Reward: the change of equity over the step (so fees and slippage are in it),
divided by the episode's starting equity and multiplied by `reward_scale`
(100: a reward of 1.0 is 1 % of the starting equity). No other shaping.

Observation: the bar's feature row (the caller standardises; non-finite
values become 0) followed by two position features: 1.0 if long else 0.0,
and the unrealised return last_close / average_price − 1 (0 when flat;
the average price includes the entry fee, as in the paper broker).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from engine.events import Side
from engine.trading.accounting import Position, apply_fill

HOLD, BUY, SELL, EXIT = 0, 1, 2, 3
N_ACTIONS = 4
POSITION_FEATURES = 2
_CASH_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Order:
    side: Side
    quantity: float


class TradingEnv(gym.Env):
    """One symbol; episodes run over bars [start, end) chosen at `reset`."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, open_: np.ndarray, close: np.ndarray, features: np.ndarray, *, fee_bps: float = 10.0,
                 slippage_bps: float = 5.0, cash: float = 10_000.0, invest_fraction: float = 0.95,
                 reward_scale: float = 100.0, episode_bars: int | None = None) -> None:
        self.open = np.asarray(open_, dtype=np.float64)
        self.close = np.asarray(close, dtype=np.float64)
        features = np.asarray(features, dtype=np.float32)
        # Clean rows (the standardiser's output) are used as they are: no copy per environment.
        self.features = features if np.isfinite(features).all() else np.nan_to_num(features, nan=0.0, posinf=0.0,
                                                                                      neginf=0.0)
        if self.open.shape != self.close.shape or self.features.shape[0] != self.close.shape[0]:
            raise ValueError(f"open {self.open.shape}, close {self.close.shape} and features "
                             f"{self.features.shape} must share the bar axis")
        if not 0.0 < invest_fraction < 1.0:
            raise ValueError(f"invest_fraction must be in (0, 1), got {invest_fraction!r}")
        self.fee_rate = fee_bps / 1e4
        self.slip_rate = slippage_bps / 1e4
        self.initial_cash = float(cash)
        self.invest_fraction = invest_fraction
        self.reward_scale = reward_scale
        self.episode_bars = episode_bars
        n_obs = self.features.shape[1] + POSITION_FEATURES
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(n_obs,), dtype=np.float32)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.t = 0
        self.end = len(self.close)
        self.cash = self.initial_cash
        self.position = Position()
        self.pending: Order | None = None
        self.last_close = math.nan
        self.trades = 0

    @classmethod
    def from_panel(cls, panel: Any, symbol: int, features: np.ndarray, **kw: Any) -> TradingEnv:
        """`features` is (T, F) for this symbol (or (S, T, F) for the panel)."""
        f = features[symbol] if features.ndim == 3 else features
        return cls(panel.open[symbol], panel.close[symbol], f, **kw)

    # -- gymnasium API ------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """options: {"start", "end"} bars; without "start", a random start (seeded) that
        leaves `episode_bars` bars (all of [0, end) when episode_bars is None)."""
        super().reset(seed=seed)
        options = options or {}
        end = int(options.get("end", len(self.close)))
        if "start" in options:
            start = int(options["start"])
        elif self.episode_bars is not None and end - self.episode_bars > 0:
            start = int(self.np_random.integers(0, end - self.episode_bars))
            end = start + self.episode_bars
        else:
            start = 0
        if not 0 <= start < end - 1 or end > len(self.close):
            raise ValueError(f"episode [{start}, {end}) needs at least 2 bars within 0..{len(self.close)}")
        self.t, self.end = start, end
        self.cash, self.position, self.pending, self.trades = self.initial_cash, Position(), None, 0
        self.last_close = self._latest_close(start)
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.t >= self.end - 1:
            raise RuntimeError("episode is over: call reset()")
        before = self.equity()
        if self.pending is None:
            self.pending = self.order_for(int(action))
        self.t += 1
        self._fill(self.t)
        c = self.close[self.t]
        if math.isfinite(c):
            self.last_close = float(c)
        reward = (self.equity() - before) / self.initial_cash * self.reward_scale
        return self._obs(), float(reward), self.t >= self.end - 1, False, self._info()

    # -- accounting (the paper broker's rules) -------------------------------------
    def order_for(self, action: int) -> Order | None:
        """The market order `action` sends at the current bar, or None (a no-op or refused)."""
        if not 0 <= action < N_ACTIONS:
            raise ValueError(f"action must be 0..3 (HOLD, BUY, SELL, EXIT), got {action!r}")
        held = self.position.quantity
        if action == BUY and held == 0.0 and math.isfinite(self.last_close) and self.last_close > 0:
            quantity = self.invest_fraction * self.cash / self.last_close
            need = quantity * self.last_close * (1 + self.slip_rate) * (1 + self.fee_rate)
            if quantity > 0 and need <= self.cash + _CASH_EPS:
                return Order(Side.BUY, quantity)
        elif action == SELL and held > 0.0:
            return Order(Side.SELL, held / 2.0)
        elif action == EXIT and held > 0.0:
            return Order(Side.SELL, held)
        return None

    def equity(self) -> float:
        mark = self.last_close if math.isfinite(self.last_close) else self.position.average_price
        return self.cash + self.position.quantity * mark

    @property
    def long(self) -> bool:
        return self.position.quantity > 0.0

    def _fill(self, t: int) -> None:
        order = self.pending
        o = self.open[t]
        if order is None or not math.isfinite(o):
            return
        self.pending = None
        buy = order.side is Side.BUY
        price = o * (1 + self.slip_rate) if buy else o * (1 - self.slip_rate)
        fee = order.quantity * price * self.fee_rate
        if buy and order.quantity * price + fee > self.cash + _CASH_EPS:
            return  # the broker rejects a buy that no longer fits the cash at the fill
        effect = apply_fill(self.position, order.side, order.quantity, price, fee)
        self.position = effect.position
        self.cash += effect.cash_delta
        self.trades += 1

    def _latest_close(self, t: int) -> float:
        finite = np.flatnonzero(np.isfinite(self.close[: t + 1]))
        return float(self.close[finite[-1]]) if len(finite) else math.nan

    def _obs(self) -> np.ndarray:
        long = self.long
        unrealised = self.last_close / self.position.average_price - 1.0 if long else 0.0
        if not math.isfinite(unrealised):
            unrealised = 0.0
        return np.concatenate([self.features[self.t], np.array([float(long), unrealised], dtype=np.float32)])

    def _info(self) -> dict[str, Any]:
        return {"t": self.t, "cash": self.cash, "quantity": self.position.quantity, "equity": self.equity(),
                "trades": self.trades, "pending": self.pending is not None}
