"""Each market's rules applied by the execution layer, on small hand-made bars: lots, T+1,
limit-locked opens, commission and dated stamp duty, and the US left exactly as it was."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from market_rules_helpers import (
    GENOMES,
    VOL,
    day_market,
    decisions,
    entered,
    held_and_topped_up,
    run,
)

from trade_pipelines.agent.evolution.books import cost_matrix
from trade_pipelines.agent.execution import broker
from trade_pipelines.agent.execution.broker import (
    Bar,
    execute,
    no_fill_reason,
    one_side_cost,
    one_side_costs,
    slippage_bps,
)
from trade_pipelines.agent.execution.ledger import (
    ACCOUNTS,
    AccountState,
    Ledger,
    LedgerState,
    PendingOrder,
    Position,
    bars_by_day,
)
from trade_pipelines.agent.execution.rebalancing import simulate_target_weights
from trade_pipelines.agent.execution.risk import (
    AccountView,
    MarketView,
    OrderRequest,
    check_order,
)
from trade_pipelines.agent.loop.wiring import trading_bars
from trade_pipelines.agent.markets import CN, CRYPTO, HK, US

NAN = float("nan")
DAY = date(2015, 6, 1)   # A-share stamp duty 0.1% on sells; Hong Kong 0.1% both sides
DAYS = [DAY + timedelta(days=i) for i in range(6)]


def us_commission_as_it_was(quantity: float, price: float) -> float:
    """The broker's US commission before the markets existed, written out."""
    value = quantity * price
    fee = max(1.0, 0.005 * quantity, 0.0005 * value)
    return round(min(fee, max(1.0, 0.01 * value)), 6)


# -- the US: one way, the same numbers ----------------------------------------------------
@pytest.mark.parametrize("quantity", [1, 7, 19, 100, 250, 10_000, 123_456])
@pytest.mark.parametrize("price", [0.05, 0.10, 2.0, 9.99, 10.0, 55.5, 480.0])
def test_the_us_fee_is_the_commission_the_broker_always_charged(quantity: int,
                                                                price: float) -> None:
    expected = us_commission_as_it_was(quantity, price)
    assert US.fee("buy", quantity, price, DAY) == expected
    assert US.fee("sell", quantity, price, DAY) == expected
    fill = execute("sell", quantity, Bar(price, price, NAN), VOL)
    assert fill is not None
    assert fill.fee == us_commission_as_it_was(quantity, fill.price)


def test_the_broker_names_the_us_commission_and_has_no_second_formula() -> None:
    assert (broker.COMMISSION_RATE, broker.COMMISSION_PER_SHARE, broker.MIN_COMMISSION,
            broker.MAX_COMMISSION_RATE) == (0.0005, 0.005, 1.0, 0.01)
    assert not hasattr(broker, "commission")


def test_us_cost_shares_are_unchanged() -> None:
    vol = np.array([0.1, 0.25, NAN, 0.6])
    price = np.array([100.0, 2.0, np.inf, 0.3])
    slip = 5.0 + 0.05 * np.where(np.isfinite(vol), vol, 0.25) / math.sqrt(252) * 10_000
    per_share = np.array([0.0, 0.005 / 2.0, 0.0, 0.005 / 0.3])
    expected = slip / 10_000 + np.minimum(np.maximum(0.0005, per_share), 0.01)
    assert np.array_equal(one_side_costs(vol, price), expected)
    assert np.array_equal(one_side_costs(vol, price, US, [DAY] * 4), expected)


# -- lots -----------------------------------------------------------------------------------
def test_a_shares_enter_in_whole_lots_of_100() -> None:
    ledger = entered(CN, DAYS[0], {"600036.SH": Bar(13.0, 13.37, 1e9)},
                     [("600036.SH", 0.0731)])
    orders = ledger.result.frames()["orders"]
    assert len(orders) == len(ACCOUNTS)
    # 0.0731 * 1,000,000 / 13.37 = 5467.5 shares: 5400 ordered
    assert orders.set_index("account").loc["aggressive", "quantity"] == 5400
    assert (orders["quantity"] % 100 == 0).all()
    ledger.run_day(day_market(DAYS[1], {"600036.SH": Bar(13.2, 13.3, 1e9)}),
                   decisions(DAYS[1], []))
    fills = ledger.result.frames()["fills"]
    assert len(fills) == len(ACCOUNTS) and (fills["quantity"] % 100 == 0).all()


