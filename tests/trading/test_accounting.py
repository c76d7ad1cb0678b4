import pytest

from engine.events import Side
from engine.trading.accounting import Position, apply_fill


def test_buy_fee_goes_into_the_average_price():
    e = apply_fill(Position(), Side.BUY, 2.0, 100.0, 0.4)
    assert e.position.quantity == 2.0
    assert e.position.average_price == pytest.approx(100.2)
    assert e.cash_delta == pytest.approx(-200.4)
    assert e.realized_delta == 0.0


def test_sell_realises_net_of_both_fees_and_equity_identity_holds():
    start = 1_000.0
    buy = apply_fill(Position(), Side.BUY, 2.0, 100.0, 0.2)
    half = apply_fill(buy.position, Side.SELL, 1.0, 110.0, 0.11)
    assert half.realized_delta == pytest.approx((110.0 - 100.1) * 1.0 - 0.11)
    assert half.position.quantity == 1.0
    assert half.position.average_price == pytest.approx(100.1)
    cash = start + buy.cash_delta + half.cash_delta
    last = 95.0
    equity = cash + half.position.quantity * last
    assert equity == pytest.approx(start + half.position.realized_pnl + half.position.unrealized(last))
    out = apply_fill(half.position, Side.SELL, 1.0, 90.0, 0.09)
    assert out.position == Position(quantity=0.0, average_price=0.0, realized_pnl=pytest.approx(
        (110.0 - 100.1) - 0.11 + (90.0 - 100.1) - 0.09))


def test_a_sell_beyond_the_position_flips_to_short_so_any_reported_fill_can_be_recorded():
    e = apply_fill(Position(quantity=1.0, average_price=100.0), Side.SELL, 3.0, 100.0, 0.0)
    assert e.position.quantity == pytest.approx(-2.0)
    assert e.position.average_price == pytest.approx(100.0)


@pytest.mark.parametrize("qty,price,fee", [(0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (1.0, 1.0, -0.1)])
def test_bad_fills_are_refused(qty, price, fee):
    with pytest.raises(ValueError, match="bad fill"):
        apply_fill(Position(), Side.BUY, qty, price, fee)
