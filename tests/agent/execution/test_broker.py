"""The paper broker: reference price, slippage, commission and the volume cap."""

from __future__ import annotations

import math

import pytest

from trade_pipelines.agent.execution.broker import (
    BASE_SLIPPAGE_BPS,
    COMMISSION_PER_SHARE,
    COMMISSION_RATE,
    MAX_COMMISSION_RATE,
    MIN_COMMISSION,
    Bar,
    execute,
    one_side_cost,
    round_trip_cost,
    slippage_bps,
)

NAN = float("nan")


def test_fill_uses_the_open_when_there_is_one() -> None:
    fill = execute("buy", 10, Bar(open=50.0, close=60.0, volume=NAN), 0.0)
    assert fill is not None
    assert fill.price == pytest.approx(50.0 * (1 + BASE_SLIPPAGE_BPS / 10_000))


def test_fill_uses_the_close_without_an_open() -> None:
    fill = execute("buy", 10, Bar(open=NAN, close=60.0, volume=NAN), 0.0)
    assert fill is not None
    assert fill.price == pytest.approx(60.0 * (1 + BASE_SLIPPAGE_BPS / 10_000))


def test_buy_pays_slippage_and_sell_receives_less() -> None:
    bar = Bar(open=100.0, close=101.0, volume=NAN)
    slip = slippage_bps(0.30)
    bought = execute("buy", 10, bar, 0.30)
    sold = execute("sell", 10, bar, 0.30)
    assert bought is not None and sold is not None
    assert sold.price < 100.0 < bought.price
    assert bought.price == pytest.approx(100.0 * (1 + slip / 10_000), abs=1e-6)
    assert sold.price == pytest.approx(100.0 * (1 - slip / 10_000), abs=1e-6)
    assert bought.slippage_bps == sold.slippage_bps == pytest.approx(slip, abs=1e-4)


def test_slippage_grows_with_volatility_and_defaults_when_unknown() -> None:
    assert slippage_bps(0.0) == BASE_SLIPPAGE_BPS
    assert slippage_bps(0.10) < slippage_bps(0.40) < slippage_bps(0.80)
    assert slippage_bps(NAN) == pytest.approx(slippage_bps(0.25))
    assert slippage_bps(0.25) == pytest.approx(5.0 + 0.05 * 0.25 / math.sqrt(252) * 10_000)


def test_commission_has_a_floor_of_one() -> None:
    bar = Bar(open=10.0, close=10.0, volume=NAN)
    tiny = execute("buy", 1, bar, 0.0)
    assert tiny is not None and tiny.fee == MIN_COMMISSION
    big = execute("sell", 10_000, Bar(open=100.0, close=100.0, volume=NAN), 0.0)
    assert big is not None
    assert big.fee == pytest.approx(COMMISSION_RATE * 10_000 * big.price, abs=1e-6)
    assert big.fee > MIN_COMMISSION


def test_commission_is_per_share_on_cheap_shares_and_capped_by_value() -> None:
    cheap = execute("buy", 10_000, Bar(open=2.0, close=2.0, volume=NAN), 0.0)
    assert cheap is not None
    assert cheap.fee == pytest.approx(COMMISSION_PER_SHARE * 10_000)  # $50, not 5 bp ($10)
    pennies = execute("buy", 10_000, Bar(open=0.10, close=0.10, volume=NAN), 0.0)
    assert pennies is not None
    assert pennies.fee == pytest.approx(MAX_COMMISSION_RATE * 10_000 * pennies.price)


def test_the_cost_share_matches_what_a_fill_charges() -> None:
    for price, volatility in [(100.0, 0.2), (2.0, 0.4)]:
        fill = execute("buy", 100_000, Bar(open=price, close=price, volume=NAN), volatility)
        assert fill is not None
        charged = (fill.price - price) * fill.quantity + fill.fee
        assert charged / (price * fill.quantity) == pytest.approx(
            one_side_cost(volatility, price), rel=1e-3)
    assert round_trip_cost(0.2, 100.0) == pytest.approx(2 * one_side_cost(0.2, 100.0))
    assert one_side_cost(0.2) == pytest.approx(slippage_bps(0.2) / 10_000 + COMMISSION_RATE)


def test_the_volume_cap_reads_the_volume_known_at_the_open_not_the_bars_own() -> None:
    thin = execute("buy", 5_000, Bar(open=10.0, close=10.0, volume=1e6, adv=8_000.0), 0.2)
    assert thin is not None and thin.quantity == 800
    # the day's own volume is known only at its close: it never sizes the opening fill
    for volume in (12_345.0, 1e9, NAN):
        fill = execute("buy", 5_000, Bar(open=10.0, close=10.0, volume=volume, adv=1e6), 0.2)
        assert fill is not None and fill.quantity == 5_000


def test_volume_cap_takes_at_most_10_percent_of_the_average_daily_volume() -> None:
    capped = execute("buy", 5_000, Bar(open=10.0, close=10.0, volume=NAN, adv=12_345.0), 0.2)
    assert capped is not None and capped.quantity == 1_234
    under = execute("buy", 500, Bar(open=10.0, close=10.0, volume=NAN, adv=12_345.0), 0.2)
    assert under is not None and under.quantity == 500
    unknown = execute("buy", 5_000, Bar(open=10.0, close=10.0, volume=12_345.0), 0.2)
    assert unknown is not None and unknown.quantity == 5_000
    # a bar on which nothing traded fills nothing
    assert execute("buy", 10, Bar(open=10.0, close=10.0, volume=0.0, adv=1e6), 0.2) is None


def test_no_fill_when_the_cap_leaves_nothing_or_the_price_is_unusable() -> None:
    assert execute("buy", 100, Bar(open=10.0, close=10.0, volume=NAN, adv=5.0), 0.2) is None
    assert execute("buy", 0, Bar(open=10.0, close=10.0, volume=NAN), 0.2) is None
    assert execute("buy", 10, Bar(open=NAN, close=NAN, volume=NAN), 0.2) is None
    assert execute("sell", 10, Bar(open=0.0, close=5.0, volume=NAN), 0.2) is None
