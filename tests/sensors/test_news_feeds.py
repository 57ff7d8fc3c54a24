"""The news_feeds sensor: stopped by default, skips without feeds, and requests a run of
the fetch job that stores the feeds' headlines (through the warehouse pool)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)

from trade_pipelines.definitions import defs
from trade_pipelines.jobs import fetch_news_job
from trade_pipelines.resources import WarehouseResource
from trade_pipelines.sensors import news_feeds
from trade_pipelines.settings import NEWS_FEEDS_ENV, paths
from trade_pipelines.warehouse import Warehouse

FEED = """<?xml version="1.0"?><rss version="2.0"><channel>
<item><title>KO raises its dividend</title><pubDate>Tue, 05 Mar 2024 13:00:00 GMT</pubDate></item>
<item><title>Oil slumps as demand fears grow</title>
<pubDate>Tue, 05 Mar 2024 14:00:00 GMT</pubDate></item>
</channel></rss>"""


def _tick():
    with DagsterInstance.ephemeral() as instance, build_sensor_context(
            instance=instance, repository_def=defs.get_repository_def()) as context:
        return news_feeds(context)


def test_the_sensor_is_stopped_by_default_and_skips_without_feeds(
        project_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert news_feeds.default_status == DefaultSensorStatus.STOPPED
    monkeypatch.delenv(NEWS_FEEDS_ENV, raising=False)
    skipped = _tick()
    assert isinstance(skipped, SkipReason) and NEWS_FEEDS_ENV in (skipped.skip_message or "")


def test_a_tick_requests_a_run_that_stores_every_feed(
        project_home: Path, tmp_path: Path, served_folder: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "feed.xml").write_text(FEED)
    base = served_folder
    monkeypatch.setenv(NEWS_FEEDS_ENV, f"{base}/feed.xml, {base}/missing.xml")
    request = _tick()
    assert isinstance(request, RunRequest)
    assert request.run_config["ops"]["fetch_news_feeds"]["config"]["feeds"] == [
        f"{base}/feed.xml", f"{base}/missing.xml"]
    result = fetch_news_job.execute_in_process(
        run_config=request.run_config,
        resources={"warehouse": WarehouseResource(home=str(paths().home))})
    assert result.success  # one feed of two answered 404: reported, not fatal
    news = Warehouse(paths().warehouse).query("SELECT headline, source FROM news ORDER BY 1")
    assert news["headline"].tolist() == ["KO raises its dividend",
                                         "Oil slumps as demand fears grow"]
    assert news["source"].str.startswith("rss:127.0.0.1:").all()


def test_feeds_in_the_setting_name_their_stocks_and_zone(
        project_home: Path, tmp_path: Path, served_folder: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "feed.xml").write_text(FEED)
    (tmp_path / "cn.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><item><title>沪指收涨</title>'
        "<pubDate>2024-03-05 15:05:00</pubDate></item></channel></rss>", encoding="utf-8")
    base = served_folder
    monkeypatch.setenv(NEWS_FEEDS_ENV,
                       f"ko, pep={base}/feed.xml; {base}/cn.xml|Asia/Shanghai")
    request = _tick()
    assert isinstance(request, RunRequest)
    assert request.run_config["ops"]["fetch_news_feeds"]["config"]["feeds"] == [
        f"KO,PEP={base}/feed.xml", f"{base}/cn.xml|Asia/Shanghai"]
    result = fetch_news_job.execute_in_process(
        run_config=request.run_config,
        resources={"warehouse": WarehouseResource(home=str(paths().home))})
    assert result.success
    news = Warehouse(paths().warehouse).query(
        "SELECT symbol, headline, published_at, source FROM news ORDER BY 1, 2")
    assert news[["symbol", "headline"]].values.tolist() == [
        ["KO", "KO raises its dividend"], ["KO", "Oil slumps as demand fears grow"],
        ["PEP", "KO raises its dividend"], ["PEP", "Oil slumps as demand fears grow"],
        [None, "沪指收涨"]]
    assert news["published_at"].iloc[-1] == pd.Timestamp("2024-03-05 07:05")  # Beijing time
    assert news["source"].iloc[-1].endswith("/cn.xml")


def test_a_badly_written_setting_is_said_not_guessed(
        project_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NEWS_FEEDS_ENV, "AAPL https://host/feed.xml")
    skipped = _tick()
    assert isinstance(skipped, SkipReason)
    assert "'AAPL' is not a feed URL" in (skipped.skip_message or "")