def test_a_weight_that_buys_less_than_one_lot_is_a_rejected_order_not_silence() -> None:
    ledger = Ledger(LedgerState(), GENOMES, rules=CN)
    # 0.001 * 1,000,000 / 13.37 = 74.8 shares: no lot of 100 (the conservative half too)
    ledger.run_day(day_market(DAYS[0], {"600036.SH": Bar(13.0, 13.37, 1e9)}),
                   decisions(DAYS[0], [("600036.SH", 0.001)]))
    orders = ledger.result.frames()["orders"]
    assert len(orders) == len(ACCOUNTS)
    assert set(orders["status"]) == {"rejected"} and (orders["quantity"] == 0).all()
    assert orders["resolved_as_of"].tolist() == [DAYS[0]] * len(ACCOUNTS)
    aggressive = orders.set_index("account").loc["aggressive"]
    assert "a weight of 0.10% buys 74.79 at 13.37, less than one lot of 100 (1,337.00 a " \
        "lot)" in aggressive["reason"]
    assert aggressive["decision_id"] == f"D-{DAYS[0]}-600036.SH"
    ledger.run_day(day_market(DAYS[1], {"600036.SH": Bar(13.2, 13.3, 1e9)}),
                   decisions(DAYS[1], []))
    assert ledger.result.frames()["fills"].empty


def test_a_hong_kong_stock_without_a_known_board_lot_is_refused_not_guessed() -> None:
    from trade_pipelines.agent.markets import UnknownBoardLot

    with pytest.raises(UnknownBoardLot, match="no board lot is known for 9988.HK"):
        HK.lot("9988.HK")
    assert HK.lot("^HSI") == 100  # an index is never traded
    ledger = entered(HK, DAYS[0], {"9988.HK": Bar(80.0, 81.3, 1e9),
                                   "2318.HK": Bar(80.0, 81.3, 1e9)},
                     [("9988.HK", 0.05), ("2318.HK", 0.05)])
    orders = ledger.result.frames()["orders"].set_index(["account", "symbol"])
    refused = orders.loc[("aggressive", "9988.HK")]
    assert refused["status"] == "rejected" and "HK_BOARD_LOTS" in refused["reason"]
    assert orders.loc[("aggressive", "2318.HK"), "verdict"] == "accepted"


def test_a_us_weight_below_one_share_and_a_weight_of_zero() -> None:
    ledger = entered(US, DAYS[0], {"AAA": Bar(480.0, 481.3, 1e9),
                                   "BBB": Bar(10.0, 10.0, 1e9)},
                     [("AAA", 0.0004), ("BBB", 0.0)])
    orders = ledger.result.frames()["orders"]
    # 0.0004 * 1,000,000 / 481.3 = 0.83 of a share; a weight of 0 is no decision to trade
    assert orders["symbol"].tolist() == ["AAA"] * len(ACCOUNTS)
    assert set(orders["status"]) == {"rejected"}
    assert orders["sequence"].tolist() == [1, 2, 3] and orders["order_id"].is_unique
    assert orders["reason"].iloc[0].endswith(
        "a weight of 0.04% buys 0.8311 at 481.3, less than one share")


def test_every_built_in_hong_kong_stock_has_its_board_lot() -> None:
    from trade_pipelines.agent.markets import HK_BOARD_LOTS
    from trade_pipelines.market_data.builtin_markets import builtin_universe, raw_market_bars

    traded = set(raw_market_bars("hk")["symbol"]) - {HK.benchmark_symbol}
    assert traded == set(builtin_universe("hk")) and traded <= set(HK_BOARD_LOTS)
    assert all(HK.lot(symbol) >= 100 for symbol in traded)


def _holding_without_a_lot(quantity: float, selling: float | None = None) -> LedgerState:
    """``quantity`` of 9988.HK (no board lot on record) held by the combined account,
    bought before board lots were required; ``selling``: a sale of it stored pending."""
    state = LedgerState()
    state.accounts["combined"].positions["9988.HK"] = Position(
        quantity, 80.0, DAYS[0], "H", days_held=2, peak_close=80.0)
    state.accounts["combined"].cash -= quantity * 80.0
    if selling is not None:
        state.pending.append(PendingOrder("O-1", "combined", "9988.HK", "sell", selling,
                                          "H", "time_exit"))
    return state


