"""Built-in offline bars: what the bundled datasets cover, and that they stay honest."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from trade_pipelines.agent.perception.validation import (
    CANONICAL_COLUMNS,
    check_bars_frame,
    validate_bars,
)
from trade_pipelines.market_data import (
    BENCHMARK_SYMBOL,
    BUILTIN_KNOWN_JUMPS,
    BUILTIN_UNIVERSE,
    VIX_SYMBOL,
    builtin_coverage,
    builtin_rejected,
    load_builtin_bars,
)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return load_builtin_bars()


def test_columns_and_types(bars: pd.DataFrame) -> None:
    assert list(bars.columns) == [*CANONICAL_COLUMNS, "source"]
    assert all(type(d) is date for d in bars["as_of"].head(100))
    assert bars["close"].dtype == "float64"


def test_universe_benchmark_and_vix_are_all_there(bars: pd.DataFrame) -> None:
    assert len(BUILTIN_UNIVERSE) == 20
    assert set(bars["symbol"]) == {*BUILTIN_UNIVERSE, BENCHMARK_SYMBOL, VIX_SYMBOL}


def test_coverage_matches_the_documented_ranges(bars: pd.DataFrame) -> None:
    coverage = builtin_coverage().set_index("source")
    stocks = coverage.loc["builtin:skfolio.sp500_dataset"]
    assert (stocks["symbols"], stocks["rows"]) == (20, 166_260)
    assert (stocks["first"], stocks["last"]) == (date(1990, 1, 2), date(2022, 12, 28))
    index = coverage.loc["builtin:skfolio.sp500_index"]
    assert (index["symbols"], index["rows"]) == (1, 8_313)
    assert (index["first"], index["last"]) == (date(1990, 1, 2), date(2022, 12, 28))
    vix = coverage.loc["builtin:arch.vix"]
    assert (vix["symbols"], vix["rows"]) == (1, 1_259)
    assert (vix["first"], vix["last"]) == (date(2014, 1, 3), date(2019, 1, 3))
    assert len(bars) == 166_260 + 8_313 + 1_259


def test_bars_are_close_only_and_never_invented(bars: pd.DataFrame) -> None:
    assert bars[["open", "high", "low", "volume"]].isna().all().all()
    assert (bars["close"] > 0).all()


def test_vix_holidays_with_no_close_are_dropped_not_filled() -> None:
    rejected = builtin_rejected()
    assert len(rejected) == 46
    assert set(rejected["symbol"]) == {VIX_SYMBOL}
    assert set(rejected["reason"]) == {"missing close"}
    holidays = set(pd.to_datetime(rejected["as_of"]).dt.date)
    assert {date(2014, 12, 25), date(2018, 12, 5)} <= holidays


def test_everything_loaded_passes_validation_again(bars: pd.DataFrame) -> None:
    result = validate_bars(bars)
    assert result.rejected.empty
    assert len(result.clean) == len(bars)


def test_the_only_big_moves_are_the_known_ones(bars: pd.DataFrame) -> None:
    stocks = bars[bars["symbol"].isin(BUILTIN_UNIVERSE)]
    problems = check_bars_frame(stocks)
    assert len(problems) == len([j for j in BUILTIN_KNOWN_JUMPS if j[0] in BUILTIN_UNIVERSE])
    assert all(p.startswith("suspicious jump") for p in problems)
    assert check_bars_frame(bars, accepted_jumps=BUILTIN_KNOWN_JUMPS) == []


def test_loading_is_cached_and_returns_a_private_copy(bars: pd.DataFrame) -> None:
    from trade_pipelines.market_data.builtin import _validated

    hits = _validated.cache_info().hits
    again = load_builtin_bars()
    assert _validated.cache_info().hits == hits + 1  # read and validated once a process
    again.loc[0, "close"] = -1.0
    assert load_builtin_bars().loc[0, "close"] == bars.loc[0, "close"] > 0


def test_the_only_split_like_moves_are_the_reviewed_ones(bars: pd.DataFrame) -> None:
    from trade_pipelines.agent.perception.validation import split_suspects
    from trade_pipelines.market_data.builtin import BUILTIN_SPLIT_LIKE_MOVES

    suspects = split_suspects(bars, benchmark_symbol="^GSPC")
    found = set(zip(suspects["symbol"], suspects["as_of"], strict=True))
    assert BUILTIN_SPLIT_LIKE_MOVES <= found <= BUILTIN_SPLIT_LIKE_MOVES | BUILTIN_KNOWN_JUMPS
    accepted = split_suspects(bars, benchmark_symbol="^GSPC",
                              accepted_jumps=BUILTIN_KNOWN_JUMPS | BUILTIN_SPLIT_LIKE_MOVES)
    assert accepted.empty
