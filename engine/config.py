"""config.toml → frozen dataclasses. Every error names the key and the file.

The dataclass defaults ARE the defaults; `config.toml` at the project root
mirrors them with comments (a test keeps the two equal).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from engine.errors import ConfigError
from engine.fusion import WEIGHTINGS, FamilyWeights
from engine.selector import MODES as SELECTOR_MODES
from engine.trading.settings import RiskSettings, TradingSettings

DATA_SOURCES = ("embedded", "files", "ccxt", "synthetic")


@dataclass(frozen=True, slots=True, kw_only=True)
class DataConfig:
    source: str = "embedded"
    """Where candles come from: "embedded" (offline default), "files", "ccxt", "synthetic"."""
    symbols: tuple[str, ...] = ()
    """Watchlist; empty = every symbol the source has."""
    files: tuple[str, ...] = ()
    """Your own OHLCV files (CSV, Parquet, Feather) for source = "files"."""
    timeframe: str = ""
    """Bar size for "files" ("" = infer from the data)."""
    synthetic_symbols: int = 50
    """Universe size for source = "synthetic" (a labelled random walk, not market data)."""

    def validate(self) -> None:
        _one_of("data.source", self.source, DATA_SOURCES)
        if self.source == "files" and not self.files:
            raise ValueError(("data.files", 'source = "files" needs at least one file'))
        _at_least("data.synthetic_symbols", self.synthetic_symbols, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayConfig:
    speed: float = 4.0
    """Bars per second replayed; 0 = as fast as possible."""
    start: str = "2019-06-01"
    """Replay starts at this date; bars before it are history for the models. "" = 70 % in."""

    def validate(self) -> None:
        _at_least("replay.speed", self.speed, 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class CcxtConfig:
    exchange: str = "binance"
    """A ccxt exchange id."""
    timeframe: str = "1h"
    history_bars: int = 500
    poll_seconds: float = 20.0
    max_retries: int = 5
    backoff_seconds: float = 1.0
    timeout_ms: int = 10000
    api_urls: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({}))
    """Override the exchange's REST base URLs (e.g. a local stand-in)."""

    def validate(self) -> None:
        _at_least("ccxt.history_bars", self.history_bars, 1)
        _at_least("ccxt.poll_seconds", self.poll_seconds, 0.1)
        _at_least("ccxt.max_retries", self.max_retries, 0)
        _at_least("ccxt.timeout_ms", self.timeout_ms, 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    workers: int = 2
    """Worker threads that run model calls."""
    threads: int = 2
    """Cap on intra-op threads of torch, BLAS and LightGBM (one place)."""
    chart_bars: int = 120
    """Closes per symbol sent with each Candles event for the price chart."""
    seed: int = 7

    def validate(self) -> None:
        _at_least("engine.workers", self.workers, 1)
        _at_least("engine.threads", self.threads, 1)
        _at_least("engine.chart_bars", self.chart_bars, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorConfig:
    interval_seconds: float = 1.0
    slow_interval_seconds: float = 5.0
    """How often vcgencmd (a subprocess) is asked for throttle bits and clock."""
    history: int = 120

    def validate(self) -> None:
        _at_least("monitor.interval_seconds", self.interval_seconds, 0.1)
        _at_least("monitor.history", self.history, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnsembleConfig:
    enabled: bool = True
    members: tuple[str, ...] = ()
    """Zoo members to run; empty = all of them (see `cockpit report`)."""
    horizon: int = 4
    """Bars ahead the label looks (4 × 30 min = 2 h on the embedded data)."""
    train_bars: int = 3000
    retrain_every: int = 500
    """Bars between walk-forward refits (in the background)."""
    cost_bps: float = 30.0
    """Round-trip cost a move must beat to count as "up" (2 × (fee + slippage))."""
    score_window: int = 0
    """Scored predictions per member in the live scoreboard; 0 = 100 × symbols."""
    min_scored: int = 50
    """Live rows a member needs before its measured skill replaces its holdout prior."""
    tiny: bool = False
    """Much smaller members (tests, slow machines)."""

    def validate(self) -> None:
        _at_least("models.ensemble.horizon", self.horizon, 1)
        _at_least("models.ensemble.train_bars", self.train_bars, 100)
        _at_least("models.ensemble.retrain_every", self.retrain_every, 1)
        _at_least("models.ensemble.cost_bps", self.cost_bps, 0.0)
        _at_least("models.ensemble.score_window", self.score_window, 0)
        _at_least("models.ensemble.min_scored", self.min_scored, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class SentimentConfig:
    enabled: bool = True
    model: str = "minilm"
    """"minilm" (shipped offline) or a Hugging Face sequence-classification name/directory."""
    online: bool = False
    """False sets HF_HUB_OFFLINE=1: nothing is ever downloaded."""
    feeds: tuple[str, ...] = ()
    """RSS/Atom URLs (need a network)."""
    poll_seconds: float = 300.0
    files: tuple[str, ...] = ()
    """JSONL/CSV files of timestamped headlines."""
    sample: bool = True
    """With no feed or file: the labelled sample feed (shown as "sample", never traded)."""
    sample_every_minutes: float = 120.0
    half_life_minutes: float = 360.0
    """Per-symbol sentiment halves every this many minutes of market time."""
    max_age_minutes: float = 1440.0
    horizon: int = 4
    signal_gain: float = 0.2
    max_per_cycle: int = 64
    batch_size: int = 32

    def validate(self) -> None:
        _at_least("models.sentiment.poll_seconds", self.poll_seconds, 1.0)
        _at_least("models.sentiment.half_life_minutes", self.half_life_minutes, 1.0)
        _at_least("models.sentiment.horizon", self.horizon, 1)
        _at_least("models.sentiment.batch_size", self.batch_size, 1)
        _at_least("models.sentiment.max_per_cycle", self.max_per_cycle, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastConfig:
    enabled: bool = True
    retrain_every: int = 1000
    hours: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)
    """Forecast horizons in hours (converted to bars of the data's timeframe)."""
    signal_hours: float = 2.0
    """The horizon whose p(up > cost) joins the trading signals."""
    window: int = 48
    hidden: int = 32
    layers: int = 1
    dropout: float = 0.1
    train_bars: int = 8000
    epochs: int = 8
    windows_per_epoch: int = 16384
    cost_bps: float = 20.0

    def validate(self) -> None:
        _at_least("models.forecast.retrain_every", self.retrain_every, 1)

    def params(self) -> dict[str, object]:
        """The ForecastParams fields (everything but enabled/retrain_every)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("enabled", "retrain_every")}


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternsConfig:
    enabled: bool = True
    retrain_every: int = 2000
    """Bars between refreshes of the measured pattern → return study (the CNN itself is shipped)."""
    horizon: int = 8
    cost_bps: float = 20.0
    min_confidence: float = 0.7
    cooldown: int = 16
    """Bars before the same pattern is reported again for a symbol."""
    train_bars: int = 4000
    study_stride: int = 8
    precision: str = "fp32"
    """"fp32" or "int8" (measured slower here: see `cockpit bench`)."""

    def validate(self) -> None:
        _at_least("models.patterns.retrain_every", self.retrain_every, 1)
        _one_of("models.patterns.precision", self.precision, ("fp32", "int8"))
        if not 0.0 < self.min_confidence <= 1.0:
            raise ValueError(("models.patterns.min_confidence", f"must be in (0, 1], got {self.min_confidence}"))

    def params(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("enabled", "retrain_every")}


@dataclass(frozen=True, slots=True, kw_only=True)
class RLConfig:
    enabled: bool = True
    retrain_every: int = 5000
    """Bars between walk-forward re-pretraining; online learning runs every bar in between."""
    train_bars: int = 4000
    pretrain_steps: int = 20000
    chunk_steps: int = 500
    episode_bars: int = 500
    learn_every: int = 4
    fee_bps: float = 10.0
    slippage_bps: float = 5.0
    invest_fraction: float = 0.95
    reward_scale: float = 100.0
    online_steps: int = 1
    """Gradient steps per bar of online learning (0 = act only)."""
    temperature: float = 1.0
    horizon: int = 1

    def validate(self) -> None:
        _at_least("models.rl.retrain_every", self.retrain_every, 1)
        _at_least("models.rl.chunk_steps", self.chunk_steps, 1)
        _at_least("models.rl.pretrain_steps", self.pretrain_steps, self.chunk_steps)
        _at_least("models.rl.online_steps", self.online_steps, 0)

    def params(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("enabled", "retrain_every")}


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyConfig:
    background: bool = True
    """Run the NSGA-II strategy search in the cockpit as a niced background process."""
    hours: float = 8.0
    """Budget of one background search session (resumes where the study stopped)."""
    trials: int = 0
    """Or stop at this many completed trials in the study (0 = only the hours budget)."""
    bars: int = 0
    """Search on the newest N bars of the embedded data (0 = all)."""
    study: str = "cockpit-evolve"
    storage: str = ""
    """Optuna storage URL; "" = a journal file in the data directory."""
    promoted: bool = True
    """Trade signals from promoted strategies (`cockpit evolve --promote`)."""
    signal_step: float = 0.1
    window_bars: int = 600
    reload_every: int = 500
    """Bars between re-reading the promoted strategies file."""

    def validate(self) -> None:
        _at_least("strategy.hours", self.hours, 0.0)
        _at_least("strategy.trials", self.trials, 0)
        _at_least("strategy.window_bars", self.window_bars, 100)
        _at_least("strategy.reload_every", self.reload_every, 1)
        if self.background and self.hours <= 0 and self.trials <= 0:
            raise ValueError(("strategy.hours", "or strategy.trials must give the background search a budget"))


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionConfig:
    weighting: str = "skill"
    """"skill": each source weighs its measured out-of-sample skill; "fixed": the [fusion.fixed] family weights."""
    selector: str = "auto"
    """Who ranks the entries: "rank" (fused score), "dqn", or "auto" (the DQN once it measurably beats the ranking)."""
    selector_min_outcomes: int = 100
    """Scored cycles before "auto" may hand the choice to the DQN."""
    selector_min_t: float = 2.0
    """t-statistic of the DQN's paired advantage over the ranking that "auto" requires."""
    fixed: FamilyWeights = field(default_factory=FamilyWeights)

    def validate(self) -> None:
        _one_of("fusion.weighting", self.weighting, WEIGHTINGS)
        _one_of("fusion.selector", self.selector, SELECTOR_MODES)
        _at_least("fusion.selector_min_outcomes", self.selector_min_outcomes, 2)
        _at_least("fusion.selector_min_t", self.selector_min_t, 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelsConfig:
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    sentiment: SentimentConfig = field(default_factory=SentimentConfig)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    patterns: PatternsConfig = field(default_factory=PatternsConfig)
    rl: RLConfig = field(default_factory=RLConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernorConfig:
    """The resource governor (engine/governor.py): what counts as pressure, how fast it acts."""

    enabled: bool = True
    min_available_mb: float = 1024.0
    """Pressure when the machine's available RAM falls below this."""
    max_temp_c: float = 80.0
    """Pressure when the SoC temperature reaches this (the Pi 5 soft-throttles at 80–85 °C)."""
    throttle: bool = True
    """Pressure while vcgencmd reports throttling now (under-voltage, freq capped, throttled, soft temp limit)."""
    cycle_budget_ms: float = 1000.0
    """An engine cycle longer than this overruns its period."""
    overrun_cycles: int = 5
    """Consecutive overrunning cycles that count as pressure."""
    step_seconds: float = 10.0
    """Wait between two shedding steps (one model or the search per step)."""
    hold_seconds: float = 30.0
    """Pressure must stay clear this long before each resume step."""
    ensemble_floor: int = 4
    """Ensemble members that are never shed (so the cockpit still trades)."""

    def validate(self) -> None:
        _at_least("governor.min_available_mb", self.min_available_mb, 0.0)
        _at_least("governor.max_temp_c", self.max_temp_c, 30.0)
        _at_least("governor.cycle_budget_ms", self.cycle_budget_ms, 1.0)
        _at_least("governor.overrun_cycles", self.overrun_cycles, 1)
        _at_least("governor.step_seconds", self.step_seconds, 0.0)
        _at_least("governor.hold_seconds", self.hold_seconds, 0.0)
        _at_least("governor.ensemble_floor", self.ensemble_floor, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class UiConfig:
    theme: str = "cockpit-dark"
    symbol: str = ""
    """Symbol shown first ("" = the first of the watchlist)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PathsConfig:
    data_dir: str = ""
    """Cache, ledger and checkpoints. "" = $PI_COCKPIT_HOME or ~/.local/share/pi-cockpit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    ccxt: CcxtConfig = field(default_factory=CcxtConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    governor: GovernorConfig = field(default_factory=GovernorConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    trading: TradingSettings = field(default_factory=TradingSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    source_file: str = ""

    def data_dir(self) -> Path:
        """The data directory (created on first use by whoever writes there)."""
        if self.paths.data_dir:
            return Path(self.paths.data_dir).expanduser()
        env = os.environ.get("PI_COCKPIT_HOME")
        if env:
            return Path(env).expanduser()
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
        return base / "pi-cockpit"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read `path` (None = built-in defaults) into a validated Config."""
    if path is None:
        return Config()
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    cfg = _build(Config, doc, (), str(file))
    return dataclasses.replace(cfg, source_file=str(file))


def _build(cls: type, table: Mapping[str, Any], prefix: tuple[str, ...], file: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.name != "source_file"}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(_unknown_key_message(file, prefix, key, tuple(known)))
        kwargs[key] = _coerce(hints[key], value, (*prefix, key), file)
    try:
        obj = cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc.message}", hint=exc.hint) from None
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as exc:
            key, why = exc.args[0]
            raise ConfigError(f"{file}: {key} {why}") from None
    return obj


def _unknown_key_message(file: str, prefix: tuple[str, ...], key: str, known: tuple[str, ...]) -> str:
    where = f"[{'.'.join(prefix)}] " if prefix else ""
    message = f'{file}: {where}unknown key "{key}"'
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f'{message} — did you mean "{close[0]}"?'
    return f"{message} (known keys: {', '.join(known)})"


def _coerce(tp: Any, value: Any, key: tuple[str, ...], file: str) -> Any:
    dotted = ".".join(key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: {dotted} must be a table ([{dotted}]), got {_kind(value)}")
        return _build(tp, value, key, file)
    origin = typing.get_origin(tp)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{file}: {dotted} must be true or false, got {_kind(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{file}: {dotted} must be a whole number, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{file}: {dotted} must be a number, got {_kind(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{file}: {dotted} must be a string, got {_kind(value)}")
        return value
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if item is float:
            if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                      for v in value):
                raise ConfigError(f"{file}: {dotted} must be a list of numbers, got {_kind(value)}")
            return tuple(float(v) for v in value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{file}: {dotted} must be a list of strings, got {_kind(value)}")
        return tuple(value)
    if origin in (collections.abc.Mapping, dict) or tp in (Mapping, dict):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{file}: {dotted} must be a table of strings, got {_kind(value)}")
        return types.MappingProxyType(dict(value))
    raise ConfigError(f"{file}: {dotted} has an unsupported type")  # pragma: no cover


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"a whole number ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f'a string ("{value}")'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ValueError((key, f"must be at least {low}, got {value}"))


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        hint = difflib.get_close_matches(value, allowed, n=1)
        tail = f' — did you mean "{hint[0]}"?' if hint else ""
        raise ValueError((key, f'must be one of {", ".join(allowed)}, got "{value}"{tail}'))