def test_a_whole_position_without_a_known_board_lot_is_sold_not_refused() -> None:
    from trade_pipelines.agent.execution.controls import TradingState

    # a sale of all of it stored pending: an odd lot of 1,234 needs no lot to close out
    ledger = Ledger(_holding_without_a_lot(1_234.0, selling=1_234.0), GENOMES, rules=HK)
    bars = {"9988.HK": Bar(80.0, 81.0, 1e9)}
    ledger.run_day(day_market(DAYS[2], bars), decisions(DAYS[2], []))
    (stored,) = ledger.result.earlier_orders
    assert (stored["status"], stored["filled_quantity"]) == ("filled", 1_234.0)
    assert "9988.HK" not in ledger.state.accounts["combined"].positions
    assert [f["quantity"] for f in ledger.result.fills] == [1_234.0]
    # a halt sells the whole position: placed, accepted and filled at the next open
    ledger = Ledger(_holding_without_a_lot(1_234.0), GENOMES, rules=HK)
    halted = TradingState("halted", DAYS[3], "broker outage", "ops")
    ledger.run_day(day_market(DAYS[3], bars), decisions(DAYS[3], []), halted)
    ledger.run_day(day_market(DAYS[4], bars), decisions(DAYS[4], []), halted)
    (sale,) = ledger.result.frames()["orders"].itertuples()
    assert (sale.purpose, sale.status, sale.filled_quantity) == ("halt", "filled", 1_234.0)
    assert ledger.state.accounts["combined"].positions == {}


def test_a_part_of_a_position_without_a_known_board_lot_is_refused_and_never_crashes(
        ) -> None:
    from trade_pipelines.agent.execution.controls import TradingState

    # a sale of a part of it stored before board lots were required (sized on 100)
    ledger = Ledger(_holding_without_a_lot(1_234.0, selling=100.0), GENOMES, rules=HK)
    bars = {"9988.HK": Bar(80.0, 81.0, 1e9)}
    ledger.run_day(day_market(DAYS[2], bars), decisions(DAYS[2], []))
    (stored,) = ledger.result.earlier_orders
    assert (stored["status"], stored["filled_quantity"]) == ("cancelled", 0.0)
    assert stored["resolution"].startswith("no board lot is known for 9988.HK")
    # a halt's sale of the rest, while a part is already being sold, is a part too
    ledger = Ledger(_holding_without_a_lot(1_234.0, selling=100.0), GENOMES, rules=HK)
    halted = TradingState("halted", DAYS[3], "broker outage", "ops")
    ledger.run_day(day_market(DAYS[3], bars), decisions(DAYS[3], []), halted)
    (sale,) = ledger.result.frames()["orders"].itertuples()
    assert (sale.purpose, sale.status, sale.quantity) == ("halt", "rejected", 1_134.0)
    assert sale.resolution.startswith("no board lot is known for 9988.HK")
    assert sale.resolved_as_of == DAYS[3]
    assert ledger.result.fills == []
    assert ledger.state.accounts["combined"].positions["9988.HK"].quantity == 1_234


def test_a_whole_sale_without_a_known_board_lot_the_volume_cap_cuts_fills_nothing() -> None:
    # 10% of an average daily volume of 10,000 is 1,000: a part, which has no lot to be in
    ledger = Ledger(_holding_without_a_lot(1_234.0, selling=1_234.0), GENOMES, rules=HK)
    ledger.run_day(day_market(DAYS[2], {"9988.HK": Bar(80.0, 81.0, 1e9, adv=10_000.0)}),
                   decisions(DAYS[2], []))
    (stored,) = ledger.result.earlier_orders
    assert (stored["status"], stored["filled_quantity"]) == ("expired", 0.0)
    assert "a part cannot be sold: no board lot is known for 9988.HK" in stored["resolution"]
    assert ledger.state.accounts["combined"].positions["9988.HK"].quantity == 1_234


def test_the_broker_fills_a_stock_without_a_known_board_lot_whole_or_not_at_all() -> None:
    # each of these raised UnknownBoardLot from quantity_unit / no_fill_reason before
    bar = Bar(80.0, 81.0, 1e9, adv=10_000.0)   # the volume cap: 1,000 shares
    fill = execute("sell", 1_000, bar, VOL, HK, "9988.HK", DAY)
    assert fill is not None and fill.quantity == 1_000
    assert execute("sell", 1_234, bar, VOL, HK, "9988.HK", DAY) is None
    why = no_fill_reason("sell", 1_234, bar, HK, "9988.HK", DAY)
    assert why is not None and why.startswith("volume cap: 10% of the average daily "
                                              "volume of 10,000 allows less than the 1234")
    assert "no board lot is known for 9988.HK" in why
    assert broker.fillable_quantity(1_234, bar, HK, "9988.HK") == 0
    # a buy would be sized on a guess: never filled
    assert execute("buy", 1_000, bar, VOL, HK, "9988.HK", DAY) is None
    assert no_fill_reason("buy", 1_000, bar, HK, "9988.HK", DAY).startswith(
        "no board lot is known for 9988.HK")
    assert execute("buy", 500, bar, VOL, HK, "2318.HK", DAY).quantity == 500


