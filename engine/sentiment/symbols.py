"""Which watchlist symbols a headline is about: tickers, cashtags, names and aliases.

A watchlist symbol's *base* is the part before "/", "-" or ":" ("BTC/USD" →
BTC, "ETH-USDT" → ETH, "AAPL" → AAPL). A headline mentions a base when it
contains

- the base or an upper-case alias as a whole word, case-sensitively
  ("BTC", "XBT" — so the word "eos" in prose or "Link" in a name do not count),
- a cashtag of either, in any case ("$BTC", "$btc"),
- a name alias as a whole word, in any case, optionally plural or possessive
  ("bitcoin", "Bitcoin's", "ethereum", "ether").

Longer aliases win where they overlap ("bitcoin cash" is BCH, not BTC).
Common words ("stellar", "avalanche") are deliberately not default names.
An alias that is all upper case is a ticker; any other is a name. Aliases
from config extend (never replace) the built-in ones.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

DEFAULT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "BTC": ("XBT", "bitcoin"),
    "ETH": ("ethereum", "ether"),
    "LTC": ("litecoin",),
    "XRP": ("ripple",),
    "EOS": (),
    "BCH": ("bitcoin cash",),
    "ETC": ("ethereum classic",),
    "SOL": ("solana",),
    "DOGE": ("dogecoin",),
    "ADA": ("cardano",),
    "DOT": ("polkadot",),
    "LINK": ("chainlink",),
    "TRX": ("tron",),
    "SHIB": ("shiba inu",),
    "USDT": ("tether",),
}


def base_of(symbol: str) -> str:
    """"BTC/USD" → "BTC"; "ETH-USDT" → "ETH"; "BTC/USDT:USDT" → "BTC"; "AAPL" → "AAPL"."""
    return re.split(r"[/\-:]", symbol.strip(), maxsplit=1)[0].upper()


def _is_ticker(alias: str) -> bool:
    return alias.isupper() and " " not in alias


class SymbolMapper:
    """Maps headline text to the watchlist symbols it mentions (in watchlist order)."""

    def __init__(self, watchlist: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None) -> None:
        self.watchlist = tuple(watchlist)
        bases: dict[str, list[int]] = {}
        for i, symbol in enumerate(self.watchlist):
            bases.setdefault(base_of(symbol), []).append(i)
        self._columns = {base: tuple(cols) for base, cols in bases.items()}
        merged: dict[str, set[str]] = {base: {base} for base in bases}
        for table in (DEFAULT_ALIASES, aliases or {}):
            for base, names in table.items():
                key = base.upper()
                if key in merged:
                    merged[key].update(str(n).strip() for n in names if str(n).strip())
        self._tickers: dict[str, str] = {}
        self._names: dict[str, str] = {}
        for base, names in merged.items():
            for alias in names:
                if _is_ticker(alias):
                    self._tickers[alias] = base
                else:
                    self._names[" ".join(alias.lower().split())] = base
        self._cashtags = {t.upper(): b for t, b in self._tickers.items()}
        self._pattern = self._compile()

    def _compile(self) -> re.Pattern[str] | None:
        parts = []
        if self._tickers:
            tickers = "|".join(re.escape(t) for t in sorted(self._tickers, key=len, reverse=True))
            parts.append(rf"\$(?P<cash>(?i:{tickers}))(?![\w])")
            parts.append(rf"(?<![\w$])(?P<ticker>{tickers})(?![\w])")
        if self._names:
            names = "|".join(re.escape(n).replace(r"\ ", r"\s+")
                             for n in sorted(self._names, key=len, reverse=True))
            parts.append(rf"(?<![\w$])(?P<name>(?i:{names}))(?:'s|s)?(?![\w])")
        return re.compile("|".join(parts)) if parts else None

    def bases(self, text: str) -> set[str]:
        """The bases a text mentions (only those on the watchlist)."""
        found: set[str] = set()
        if self._pattern is None:
            return found
        for match in self._pattern.finditer(text):
            groups = match.groupdict()
            if groups.get("cash"):
                found.add(self._cashtags[groups["cash"].upper()])
            elif groups.get("ticker"):
                found.add(self._tickers[groups["ticker"]])
            elif groups.get("name"):
                found.add(self._names[" ".join(groups["name"].lower().split())])
        return found

    def match(self, text: str) -> tuple[str, ...]:
        """Watchlist symbols the text mentions, in watchlist order."""
        cols = sorted(c for base in self.bases(text) for c in self._columns[base])
        return tuple(self.watchlist[c] for c in cols)

    def membership(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(watchlist)) booleans: row i marks the symbols text i mentions."""
        out = np.zeros((len(texts), len(self.watchlist)), dtype=bool)
        for row, text in enumerate(texts):
            for base in self.bases(text):
                out[row, list(self._columns[base])] = True
        return out
