"""Performance statistics: hand-checked figures, edge cases that give NaN rather than an
error, and the linear-time prefix table equal to the plain figures of every prefix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trade_pipelines.agent.reflection.performance import (
    COLUMN_STATS,
    EXPANDING_COLUMNS,
    column_stats,
    core_daily_stats,
    daily_stats,
    expanding_daily_stats,
    total_return,
    trade_stats,
)

# Equity 1.10, 1.045, 1.0659, 0.95931, 1.0072755 from a start of 1.
RETURNS = [0.10, -0.05, 0.02, -0.10, 0.05]
# mean 0.004, sample std sqrt(0.02532 / 4) = 0.0795613
SHARPE_252 = 0.004 / math.sqrt(0.02532 / 4) * math.sqrt(252)


def test_daily_figures_by_hand() -> None:
    s = daily_stats(RETURNS)
    assert s.days == 5
    assert s.total_return == pytest.approx(0.0072755)
    assert s.max_drawdown == pytest.approx(0.95931 / 1.10 - 1)
    assert s.drawdown == pytest.approx(1.0072755 / 1.10 - 1)
    assert s.sharpe == pytest.approx(0.79810, abs=1e-5)
    assert s.sharpe == pytest.approx(SHARPE_252)
    # downside deviation sqrt((0.05^2 + 0.10^2) / 5) a day
    assert s.sortino == pytest.approx(0.004 * 252 / (0.05 * math.sqrt(252)))
    assert s.annual_volatility == pytest.approx(math.sqrt(0.02532 / 4) * math.sqrt(252))
    assert s.annual_return == pytest.approx(1.0072755 ** (252 / 5) - 1)
    assert s.calmar == pytest.approx(s.annual_return / -s.max_drawdown)


def test_drawdown_counts_from_the_starting_capital() -> None:
    # never above the start: the first peak is the starting capital, not day one's close
    s = daily_stats([-0.02, 0.01])
    assert s.max_drawdown == pytest.approx(-0.02)
    assert s.drawdown == pytest.approx(0.98 * 1.01 - 1)


def test_trade_figures_by_hand() -> None:
    t = trade_stats(RETURNS, trades_per_year=252)
    assert t.n_trades == 5
    assert t.win_rate == pytest.approx(0.6)
    assert t.payoff == pytest.approx((0.17 / 3) / 0.075)
    assert t.expectancy == pytest.approx(0.004)
    assert t.sharpe == pytest.approx(SHARPE_252)
    assert t.max_drawdown == pytest.approx(0.95931 / 1.10 - 1)
    half = trade_stats(RETURNS, trades_per_year=252, allocation=0.5)
    # 1.05, 1.02375, 1.0339875, 0.98228813, ...
    assert half.max_drawdown == pytest.approx(0.98228813 / 1.05 - 1)
    assert half.sharpe == t.sharpe
    # the annualisation is the caller's: 25 trades a year is sqrt(25 / 252) of it
    assert trade_stats(RETURNS, 25).sharpe == pytest.approx(SHARPE_252 * math.sqrt(25 / 252))


def test_a_zero_return_is_a_loss_and_no_rate_means_no_sharpe() -> None:
    t = trade_stats([0.0, 0.04])
    assert t.win_rate == 0.5
    assert math.isnan(t.payoff)  # the average loss is zero
    assert math.isnan(t.sharpe)


@pytest.mark.parametrize("returns", [[], [np.nan], [np.nan, np.nan]])
def test_no_data_gives_nan_not_an_error(returns: list[float]) -> None:
    s = daily_stats(returns)
    assert s.days == 0
    assert all(math.isnan(v) for v in (s.total_return, s.sharpe, s.max_drawdown, s.calmar))
    t = trade_stats(returns, 52)
    assert t.n_trades == 0 and math.isnan(t.win_rate) and math.isnan(t.sharpe)


def test_one_value_and_flat_values() -> None:
    one = daily_stats([0.01])
    assert one.total_return == pytest.approx(0.01) and one.max_drawdown == 0.0
    assert math.isnan(one.sharpe) and math.isnan(one.sortino) and math.isnan(one.calmar)
    flat = daily_stats([0.001] * 4)
    assert math.isnan(flat.sharpe) and math.isnan(flat.sortino)  # no dispersion, no ratio
    assert math.isnan(daily_stats([0.0, 0.0]).sharpe)
    assert trade_stats([0.02], 12).win_rate == 1.0
    assert math.isnan(trade_stats([0.02], 12).sharpe)


def test_missing_values_are_dropped() -> None:
    with_gap = daily_stats([0.10, np.nan, -0.05, 0.02, -0.10, 0.05])
    assert with_gap == daily_stats(RETURNS)
    assert trade_stats([np.nan, *RETURNS], 252) == trade_stats(RETURNS, 252)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_prefix_equals_the_plain_figures(seed: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0004, 0.012, 300)
    returns[:4] = 0.0           # an account that has not traded yet
    returns[50] = np.nan
    table = expanding_daily_stats(returns)
    assert list(table.columns) == EXPANDING_COLUMNS and len(table) == len(returns)
    for i in range(len(returns)):
        plain = daily_stats(returns[: i + 1])
        got = table.iloc[i]
        for column in EXPANDING_COLUMNS:
            np.testing.assert_allclose(got[column], getattr(plain, column), rtol=1e-9,
                                       atol=1e-12, err_msg=f"{column} at {i}")
    assert expanding_daily_stats([]).empty


@pytest.mark.parametrize("field", list(COLUMN_STATS))
def test_column_figures_equal_the_plain_figures(field: str) -> None:
    rng = np.random.default_rng(2)
    columns = np.column_stack([
        rng.normal(0.0004, 0.012, 120),
        rng.normal(-0.001, 0.02, 120),
        np.r_[RETURNS, np.zeros(115)],
        np.zeros(120),                  # never traded: no Sharpe, no Sortino
    ])
    got = column_stats(columns, field)
    expected = [getattr(daily_stats(columns[:, i]), field) for i in range(columns.shape[1])]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert column_stats(np.empty((0, 3)), field).shape == (3,)
    with pytest.raises(ValueError):
        column_stats(columns, "hit_rate")


def test_core_figures_by_hand_and_at_the_edges() -> None:
    core = core_daily_stats(RETURNS)
    assert core == {"sharpe": pytest.approx(SHARPE_252),
                    "max_drawdown": pytest.approx(0.95931 / 1.10 - 1),
                    "total_return": pytest.approx(0.0072755)}
    assert all(math.isnan(v) for v in core_daily_stats([]).values())
    flat = core_daily_stats([0.0] * 30)         # never traded: no Sharpe, no loss
    assert math.isnan(flat["sharpe"]) and flat["max_drawdown"] == 0.0
    assert flat["total_return"] == 0.0
    assert core_daily_stats([0.02, np.nan, -0.01])["total_return"] == pytest.approx(
        1.02 * 0.99 - 1)                         # a missing day is dropped
    assert math.isnan(total_return([])) and total_return([0.1, 0.1]) == pytest.approx(0.21)