def test_the_same_entry_in_the_us_buys_whole_shares() -> None:
    ledger = entered(US, DAYS[0], {"AAA": Bar(13.0, 13.37, 1e9)},
                     [("AAA", 0.0731)])
    orders = ledger.result.frames()["orders"]
    assert orders.set_index("account").loc["aggressive", "quantity"] == 5467


def test_risk_trims_round_down_to_whole_lots() -> None:
    account = AccountView(cash=100_000.0, equity=1_000_000.0, gross_exposure=900_000.0)
    request = OrderRequest("combined", "600036.SH", "buy", 50_000, 13.37, 0.08, "entry")
    cn = check_order(request, account, MarketView(rules=CN))
    us = check_order(request, account, MarketView())
    # the cash buys 7479.4 shares: 7479 in the US, 7400 in whole A-share lots
    assert (us.status, us.quantity) == ("accepted", 7479)
    assert (cn.status, cn.quantity) == ("accepted", 7400)
    poor = AccountView(cash=1_000.0, equity=1_000_000.0, gross_exposure=999_000.0)
    refused = check_order(request, poor, MarketView(rules=CN))
    assert refused.status == "rejected" and "cash" in refused.reason


def test_a_volume_capped_fill_is_rounded_down_to_lots() -> None:
    bar = Bar(13.0, 13.0, 1e7, adv=2_550.0)   # the cap: 255 shares
    fill = execute("buy", 1_000, bar, VOL, CN, "600036.SH", DAY)
    assert fill is not None and fill.quantity == 200
    us = execute("buy", 1_000, bar, VOL)
    assert us is not None and us.quantity == 255
    thin = Bar(13.0, 13.0, 1e7, adv=950.0)    # the cap: 95 shares, no whole lot
    assert execute("buy", 1_000, thin, VOL, CN, "600036.SH", DAY) is None
    assert "allows no lot of 100" in no_fill_reason("buy", 1_000, thin, CN, "600036.SH", DAY)


def test_a_volume_capped_crypto_fill_keeps_its_fraction() -> None:
    thin = Bar(1500.0, 1500.0, 40.0, adv=5.0)   # the cap: half a coin
    fill = execute("buy", 2.0, thin, VOL, CRYPTO, "BTC-CNY", DAY)
    assert fill is not None and fill.quantity == 0.5
    us = Bar(15.0, 15.0, 40.0, adv=5.0)
    assert execute("buy", 2.0, us, VOL) is None   # half a share is no share


def test_a_whole_position_is_sold_as_an_odd_lot() -> None:
    state = LedgerState()
    state.accounts["combined"].positions["600036.SH"] = Position(
        250.0, 12.0, DAYS[0], "H", days_held=3, peak_close=12.0)
    state.accounts["combined"].cash -= 3_000.0
    state.pending.append(PendingOrder("O-1", "combined", "600036.SH", "sell", 250.0, "H",
                                      "time_exit"))
    ledger = Ledger(state, GENOMES, rules=CN)
    ledger.run_day(day_market(DAYS[2], {"600036.SH": Bar(13.0, 13.1, 1e9)}),
                   decisions(DAYS[2], []))
    (fill,) = ledger.result.fills
    assert fill["quantity"] == 250
    assert "600036.SH" not in ledger.state.accounts["combined"].positions


def test_a_cash_limited_a_share_buy_keeps_whole_lots() -> None:
    state = LedgerState()
    state.accounts["combined"] = AccountState(cash=5_000.0, peak_equity=5_000.0,
                                              last_equity=5_000.0)
    state.pending.append(PendingOrder("O-1", "combined", "600036.SH", "buy", 1_000.0, "H",
                                      "entry"))
    ledger = Ledger(state, GENOMES, rules=CN)
    ledger.run_day(day_market(DAYS[1], {"600036.SH": Bar(13.0, 13.0, 1e9)}),
                   decisions(DAYS[1], []))
    (fill,) = ledger.result.fills
    assert fill["quantity"] == 300   # 5,000 buys 384 shares: three lots
    assert fill["fee"] == pytest.approx(CN.fee("buy", 300, fill["price"], DAYS[1]))
    assert ledger.state.accounts["combined"].cash >= 0


