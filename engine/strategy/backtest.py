"""A vectorised long/flat (or short/flat) backtester for every symbol at once.

Conventions (the backtesting.py cross-check in tests/strategy holds us to them):

- A signal is computed on bar t's close. An entry fills at the open of the
  next present bar (t+1 unless it is missing) — never on the signal bar.
- One position per symbol; signals while in a position are ignored. After an
  exit at bar x, the next entry needs a signal on bar ≥ x (so it fills ≥ x+1).
- Exits, whichever comes first:
  · reverse signal on bar r ≥ entry bar → market exit at the next bar's open;
  · time: after `max_bars` bars (exit at the open of entry bar + max_bars);
  · stop loss `stop_loss` below the entry fill, take profit `take_profit`
    above it, trailing stop `trailing_stop` below the running peak
    (max of the entry fill and the closes since entry, updated at each
    close). Stops and targets are live from the entry bar on. A stop fills
    at the level, or at the open if the bar gaps through it; a target at
    the level or the better open. Within one bar: a pending market exit
    (at the open) first, then the stop, then the target (pessimistic).
  · the end of the window: closed at the last bar's close (reason "end").
- Costs: `fee` per side on notional; `slippage` per side moves market and
  stop fills against us (target fills are limit orders: no slippage).
  A long trade returns exit·(1-fee) / (entry·(1+fee)) - 1; a short one
  (entry·(1-fee) - exit·(1+fee)) / (entry·(1+fee)) — the fully invested,
  compounding account backtesting.py keeps.
- Equity is marked at each close (entry fee paid, exit fee at the exit).

Speed: instead of stepping through bars, every potential trade (each signal
bar) gets its exit at once through first-passage queries
(`engine.strategy.passage`); then a short walk over *trades* (not bars)
picks the ones actually taken, per window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.panel import CandlePanel
from engine.errors import ConfigError
from engine.strategy.market import Market
from engine.strategy.metrics import max_drawdown, sharpe, simple_returns
from engine.strategy.passage import stop_level, target_level

REASONS: tuple[str, ...] = ("signal", "time", "stop", "trail", "target", "end")
_SIGNAL, _TIME, _STOP, _TRAIL, _TARGET, _END = range(6)


@dataclass(frozen=True, slots=True)
class Costs:
    """Trading costs as fractions of notional, per side."""

    fee: float = 0.001
    slippage: float = 0.0005

    def __post_init__(self) -> None:
        for name in ("fee", "slippage"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 <= v < 0.1):
                raise ConfigError(f"costs.{name} = {v!r}", hint="expected a fraction in [0, 0.1), e.g. 0.001")


@dataclass(frozen=True, slots=True)
class ExitRules:
    """Fractions of price (0.03 = 3 %) and a bar count; None disables a rule."""

    take_profit: float | None = None
    stop_loss: float | None = None
    trailing_stop: float | None = None
    max_bars: int | None = None

    def __post_init__(self) -> None:
        for name in ("take_profit", "stop_loss", "trailing_stop"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and 0.0 < v < 1.0):
                raise ConfigError(f"exit.{name} = {v!r}", hint="expected a fraction in (0, 1), e.g. 0.03")
        if self.max_bars is not None and not (isinstance(self.max_bars, (int, np.integer)) and self.max_bars >= 1):
            raise ConfigError(f"exit.max_bars = {self.max_bars!r}", hint="expected a whole number of bars ≥ 1")


@dataclass(frozen=True, slots=True)
class Candidates:
    """Every potential trade: one per signal bar, sorted by (symbol, signal bar)."""

    signal: np.ndarray  # flat index row·T + t of the signal bar
    row: np.ndarray
    entry: np.ndarray  # entry bar
    exit: np.ndarray  # exit bar (T = never within the data)
    entry_price: np.ndarray
    exit_price: np.ndarray  # NaN where exit == T
    reason: np.ndarray  # int8 index into REASONS
    following: np.ndarray  # index of the first candidate whose signal bar ≥ this exit bar


@dataclass(frozen=True, slots=True)
class Trades:
    """Closed trades, one entry per trade (arrays of equal length)."""

    symbol: np.ndarray  # row index into the symbols
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    ret: np.ndarray  # net return of the trade after fees
    reason: np.ndarray  # int8 index into REASONS
    window: np.ndarray  # index of the window the trade belongs to

    def __len__(self) -> int:
        return int(self.symbol.size)

    def reasons(self) -> tuple[str, ...]:
        return tuple(REASONS[int(r)] for r in self.reason)


@dataclass(frozen=True, slots=True)
class SymbolSummary:
    symbol: str
    trades: int
    total_return: float
    sharpe: float
    max_drawdown: float
    win_rate: float | None
    exposure: float


@dataclass(frozen=True, slots=True)
class BacktestResult:
    symbols: tuple[str, ...]
    start: int
    stop: int
    trades: Trades
    equity: np.ndarray  # (S, stop-start), 1.0 = starting capital of each symbol
    summaries: tuple[SymbolSummary, ...]

    def trades_of(self, symbol: str) -> Trades:
        row = self.symbols.index(symbol)
        sel = self.trades.symbol == row
        return Trades(**{f: getattr(self.trades, f)[sel] for f in Trades.__slots__})


def find_candidates(market: Market, entries: np.ndarray, reverse: np.ndarray | None, rules: ExitRules,
                    costs: Costs, direction: int = 1) -> Candidates:
    """Entry and exit of a trade opened on every entry signal, each as if it were the only one."""
    s, t = market.close.shape
    d = market.direction(direction)
    mask = np.asarray(entries, dtype=bool)
    if mask.shape != (s, t):
        raise ValueError(f"entries have shape {mask.shape}, expected {(s, t)}")
    mask = mask.copy()
    mask[:, -1:] = False
    sig = np.flatnonzero(mask)
    row, bar = np.divmod(sig, t)
    entry = market.next_valid[row, bar + 1]
    keep = entry < t
    sig, row, entry = sig[keep], row[keep], entry[keep]
    n = sig.size

    raw = d.open[row, entry]
    fill = target_level(raw, costs.slippage)  # adverse: pay up (long), sell lower (short)

    never = np.full(n, t, dtype=np.int64)
    open_exit, open_reason = never.copy(), np.full(n, _SIGNAL, np.int8)
    if reverse is not None:
        rev = np.flatnonzero(np.asarray(reverse, dtype=bool))
        if rev.size:
            pos = np.searchsorted(rev, row * t + entry)
            r_flat = rev[np.minimum(pos, rev.size - 1)]
            found = (pos < rev.size) & (r_flat < (row + 1) * t)
            r_bar = np.where(found, r_flat - row * t, t - 1)
            open_exit = np.where(found, market.next_valid[row, r_bar + 1], t)
    if rules.max_bars is not None:
        timed = market.next_valid[row, np.minimum(entry + int(rules.max_bars), t)]
        open_reason = np.where(timed < open_exit, _TIME, _SIGNAL).astype(np.int8)
        open_exit = np.minimum(open_exit, timed)

    stop_bar, stop_lvl, stop_reason = never.copy(), np.full(n, -np.inf), np.full(n, _STOP, np.int8)
    if rules.stop_loss is not None:
        stop_lvl = stop_level(fill, rules.stop_loss)
        stop_bar = d.low_neg.first_at_least(row, entry, -stop_lvl)
    if rules.trailing_stop is not None:
        tr = float(rules.trailing_stop)
        peak_above = d.close_max.first_at_least(row, entry, np.nextafter(fill, np.inf))
        first_lvl = stop_level(fill, tr)
        first_hit = d.low_neg.first_at_least(row, entry, -first_lvl)
        in_first = (first_hit < t) & (first_hit <= peak_above)
        index = d.trailing(tr)
        q = np.minimum(peak_above, t - 1)
        later = peak_above < t
        trail_bar = np.where(in_first, first_hit, np.where(later, index.exit_bar[row, q], t))
        trail_lvl = np.where(in_first, first_lvl, np.where(later, index.exit_level[row, q], -np.inf))
        lvl_at = np.where(trail_bar < stop_bar, trail_lvl,
                          np.where(stop_bar < trail_bar, stop_lvl, np.maximum(stop_lvl, trail_lvl)))
        stop_reason = np.where((trail_bar < stop_bar) | ((trail_bar == stop_bar) & (trail_lvl > stop_lvl)),
                               _TRAIL, _STOP).astype(np.int8)
        stop_bar, stop_lvl = np.minimum(stop_bar, trail_bar), lvl_at

    target_bar, target_lvl = never.copy(), np.full(n, np.inf)
    if rules.take_profit is not None:
        target_lvl = target_level(fill, rules.take_profit)
        target_bar = d.high_max.first_at_least(row, entry, target_lvl)

    exit_bar = np.minimum(np.minimum(open_exit, stop_bar), target_bar)
    at = np.minimum(exit_bar, t - 1)
    bar_open = d.open[row, at]
    by_open = open_exit <= exit_bar
    by_stop = ~by_open & (stop_bar <= exit_bar)
    px = np.where(by_open, bar_open,
                  np.where(by_stop, np.minimum(bar_open, stop_lvl), np.maximum(bar_open, target_lvl)))
    px = np.where(by_open | by_stop, stop_level(px, costs.slippage), px)
    reason = np.where(by_open, open_reason, np.where(by_stop, stop_reason, _TARGET)).astype(np.int8)
    px = np.where(exit_bar < t, px, np.nan)

    following = np.searchsorted(sig, row * t + exit_bar, side="left")
    sign = 1.0 if direction > 0 else -1.0
    return Candidates(signal=sig, row=row, entry=entry, exit=exit_bar, entry_price=sign * fill,
                      exit_price=sign * px, reason=reason, following=following)


def take_trades(c: Candidates, windows: list[tuple[int, int]], n_rows: int, n_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """Walk each symbol's candidates in each window: (candidate indices, window index) of the trades taken."""
    sig, entry, exit_, following = (c.signal.tolist(), c.entry.tolist(), c.exit.tolist(), c.following.tolist())
    n = len(sig)
    picked: list[int] = []
    which: list[int] = []
    t = n_bars
    for w, (a, b) in enumerate(windows):
        if b - a < 2:
            continue
        starts = np.searchsorted(c.signal, np.arange(n_rows, dtype=np.int64) * t + a).tolist()
        for r in range(n_rows):
            i = starts[r]
            last_signal = r * t + b - 2
            while i < n and sig[i] <= last_signal:
                if entry[i] >= b:
                    break
                picked.append(i)
                which.append(w)
                if exit_[i] >= b:
                    break
                i = following[i]
    return np.asarray(picked, dtype=np.int64), np.asarray(which, dtype=np.int64)


