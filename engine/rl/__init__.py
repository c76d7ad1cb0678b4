"""Reinforcement-learning family: a DQN trader over the engine's candles and features.

- `env`: a gymnasium trading environment (one symbol; BUY/SELL/HOLD/EXIT;
  paper-broker fills, fees and slippage; reward = change in equity).
- `network`, `agent`: the Q-network and a Double DQN with replay and a target net.
- `model`: the Model-protocol wrapper (family "rl"), `events`: its QValues event.
- `train`, `evaluate`, `bench_rl`: `cockpit train rl`, `cockpit report`, `cockpit bench`.

torch is imported lazily (inside functions), like the other torch families.
"""