def test_hong_kong_board_lots_are_per_symbol() -> None:
    assert HK.round_quantity("2318.HK", 1_234) == 1_000      # a board lot of 500
    assert HK.round_quantity("0700.HK", 1_234) == 1_200      # a board lot of 100
    assert HK.round_quantity("1359.HK", 1_234) == 1_000      # a board lot of 1000
    ledger = entered(HK, DAYS[0], {"2318.HK": Bar(80.0, 81.3, 1e9)},
                     [("2318.HK", 0.0731)])
    orders = ledger.result.frames()["orders"]
    # 0.0731 * 1,000,000 / 81.3 = 899.1 shares: one board lot of 500
    assert orders.set_index("account").loc["aggressive", "quantity"] == 500
    assert (orders["quantity"] % 500 == 0).all()


def test_crypto_trades_fractions_down_to_the_step() -> None:
    assert CRYPTO.round_quantity("BTC-CNY", 1.234_567) == pytest.approx(1.2345)
    ledger = entered(CRYPTO, DAYS[0], {"BTC-CNY": Bar(1500.0, 1512.3, 1e6)},
                     [("BTC-CNY", 0.05)])
    orders = ledger.result.frames()["orders"]
    # 0.05 * 1,000,000 / 1512.3 = 33.0622 coins
    assert orders.set_index("account").loc["aggressive", "quantity"] == pytest.approx(33.0622)
    ledger.run_day(day_market(DAYS[1], {"BTC-CNY": Bar(1510.0, 1520.0, 1e6)}),
                   decisions(DAYS[1], []))
    fill = ledger.result.frames()["fills"].set_index("account").loc["aggressive"]
    assert fill["quantity"] == pytest.approx(33.0622)
    assert fill["fee"] == pytest.approx(0.001 * fill["quantity"] * fill["price"], abs=1e-6)


# -- T+1 --------------------------------------------------------------------------------------
def same_session_buy_and_sell(rules) -> Ledger:
    """200 held from before; a buy of 300 and a sale of all 500 meet the same open."""
    days = {DAYS[2]: ({"600036.SH": Bar(13.0, 13.1, 1e9)}, None),
            DAYS[3]: ({"600036.SH": Bar(13.2, 13.3, 1e9)}, None)}
    return run(days, DAYS[2:4], rules, state=held_and_topped_up(12.0, DAYS[0]))


def test_t_plus_1_keeps_todays_purchase_until_the_next_session() -> None:
    ledger = same_session_buy_and_sell(CN)
    frames = ledger.result.frames()
    fills = frames["fills"]
    sold = fills[fills["side"] == "sell"]
    # the 200 held before sell at the purchase's session, the 300 bought then the next
    assert list(zip(sold["as_of"], sold["quantity"], strict=True)) == [(DAYS[2], 200.0),
                                                                       (DAYS[3], 300.0)]
    sell = next(o for o in ledger.result.earlier_orders if o["order_id"] == "O-sell")
    assert sell["status"] == "partially_filled"
    assert (sell["filled_quantity"], sell["unfilled_quantity"]) == (200.0, 300.0)
    assert "T+1: 300 600036.SH bought on 2015-06-03" in sell["resolution"]
    assert "re-submitted" in sell["resolution"]
    again = frames["orders"][frames["orders"]["as_of"] == DAYS[2]]
    assert len(again) == 1
    again = again.iloc[0]
    assert (again["side"], again["purpose"], again["quantity"]) == ("sell", "halt", 300.0)
    assert "re-submitted: T+1" in again["reason"] and again["status"] == "filled"
    assert frames["positions"].query("as_of == @DAYS[3]").empty


def test_the_us_settles_same_day_so_the_whole_position_sells_at_once() -> None:
    fills = same_session_buy_and_sell(US).result.frames()["fills"]
    sold = fills[fills["side"] == "sell"]
    assert list(zip(sold["as_of"], sold["quantity"], strict=True)) == [(DAYS[2], 500.0)]


def test_a_sale_of_nothing_but_todays_purchase_waits_a_session() -> None:
    state = LedgerState()
    state.pending.append(PendingOrder("O-buy", "combined", "600036.SH", "buy", 300.0, "H",
                                      "entry", "D-1"))
    state.pending.append(PendingOrder("O-sell", "combined", "600036.SH", "sell", 300.0, "H",
                                      "halt"))
    ledger = Ledger(state, GENOMES, rules=CN)
    ledger.run_day(day_market(DAYS[2], {"600036.SH": Bar(13.0, 13.1, 1e9)}),
                   decisions(DAYS[2], []))
    sell = next(o for o in ledger.result.earlier_orders if o["order_id"] == "O-sell")
    assert (sell["status"], sell["filled_quantity"]) == ("expired", 0.0)
    assert sell["resolution"].startswith("T+1")
    assert ledger.state.accounts["combined"].positions["600036.SH"].quantity == 300
    (carried,) = ledger.state.pending
    assert (carried.side, carried.quantity, carried.reason) == ("sell", 300.0, "halt")


