"""The live schedules: a tick whose source has no bar for the session skips with the
reason and what to configure; with yfinance answering (recorded HTTP responses) the
evening tick requests the run, and that run trades the session."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from dagster import (
    DagsterInstance,
    Definitions,
    RunRequest,
    SkipReason,
    build_schedule_context,
)
from market_data.yahoo_http import RecordedYahoo, yahoo_session

from trade_pipelines.assets import ALL_ASSET_CHECKS, ALL_ASSETS
from trade_pipelines.assets.common import LAST_DAY_TAG
from trade_pipelines.definitions import build_resources
from trade_pipelines.jobs import (
    daily_cycle_job,
    gene_pool_seed_job,
    morning_plan_job,
    weekly_evolution_job,
)
from trade_pipelines.market_data.importer import import_bars_file
from trade_pipelines.sensors import SCHEDULES, plan_before_open, review_after_close
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

NEW_YORK = ZoneInfo("America/New_York")
# The recorded responses end with this session (a Thursday), on which MSFT and JPM
# break out (see tests/market_data/fixtures/yahoo/make_charts.py).
SESSION = date(2024, 3, 14)
SYMBOLS = "AAPL,MSFT,JPM,XOM"


def evening(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=NEW_YORK)


def definitions(resources: dict[str, object]) -> Definitions:
    return Definitions(assets=ALL_ASSETS, asset_checks=ALL_ASSET_CHECKS,
                       jobs=[daily_cycle_job, gene_pool_seed_job, morning_plan_job,
                             weekly_evolution_job],
                       schedules=SCHEDULES, resources=resources)


def tick(schedule, moment: datetime, resources: dict[str, object]):
    """One evaluation, as the daemon does it, frozen at ``moment``."""
    with build_schedule_context(scheduled_execution_time=moment, resources=resources,
                                repository_def=definitions(resources).get_repository_def()
                                ) as context:
        return schedule.evaluate_tick(context)


def only(result) -> RunRequest | SkipReason:
    if result.run_requests:
        assert len(result.run_requests) == 1
        return result.run_requests[0]
    return SkipReason(result.skip_message)


@pytest.fixture
def yahoo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "yfinance-cache"


def test_a_default_install_skips_the_evening_with_what_to_configure(
        project_home: Path) -> None:
    resources = build_resources(home=project_home)
    assert resources["market_data"].source == "builtin"
    outcome = only(tick(review_after_close, evening(date(2026, 11, 19)), resources))
    assert isinstance(outcome, SkipReason)
    assert "built-in data has no bar for the 2026-11-19 session (it ends 2022-12-28)" \
        in outcome.skip_message
    assert "TRADE_PIPELINES_SOURCE=yfinance" in outcome.skip_message
    # Today, whatever day it is, a default install never launches a run bound to fail.
    now = only(tick(review_after_close, datetime.now(NEW_YORK), resources))
    assert isinstance(now, SkipReason)


def test_a_day_the_exchange_is_closed_is_skipped_without_asking_the_source(
        project_home: Path, yahoo_cache: Path) -> None:
    resources = build_resources(home=project_home, source="yfinance", symbols=SYMBOLS)
    with yahoo_session(RecordedYahoo(), yahoo_cache) as yahoo:
        outcome = only(tick(review_after_close, evening(date(2024, 7, 4)), resources))
        morning = only(tick(plan_before_open, datetime(2024, 3, 29, 7, tzinfo=NEW_YORK),
                            resources))
    assert outcome.skip_message == "2024-07-04 is not an NYSE session: nothing to trade"
    assert morning.skip_message == "2024-03-29 is not an NYSE session: nothing to trade"
    assert yahoo.requests == []


def test_yfinance_offline_skips_with_the_sources_own_error(
        project_home: Path, yahoo_cache: Path) -> None:
    resources = build_resources(home=project_home, source="yfinance", symbols=SYMBOLS)
    with yahoo_session(RecordedYahoo(offline=True), yahoo_cache) as yahoo:
        outcome = only(tick(review_after_close, evening(SESSION), resources))
    assert isinstance(outcome, SkipReason)
    assert outcome.skip_message.startswith(
        "no cycle run for 2024-03-14: yfinance has no bar for the 2024-03-14 session yet")
    assert "check the network" in outcome.skip_message
    assert yahoo.requests  # it did ask


def test_the_warehouse_source_runs_once_the_sessions_bars_are_imported(
        project_home: Path, tmp_path: Path) -> None:
    resources = build_resources(home=project_home, source="warehouse", symbols="ZZA")
    skipped = only(tick(review_after_close, evening(SESSION), resources))
    assert "the warehouse has no bar for the 2024-03-14 session for ZZA" \
        in skipped.skip_message
    file = tmp_path / "zza.csv"
    pd.DataFrame({"symbol": ["ZZA"], "date": ["2024-03-14"], "open": [10.0],
                  "high": [11.0], "low": [9.0], "close": [10.5], "volume": [100]}
                 ).to_csv(file, index=False)
    import_bars_file(file, Warehouse(Paths(project_home).warehouse))
    request = only(tick(review_after_close, evening(SESSION), resources))
    assert isinstance(request, RunRequest)
    # Before the open the newest bar needed is the previous session's.
    morning = only(tick(plan_before_open, datetime(2024, 3, 15, 7, tzinfo=NEW_YORK),
                        resources))
    assert isinstance(morning, RunRequest) and morning.run_key == "plan-2024-03-15"


def test_with_yfinance_the_evening_run_trades_the_session(
        project_home: Path, yahoo_cache: Path) -> None:
    resources = build_resources(home=project_home, source="yfinance", symbols=SYMBOLS)
    defs = definitions(resources)
    with yahoo_session(RecordedYahoo(), yahoo_cache), DagsterInstance.ephemeral() as instance:
        request = only(tick(review_after_close, evening(SESSION), resources))
        assert isinstance(request, RunRequest)
        assert (request.partition_key, request.run_key) == ("2024-01-01", "cycle-2024-03-14")
        assert request.tags[LAST_DAY_TAG] == "2024-03-14"
        assert defs.resolve_job_def("seed_gene_pool").execute_in_process(
            instance=instance).success
        result = defs.resolve_job_def("daily_cycle").execute_in_process(
            partition_key=request.partition_key, tags=request.tags, instance=instance)
    assert result.success
    store = Warehouse(Paths(project_home).warehouse)

    def days(table: str) -> set[date]:
        frame = store.query(f"SELECT DISTINCT as_of FROM {table}")
        return set(pd.to_datetime(frame["as_of"]).dt.date)

    # The ledger marked the session (and nothing after it); whether a debate fires that
    # very day depends on the gene pool's verdicts, so the month's debates and orders
    # are asked for, up to the session.
    for table in ("regimes", "plans", "accounts", "positions"):
        assert max(days(table)) == SESSION, table
    for table in ("decisions", "orders"):
        assert days(table) and max(days(table)) <= SESSION, table
        assert min(days(table)) >= date(2024, 1, 1), table
    bars = store.query("SELECT DISTINCT source FROM bars")
    assert bars["source"].tolist() == ["yfinance"]
    # The features' look-back came too: asked from 400 days before the year began, the
    # recorded history starts on its first session.
    assert min(days("bars")) == date(2023, 1, 3)


def test_an_a_share_home_skips_the_shanghai_holidays_not_nyses(project_home: Path) -> None:
    """The session check is the configured market's: Shanghai is closed for the Spring
    Festival while NYSE trades, and trades on Martin Luther King day."""
    resources = build_resources(home=project_home, market="cn")
    holiday = only(tick(review_after_close, evening(date(2016, 2, 8)), resources))
    assert holiday.skip_message == \
        "2016-02-08 is not a Shanghai/Shenzhen session: nothing to trade"
    session = only(tick(review_after_close, evening(date(2016, 1, 18)), resources))
    assert isinstance(session, RunRequest) and session.run_key == "cycle-2016-01-18"