def settle(market: Market, c: Candidates, picked: np.ndarray, window_of: np.ndarray,
           windows: list[tuple[int, int]], costs: Costs, direction: int = 1) -> Trades:
    """Trades taken, with exits beyond their window closed at the window's last close."""
    row, entry = c.row[picked], c.entry[picked]
    ends = np.array([b - 1 for _, b in windows], dtype=np.int64)[window_of] if picked.size else np.empty(0, np.int64)
    exit_bar, exit_px, reason = c.exit[picked], c.exit_price[picked], c.reason[picked]
    late = exit_bar > ends
    if late.any():
        sign = 1.0 if direction > 0 else -1.0
        last_close = sign * market.close_ffill[row, ends]
        forced = sign * stop_level(last_close, costs.slippage)
        exit_bar = np.where(late, ends, exit_bar)
        exit_px = np.where(late, forced, exit_px)
        reason = np.where(late, _END, reason).astype(np.int8)
    entry_px = c.entry_price[picked]
    f = costs.fee
    if direction > 0:
        ret = exit_px * (1 - f) / (entry_px * (1 + f)) - 1.0
    else:
        ret = (entry_px * (1 - f) - exit_px * (1 + f)) / (entry_px * (1 + f))
    return Trades(symbol=row, entry_bar=entry, exit_bar=exit_bar, entry_price=entry_px, exit_price=exit_px,
                  ret=ret, reason=reason, window=window_of)