# -- price limits ----------------------------------------------------------------------------
def test_a_buy_at_a_limit_up_open_does_not_fill() -> None:
    ledger = entered(CN, DAYS[0], {"600036.SH": Bar(12.0, 12.0, 1e9)},
                     [("600036.SH", 0.05)])
    # 13.20 = 12.00 + 10%: nobody sells at the upper limit; the bar carries no previous
    # close, so the ledger's last close (12.00, known before the open) is the base
    ledger.run_day(day_market(DAYS[1], {"600036.SH": Bar(13.2, 13.2, 1e9)}),
                   decisions(DAYS[1], []))
    orders = ledger.result.frames()["orders"]
    assert ledger.result.fills == []
    assert (orders["status"] == "expired").all()
    assert orders["resolution"].str.startswith("limit-locked").all()
    assert orders["resolution"].str.contains("upper limit").all()
    assert ledger.state.pending == []


def test_limit_locks_follow_the_dated_limits_the_validation_reads() -> None:
    # No A-share limit before 1996-12-16: an open 15% up was a trade like any other.
    assert not CN.limit_locked("600601.SH", date(1995, 5, 2), "buy", 10.0, 11.5)
    assert CN.limit_locked("600601.SH", date(1997, 5, 2), "buy", 10.0, 11.0)
    # The Beijing Stock Exchange's 30%; a STAR listing's first five sessions are free.
    assert not CN.limit_locked("830799.BJ", date(2022, 3, 1), "buy", 10.0, 12.0)
    assert CN.limit_locked("830799.BJ", date(2022, 3, 1), "buy", 10.0, 13.0)
    assert not CN.limit_locked("688981.SH", date(2020, 7, 17), "buy", 10.0, 12.0, session=1)
    assert CN.limit_locked("688981.SH", date(2020, 7, 23), "buy", 10.0, 12.0, session=5)


def test_the_limit_base_is_the_previous_close_never_todays() -> None:
    # today's close falls back to 12.5: the open at +10% of yesterday's close is locked
    # all the same (today's close is not known at the open)
    bar = Bar(13.2, 12.5, 1e9, previous_close=12.0)
    assert no_fill_reason("buy", 100, bar, CN, "600036.SH", DAY).startswith("limit-locked")
    assert execute("buy", 100, bar, VOL, CN, "600036.SH", DAY) is None
    # an open below the limit fills; a sell at the upper limit fills too
    assert execute("buy", 100, Bar(13.1, 13.2, 1e9, previous_close=12.0), VOL, CN,
                   "600036.SH", DAY) is not None
    assert execute("sell", 100, bar, VOL, CN, "600036.SH", DAY) is not None
    # ChiNext's limit was 10% until 2020-08-24, 20% after
    assert execute("buy", 100, Bar(11.0, 11.0, 1e9, previous_close=10.0), VOL, CN,
                   "300059.SZ", DAY) is None
    assert execute("buy", 100, Bar(11.0, 11.0, 1e9, previous_close=10.0), VOL, CN,
                   "300059.SZ", date(2021, 3, 1)) is not None
    # no limits in the US, Hong Kong or crypto
    for rules, symbol in [(US, "AAA"), (HK, "2318.HK"), (CRYPTO, "BTC-CNY")]:
        assert execute("buy", 100, bar, VOL, rules, symbol, DAY) is not None


def test_trading_bars_carry_the_previous_sessions_close() -> None:
    bars = pd.DataFrame({"symbol": ["A"] * 3 + ["B"] * 2,
                         "as_of": [DAYS[0], DAYS[1], DAYS[3], DAYS[1], DAYS[2]],
                         "open": [10.0, 11.0, 12.0, 5.0, 5.5],
                         "close": [10.5, 11.5, 12.5, 5.2, 5.4],
                         "volume": [1e6] * 5})
    features = bars[["symbol", "as_of"]].assign(vol_20=0.2)
    out = bars_by_day(trading_bars(bars, features))
    assert math.isnan(out[DAYS[0]][0]["A"].previous_close)
    assert out[DAYS[1]][0]["A"].previous_close == 10.5
    assert out[DAYS[3]][0]["A"].previous_close == 11.5   # A had no bar on day 2
    assert out[DAYS[2]][0]["B"].previous_close == 5.2


