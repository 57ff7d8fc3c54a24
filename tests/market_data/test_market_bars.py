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


def test_bad_bars_already_stored_block_the_graph(project_home: Path) -> None:
    warehouse = store(project_home)
    warehouse.migrate()
    warehouse.append("bars", pd.DataFrame({
        "symbol": ["ZZA", "ZZA"], "as_of": [date(2024, 3, 13), date(2024, 3, 14)],
        "close": [10.0, -1.0], "source": ["manual", "manual"],
        "available_at": [datetime(2024, 3, 13, 20), datetime(2024, 3, 14, 20)]}))
    result = run_bars(project_home, "2024-01-01", source="warehouse", symbols="ZZA",
                      selection=AssetSelection.assets("market_bars", "market_features"))
    quality = check(result, "bars_pass_quality_suite")
    assert not quality.passed
    assert "non-positive price: ZZA 2024-03-14" in quality.description
    assert not result.success  # the blocking check stopped the features
    assert warehouse.query("SELECT count(*) AS n FROM features")["n"].iloc[0] == 0


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
