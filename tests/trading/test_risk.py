import dataclasses

import pytest

from engine.events import Side, TradeProposal
from engine.trading import RiskRules, RiskSettings
from engine.trading.portfolio import Holding, PortfolioState

from .helpers import BAR_NS, T0

OFF = RiskSettings(max_position_notional=0, max_open_positions=0, max_daily_loss=0, cooldown_bars=0)


def proposal(symbol: str = "AAA", side: Side = Side.BUY, notional: float = 1_000.0, price: float = 100.0):
    return TradeProposal(source="t", proposal_id="p", symbol=symbol, side=side, quantity=notional / price,
                         price=price, notional=notional, est_fee=0.0, est_slippage=0.0, score=0.7, reasons=(),
                         summary="", expires_at=0.0)


def state(**kw) -> PortfolioState:
    base = dict(now_ts=T0, bar_ns=BAR_NS, cash=10_000.0, equity=10_000.0, day_start_equity=10_000.0)
    base.update(kw)
    return PortfolioState(**base)


def holding(symbol: str, qty: float = 10.0, last: float = 100.0) -> Holding:
    return Holding(symbol=symbol, quantity=qty, average_price=last, last_price=last)


def rules(**only) -> RiskRules:
    return RiskRules(dataclasses.replace(OFF, **only))


def test_defaults():
    assert RiskSettings() == RiskSettings(max_position_notional=2_000, max_open_positions=3, max_daily_loss=300,
                                          cooldown_bars=12)


def test_with_every_rule_off_an_entry_passes():
    d = RiskRules(OFF).check(proposal(notional=1e9), state(equity=0.0))
    assert d.allowed and d.rule == ""


class TestMaxPositionNotional:
    def test_blocks_the_buy_that_would_pass_the_limit_counting_open_buys(self):
        r = rules(max_position_notional=2_000)
        assert r.check(proposal(notional=2_000), state()).allowed
        d = r.check(proposal(notional=1_000), state(open_buy_notional=(("AAA", 1_500.0),)))
        assert (d.allowed, d.rule) == (False, "max_position_notional")
        assert "2500.00" in d.reason and "2000.00" in d.reason
        assert r.check(proposal("BBB", notional=1_000), state(open_buy_notional=(("AAA", 1_500.0),))).allowed

    def test_headroom_is_what_is_left(self):
        r = rules(max_position_notional=2_000)
        assert r.headroom("AAA", state(holdings=(holding("AAA", 5.0, 100.0),))) == pytest.approx(1_500.0)
        assert rules().headroom("AAA", state()) == float("inf")


class TestMaxOpenPositions:
    def test_blocks_a_new_symbol_when_full_and_counts_open_buy_orders(self):
        r = rules(max_open_positions=2)
        full = state(holdings=(holding("AAA"),), open_buy_notional=(("BBB", 100.0),))
        d = r.check(proposal("CCC"), full)
        assert (d.allowed, d.rule) == (False, "max_open_positions")
        assert "AAA, BBB" in d.reason and "limit is 2" in d.reason
        assert r.check(proposal("CCC"), state(holdings=(holding("AAA"),))).allowed

    def test_a_symbol_already_open_does_not_count_twice(self):
        r = rules(max_open_positions=1)
        assert r.check(proposal("AAA"), state(open_buy_notional=(("AAA", 100.0),))).allowed


class TestMaxDailyLoss:
    def test_halts_entries_once_the_day_lost_the_limit(self):
        r = rules(max_daily_loss=300)
        assert r.check(proposal(), state(equity=9_701.0)).allowed
        d = r.check(proposal(), state(equity=9_700.0))
        assert (d.allowed, d.rule) == (False, "max_daily_loss")
        assert "halted" in r.halt_reason(state(equity=9_700.0), "2024-01-01")
        assert r.halt_reason(state(equity=9_701.0), "2024-01-01") == ""

    def test_a_recorded_halt_holds_for_the_day_even_after_equity_recovers(self):
        d = rules(max_daily_loss=300).check(proposal(), state(equity=11_000.0, halted_reason="halted at 10:00"))
        assert (d.allowed, d.rule, d.reason) == (False, "max_daily_loss", "halted at 10:00")


class TestCooldown:
    def test_blocks_entries_in_a_symbol_for_n_bars_after_a_losing_exit(self):
        r = rules(cooldown_bars=3)
        loss = (("AAA", T0),)
        for bars, allowed in ((0, False), (2, False), (3, True)):
            d = r.check(proposal(), state(now_ts=T0 + bars * BAR_NS, last_losses=loss))
            assert d.allowed is allowed, bars
            if not allowed:
                assert d.rule == "cooldown" and f"{3 - bars} more bar" in d.reason
        assert r.check(proposal("BBB"), state(last_losses=loss)).allowed


def test_exits_are_always_allowed_even_when_halted_full_and_cooling_down():
    r = RiskRules(RiskSettings(max_position_notional=1, max_open_positions=1, max_daily_loss=1, cooldown_bars=99))
    s = state(equity=0.0, halted_reason="halted", holdings=(holding("AAA", 10.0), holding("BBB")),
              last_losses=(("AAA", T0),))
    d = r.check(proposal("AAA", Side.SELL, notional=1_000.0), s)
    assert (d.allowed, d.rule) == (True, "exit")
    assert not r.check(proposal("CCC"), s).allowed


def test_a_sell_that_is_not_an_exit_is_refused_as_a_short():
    d = RiskRules(OFF).check(proposal("AAA", Side.SELL, notional=2_000.0),
                             state(holdings=(holding("AAA", 10.0),), open_sell_quantity=(("AAA", 5.0),)))
    assert (d.allowed, d.rule) == (False, "long_only")
