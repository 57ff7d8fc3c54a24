"""Importing dated headlines: timestamps to naive UTC, undated text refused into the
quarantine, duplicates dropped, the same file twice adds nothing; the CLI's exit codes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.cli import main
from trade_pipelines.market_data.news_importer import (
    NewsFileError,
    import_news_file,
    news_rows,
    normalise_headline,
    store_news,
)
from trade_pipelines.settings import paths
from trade_pipelines.warehouse.connection import Warehouse

NOW = datetime(2024, 6, 1)
GOOD = [
    {"published_at": "2019-03-15T14:30:00-04:00", "headline": "Apple faces losses",
     "symbol": "aapl", "source": "wire", "body": "More text."},
    {"published_at": "2019-03-15T18:31:00Z", "headline": "Stocks rally on strong gains"},
    {"published_at": "2019-03-16 10:00", "headline": "招商银行净利润大幅增长",
     "symbol": "600036.SH"},
]


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "wh" / "warehouse.duckdb", lock_timeout_s=5)


def _csv(folder: Path, rows: list[dict], name: str = "news.csv") -> Path:
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _news(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.query("SELECT * FROM news ORDER BY published_at, news_id")


def test_a_csv_lands_in_news_with_utc_timestamps_and_languages(
        tmp_path: Path, warehouse: Warehouse) -> None:
    report = import_news_file(_csv(tmp_path, GOOD), warehouse, now=NOW)
    assert (report.imported, report.quarantined, report.duplicates) == (3, 0, 0)
    news = _news(warehouse)
    assert list(news["published_at"]) == [pd.Timestamp("2019-03-15 18:30"),
                                          pd.Timestamp("2019-03-15 18:31"),
                                          pd.Timestamp("2019-03-16 10:00")]
    assert (news["available_at"] == news["published_at"]).all()
    assert list(news["symbol"].fillna("-")) == ["AAPL", "-", "600036.SH"]
    assert list(news["language"]) == ["en", "en", "zh"]
    assert list(news["source"]) == ["wire", "import:news.csv", "import:news.csv"]
    assert not news["generated"].any()
    assert news["news_id"].is_unique


def test_json_and_json_lines_import_like_csv(tmp_path: Path, warehouse: Warehouse) -> None:
    (tmp_path / "news.json").write_text(json.dumps({"news": GOOD}))
    (tmp_path / "news.jsonl").write_text("\n".join(json.dumps(r) for r in GOOD))
    from_json = import_news_file(tmp_path / "news.json", warehouse, now=NOW)
    assert from_json.imported == 3
    again = import_news_file(tmp_path / "news.jsonl", warehouse, now=NOW)
    assert (again.imported, again.already_stored) == (0, 3)  # stable ids


def test_a_timestamp_without_a_zone_is_read_in_the_given_zone(
        tmp_path: Path, warehouse: Warehouse) -> None:
    rows = [{"published_at": "2019-03-15 15:50", "headline": "A", "symbol": "AAPL"},
            {"published_at": "2019-03-15", "headline": "B", "symbol": "AAPL"}]
    report = import_news_file(_csv(tmp_path, rows), warehouse, timezone="America/New_York",
                              now=NOW)
    assert report.day_only == 1 and "23:59:59 America/New_York" in report.message
    news = _news(warehouse)
    # 15:50 New York in daylight time is 19:50 UTC; a bare day is its last second there
    assert list(news["published_at"]) == [pd.Timestamp("2019-03-15 19:50"),
                                          pd.Timestamp("2019-03-16 03:59:59")]
    with pytest.raises(NewsFileError, match="unknown time zone"):
        import_news_file(_csv(tmp_path, rows), warehouse, timezone="Mars/Olympus")


def test_undated_and_empty_rows_are_quarantined_with_reason_and_raw_row(
        tmp_path: Path, warehouse: Warehouse) -> None:
    bad = [{"published_at": "", "headline": "no date", "symbol": "AAPL"},
           {"published_at": "yesterday", "headline": "relative", "symbol": "AAPL"},
           {"published_at": "2019-13-45 10:00", "headline": "no such day", "symbol": ""},
           {"published_at": "2019-03-15 10:00", "headline": "  ", "symbol": "KO"},
           {"published_at": "2030-01-01 10:00", "headline": "from the future", "symbol": ""},
           {"published_at": "2019-03-10 02:30", "headline": "clocks jumped", "symbol": ""}]
    report = import_news_file(_csv(tmp_path, GOOD + bad), warehouse,
                              timezone="America/New_York", now=NOW)
    assert (report.imported, report.quarantined) == (3, 6)
    assert report.reasons == {"no timestamp": 1, "unparseable timestamp": 2,
                              "empty headline": 1, "timestamp in the future": 1,
                              "ambiguous or non-existent local time in America/New_York": 1}
    quarantine = warehouse.query("SELECT * FROM quarantine ORDER BY reason")
    assert set(quarantine["source"]) == {"news:news.csv"}
    raw = [json.loads(r) for r in quarantine["raw"]]
    assert {r["headline"] for r in raw} == {b["headline"] for b in bad}
    empty = quarantine[quarantine["reason"] == "empty headline"].iloc[0]
    assert empty["symbol"] == "KO" and pd.Timestamp(empty["as_of"]) == pd.Timestamp("2019-03-15")
    # the same file again: no new quarantine record, no new headline
    import_news_file(_csv(tmp_path, GOOD + bad), warehouse, timezone="America/New_York",
                     now=NOW)
    assert len(warehouse.query("SELECT * FROM quarantine")) == 6 and len(_news(warehouse)) == 3


def test_the_same_headline_and_symbol_within_a_day_is_one_item(
        tmp_path: Path, warehouse: Warehouse) -> None:
    rows = [{"published_at": "2019-03-15 18:00", "headline": "Apple faces losses",
             "symbol": "AAPL"},
            {"published_at": "2019-03-15 16:00", "headline": "APPLE faces   losses!",
             "symbol": "aapl"},
            {"published_at": "2019-03-15 16:00", "headline": "Apple faces losses",
             "symbol": "MSFT"},                       # another symbol: kept
            {"published_at": "2019-03-16 09:00", "headline": "Apple faces losses",
             "symbol": "AAPL"}]                       # another day: kept
    report = import_news_file(_csv(tmp_path, rows), warehouse, now=NOW)
    assert (report.imported, report.duplicates) == (3, 1)
    assert "1 duplicate(s) dropped" in report.message
    news = _news(warehouse)
    aapl = news[news["symbol"] == "AAPL"]
    assert pd.Timestamp("2019-03-15 16:00") in set(aapl["published_at"])  # the earliest kept
    # a later file with an even earlier copy replaces the stored one: the earliest wins
    earlier = [{"published_at": "2019-03-15 09:00", "headline": "Apple faces losses.",
                "symbol": "AAPL"}]
    again = import_news_file(_csv(tmp_path, earlier, "more.csv"), warehouse, now=NOW)
    assert again.imported == 1
    news = _news(warehouse)
    same_day = news[(news["symbol"] == "AAPL")
                    & (pd.to_datetime(news["as_of"]) == pd.Timestamp("2019-03-15"))]
    assert list(same_day["published_at"]) == [pd.Timestamp("2019-03-15 09:00")]
    assert normalise_headline(" APPLE faces   losses! ") == "apple faces losses"


def _copy(published: str, available_from: str | None, source: str) -> pd.DataFrame:
    """One stored copy of the same headline: a feed's is known from its fetch."""
    frame = pd.DataFrame({"published_at": [pd.Timestamp(published)],
                          "headline": ["Apple faces losses"], "symbol": ["AAPL"],
                          "source": [source], "body": [""]})
    return news_rows(frame, source, generated=False, imported_at=NOW,
                     available_from=None if available_from is None
                     else pd.Timestamp(available_from).to_pydatetime())