def bar_log_returns(market: Market, trades: Trades, costs: Costs, direction: int = 1) -> np.ndarray:
    """(S, T) per-bar log change of each symbol's equity (0 while flat); trades must not overlap."""
    s, t = market.close.shape
    out = np.zeros((s, t))
    n = len(trades)
    if n == 0:
        return out
    e, x, row = trades.entry_bar, trades.exit_bar, trades.symbol
    length = x - e + 1
    total = int(length.sum())
    k = np.repeat(np.arange(n), length)
    offsets = np.cumsum(length) - length
    bars = e[k] + (np.arange(total) - offsets[k])
    rows = row[k]
    pe = trades.entry_price[k]
    f = costs.fee
    close = market.close_ffill[rows, bars]
    if direction > 0:
        mark = close / (pe * (1 + f))
        final = trades.exit_price * (1 - f) / (trades.entry_price * (1 + f))
    else:
        mark = (2 * pe - close) / (pe * (1 + f))
        final = (2 * trades.entry_price - trades.exit_price * (1 + f)) / (trades.entry_price * (1 + f))
    last = offsets + length - 1
    mark[last] = final
    logm = np.log(np.maximum(mark, 1e-12))  # a short that loses everything is wiped out, not negative
    step = np.diff(logm, prepend=0.0)
    step[offsets] = logm[offsets]
    out[rows, bars] = step
    return out


