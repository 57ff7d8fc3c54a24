"""Target weights through the paper broker: next-bar fills, costs computed by hand, sells
before buys, missing bars, the rebalance band, and the turnover definition."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.execution.rebalancing import (
    simulate_target_weights,
    turnover_and_exposure,
)

NAN = float("nan")
VOL = 0.2
# The broker's cost model written out by hand: 5 bps plus 5% of a day's move at 20%
# annual volatility; commission the larger of half a cent a share and 0.05% of the value,
# at least 1, at most 1% of the value.
SLIP = (5.0 + 0.05 * VOL / math.sqrt(252) * 10_000) / 10_000
CAPITAL = 10_000.0


def fee(quantity: float, price: float) -> float:
    value = quantity * price
    return min(max(1.0, 0.005 * quantity, 0.0005 * value), max(1.0, 0.01 * value))


def days(n: int) -> list[date]:
    return [date(2024, 1, 1) + timedelta(days=i) for i in range(n)]


def bars_frame(closes: dict[str, list[float | None]], opens: dict[str, list[float]] | None = None,
               volume: float = NAN) -> pd.DataFrame:
    """Long bars; a None close means the symbol has no bar that day."""
    rows = []
    for symbol, path in closes.items():
        for i, (day, close) in enumerate(zip(days(len(path)), path, strict=True)):
            if close is None:
                continue
            open_ = opens[symbol][i] if opens and symbol in opens else NAN
            rows.append({"symbol": symbol, "as_of": day, "open": open_, "close": close,
                         "volume": volume, "adv": volume, "vol_20": VOL})
    return pd.DataFrame(rows)


def targets_frame(rows: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(rows.values())))
    return pd.DataFrame(rows, index=days(n), dtype=float)


def test_buy_and_hold_is_the_price_path_minus_hand_computed_costs() -> None:
    closes = [100.0, 98.0, 99.0, 105.0, 103.0]
    result = simulate_target_weights(targets_frame({"A": [1.0, NAN, NAN, NAN, NAN]}),
                                     bars_frame({"A": closes}), CAPITAL)
    shares = 100  # floor(1.0 * 10_000 / 100), sized at day 0's close
    price = 98.0 * (1 + SLIP)  # no opens: day 1's close plus slippage
    cash = CAPITAL - shares * price - fee(shares, price)
    expected = [CAPITAL] + [cash + shares * c for c in closes[1:]]
    assert result.equity.tolist() == pytest.approx(expected, abs=1e-3)
    assert result.daily_returns.tolist() == pytest.approx(
        [0.0] + [b / a - 1 for a, b in zip(expected, expected[1:], strict=False)], abs=1e-8)
    assert result.fees == pytest.approx(fee(shares, price), abs=1e-6)
    assert result.weights["A"].tolist() == pytest.approx(
        [0.0] + [shares * c / e for c, e in zip(closes[1:], expected[1:], strict=True)])
    assert result.turnover == pytest.approx(shares * price / expected[1] / 5, abs=1e-8)
    assert result.exposure == pytest.approx(result.weights["A"].mean())
    assert result.trades.empty  # still held: no closed round trip
    assert list(result.equity.index) == days(5)


def test_round_trip_fills_at_the_next_open_and_nets_both_sides_costs() -> None:
    bars = bars_frame({"A": [100.0, 98.0, 99.0, 105.0]},
                      opens={"A": [NAN, 97.0, 99.5, 104.0]}, volume=1e9)
    result = simulate_target_weights(targets_frame({"A": [1.0, NAN, 0.0, NAN]}), bars,
                                     CAPITAL)
    buy, sell = 97.0 * (1 + SLIP), 104.0 * (1 - SLIP)
    buy_fee, sell_fee = fee(100, buy), fee(100, sell)
    final = CAPITAL - 100 * buy - buy_fee + 100 * sell - sell_fee
    assert result.equity.iloc[-1] == pytest.approx(final, abs=1e-3)
    assert result.weights["A"].iloc[-1] == 0.0
    assert len(result.trades) == 1
    trade = result.trades.iloc[0]
    assert (trade["symbol"], trade["opened_as_of"], trade["as_of"]) == ("A", days(4)[1],
                                                                         days(4)[3])
    assert trade["return_pct"] == pytest.approx(
        ((sell - buy) * 100 - buy_fee - sell_fee) / (buy * 100), abs=1e-7)
    assert result.fees == pytest.approx(buy_fee + sell_fee, abs=1e-5)


def test_sells_fill_before_buys_so_the_freed_cash_pays_for_them() -> None:
    # A is bought with the cash B's sale frees; A sorts first, so a fill in symbol order
    # would find only the ~1,000 of cash left and cut A's buy.
    bars = bars_frame({"A": [100.0] * 4, "B": [50.0] * 4})
    targets = targets_frame({"A": [0.0, NAN, 0.9, NAN], "B": [0.9, NAN, 0.0, NAN]})
    result = simulate_target_weights(targets, bars, CAPITAL)
    b_buy = 50.0 * (1 + SLIP)
    cash = CAPITAL - 180 * b_buy - fee(180, b_buy)  # floor(0.9 * 10_000 / 50) = 180
    equity_2 = cash + 180 * 50.0
    a_shares = math.floor(0.9 * equity_2 / 100.0)
    assert a_shares == 89
    b_sell, a_buy = 50.0 * (1 - SLIP), 100.0 * (1 + SLIP)
    cash += 180 * b_sell - fee(180, b_sell) - a_shares * a_buy - fee(a_shares, a_buy)
    equity_3 = cash + a_shares * 100.0
    assert result.equity.iloc[3] == pytest.approx(equity_3, abs=1e-3)
    assert result.weights.iloc[3].tolist() == pytest.approx([a_shares * 100.0 / equity_3, 0.0])


def test_a_buy_the_cash_cannot_pay_is_cut_to_the_shares_it_can() -> None:
    # sized at 100 at day 0's close; day 1 fills at 110 plus slippage: 10,000 buys fewer
    result = simulate_target_weights(targets_frame({"A": [1.0, NAN, NAN]}),
                                     bars_frame({"A": [100.0, 110.0, 110.0]}), CAPITAL)
    price = 110.0 * (1 + SLIP)
    shares = math.floor((CAPITAL - fee(100, price)) / price)
    assert shares == 90
    cash = CAPITAL - shares * price - fee(shares, price)
    assert cash >= 0
    assert result.equity.iloc[2] == pytest.approx(cash + shares * 110.0, abs=1e-3)


def test_a_symbol_without_a_bar_is_not_filled_and_the_order_retries_at_the_next_bar() -> None:
    bars = bars_frame({"C": [100.0, None, 90.0, 95.0]}, opens={"C": [NAN, NAN, 92.0, 94.0]},
                      volume=1e9)
    result = simulate_target_weights(targets_frame({"C": [0.5, NAN, NAN, NAN]}), bars,
                                     CAPITAL)
    assert result.weights["C"].tolist()[:2] == [0.0, 0.0]
    assert result.equity.iloc[1] == CAPITAL  # nothing filled, nothing paid
    # still sized at the last known close (100): 50 shares, filled at day 2's open
    price = 92.0 * (1 + SLIP)
    cash = CAPITAL - 50 * price - fee(50, price)
    assert result.equity.iloc[2] == pytest.approx(cash + 50 * 90.0, abs=1e-3)
    assert result.equity.iloc[3] == pytest.approx(cash + 50 * 95.0, abs=1e-3)
    assert result.fees == pytest.approx(fee(50, price), abs=1e-6)  # filled once only


def test_a_waiting_order_is_resized_by_a_newer_target() -> None:
    bars = bars_frame({"C": [100.0, None, 100.0, 100.0]})
    result = simulate_target_weights(targets_frame({"C": [0.5, 0.2, NAN, NAN]}), bars,
                                     CAPITAL)
    price = 100.0 * (1 + SLIP)
    cash = CAPITAL - 20 * price - fee(20, price)
    assert result.equity.iloc[3] == pytest.approx(cash + 20 * 100.0, abs=1e-3)


def test_the_volume_cap_cuts_a_fill_and_the_remainder_is_not_retried() -> None:
    bars = bars_frame({"A": [100.0] * 4}, volume=500.0)  # at most 50 shares a bar
    result = simulate_target_weights(targets_frame({"A": [0.8, NAN, NAN, NAN]}), bars,
                                     CAPITAL)
    price = 100.0 * (1 + SLIP)
    cash = CAPITAL - 50 * price - fee(50, price)
    assert result.weights["A"].iloc[1:].tolist() == pytest.approx(
        [5000.0 / (cash + 5000.0)] * 3)


def test_drift_within_the_band_is_left_alone() -> None:
    closes = [100.0, 100.0, 120.0, 120.0, 120.0]
    targets = targets_frame({"A": [0.5] * 5})
    loose = simulate_target_weights(targets, bars_frame({"A": closes}), CAPITAL, 0.05)
    tight = simulate_target_weights(targets, bars_frame({"A": closes}), CAPITAL, 0.0)
    buy = 100.0 * (1 + SLIP)
    cash = CAPITAL - 50 * buy - fee(50, buy)
    # day 2: 50 shares at 120 are 6,000 of ~10,995, a weight of ~0.546: 0.046 off target
    assert abs(6000.0 / (cash + 6000.0) - 0.5) < 0.05
    assert loose.fees == pytest.approx(fee(50, buy), abs=1e-6)
    assert loose.trades.empty
    trim = math.floor(50 - 0.5 * (cash + 6000.0) / 120.0)
    assert trim == 4
    sell = 120.0 * (1 - SLIP)
    assert tight.fees == pytest.approx(fee(50, buy) + fee(trim, sell), abs=1e-5)
    assert len(tight.trades) == 1
    held = 50 - trim
    equity = cash + trim * sell - fee(trim, sell) + held * 120.0
    assert tight.weights["A"].iloc[3] == pytest.approx(held * 120.0 / equity)


def test_entries_trade_whatever_the_band() -> None:
    result = simulate_target_weights(targets_frame({"A": [0.03, NAN, NAN]}),
                                     bars_frame({"A": [100.0] * 3}), CAPITAL, 0.05)
    assert result.weights["A"].iloc[2] == pytest.approx(0.03, abs=1e-3)


def test_timestamps_and_dates_match() -> None:
    bars = bars_frame({"A": [100.0, 100.0, 100.0]})
    targets = targets_frame({"A": [0.5, NAN, NAN]})
    targets.index = pd.to_datetime(targets.index)
    result = simulate_target_weights(targets, bars, CAPITAL)
    assert result.weights["A"].iloc[2] == pytest.approx(0.5, abs=1e-3)


def test_turnover_and_exposure_of_ledger_rows_by_hand() -> None:
    d = days(3)
    accounts = pd.DataFrame({"as_of": d, "equity": [1000.0, 1100.0, 1000.0],
                             "gross_exposure": [500.0, 0.0, 0.0]})
    fills = pd.DataFrame({"as_of": [pd.Timestamp(d[0]), pd.Timestamp(d[1])],
                          "quantity": [5.0, 5.0], "price": [100.0, 110.0]})
    turnover, exposure = turnover_and_exposure(fills, accounts)
    assert turnover == pytest.approx((500 / 1000 + 550 / 1100 + 0) / 3)
    assert exposure == pytest.approx(0.5 / 3)


def test_the_agents_measure_agrees_with_the_simulators() -> None:
    """The simulator's turnover and exposure are what ``turnover_and_exposure`` reads
    from the fills and account rows the same trades would produce."""
    bars = bars_frame({"A": [100.0, 98.0, 99.0, 105.0]},
                      opens={"A": [NAN, 97.0, 99.5, 104.0]}, volume=1e9)
    result = simulate_target_weights(targets_frame({"A": [1.0, NAN, 0.0, NAN]}), bars,
                                     CAPITAL)
    buy, sell = 97.0 * (1 + SLIP), 104.0 * (1 - SLIP)
    fills = pd.DataFrame({"as_of": [days(4)[1], days(4)[3]], "quantity": [100.0, 100.0],
                          "price": [buy, sell]})
    equity = result.equity.to_numpy()
    accounts = pd.DataFrame({"as_of": days(4), "equity": equity,
                             "gross_exposure": result.weights["A"].to_numpy() * equity})
    turnover, exposure = turnover_and_exposure(fills, accounts)
    # the broker rounds prices to 6 decimals; the hand prices here are not rounded
    assert result.turnover == pytest.approx(turnover, abs=1e-8)
    assert result.exposure == pytest.approx(exposure, abs=1e-12)
    assert np.isclose(turnover, (100 * buy / equity[1] + 100 * sell / equity[3]) / 4)