def test_the_copy_known_earliest_is_kept_not_the_one_published_earliest(
        warehouse: Warehouse) -> None:
    """A feed's copy dates itself earlier but was fetched later: the imported copy, known
    since 10:00, stays; a copy known earlier still replaces the stored one."""
    imported = _copy("2019-03-15 10:00", None, "import:news.csv")
    assert store_news(warehouse, imported).inserted == 1
    fetched = _copy("2019-03-15 09:00", "2019-03-15 23:00", "rss:host/feed")
    result = store_news(warehouse, fetched)
    assert (result.inserted, result.duplicates, result.already_stored) == (0, 1, 0)
    news = _news(warehouse)
    assert news[["published_at", "available_at", "source"]].values.tolist() == [
        [pd.Timestamp("2019-03-15 10:00"), pd.Timestamp("2019-03-15 10:00"),
         "import:news.csv"]]
    # in one batch too: the copy known earliest wins over the one published earliest
    other = Warehouse(warehouse.path.parent / "other.duckdb")
    assert store_news(other, pd.concat([fetched, imported])).inserted == 1
    assert other.query("SELECT source FROM news")["source"].tolist() == ["import:news.csv"]
    # an import known before a stored feed copy replaces it, even with the same id
    again = Warehouse(warehouse.path.parent / "again.duckdb")
    store_news(again, fetched)
    same_id = _copy("2019-03-15 09:00", None, "import:news.csv")
    assert same_id["news_id"].tolist() == fetched["news_id"].tolist()
    assert store_news(again, same_id).inserted == 1
    assert again.query("SELECT available_at, source FROM news").values.tolist() == [
        [pd.Timestamp("2019-03-15 09:00"), "import:news.csv"]]


