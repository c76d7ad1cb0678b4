"""Tickers, cashtags, names and aliases → watchlist symbols."""

import numpy as np

from engine.sentiment.symbols import SymbolMapper, base_of

WATCH = ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "EOS/USD")


def test_base_of():
    assert base_of("BTC/USD") == "BTC"
    assert base_of("eth-usdt") == "ETH"
    assert base_of("BTC/USDT:USDT") == "BTC"
    assert base_of("AAPL") == "AAPL"


def test_names_tickers_cashtags_and_aliases():
    m = SymbolMapper(WATCH)
    assert m.match("Bitcoin's rally lifts $eth and $Ltc") == ("BTC/USD", "ETH/USD", "LTC/USD")
    assert m.match("XBT futures open higher") == ("BTC/USD",)
    assert m.match("Ether jumps 8%") == ("ETH/USD",)
    assert m.match("Ripple signs bank deal") == ("XRP/USD",)
    assert m.match("EOS Network upgrade") == ("EOS/USD",)
    assert m.match("ETH/BTC ratio unchanged") == ("BTC/USD", "ETH/USD")
    assert m.match("Fed holds rates steady") == ()


def test_case_and_word_boundaries():
    m = SymbolMapper(WATCH)
    assert m.match("eos and xbt in lower case prose") == ()  # bare tickers are case-sensitive
    assert m.match("together they tether") == ()  # "ether" only as a whole word
    assert m.match("BTCUSD perpetuals") == ()


def test_longest_alias_wins():
    m = SymbolMapper(("BTC/USD", "BCH/USD"))
    assert m.match("Bitcoin Cash forks again") == ("BCH/USD",)
    assert m.match("Bitcoin and bitcoin cash both rise") == ("BTC/USD", "BCH/USD")


def test_configured_aliases_extend_defaults_and_stocks_work():
    m = SymbolMapper(("BTC/USD", "AAPL", "TSLA"), {"BTC": ["satoshi", "SATS"], "AAPL": ["apple"], "TSLA": ["tesla"]})
    assert m.match("Satoshi-era coins move") == ("BTC/USD",)
    assert m.match("SATS flow into exchanges") == ("BTC/USD",)
    assert m.match("Apple and Tesla shares slide; $aapl leads") == ("AAPL", "TSLA")
    assert m.match("bitcoin still maps") == ("BTC/USD",)


def test_membership_matrix_and_duplicate_quotes():
    m = SymbolMapper(("BTC/USD", "BTC/EUR", "ETH/USD"))
    out = m.membership(["bitcoin up", "nothing here", "ETH and BTC"])
    assert out.dtype == bool and out.shape == (3, 3)
    assert np.array_equal(out, [[True, True, False], [False, False, False], [True, True, True]])
