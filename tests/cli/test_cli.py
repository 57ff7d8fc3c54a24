"""The trade-pipelines command as a user runs it: import their own bars (bad rows
included), replay them, export every table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.cli import main
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse
from trade_pipelines.warehouse.schema import EXPORTABLE_TABLES


def _own_bars(symbols: tuple[str, ...] = ("ZZA", "ZZB", "ZZC")) -> pd.DataFrame:
    """Random-walk OHLCV bars for business days of 2022-2023 (after the built-in data)."""
    days = pd.bdate_range("2022-01-03", "2023-06-30")
    rng = np.random.default_rng(11)
    frames = []
    for i, symbol in enumerate(symbols):
        close = 50 * (1 + i) * np.exp(np.cumsum(rng.normal(0.0004, 0.015, len(days))))
        open_ = close * (1 + rng.normal(0, 0.003, len(days)))
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, len(days)))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, len(days)))
        frames.append(pd.DataFrame({"symbol": symbol, "date": days.strftime("%Y-%m-%d"),
                                    "open": open_, "high": high, "low": low, "close": close,
                                    "volume": rng.integers(200_000, 2_000_000, len(days)),
                                    "note": "extra column"}))
    return pd.concat(frames, ignore_index=True)


def test_import_replay_export_with_a_users_own_bars(project_home: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    bars = _own_bars()
    bad = pd.DataFrame([
        {"symbol": "ZZA", "date": "2023-07-03", "open": 1, "high": 1, "low": 1,
         "close": float("nan"), "volume": 1, "note": "NaN close"},
        {"symbol": "ZZA", "date": "2023-07-05", "open": 10, "high": 9, "low": 11,
         "close": 10, "volume": 1, "note": "high below low"},
        {"symbol": "ZZB", "date": "2023-07-03", "open": -1, "high": 1, "low": -2,
         "close": -1, "volume": 1, "note": "negative price"},
    ])
    path = tmp_path / "bars.csv"
    pd.concat([bars, bad], ignore_index=True).to_csv(path, index=False)

    assert main(["import-bars", str(path)]) == 3  # imported, with rows quarantined
    out = capsys.readouterr().out
    assert "quarantine" in out.lower()
    store = Warehouse(paths().warehouse)
    assert store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == len(bars)
    assert store.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0] == len(bad)
    # importing the same file again changes nothing
    assert main(["import-bars", str(path)]) == 3
    assert store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == len(bars)
    assert store.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0] == len(bad)

    assert main(["replay", "--start", "2023-02-01", "--end", "2023-05-31",
                 "--symbols", "ZZA,ZZB,ZZC", "--no-progress"]) == 0
    accounts = store.query("SELECT * FROM accounts")
    assert set(accounts["account"]) == {"aggressive", "conservative", "combined"}
    assert accounts["benchmark_close"].notna().all()  # an equal-weight index stands in
    days = pd.to_datetime(accounts["as_of"]).dt.date
    assert days.min() >= date(2023, 2, 1) and days.max() <= date(2023, 5, 31)

    for name in EXPORTABLE_TABLES:
        target = tmp_path / "export" / f"{name}.csv"
        assert main(["export", name, "--out", str(target)]) == 0
        exported = pd.read_csv(target)
        assert "as_of" in exported.columns, name
        if name not in ("strategies",):
            assert exported["as_of"].notna().all(), name
    strategies = pd.read_csv(tmp_path / "export" / "strategies.csv")
    assert {"origin", "parents", "generation", "born_as_of", "status"} <= set(strategies.columns)
    assert (strategies.loc[strategies["origin"] == "seed", "parents"] == "[]").all()
    history = pd.read_csv(tmp_path / "export" / "strategy_history.csv")
    assert {"strategy_id", "old_status", "new_status", "reason", "statistics"} <= set(
        history.columns)
    assert len(history) > 0 and history["reason"].notna().all()


def test_strict_import_rejects_the_whole_file(project_home: Path, tmp_path: Path) -> None:
    bars = _own_bars(("ZZA",)).head(30)
    bars.loc[5, "close"] = -3.0
    path = tmp_path / "bars.csv"
    bars.to_csv(path, index=False)
    assert main(["import-bars", str(path), "--strict"]) == 2
    store = Warehouse(paths().warehouse)
    assert store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == 0


def test_import_of_a_file_missing_columns_says_which(project_home: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "bars.csv"
    pd.DataFrame({"symbol": ["A"], "date": ["2023-01-03"], "open": [1.0]}).to_csv(path)
    assert main(["import-bars", str(path)]) == 2
    assert "close" in capsys.readouterr().err


def test_export_of_an_unknown_table_fails_clearly(project_home: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    assert main(["export", "secrets", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown table" in capsys.readouterr().err


def test_replay_rejects_an_inverted_range(project_home: Path) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--start", "2020-02-01", "--end", "2020-01-01"])


def test_a_one_symbol_chart_export_imports_with_symbol(project_home: Path,
                                                       tmp_path: Path) -> None:
    bars = _own_bars(("ZZA",)).head(40).drop(columns=["symbol", "note"])
    bars.columns = ["Date", "Open", "High", "Low", "Close", "Volume"]
    path = tmp_path / "zza.csv"
    bars.to_csv(path, index=False)
    assert main(["import-bars", str(path)]) == 2  # no symbol column, no --symbol
    assert main(["import-bars", str(path), "--symbol", "zza"]) == 0
    stored = Warehouse(paths().warehouse).query("SELECT DISTINCT symbol FROM bars")
    assert stored["symbol"].tolist() == ["ZZA"]


def test_a_live_source_that_is_unreachable_fails_fast_and_clearly(
        project_home: Path, capsys: pytest.CaptureFixture) -> None:
    """Here (no network) Yahoo Finance answers nothing: the replay stops at the bars with
    a message naming the source, and no bar is written. With a network it replays."""
    import time

    began = time.monotonic()
    code = main(["replay", "--start", "2024-03-01", "--end", "2024-03-31",
                 "--symbols", "AAPL", "--source", "yfinance", "--no-progress"])
    if code == 0:  # a network is there: the live bars arrived
        assert Warehouse(paths().warehouse).query(
            "SELECT count(*) AS n FROM bars WHERE source = 'yfinance'")["n"].iloc[0] > 0
        return
    assert code == 1
    assert time.monotonic() - began < 60
    err = capsys.readouterr().err
    assert "market_bars" in err and "DataSourceUnavailable" in err
    assert Warehouse(paths().warehouse).query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == 0


def test_replay_outside_the_partitions_fails_clearly(project_home: Path) -> None:
    with pytest.raises(SystemExit, match="before the first partition"):
        main(["replay", "--start", "1980-01-01", "--end", "1980-02-01"])
    with pytest.raises(SystemExit, match="has not begun"):
        main(["replay", "--start", "2020-01-01", "--end", "2999-01-01"])


def test_a_symbol_without_bars_is_named(project_home: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    assert main(["replay", "--start", "2019-03-01", "--end", "2019-03-31",
                 "--symbols", "AAPL,NOPE", "--no-progress"]) == 0
    assert "NOPE" in capsys.readouterr().err


def test_memory_search_finds_the_replayed_memories_as_of_a_day(
        project_home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["memory", "search", "anything"]) == 2  # nothing indexed yet
    assert main(["replay", "--start", "2019-01-01", "--end", "2019-04-30",
                 "--symbols", "AAPL,JPM,KO,XOM,MSFT", "--no-progress"]) == 0
    memories = Warehouse(paths().warehouse).query("SELECT * FROM memories ORDER BY as_of")
    assert len(memories) > 0
    capsys.readouterr()
    first = memories.iloc[0]
    assert main(["memory", "search", first["text"], "--symbol", first["symbol"],
                 "-n", "50"]) == 0
    out = capsys.readouterr().out
    # a memory is its own nearest neighbour (with those that mean the same)
    assert first["memory_id"] in out
    assert f"score {1:.3f}" in out
    day_before = (pd.Timestamp(memories["as_of"].min()) - pd.Timedelta(days=1)).date()
    assert main(["memory", "search", first["text"], "--as-of", str(day_before)]) == 0
    assert "No memory formed" in capsys.readouterr().out


def test_import_over_built_in_bars_is_refused_unless_replace(
        project_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from datetime import datetime

    store = Warehouse(paths().warehouse)
    store.migrate()
    store.append("bars", pd.DataFrame({
        "symbol": "AAPL", "as_of": [date(2022, 12, 27), date(2022, 12, 28)],
        "close": [130.0, 126.0], "source": "builtin:skfolio.sp500_dataset",
        "available_at": [datetime(2022, 12, 27, 21), datetime(2022, 12, 28, 21)]}))
    path = tmp_path / "aapl.csv"
    pd.DataFrame({"symbol": "AAPL", "date": ["2022-12-28", "2022-12-29"], "open": 127.0,
                  "high": 130.0, "low": 125.0, "close": [127.5, 129.0], "volume": 10}
                 ).to_csv(path, index=False)

    assert main(["import-bars", str(path)]) == 2
    err = capsys.readouterr().err
    assert "aapl.csv not imported" in err and "builtin:skfolio.sp500_dataset" in err
    assert "--replace" in err
    sources = "SELECT source, count(*) AS n FROM bars GROUP BY ALL ORDER BY ALL"
    assert store.query(sources).values.tolist() == [["builtin:skfolio.sp500_dataset", 2]]

    assert main(["import-bars", str(path), "--replace"]) == 0
    assert "replaced 2 bar(s) from other sources for AAPL" in capsys.readouterr().out
    assert store.query(sources).values.tolist() == [["import:aapl.csv", 2]]


def test_a_replay_from_mid_month_records_only_the_days_it_computed(project_home: Path) -> None:
    """Dagster marks the whole 2019 partition materialised; its metadata says the run
    covered 2019-03-14..2019-04-05 only."""
    from dagster import AssetKey, DagsterInstance

    assert main(["replay", "--start", "2019-03-14", "--end", "2019-04-05",
                 "--symbols", "AAPL", "--no-progress"]) == 0
    records = DagsterInstance.get().fetch_materializations(
        AssetKey("account_values"), limit=10).records
    covered = {r.partition_key: (r.asset_materialization.metadata["first_day"].value,
                                 r.asset_materialization.metadata["last_day"].value)
               for r in records}
    assert covered == {"2019-01-01": ("2019-03-14", "2019-04-05")}


def test_a_replay_outside_the_builtin_data_is_refused_with_its_span(
        project_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["replay", "--market", "hk", "--start", "2020-01-02", "--end", "2020-02-28",
              "--no-progress"])
    message = str(refused.value)
    assert "cover 2011-07-28..2017-07-26, none in 2020-01-02..2020-02-28" in message
    # Refused before anything was written: no bar, and the home claims no market.
    assert not paths().market_file.exists()
    assert Warehouse(paths().warehouse).query("SELECT count(*) AS n FROM bars").empty


def test_a_replay_partly_outside_the_builtin_data_says_which_part_it_trades(
        project_home: Path) -> None:
    from trade_pipelines.cli.replay import _require_builtin_bars

    universe = ["0700.HK", "^HSI"]
    note = _require_builtin_bars("hk", universe, date(2017, 6, 1), date(2017, 12, 29))
    assert note is not None
    assert "trades only 2017-06-01..2017-07-26 of 2017-06-01..2017-12-29" in note
    assert _require_builtin_bars("hk", universe, date(2017, 1, 3), date(2017, 6, 30)) is None
    # Shanghai is closed for the Spring Festival until 2016-02-15: the range is covered
    # from its first session, so there is nothing to note.
    assert _require_builtin_bars("cn", ["600036.SH", "000300.SH"], date(2016, 2, 6),
                                 date(2016, 6, 30)) is None
    # A symbol whose built-in bars end before the range's last session is named.
    note = _require_builtin_bars("cn", ["600036.SH", "300104.SZ"], date(2017, 1, 3),
                                 date(2017, 6, 30))
    assert note is not None
    assert "trades only" not in note
    assert "those of 300104.SZ (2011-07-28..2017-04-14) miss the range's first session " \
           "2017-01-03 or its last 2017-06-30" in note
    assert "600036.SH" not in note


def test_fetch_news_reads_feeds_and_says_which_failed(
        project_home: Path, tmp_path: Path, served_folder: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "aapl.xml").write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>'
        "<title>AAPL unveils a new chip</title><published>2024-03-05T15:00:00Z</published>"
        "</entry></feed>")
    base = served_folder
    assert main(["fetch-news", "--feed", f"{base}/aapl.xml", "--feed",
                 f"{base}/gone.xml", "--symbol", "AAPL"]) == 0
    assert main(["fetch-news", "--feed", f"{base}/gone.xml", "--attempts", "1"]) == 1
    out, err = capsys.readouterr()
    assert "aapl.xml: 1 item(s), 1 stored" in out
    assert "gone.xml: FAILED" in err and "HTTP 404" in err
    news = Warehouse(paths().warehouse).query("SELECT symbol, headline FROM news")
    assert news.values.tolist() == [["AAPL", "AAPL unveils a new chip"]]


def test_fetch_news_reads_local_times_in_the_given_zone(
        project_home: Path, tmp_path: Path, served_folder: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cn.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><item><title>沪指收涨</title>'
        "<pubDate>Tue, 05 Mar 2024 15:05:00 CST</pubDate></item><item><title>两会开幕"
        "</title><pubDate>2024-03-05 09:00:00</pubDate></item></channel></rss>",
        encoding="utf-8")
    base = served_folder
    assert main(["fetch-news", "--feed", f"{base}/cn.xml", "--timezone",
                 "Mars/Olympus"]) == 2
    assert main(["fetch-news", "--feed", f"{base}/cn.xml", "--timezone",
                 "Asia/Shanghai"]) == 0
    assert main(["fetch-news", "--feed", f"AAPL {base}/cn.xml"]) == 2
    # a feed about two stocks, with its own zone
    assert main(["fetch-news", "--feed",
                 f"600036.sh,601398.SH={base}/cn.xml|Asia/Shanghai"]) == 0
    out, err = capsys.readouterr()
    assert "unknown time zone 'Mars/Olympus'" in err
    assert "fetch-news: 'AAPL http" in err and "is not an http(s) feed URL" in err
    assert "cn.xml: 2 item(s), 2 stored, 0 already stored" in out
    assert "cn.xml: 2 item(s), 4 stored, 0 already stored, 0 duplicate(s), 0 quarantined, " \
        "for 600036.SH, 601398.SH" in out
    news = Warehouse(paths().warehouse).query(
        "SELECT symbol, headline, published_at FROM news ORDER BY 1 NULLS FIRST, 3")
    assert news.values.tolist() == [
        [None, "两会开幕", pd.Timestamp("2024-03-05 01:00")],
        [None, "沪指收涨", pd.Timestamp("2024-03-05 07:05")],
        ["600036.SH", "两会开幕", pd.Timestamp("2024-03-05 01:00")],
        ["600036.SH", "沪指收涨", pd.Timestamp("2024-03-05 07:05")],
        ["601398.SH", "两会开幕", pd.Timestamp("2024-03-05 01:00")],
        ["601398.SH", "沪指收涨", pd.Timestamp("2024-03-05 07:05")]]


def test_step_failures_print_each_root_cause_through_the_public_accessors(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Only ``all_events`` and ``is_step_failure`` are used; a failure without an error
    (or of an unexpected shape) prints nothing rather than raising."""
    from types import SimpleNamespace

    from trade_pipelines.cli.common import print_step_failures

    root = SimpleNamespace(message="the root cause\n", cause=None)
    wrapped = SimpleNamespace(message="a wrapper", cause=root)
    result = SimpleNamespace(all_events=[
        SimpleNamespace(is_step_failure=False, step_key="fine", event_specific_data=None),
        SimpleNamespace(is_step_failure=True, step_key="market_bars",
                        event_specific_data=SimpleNamespace(error=wrapped)),
        SimpleNamespace(is_step_failure=True, step_key="odd", event_specific_data=None),
    ])
    print_step_failures(result)
    assert capsys.readouterr().err == "FAILED in market_bars: the root cause\n"
