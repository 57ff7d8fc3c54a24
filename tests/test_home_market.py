"""A home holds one market: its first replay's market is recorded, a replay of another
market there is refused with the folder to use instead, and the supervisor's controls
follow the home market's calendar."""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.cli import run_replay
from trade_pipelines.control import ControlError, default_effective_from, record_control
from trade_pipelines.home_market import HomeMarketMismatch, claim_home_market, home_market
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse


def test_a_new_home_takes_the_market_of_its_first_claim(project_home: Path) -> None:
    paths = Paths(project_home).ensure()
    store = Warehouse(paths.warehouse)
    assert home_market(store) is None
    assert claim_home_market("cn", paths) == "cn"
    assert home_market(store) == "cn"
    assert claim_home_market("CN", paths) == "cn"  # the same market again is fine
    assert len(store.query("SELECT * FROM home_market")) == 1


def test_another_market_is_refused_with_the_folder_to_use(project_home: Path) -> None:
    paths = Paths(project_home).ensure()
    claim_home_market("hk", paths)
    with pytest.raises(HomeMarketMismatch) as refused:
        claim_home_market("crypto", paths)
    message = str(refused.value)
    assert "holds the Hong Kong stocks (HKEX) market (HKD)" in message
    assert "Crypto (spot, 24/7) (CNY)" in message
    assert f"TRADE_PIPELINES_HOME={project_home.parent / 'home-crypto'}" in message
    assert home_market(Warehouse(paths.warehouse)) == "hk"


def test_a_home_with_bars_from_before_belongs_to_their_market(project_home: Path) -> None:
    paths = Paths(project_home).ensure()
    store = Warehouse(paths.warehouse)
    store.migrate()
    store.append("bars", pd.DataFrame({
        "symbol": ["AAPL", "^GSPC"], "as_of": [date(2019, 1, 2)] * 2, "open": [1.0] * 2,
        "high": [1.0] * 2, "low": [1.0] * 2, "close": [1.0] * 2, "volume": [1.0] * 2,
        "source": ["builtin:test"] * 2, "available_at": [datetime(2019, 1, 2, 21)] * 2}))
    assert home_market(store) == "us"
    with pytest.raises(HomeMarketMismatch):
        claim_home_market("cn", paths)


def test_replay_refuses_another_market_before_running(project_home: Path) -> None:
    claim_home_market("us", Paths(project_home).ensure())
    with pytest.raises(SystemExit) as refused:
        run_replay(date(2016, 1, 4), date(2016, 1, 29), progress=False, market="cn")
    assert "replay refused" in str(refused.value)
    assert "TRADE_PIPELINES_HOME" in str(refused.value)
    assert not Warehouse(Paths(project_home).warehouse).query(
        "SELECT count(*) AS n FROM bars")["n"].iloc[0]


def test_replay_refuses_symbols_of_another_market_than_asked(project_home: Path) -> None:
    with pytest.raises(SystemExit) as refused:
        run_replay(date(2016, 1, 4), date(2016, 1, 29), symbols="AAPL", progress=False,
                   market="hk")
    assert "the symbols are US stocks (NYSE/Nasdaq), not the market hk" in str(refused.value)
    assert home_market(Warehouse(Paths(project_home).warehouse)) is None


def test_controls_follow_the_home_markets_calendar(project_home: Path) -> None:
    paths = Paths(project_home).ensure()
    claim_home_market("cn", paths)
    store = Warehouse(paths.warehouse)
    # Friday before the Spring Festival, after Shanghai's close, before New York's open.
    moment = datetime(2016, 2, 5, 12, tzinfo=UTC)
    # 2016-02-08 is an NYSE session but Shanghai is closed all week.
    with pytest.raises(ControlError, match="not a Shanghai/Shenzhen session; the next one "
                                           "is 2016-02-15"):
        record_control(store, "pause", "holiday", "tester", date(2016, 2, 8), moment)
    event = record_control(store, "pause", "review", "tester", now=moment)
    assert event.effective_from == date(2016, 2, 15)
    assert default_effective_from(moment) == date(2016, 2, 5)  # NYSE by default


def test_the_definitions_of_an_a_share_home_trade_a_shares(
        project_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedules and the UI's runs take the home's market when neither a market nor
    symbols are configured (before, they fell back to the US universe and failed)."""
    from trade_pipelines.definitions import build_resources
    from trade_pipelines.home_market import configured_market

    monkeypatch.delenv("TRADE_PIPELINES_MARKET", raising=False)
    monkeypatch.delenv("TRADE_PIPELINES_SYMBOLS", raising=False)
    paths = Paths(project_home).ensure()
    assert configured_market(project_home, "") == ""
    assert build_resources()["market_data"].rules().code == "us"
    claim_home_market("cn", paths)
    assert paths.market_file.read_text().strip() == "cn"
    assert build_resources()["market_data"].rules().code == "cn"
    assert "600036.SH" in build_resources()["market_data"].universe()
    # A home claimed before the file existed is read from its warehouse.
    paths.market_file.unlink()
    assert configured_market(project_home, "") == "cn"
    # Configuration still wins.
    monkeypatch.setenv("TRADE_PIPELINES_MARKET", "hk")
    assert build_resources()["market_data"].rules().code == "hk"
    monkeypatch.delenv("TRADE_PIPELINES_MARKET")
    monkeypatch.setenv("TRADE_PIPELINES_SYMBOLS", "AAPL")
    assert build_resources()["market_data"].rules().code == "us"
    assert build_resources(symbols="0700.HK")["market_data"].rules().code == "hk"


def test_every_claim_rewrites_a_stale_market_file(project_home: Path) -> None:
    """A ``market`` file left from a deleted warehouse (of another market) is rewritten
    by the next claim, so the definitions follow the market the warehouse holds."""
    paths = Paths(project_home).ensure()
    claim_home_market("cn", paths)
    assert paths.market_file.read_text() == "cn\n"
    paths.warehouse.unlink()
    assert claim_home_market("hk", paths) == "hk"
    assert paths.market_file.read_text() == "hk\n"
    paths.market_file.write_text("cn\n")  # stale again, the warehouse still holds hk
    claim_home_market("hk", paths)
    assert paths.market_file.read_text() == "hk\n"
    assert [p.name for p in paths.market_file.parent.glob(".market*")] == []


def hold_write_lock(path: str, locked: mp.synchronize.Event,
                    release: mp.synchronize.Event) -> None:
    """A writer that keeps the warehouse open until told to let go."""
    import duckdb

    connection = duckdb.connect(path)
    try:
        locked.set()
        release.wait(120)
    finally:
        connection.close()


def test_a_writers_lock_does_not_stop_reading_the_home_market(
        project_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no ``market`` file the definitions read the warehouse; a writer holding it
    gives "" after a short wait instead of a minute's retries and WarehouseLockedError."""
    from trade_pipelines.home_market import configured_market

    monkeypatch.delenv("TRADE_PIPELINES_MARKET", raising=False)
    paths = Paths(project_home).ensure()
    claim_home_market("cn", paths)
    paths.market_file.unlink()
    context = mp.get_context("spawn")
    locked, release = context.Event(), context.Event()
    writer = context.Process(target=hold_write_lock,
                             args=(str(paths.warehouse), locked, release))
    writer.start()
    try:
        assert locked.wait(60), "the writer process did not open the warehouse"
        assert configured_market(project_home, "") in ("", "cn")
    finally:
        release.set()
        writer.join(60)
        if writer.is_alive():
            writer.kill()
            writer.join()
    assert configured_market(project_home, "") == "cn"
