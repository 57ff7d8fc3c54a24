"""The supervisor page shows a failed bar check with its rows, as the check recorded it
in the warehouse, and forgets it once the check passes again."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import streamlit as st
from dagster import AssetSelection, DagsterInstance, materialize
from streamlit.testing.v1 import AppTest

from trade_pipelines.assets import ALL_ASSETS
from trade_pipelines.definitions import build_resources
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

TIMEOUT_S = 30


def bars(high_on_the_13th: float) -> pd.DataFrame:
    days = [date(2024, 3, 12), date(2024, 3, 13)]
    return pd.DataFrame({
        "symbol": "ZZA", "as_of": days, "open": 10.0, "high": [10.5, high_on_the_13th],
        "low": 9.5, "close": 10.0, "volume": 100.0, "source": "manual",
        "available_at": [datetime.combine(d, datetime.min.time()) for d in days]})


def run_bars(home: Paths) -> None:
    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        materialize(ALL_ASSETS, selection=AssetSelection.assets("market_bars"),
                    partition_key="2024-01-01", instance=instance, raise_on_error=False,
                    resources=build_resources(home=home.home, source="warehouse",
                                              symbols="ZZA"))


def page_text(app_file: Path) -> tuple[str, AppTest]:
    at = AppTest.from_file(str(app_file), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(str(e.value) for kind in ("subheader", "markdown", "error")
                     for e in getattr(at, kind))
    return text, at


def test_a_failed_bar_check_is_shown_with_its_rows_until_it_passes(
        home: Paths, app_file: Path) -> None:
    home.ensure()
    warehouse = Warehouse(home.warehouse)
    warehouse.migrate()
    warehouse.append("bars", bars(high_on_the_13th=9.0))  # high below the low
    run_bars(home)

    text, at = page_text(app_file)
    assert "Failed data checks" in text
    assert "**bars_pass_quality_suite** failed at" in text
    assert "1 bar(s): high < low" in text
    assert "| ZZA | 2024-03-13 | 10.0 | 9.0 | 9.5 | 10.0 | 100.0 | high < low |" in text
    assert "ExpectColumnPairValuesAToBeGreaterThanB" in text
    assert [e.label for e in at.expander][-1] == "Failing rows of bars_pass_quality_suite"

    with warehouse.transaction() as connection:
        connection.execute("DELETE FROM bars")
    warehouse.append("bars", bars(high_on_the_13th=10.6))
    run_bars(home)
    st.cache_data.clear()  # the page caches its reads for a few seconds
    text, _ = page_text(app_file)
    assert "Failed data checks" not in text


def test_a_home_without_check_results_shows_no_check_section(home: Paths,
                                                             app_file: Path) -> None:
    text, _ = page_text(app_file)
    assert "Failed data checks" not in text
