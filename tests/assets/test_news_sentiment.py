"""The news_sentiment asset as a run computes it: drills stay out of real data unless
$TRADE_PIPELINES_INCLUDE_DRILLS asks for them, and then they are marked."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize
from replay_helpers import warehouse

from trade_pipelines.assets.common import FIRST_DAY_TAG, LAST_DAY_TAG
from trade_pipelines.assets.news import news_sentiment
from trade_pipelines.definitions import build_resources
from trade_pipelines.market_data.news_importer import import_news_file, write_drill
from trade_pipelines.settings import INCLUDE_DRILLS_ENV


def _run(home: Path) -> pd.DataFrame:
    result = materialize(
        [news_sentiment], instance=DagsterInstance.ephemeral(), partition_key="2019-01-01",
        resources=build_resources(symbols="AAPL,MSFT", source="warehouse", home=home),
        tags={FIRST_DAY_TAG: "2019-03-01", LAST_DAY_TAG: "2019-03-29"})
    assert result.success
    return warehouse(home).query("SELECT * FROM news_sentiment ORDER BY as_of, symbol")


@pytest.fixture
def home(project_home: Path, tmp_path: Path) -> Path:
    path = tmp_path / "news.csv"
    pd.DataFrame([
        {"published_at": "2019-03-14T15:00:00-04:00", "headline": "Apple announces dividend",
         "symbol": "AAPL"},
        {"published_at": "2019-03-14T12:00:00-04:00", "headline": "Stocks rally on strong "
                                                                  "gains"},
        {"published_at": "2019-04-02T12:00:00-04:00", "headline": "Apple posts strong gains",
         "symbol": "AAPL"},                                    # after the run's last day
    ]).to_csv(path, index=False)
    import_news_file(path, warehouse(project_home))
    write_drill(warehouse(project_home), "crash", "AAPL", datetime(2019, 3, 14, 14))
    return project_home


def test_a_run_leaves_drills_out_of_the_news(home: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INCLUDE_DRILLS_ENV, raising=False)
    rows = _run(home)
    days = pd.to_datetime(rows["as_of"]).dt.date
    assert list(zip(days, rows["symbol"], strict=True)) == [(date(2019, 3, 14), "*"),
                                                           (date(2019, 3, 14), "AAPL")]
    aapl = rows[rows["symbol"] == "AAPL"].iloc[0]
    assert aapl["headlines"] == 1 and aapl["generated_share"] == 0
    assert not rows["top_generated"].any() and (rows["score"] >= 0).all()


def test_a_run_asked_for_drills_counts_and_marks_them(home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INCLUDE_DRILLS_ENV, "1")
    aapl = _run(home).query("symbol == 'AAPL'").iloc[0]
    assert aapl["headlines"] == 3
    assert aapl["generated_share"] == pytest.approx(2 / 3)
    assert aapl["top_generated"] and aapl["score"] < 0
    # asked no more: the next run is real data only again
    monkeypatch.setenv(INCLUDE_DRILLS_ENV, "0")
    assert _run(home).query("symbol == 'AAPL'").iloc[0]["headlines"] == 1
