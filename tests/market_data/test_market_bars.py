"""The market_bars asset: every source validated before anything is written, bad rows
refused into the quarantine and listed by the blocking check, imported bars left alone."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, materialize
from yahoo_http import RecordedYahoo, yahoo_session

from trade_pipelines.assets import ALL_ASSETS
from trade_pipelines.assets.common import LAST_DAY_TAG
from trade_pipelines.definitions import build_resources
from trade_pipelines.market_data.importer import import_bars_file
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

BARS = AssetSelection.assets("market_bars")


def run_bars(home: Path, partition: str, *, source: str, symbols: str,
             tags: dict[str, str] | None = None, selection=BARS):
    with DagsterInstance.ephemeral() as instance:
        return materialize(ALL_ASSETS, selection=selection, partition_key=partition,
                           tags=tags or {}, instance=instance, raise_on_error=False,
                           resources=build_resources(home=home, source=source,
                                                     symbols=symbols))


def check(result, name: str):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)


def store(home: Path) -> Warehouse:
    return Warehouse(Paths(home).warehouse)


@pytest.fixture
def yahoo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "yfinance-cache"


def test_a_bad_yfinance_bar_is_quarantined_not_stored(project_home: Path,
                                                      yahoo_cache: Path) -> None:
    def inverted_high_low(symbol: str, result: dict) -> None:
        if symbol == "AAPL":  # 2024-03-13, the second-to-last session: high < low
            quote = result["indicators"]["quote"][0]
            quote["high"][-2], quote["low"][-2] = quote["low"][-2], quote["high"][-2]

    with yahoo_session(RecordedYahoo(edit=inverted_high_low), yahoo_cache):
        result = run_bars(project_home, "2024-01-01", source="yfinance", symbols="AAPL",
                          tags={LAST_DAY_TAG: "2024-03-14"})
    assert result.success
    bars = store(project_home).query("SELECT * FROM bars WHERE symbol = 'AAPL'")
    days = set(pd.to_datetime(bars["as_of"]).dt.date)
    assert date(2024, 3, 13) not in days and {date(2024, 3, 12), date(2024, 3, 14)} <= days
    quarantine = store(project_home).query("SELECT * FROM quarantine")
    assert quarantine[["source", "symbol", "reason"]].values.tolist() == [
        ["yfinance", "AAPL", "high < low"]]
    raw = json.loads(quarantine["raw"].iloc[0])
    assert raw["high"] < raw["low"] and raw["as_of"] == "2024-03-13"
    quality = check(result, "bars_pass_quality_suite")
    assert quality.passed  # nothing bad was stored: the bad row was refused
    assert quality.metadata["refused_rows"].value == 1
    assert "AAPL 2024-03-13: high < low (yfinance)" in quality.metadata["refused"].value


def stored(rows: list[tuple[str, date, float, float, float, float, float]]) -> pd.DataFrame:
    """Bars as a hand-made table would hold them, written straight into the warehouse."""
    frame = pd.DataFrame(rows, columns=["symbol", "as_of", "open", "high", "low", "close",
                                        "volume"])
    frame["source"] = "manual"
    frame["available_at"] = [datetime.combine(d, datetime.min.time()).replace(hour=21)
                             for d in frame["as_of"]]
    return frame


def test_bad_bars_already_stored_block_the_graph(project_home: Path) -> None:
    warehouse = store(project_home)
    warehouse.migrate()
    warehouse.append("bars", stored([
        ("ZZA", date(2024, 3, 12), 10.0, 10.5, 9.5, 10.0, 1000.0),
        ("ZZA", date(2024, 3, 13), 10.0, 9.0, 9.5, 9.8, 1000.0),     # high < low
        ("ZZA", date(2024, 3, 14), 9.8, 10.1, 9.7, 10.0, -50.0),     # negative volume
        ("ZZA", date(2024, 3, 15), 10.0, 10.2, 9.9, -1.0, 1000.0),   # non-positive close
    ]))
    # The whole graph downstream of the bars: features, regime, plans, trading, reports.
    result = run_bars(project_home, "2024-01-01", source="warehouse", symbols="ZZA",
                      selection=AssetSelection.assets("market_bars").downstream())
    quality = check(result, "bars_pass_quality_suite")
    assert not quality.passed
    assert "1 bar(s): non-positive price" in quality.description
    table = quality.metadata["failing_rows"].value
    assert table.startswith("| symbol | as_of | open | high | low | close | volume | reason "
                            "| expectation |")
    assert "| ZZA | 2024-03-13 | 10.0 | 9.0 | 9.5 | 9.8 | 1000.0 | high < low | " \
           "ExpectColumnPairValuesAToBeGreaterThanB(column_A='high'" in table
    assert "| negative volume | ExpectColumnValuesToBeBetween(column='volume'" in table
    assert "| ZZA | 2024-03-15 |" in table and "2024-03-12" not in table
    assert quality.metadata["failed_rows"].value == 3
    # The blocking check stopped every asset downstream of the bars in the same run.
    assert not result.success
    materialised = {e.asset_key.to_user_string()
                    for e in result.get_asset_materialization_events()}
    assert materialised == {"market_bars"}
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert started == {"market_bars"}
    planned = {node.name for node in result.job_def.nodes}
    assert {"market_features", "market_regime", "daily_plans", "daily_trading_loop",
            "daily_reports"} <= planned
    assert warehouse.query("SELECT count(*) AS n FROM features")["n"].iloc[0] == 0
    assert warehouse.query("SELECT count(*) AS n FROM orders")["n"].iloc[0] == 0


def test_an_unadjusted_split_blocks_the_graph(project_home: Path) -> None:
    warehouse = store(project_home)
    warehouse.migrate()
    days = [date(2024, 3, d) for d in (11, 12, 13, 14, 15)]
    closes = [100.0, 101.0, 50.4, 50.9, 51.0]  # 2-for-1 on the 13th, not adjusted
    index = [5000.0, 5010.0, 5005.0, 5020.0, 5015.0]  # a calm market that day
    warehouse.append("bars", stored(
        [("ZZB", d, c, c * 1.01, c * 0.99, c, 1000.0) for d, c in zip(days, closes,
                                                                      strict=True)]
        + [("^GSPC", d, c, c, c, c, 0.0) for d, c in zip(days, index, strict=True)]))
    result = run_bars(project_home, "2024-01-01", source="warehouse", symbols="ZZB",
                      selection=AssetSelection.assets("market_bars", "market_features"))
    quality = check(result, "bars_pass_quality_suite")
    assert not quality.passed
    assert "unadjusted split suspected: close x0.499 looks like a 2-for-1 split, ^GSPC " \
           "-0.1%" in quality.description
    assert "| ZZB | 2024-03-13 |" in quality.metadata["failing_rows"].value
    assert not result.success
    assert warehouse.query("SELECT count(*) AS n FROM features")["n"].iloc[0] == 0


def test_a_new_listing_is_told_from_a_resumption_by_its_first_stored_bar(
        project_home: Path) -> None:
    from trade_pipelines.assets.market import bar_quality
    from trade_pipelines.resources import MarketDataResource

    warehouse = store(project_home)
    warehouse.migrate()
    days = [date(2024, 3, d) for d in (11, 12, 13, 14, 15)]
    closes = [60.0, 82.0, 80.0, 81.0, 82.0]  # +37% on the 12th: no limit for a listing
    warehouse.append("bars", stored([("688981.SH", d, c, c, c, c, 1000.0)
                                     for d, c in zip(days, closes, strict=True)]))
    star = MarketDataResource(source="warehouse", symbols="688981.SH")
    listed = bar_quality(warehouse, star, date(2024, 3, 12), date(2024, 3, 15), "quality",
                         "test-run")
    assert listed.passed, listed.description
    # A bar two months before (then a suspension): the 12th is no listing's second day.
    warehouse.append("bars", stored([("688981.SH", date(2024, 1, 2), 60.0, 60.0, 60.0,
                                      60.0, 1000.0)]))
    resumed = bar_quality(warehouse, star, date(2024, 3, 12), date(2024, 3, 15), "quality",
                          "test-run")
    assert not resumed.passed
    assert "beyond the 20% daily price limit" in resumed.description


def test_live_bars_must_be_fresh(project_home: Path) -> None:
    from trade_pipelines.assets.market import bar_quality, freshness_floor
    from trade_pipelines.resources import MarketDataResource

    assert freshness_floor(date(2024, 3, 18), "XNYS", 3) == date(2024, 3, 14)
    assert freshness_floor(date(2024, 12, 31), "XNYS", 3, today=date(2024, 3, 18)) == \
        date(2024, 3, 14)
    assert freshness_floor(date(2024, 3, 18), "24/7", 3) == date(2024, 3, 16)
    warehouse = store(project_home)
    warehouse.migrate()
    warehouse.append("bars", stored([("ZZC", date(2024, 3, 12), 10.0, 10.5, 9.5, 10.0, 1.0),
                                     ("ZZC", date(2024, 3, 13), 10.0, 10.5, 9.5, 10.1, 1.0)]))
    live = MarketDataResource(source="yfinance", symbols="ZZC")
    stale = bar_quality(warehouse, live, date(2024, 1, 1), date(2024, 3, 18), "quality",
                        "test-run")
    assert not stale.passed
    assert stale.description.startswith("stale bars: ExpectColumnMaxToBeBetween")
    assert stale.metadata["fresh_since"].value == "2024-03-14"
    fresh = bar_quality(warehouse, live, date(2024, 1, 1), date(2024, 3, 15), "quality",
                        "test-run")
    assert fresh.passed, fresh.description
    offline = MarketDataResource(source="warehouse", symbols="ZZC")
    assert bar_quality(warehouse, offline, date(2024, 1, 1), date(2024, 3, 18),
                       "quality", "test-run").passed
    # A live bar on a day the market is closed (a Saturday) is held back too.
    warehouse.append("bars", stored([("ZZC", date(2024, 3, 9), 10.0, 10.5, 9.5, 10.0, 1.0)]))
    weekend = bar_quality(warehouse, live, date(2024, 1, 1), date(2024, 3, 15), "quality",
                          "test-run")
    assert weekend.description == "1 bar(s): not a session of the market's calendar"
    assert "| ZZC | 2024-03-09 |" in weekend.metadata["failing_rows"].value
    assert bar_quality(warehouse, offline, date(2024, 1, 1), date(2024, 3, 15),
                       "quality", "test-run").passed
    # Every evaluation is recorded for the supervisor app, the failing rows with it.
    recorded = warehouse.query("SELECT * FROM bar_check_results ORDER BY evaluated_at")
    assert list(recorded["passed"]) == [False, True, True, False, True]
    assert "| ZZC | 2024-03-09 |" in recorded["failing_rows"].iloc[3]


def test_the_builtin_loader_never_overwrites_imported_bars(project_home: Path,
                                                           tmp_path: Path) -> None:
    file = tmp_path / "ko.csv"
    pd.DataFrame({"symbol": "KO", "date": ["2022-12-27", "2022-12-28"], "open": 60.0,
                  "high": 61.0, "low": 59.0, "close": [60.5, 60.7], "volume": 1000}
                 ).to_csv(file, index=False)
    import_bars_file(file, store(project_home))
    result = run_bars(project_home, "2022-01-01", source="builtin", symbols="KO,PEP")
    assert result.success
    bars = store(project_home).query(
        "SELECT symbol, source, count(*) AS n FROM bars WHERE symbol IN ('KO', 'PEP') "
        "GROUP BY ALL ORDER BY symbol")
    assert bars.values.tolist() == [["KO", "import:ko.csv", 2],
                                    ["PEP", "builtin:skfolio.sp500_dataset", 8313]]


def test_the_hourly_self_check_runs_the_suite_on_stored_bars(project_home: Path) -> None:
    from dagster import Definitions

    from trade_pipelines.assets import ALL_ASSET_CHECKS
    from trade_pipelines.jobs import bar_self_check_job

    warehouse = store(project_home)
    warehouse.migrate()
    today = date.today()
    days = sorted({date(today.year, 1, 2), date(today.year, 1, 3)})
    warehouse.append("bars", stored([("ZZD", days[0], 10.0, 10.5, 9.5, 10.0, 100.0),
                                     ("ZZD", days[1], 10.0, 10.5, 10.7, 10.1, 100.0)]))
    defs = Definitions(assets=ALL_ASSETS, asset_checks=ALL_ASSET_CHECKS,
                       jobs=[bar_self_check_job],
                       resources=build_resources(home=project_home, source="warehouse",
                                                 symbols="ZZD"))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("bar_self_check").execute_in_process(
            instance=instance, raise_on_error=False)
    quality = check(result, "stored_bars_self_check")
    assert not quality.passed
    assert quality.description == "1 bar(s): high < low"
    assert f"| ZZD | {days[1]} |" in quality.metadata["failing_rows"].value
    # Only the check ran: nothing was fetched or materialised.
    assert result.get_asset_materialization_events() == []


def test_allowed_days_are_sessions_or_days_the_calendar_cannot_judge() -> None:
    from trade_pipelines.market_data.calendar import allowed_days

    days = [date(1985, 6, 1), date(2024, 3, 8), date(2024, 3, 9), date(2024, 12, 25)]
    assert allowed_days(days, "XNYS") == {date(1985, 6, 1), date(2024, 3, 8)}
    assert allowed_days(days[1:3], "24/7") == {date(2024, 3, 8), date(2024, 3, 9)}
    assert allowed_days([], "XNYS") == set()


def test_a_run_of_another_market_than_the_homes_is_refused(
        project_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The home's market holds for runs launched from the Dagster UI too, not only the
    CLI: nothing of Hong Kong is written into a US home."""
    assert run_bars(project_home, "2019-01-01", source="builtin", symbols="AAPL").success
    result = run_bars(project_home, "2016-01-01", source="builtin", symbols="0700.HK")
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    assert "holds the US stocks" in str(failure.event_specific_data.error)
    # What the CLI prints of a failed run: the step and the root cause.
    from trade_pipelines.cli.common import print_step_failures

    capsys.readouterr()  # the run's own log lines
    print_step_failures(result)
    printed = capsys.readouterr().err
    assert printed.startswith("FAILED in market_bars: ") and "holds the US stocks" in printed
    stored = store(project_home).query("SELECT DISTINCT symbol FROM bars")
    assert not stored["symbol"].str.endswith(".HK").any()


