"""The strategy genome: what a strategy is, how optuna samples it, how it prints.

A genome is timeframe × indicator × entry rule × exit rule × filter, plus the
numeric parameters those genes use. The search space is *flat*: every gene
is sampled for every trial (NSGA-II crosses over and mutates only
parameters present in all trials), and `Genome.from_params` decodes the
ones the chosen rules use into readable parameters (periods, percentages on
a grid) — the rest are dormant genes a later crossover may switch back on.
Decoding is a pure function of the params dict, so a trial's strategy can be
rebuilt from storage at any time.

Entry rules (long; a short mirrors them), on the chosen timeframe's bars:
- crossover: the indicator's line crosses above its baseline
  (EMA fast/slow, MACD line/signal, RSI/50, close/Bollinger middle, close/VWAP);
- breakout: the line crosses above the upper band
  (close vs EMA or VWAP + band %, RSI > 50 + band, MACD line above 0, Bollinger upper);
- mean reversion: the line is below the lower band (entered while it stays there).
The optional reverse exit leaves when the line crosses back below the
baseline (crossover, breakout) or reaches it (mean reversion).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.data.panel import timeframe_seconds
from engine.errors import ConfigError
from engine.strategy.backtest import ExitRules

TIMEFRAMES: tuple[str, ...] = ("30m", "1h", "4h", "1d")
INDICATORS: tuple[str, ...] = ("ema", "rsi", "macd", "bollinger", "vwap")
ENTRIES: tuple[str, ...] = ("crossover", "breakout", "mean_reversion")
EXITS: tuple[str, ...] = ("target", "trailing", "time")
FILTERS: tuple[str, ...] = ("none", "volume", "volatility", "trend", "regime")


@dataclass(frozen=True, slots=True)
class Param:
    """One numeric gene: an optuna int/float distribution with a step."""

    low: float
    high: float
    step: float
    integer: bool = False


CATEGORIES: dict[str, tuple[Any, ...]] = {
    "timeframe": TIMEFRAMES,
    "indicator": INDICATORS,
    "entry": ENTRIES,
    "exit": EXITS,
    "filter": FILTERS,
    "reverse_exit": (True, False),
}
# Numeric genes are positional: their meaning depends on the categorical
# genes (a "slow period" is the slow EMA, the MACD slow line, the Bollinger
# or VWAP window). Fewer, shared genes keep crossovers between strategies of
# different indicators meaningful and keep each trial's storage writes few.
NUMERIC: dict[str, Param] = {
    "period_fast": Param(3, 60, 1, True),
    "period_slow": Param(8, 240, 2, True),
    "period_signal": Param(3, 18, 1, True),
    "band": Param(0.0, 1.0, 0.02),
    "exit_a": Param(0.0, 1.0, 0.01),
    "exit_b": Param(0.0, 1.0, 0.01),
    "filter_period": Param(10, 200, 5, True),
    "filter_level": Param(0.0, 1.0, 0.05),
}
SIDES: tuple[str, ...] = ("long", "short")


def _scale(u: float, low: float, high: float, step: float) -> float:
    """Map a unit gene onto [low, high] on a grid of `step`."""
    return round(round((low + u * (high - low)) / step) * step, 6)


def suggest_params(trial: Any, *, allow_short: bool = False) -> dict[str, Any]:
    """Sample every gene on an optuna trial (fixed order and ranges: a flat search space)."""
    params: dict[str, Any] = {}
    for name, choices in CATEGORIES.items():
        params[name] = trial.suggest_categorical(name, choices)
    if allow_short:
        params["side"] = trial.suggest_categorical("side", SIDES)
    for name, p in NUMERIC.items():
        if p.integer:
            params[name] = trial.suggest_int(name, int(p.low), int(p.high), step=int(p.step))
        else:
            params[name] = trial.suggest_float(name, p.low, p.high, step=p.step)
    return params


def _pct(x: float) -> str:
    """3.0 → "3.0", 3.25 → "3.25", 0.5 → "0.5": percentages on their grid, no noise digits."""
    text = f"{x:.2f}"
    return text.removesuffix("0")


def _check(params: Mapping[str, Any], name: str) -> Any:
    if name not in params:
        raise ConfigError(f"strategy parameters lack {name!r}", hint="decode the params of a trial made by suggest_params")
    value = params[name]
    if name in CATEGORIES and value not in CATEGORIES[name]:
        raise ConfigError(f"strategy parameter {name} = {value!r}", hint="expected one of " + ", ".join(map(str, CATEGORIES[name])))
    if name in NUMERIC:
        p = NUMERIC[name]
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and p.low <= value <= p.high):
            raise ConfigError(f"strategy parameter {name} = {value!r}", hint=f"expected a number in [{p.low}, {p.high}]")
        return round(value) if p.integer else float(value)
    return value


@dataclass(frozen=True, slots=True)
class Genome:
    """One strategy. `genes` holds only the numeric parameters its rules use, sorted by name."""

    timeframe: str
    indicator: str
    entry: str
    exit: str
    filter: str
    reverse_exit: bool
    direction: int
    genes: tuple[tuple[str, float], ...]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Genome:
        """Decode an optuna trial's params (deterministic; genes the rules do not use are dropped)."""
        g = {name: _check(params, name) for name in CATEGORIES}
        n = {name: _check(params, name) for name in NUMERIC}
        side = params.get("side", "long")
        if side not in SIDES:
            raise ConfigError(f"strategy parameter side = {side!r}", hint="expected long or short")
        fast, slow = n["period_fast"], n["period_slow"]
        if slow <= fast:
            fast, slow = min(fast, slow), max(fast, slow) + 2
        band = n["band"]
        used: dict[str, float] = {}
        ind, entry = g["indicator"], g["entry"]
        if ind == "ema":
            if entry == "crossover":
                used.update(ema_fast=fast, ema_slow=slow)
            else:
                used.update(ema_slow=slow, band_pct=_scale(band, 0.25, 8.0, 0.05))
        elif ind == "rsi":
            used["rsi_period"] = max(2, fast)
            if entry != "crossover":
                used["rsi_band"] = _scale(band, 5.0, 35.0, 0.5)
        elif ind == "macd":
            used.update(macd_fast=fast, macd_slow=slow, macd_signal=n["period_signal"])
            if entry == "mean_reversion":
                used["macd_band_pct"] = _scale(band, 0.05, 2.0, 0.01)
        elif ind == "bollinger":
            used["bb_period"] = slow
            if entry != "crossover":
                used["bb_k"] = _scale(band, 1.0, 3.5, 0.05)
        else:
            used["vwap_period"] = slow
            if entry != "crossover":
                used["band_pct"] = _scale(band, 0.25, 8.0, 0.05)

        a, b = n["exit_a"], n["exit_b"]
        if g["exit"] == "target":
            used.update(take_profit_pct=_scale(a, 0.5, 15.0, 0.25), stop_loss_pct=_scale(b, 0.5, 10.0, 0.25))
        elif g["exit"] == "trailing":
            used["trailing_pct"] = _scale(a, 0.5, 10.0, 0.25)
        else:
            used["hold_bars"] = int(_scale(a, 2, 96, 1))
        flt = g["filter"]
        if flt != "none":
            used["filter_period"] = n["filter_period"]
        if flt == "volume":
            used["volume_z"] = _scale(n["filter_level"], -1.0, 2.0, 0.25)
        elif flt == "volatility":
            used["vol_ratio"] = _scale(n["filter_level"], 0.5, 2.0, 0.1)
        return cls(timeframe=g["timeframe"], indicator=ind, entry=entry, exit=g["exit"], filter=flt,
                   reverse_exit=bool(g["reverse_exit"]), direction=1 if side == "long" else -1,
                   genes=tuple(sorted(used.items())))

    def p(self, name: str) -> float:
        for key, value in self.genes:
            if key == name:
                return value
        raise KeyError(f"{self.describe()} has no gene {name!r}")

    def get_params(self) -> dict[str, Any]:
        """The decoded strategy as a plain, JSON-ready dict (for reports; not a trial's params)."""
        d: dict[str, Any] = {"timeframe": self.timeframe, "indicator": self.indicator, "entry": self.entry,
                             "exit": self.exit, "filter": self.filter, "reverse_exit": self.reverse_exit,
                             "side": "long" if self.direction > 0 else "short"}
        d.update(self.genes)
        return d

    def exit_rules(self, base_timeframe: str) -> ExitRules:
        """Exit rules in base bars (a time exit of n bars of the strategy's timeframe)."""
        if self.exit == "target":
            return ExitRules(take_profit=self.p("take_profit_pct") / 100, stop_loss=self.p("stop_loss_pct") / 100)
        if self.exit == "trailing":
            return ExitRules(trailing_stop=self.p("trailing_pct") / 100)
        per = timeframe_seconds(self.timeframe) // timeframe_seconds(base_timeframe)
        return ExitRules(max_bars=int(self.p("hold_bars")) * max(1, per))

    def describe(self) -> str:
        """One readable line, e.g. `4h EMA(12/48) crossover · exit trailing 3.0% · filter trend(EMA200) ↑`."""
        side = "" if self.direction > 0 else "short "
        return f"{self.timeframe} {side}{self._entry_text()} · exit {self._exit_text()} · {self._filter_text()}"

    def _entry_text(self) -> str:
        ind, entry = self.indicator, self.entry
        lo, hi = ("<", ">") if self.direction > 0 else (">", "<")
        rule = entry.replace("_", " ")
        if ind == "ema":
            if entry == "crossover":
                return f"EMA({self.p('ema_fast')}/{self.p('ema_slow')}) crossover"
            return f"EMA({self.p('ema_slow')}) {rule} {self._band_sign()}{_pct(self.p('band_pct'))}%"
        if ind == "rsi":
            n = self.p("rsi_period")
            if entry == "crossover":
                return f"RSI({n}) crossover 50"
            band = self.p("rsi_band")
            inward = (entry == "breakout") == (self.direction > 0)
            level = 50 + band if inward else 50 - band
            sym = hi if entry == "breakout" else lo
            return f"RSI({n}) {rule} {sym}{level:g}"
        if ind == "macd":
            head = f"MACD({self.p('macd_fast')}/{self.p('macd_slow')}/{self.p('macd_signal')})"
            if entry == "mean_reversion":
                return f"{head} {rule} {self._band_sign()}{_pct(self.p('macd_band_pct'))}%"
            return f"{head} {rule}" + (" (zero line)" if entry == "breakout" else "")
        if ind == "bollinger":
            if entry == "crossover":
                return f"Bollinger({self.p('bb_period')}) midline crossover"
            return f"Bollinger({self.p('bb_period')}, {self.p('bb_k'):.2f}σ) {rule}"
        if entry == "crossover":
            return f"VWAP({self.p('vwap_period')}) crossover"
        return f"VWAP({self.p('vwap_period')}) {rule} {self._band_sign()}{_pct(self.p('band_pct'))}%"

    def _band_sign(self) -> str:
        """Where the band lies: above the baseline for a long breakout or a short reversion."""
        return "+" if (self.entry == "breakout") == (self.direction > 0) else "−"

    def _exit_text(self) -> str:
        if self.exit == "target":
            text = f"target +{_pct(self.p('take_profit_pct'))}% / stop −{_pct(self.p('stop_loss_pct'))}%"
        elif self.exit == "trailing":
            text = f"trailing {_pct(self.p('trailing_pct'))}%"
        else:
            text = f"time {self.p('hold_bars')} bars"
        return text + (" or reverse" if self.reverse_exit else "")

    def _filter_text(self) -> str:
        arrow = "↑" if self.direction > 0 else "↓"
        if self.filter == "none":
            return "no filter"
        n = self.p("filter_period")
        if self.filter == "volume":
            return f"filter volume z≥{self.p('volume_z'):.2f} ({n})"
        if self.filter == "volatility":
            return f"filter volatility ≤{self.p('vol_ratio'):.1f}× ({n}/{4 * n})"
        if self.filter == "trend":
            return f"filter trend(EMA{n}) {arrow}"
        return f"filter regime(market EMA{n}) {arrow}"