def test_a_sell_locked_at_the_lower_limit_is_submitted_again_and_fills_later() -> None:
    state = LedgerState()
    state.accounts["combined"].positions["600036.SH"] = Position(
        500.0, 12.0, DAYS[0], "H", days_held=2, peak_close=12.0)
    state.accounts["combined"].cash -= 6_000.0
    state.pending.append(PendingOrder("O-sell", "combined", "600036.SH", "sell", 500.0, "H",
                                      "stop_loss"))
    ledger = Ledger(state, GENOMES, rules=CN)
    ledger.run_day(day_market(DAYS[2], {"600036.SH": Bar(10.8, 10.8, 1e9,
                                                         previous_close=12.0)}),
                   decisions(DAYS[2], []))
    (locked,) = ledger.result.earlier_orders
    assert (locked["status"], locked["filled_quantity"]) == ("expired", 0.0)
    assert locked["resolution"].startswith("limit-locked") and "lower limit" in \
        locked["resolution"]
    ledger.run_day(day_market(DAYS[3], {"600036.SH": Bar(10.5, 10.6, 1e9,
                                                         previous_close=10.8)}),
                   decisions(DAYS[3], []))
    frames = ledger.result.frames()
    (again,) = frames["orders"].itertuples()
    assert (again.as_of, again.purpose, again.status) == (DAYS[2], "stop_loss", "filled")
    assert "re-submitted: limit-locked" in again.reason
    (trade,) = frames["trades"].itertuples()
    assert (trade.as_of, trade.quantity, trade.exit_reason) == (DAYS[3], 500.0, "stop_loss")


# -- fees --------------------------------------------------------------------------------------
def test_a_share_stamp_duty_is_charged_on_sells_only_at_the_dated_rate() -> None:
    value = 1_000 * 13.0
    assert CN.fee("buy", 1_000, 13.0, DAY) == pytest.approx(max(5.0, 0.00025 * value))
    assert CN.fee("sell", 1_000, 13.0, DAY) == pytest.approx(
        max(5.0, 0.00025 * value) + 0.001 * value)
    assert CN.fee("sell", 1_000, 13.0, date(2024, 1, 2)) == pytest.approx(
        max(5.0, 0.00025 * value) + 0.0005 * value)
    bought = execute("buy", 1_000, Bar(13.0, 13.0, 1e9), VOL, CN, "600036.SH", DAY)
    sold = execute("sell", 1_000, Bar(13.0, 13.0, 1e9), VOL, CN, "600036.SH", DAY)
    assert bought is not None and sold is not None
    assert bought.fee == pytest.approx(max(5.0, 0.00025 * 1_000 * bought.price))
    assert sold.fee == pytest.approx(max(5.0, 0.00025 * 1_000 * sold.price)
                                     + 0.001 * 1_000 * sold.price)
    with pytest.raises(ValueError, match="dated"):
        execute("sell", 1_000, Bar(13.0, 13.0, 1e9), VOL, CN, "600036.SH")


def test_a_share_stamp_duty_follows_its_history_on_both_sides() -> None:
    """Both sides 0.3% from 1991, 0.5% from 1997-05-12, 0.4% from 1998-06-12, 0.2% from
    2001-11-16, 0.1% in 2007, 0.3% from 2007-05-30 (the "midnight raid"), 0.1% from
    2008-04-24, sells only from 2008-09-19, halved from 2023-08-28."""
    history = {date(1995, 3, 1): (0.003, 0.003), date(1997, 6, 2): (0.005, 0.005),
               date(1999, 3, 1): (0.004, 0.004), date(2002, 3, 1): (0.002, 0.002),
               date(2007, 1, 5): (0.001, 0.001), date(2007, 6, 1): (0.003, 0.003),
               date(2008, 5, 5): (0.001, 0.001), date(2008, 10, 6): (0.0, 0.001),
               date(2024, 1, 2): (0.0, 0.0005)}
    for day, (buy, sell) in history.items():
        assert (CN.stamp_duty("buy", day), CN.stamp_duty("sell", day)) == (buy, sell), day
    slip = slippage_bps(VOL) / 10_000
    assert one_side_cost(VOL, 13.0, CN, date(2007, 6, 1)) == pytest.approx(
        slip + 0.00025 + 0.003)


def test_hong_kong_stamp_duty_is_charged_on_both_sides() -> None:
    value = 1_000 * 80.0
    for side in ("buy", "sell"):
        assert HK.fee(side, 1_000, 80.0, DAY) == pytest.approx(0.0003 * value + 0.001 * value)
        assert HK.fee(side, 1_000, 80.0, date(2022, 5, 2)) == pytest.approx(
            0.0003 * value + 0.0013 * value)


