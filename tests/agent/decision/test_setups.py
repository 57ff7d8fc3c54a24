"""The quant's record book: only outcomes known strictly before the day count."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.decision.setups import SetupBook

D = [date(2024, 5, 1) + timedelta(days=i) for i in range(10)]


def outcomes() -> pd.DataFrame:
    rows = [
        ("S01", "AAA", D[1], 0.10),
        ("S01", "BBB", D[2], -0.05),
        ("S01", "AAA", D[2], 0.04),
        ("S01", "AAA", D[4], -0.02),
        ("S02", "AAA", D[1], 0.30),
    ]
    # deliberately out of order: the book must sort by known_as_of itself
    return pd.DataFrame(rows[::-1], columns=["strategy_id", "symbol", "known_as_of", "return"])


def test_outcome_known_on_the_day_itself_is_not_counted() -> None:
    book = SetupBook(outcomes())
    assert book.record("S01", "AAA", D[1]).n == 0
    assert book.record("S01", "AAA", D[2]).n == 1
    assert book.record("S01", "AAA", D[3]).n == 3
    assert book.record("S01", "AAA", D[4]).n == 3
    assert book.record("S01", "AAA", D[5]).n == 4


def test_record_statistics_as_of_a_day() -> None:
    record = SetupBook(outcomes()).record("S01", "AAA", D[3])
    assert record.n == 3
    assert record.win_rate == pytest.approx(2 / 3)
    assert record.expectancy == pytest.approx((0.10 - 0.05 + 0.04) / 3)
    assert record.payoff == pytest.approx(0.07 / 0.05)
    assert record.symbol_n == 2
    assert record.symbol_win_rate == pytest.approx(1.0)


def test_strategies_and_symbols_are_kept_apart() -> None:
    book = SetupBook(outcomes())
    s02 = book.record("S02", "AAA", D[9])
    assert (s02.n, s02.symbol_n, s02.win_rate) == (1, 1, 1.0)
    assert math.isnan(s02.payoff)  # no losses yet
    bbb = book.record("S01", "BBB", D[9])
    assert (bbb.n, bbb.symbol_n, bbb.symbol_win_rate) == (4, 1, 0.0)


def test_unknown_strategy_or_empty_book_has_no_record() -> None:
    for book in (SetupBook(outcomes()),
                 SetupBook(pd.DataFrame(columns=["strategy_id", "symbol", "known_as_of",
                                                 "return"]))):
        record = book.record("S99", "AAA", D[9])
        assert record.n == 0 and record.symbol_n == 0
        assert math.isnan(record.win_rate) and math.isnan(record.expectancy)


def test_timestamps_count_like_dates() -> None:
    frame = outcomes()
    frame["known_as_of"] = pd.to_datetime(frame["known_as_of"])
    book = SetupBook(frame)
    assert book.record("S01", "AAA", D[2]).n == 1
    assert book.record("S01", "AAA", D[3]).n == 3


def test_matches_a_brute_force_count() -> None:
    frame = outcomes()
    book = SetupBook(frame)
    for day in D:
        for strategy in ("S01", "S02"):
            known = frame[(frame["strategy_id"] == strategy) & (frame["known_as_of"] < day)]
            record = book.record(strategy, "AAA", day)
            assert record.n == len(known)
            assert record.symbol_n == int((known["symbol"] == "AAA").sum())


def test_figures_are_the_performance_modules() -> None:
    from trade_pipelines.agent.reflection.performance import trade_stats

    record = SetupBook(outcomes()).record("S01", "AAA", D[9])
    # in exit order: +0.10, then the two known on D[2] as listed, then -0.02
    want = trade_stats([0.10, 0.04, -0.05, -0.02])
    assert (record.n, record.win_rate, record.expectancy, record.payoff) == pytest.approx(
        (want.n_trades, want.win_rate, want.expectancy, want.payoff))
    assert record.payoff == pytest.approx(0.07 / 0.035)


def test_a_signal_repeated_while_held_counts_once() -> None:
    """Fed by the gene pool's outcomes, a signal that fires every day of a holding is one
    trade in the record, not one per day."""
    from trade_pipelines.agent.evolution.evaluation import all_outcomes
    from trade_pipelines.agent.evolution.genomes import StrategyGenome

    genome = StrategyGenome("B", "breakout", "breakout", "breakout", {"window": 55},
                            stop_loss=0.5, take_profit=0.5, max_holding_days=5)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(20)]
    features = pd.DataFrame({"symbol": "AAA", "as_of": days, "close": 100.0 + np.arange(20),
                             "high_55": 0.0, "vol_20": 0.2})
    book = SetupBook(all_outcomes([genome], features))
    # signals on every day: trades from 0 (out on 6), 6 (out on 12), 12 (out on 18)
    assert book.record("B", "AAA", days[19]).n == 3
    assert book.record("B", "AAA", days[12]).n == 1