def test_a_replaced_copy_is_kept_in_the_quarantine(warehouse: Warehouse) -> None:
    """The stored copy replaced by one known earlier is not lost: the quarantine holds it,
    as it was stored, under its own source, with the reason."""
    fetched = _copy("2019-03-15 09:00", "2019-03-15 23:00", "rss:host/feed")
    store_news(warehouse, fetched)
    assert warehouse.query("SELECT * FROM quarantine").empty
    imported = _copy("2019-03-15 10:00", None, "import:news.csv")
    assert store_news(warehouse, imported).inserted == 1
    assert _news(warehouse)["source"].tolist() == ["import:news.csv"]
    record = warehouse.query("SELECT * FROM quarantine")
    assert record[["source", "symbol", "reason"]].values.tolist() == [
        ["rss:host/feed", "AAPL",
         "superseded by a copy known earlier (2019-03-15 10:00:00)"]]
    assert pd.Timestamp(record["as_of"].iloc[0]) == pd.Timestamp("2019-03-15")
    raw = json.loads(record["raw"].iloc[0])
    assert raw["news_id"] == fetched["news_id"].iloc[0]
    assert (raw["source"], raw["available_at"]) == ("rss:host/feed", "2019-03-15T23:00:00")
    # storing the same copy again neither replaces nor records anything more
    assert store_news(warehouse, imported).inserted == 0
    assert len(warehouse.query("SELECT * FROM quarantine")) == 1


def test_unreadable_files_are_refused(tmp_path: Path, warehouse: Warehouse) -> None:
    with pytest.raises(NewsFileError, match="missing required column"):
        import_news_file(_csv(tmp_path, [{"headline": "undated"}]), warehouse)
    (tmp_path / "news.txt").write_text("x")
    with pytest.raises(NewsFileError, match="unsupported file type"):
        import_news_file(tmp_path / "news.txt", warehouse)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(NewsFileError, match="cannot read"):
        import_news_file(tmp_path / "broken.json", warehouse)
    assert not warehouse.table_exists("news") or _news(warehouse).empty


def test_cli_exit_codes_follow_import_bars(project_home: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["import-news", str(_csv(tmp_path, GOOD))]) == 0
    assert "imported 3 headline(s)" in capsys.readouterr().out
    undated = [{"published_at": "", "headline": "undated", "symbol": "AAPL"}]
    assert main(["import-news", str(_csv(tmp_path, GOOD + undated, "more.csv"))]) == 3
    assert "1 no timestamp" in capsys.readouterr().out
    assert main(["import-news", str(_csv(tmp_path, [{"headline": "x"}], "bad.csv"))]) == 2
    assert "published_at" in capsys.readouterr().err


def test_drill_news_stores_generated_headlines(project_home: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    assert main(["drill-news", "--symbol", "AAPL", "--on", "2019-03-14", "--kind", "crash",
                 "--at", "15:00"]) == 0
    out = capsys.readouterr().out
    assert out.count("[drill]") == 2 and "TRADE_PIPELINES_INCLUDE_DRILLS" in out
    news = Warehouse(paths().warehouse).query("SELECT * FROM news ORDER BY published_at")
    assert news["generated"].all() and set(news["source"]) == {"drill:crash"}
    # 15:00 New York in daylight time
    assert news["published_at"].iloc[0] == pd.Timestamp("2019-03-14 19:00")