def backtest(data: Market | CandlePanel, entries: np.ndarray, exits: np.ndarray | None = None, *,
             rules: ExitRules = ExitRules(), costs: Costs = Costs(), direction: int = 1, start: int = 0,
             stop: int | None = None) -> BacktestResult:
    """Backtest entry (and optional reverse-exit) signals on bars [start, stop) of every symbol.

    `entries`/`exits` are (S, T) booleans over the whole data: True on bar t
    means "the signal is on at t's close". Each symbol trades its own
    account starting from 1.0; see the module docstring for the rules.
    """
    market = data if isinstance(data, Market) else Market.from_panel(data)
    s, t = market.close.shape
    stop = t if stop is None else stop
    if not 0 <= start < stop <= t:
        raise ValueError(f"window [{start}, {stop}) is outside the {t} bars")
    if direction not in (1, -1):
        raise ValueError(f"direction must be 1 (long) or -1 (short), got {direction!r}")
    cands = find_candidates(market, entries, exits, rules, costs, direction)
    windows = [(start, stop)]
    picked, window_of = take_trades(cands, windows, s, t)
    trades = settle(market, cands, picked, window_of, windows, costs, direction)
    logret = bar_log_returns(market, trades, costs, direction)[:, start:stop]
    equity = np.exp(np.cumsum(logret, axis=1))
    summaries = []
    for r, symbol in enumerate(market.symbols):
        sel = trades.symbol == r
        n = int(sel.sum())
        rets = trades.ret[sel]
        held = int((trades.exit_bar[sel] - trades.entry_bar[sel] + 1).sum())
        summaries.append(SymbolSummary(
            symbol=symbol, trades=n, total_return=float(equity[r, -1] - 1.0),
            sharpe=sharpe(simple_returns(equity[r]), market.bars_per_year),
            max_drawdown=max_drawdown(equity[r]), win_rate=float((rets > 0).mean()) if n else None,
            exposure=held / (stop - start)))
    return BacktestResult(symbols=market.symbols, start=start, stop=stop, trades=trades, equity=equity,
                          summaries=tuple(summaries))