def test_costs_of_the_gene_pool_carry_each_markets_commission_and_duty() -> None:
    slip = slippage_bps(VOL) / 10_000
    assert one_side_cost(VOL, 13.0, CN, DAY) == pytest.approx(slip + 0.00025 + 0.0005)
    assert one_side_cost(VOL, 13.0, CN, date(2024, 1, 2)) == pytest.approx(
        slip + 0.00025 + 0.00025)
    assert one_side_cost(VOL, 80.0, HK, DAY) == pytest.approx(slip + 0.0003 + 0.001)
    assert one_side_cost(VOL, 1500.0, CRYPTO) == pytest.approx(slip + 0.001)
    with pytest.raises(ValueError, match="day"):
        one_side_cost(VOL, 13.0, CN)
    vol = np.full((2, 3), VOL)
    close = np.array([[13.0, 100.0, 80.0], [13.5, 101.0, 81.0]])
    costs = cost_matrix(vol, close, ["600036.SH", "AAA", "2318.HK"],
                        [DAY, date(2024, 1, 2)])
    assert costs[:, 0] == pytest.approx([slip + 0.00075, slip + 0.0005])
    assert costs[:, 1] == pytest.approx(one_side_costs(vol[:, 1], close[:, 1]))
    assert costs[:, 2] == pytest.approx([slip + 0.0013, slip + 0.0013])


def test_a_rebalanced_a_share_book_trades_whole_lots_and_pays_duty_on_the_sale() -> None:
    index = pd.Index(DAYS[:4])
    targets = pd.DataFrame({"600036.SH": [0.0731, np.nan, 0.0, np.nan]}, index=index)
    bars = pd.DataFrame({"symbol": "600036.SH", "as_of": DAYS[:4],
                         "open": [13.0, 13.2, 13.3, 13.1], "close": [13.37, 13.3, 13.2, 13.0],
                         "volume": 1e9, "vol_20": VOL})
    result = simulate_target_weights(targets, bars, rules=CN)
    held = result.weights.iloc[1, 0] * result.equity.iloc[1] / 13.3
    assert held == pytest.approx(5_400)
    assert result.weights.iloc[3, 0] == 0
    slip = slippage_bps(VOL) / 10_000
    bought, sold = round(13.2 * (1 + slip), 6), round(13.1 * (1 - slip), 6)
    assert result.fees == pytest.approx(CN.fee("buy", 5_400, bought, DAYS[1])
                                        + CN.fee("sell", 5_400, sold, DAYS[3]))
    assert CN.fee("sell", 5_400, sold, DAYS[3]) > 0.001 * 5_400 * sold


def test_a_rebalanced_hong_kong_book_refuses_a_stock_without_a_known_board_lot() -> None:
    # this raised UnknownBoardLot when the target was sized
    index = pd.Index(DAYS[:4])
    targets = pd.DataFrame({"2318.HK": [0.4, np.nan, 0.0, np.nan],
                            "9988.HK": [0.4, np.nan, 0.2, np.nan]}, index=index)
    bars = pd.DataFrame([{"symbol": s, "as_of": d, "open": 80.0, "close": 81.0,
                          "volume": 1e9, "vol_20": VOL}
                         for s in targets.columns for d in DAYS[:4]])
    result = simulate_target_weights(targets, bars, rules=HK)
    held = result.weights.loc[DAYS[1], "2318.HK"] * result.equity.loc[DAYS[1]] / 81.0
    assert held == pytest.approx(4_500)  # 0.4 * 1,000,000 / 81 = 4,938: nine lots of 500
    assert (result.weights["9988.HK"] == 0).all()
    assert result.weights.loc[DAYS[3], "2318.HK"] == 0
    refused = result.refused
    assert refused[["as_of", "symbol", "side"]].values.tolist() == [
        [DAYS[0], "9988.HK", "buy"], [DAYS[2], "9988.HK", "buy"]]
    assert refused["reason"].str.startswith("no board lot is known for 9988.HK").all()
    assert simulate_target_weights(targets[["2318.HK"]], bars, rules=HK).refused.empty


def test_a_refused_entry_leaves_room_for_another_decision_on_the_symbol() -> None:
    rows = decisions(DAYS[0], [("600036.SH", 0.001), ("600036.SH", 0.0731)])
    rows["decision_id"] = ["D-small", "D-large"]
    ledger = Ledger(LedgerState(), GENOMES, rules=CN)
    ledger.run_day(day_market(DAYS[0], {"600036.SH": Bar(13.0, 13.37, 1e9)}), rows)
    orders = ledger.result.frames()["orders"]
    aggressive = orders[orders["account"] == "aggressive"].set_index("decision_id")
    assert aggressive.loc["D-small", "status"] == "rejected"
    assert aggressive.loc["D-large", "quantity"] == 5400