def test_a_yfinance_session_not_closed_yet_is_left_for_the_next_fetch(
        tmp_path: Path, yahoo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 16:10 New York on 2024-03-14 the S&P 500's bar is final and the VIX's is not
    (16:15): only the first is stored; the bar of the session in progress never is."""
    from datetime import timedelta

    from trade_pipelines.market_data import loading

    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.migrate()
    monkeypatch.setattr(loading, "_now", lambda: datetime(2024, 3, 14, 20, 10))
    with yahoo_session(RecordedYahoo(), yahoo_cache):
        loading.load_bars("yfinance", warehouse, ["^GSPC", "^VIX", "AAPL"],
                          date(2024, 3, 1), date(2024, 3, 14), timedelta(0))
    last = warehouse.query("SELECT symbol, max(as_of) AS last FROM bars GROUP BY symbol")
    last = dict(zip(last["symbol"], pd.to_datetime(last["last"]).dt.date, strict=True))
    assert last == {"^GSPC": date(2024, 3, 14), "AAPL": date(2024, 3, 14),
                    "^VIX": date(2024, 3, 13)}
    monkeypatch.setattr(loading, "_now", lambda: datetime(2024, 3, 14, 15, 0))  # 11:00
    fresh = Warehouse(tmp_path / "fresh.duckdb")
    fresh.migrate()
    with yahoo_session(RecordedYahoo(), yahoo_cache):
        loading.load_bars("yfinance", fresh, ["AAPL"], date(2024, 3, 1), date(2024, 3, 14),
                          timedelta(0))
    assert fresh.query("SELECT max(as_of) AS d FROM bars")["d"].iloc[0] == pd.Timestamp(
        "2024-03-13")
