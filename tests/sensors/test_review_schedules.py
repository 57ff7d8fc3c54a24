"""The weekly, monthly and quarterly review schedules: defined with the cycle's other
schedules, each tick after the close skips unless the session is the last of its week,
month or quarter on the exchange's calendar, and then requests one run per period."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from dagster import RunRequest, SkipReason, build_schedule_context

from trade_pipelines.assets.common import LAST_DAY_TAG
from trade_pipelines.definitions import build_resources, defs
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

# get_schedule_def warns that it no longer resolves resources: the ticks pass their own.
pytestmark = pytest.mark.filterwarnings("ignore:Starting in dagster 1.11:UserWarning")
NEW_YORK = ZoneInfo("America/New_York")
# March 2024: Good Friday (the 29th) is a holiday, so Thursday the 28th closes the week,
# the month and the quarter.
SESSIONS = [date(2024, 3, 21), date(2024, 3, 22), date(2024, 3, 27), date(2024, 3, 28)]


def tick(name: str, day: date, home: Path) -> RunRequest | SkipReason:
    store = Warehouse(Paths(home).warehouse)
    store.migrate()
    if store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == 0:
        store.append("bars", pd.DataFrame({
            "symbol": "ZZA", "as_of": SESSIONS, "close": 10.0, "source": "import:zza.csv",
            "available_at": [datetime(d.year, d.month, d.day, 20) for d in SESSIONS]}))
    moment = datetime(day.year, day.month, day.day, 18, 30, tzinfo=NEW_YORK)
    with build_schedule_context(
            scheduled_execution_time=moment, repository_def=defs.get_repository_def(),
            resources=build_resources(source="warehouse", symbols="ZZA")) as context:
        result = defs.get_schedule_def(name).evaluate_tick(context)
    if result.run_requests:
        assert len(result.run_requests) == 1
        return result.run_requests[0]
    return SkipReason(result.skip_message)


def test_the_review_schedules_are_defined_after_the_close() -> None:
    for name in ("weekly_review", "monthly_review", "quarterly_review"):
        schedule = defs.get_schedule_def(name)
        assert schedule.cron_schedule == "30 18 * * 1-5"
        assert schedule.execution_timezone == "America/New_York"
        assert schedule.job_name == "periodic_reviews"
    job = defs.resolve_job_def("periodic_reviews")
    assert {"horizon_reviews", "daily_reports"} <= {n.name for n in job.nodes}


@pytest.mark.parametrize("name, day, run_key", [
    ("weekly_review", date(2024, 3, 22), "weekly-review-2024-W12"),
    ("weekly_review", date(2024, 3, 28), "weekly-review-2024-W13"),
    ("monthly_review", date(2024, 3, 28), "monthly-review-2024-03"),
    ("quarterly_review", date(2024, 3, 28), "quarterly-review-2024-Q1"),
])
def test_the_last_session_of_a_period_requests_its_review(
        project_home: Path, name: str, day: date, run_key: str) -> None:
    request = tick(name, day, project_home)
    assert isinstance(request, RunRequest), request
    assert request.run_key == run_key  # one run per period, never two
    assert request.partition_key == "2024-01-01"
    assert request.tags[LAST_DAY_TAG] == day.isoformat()


@pytest.mark.parametrize("name, day, said", [
    ("weekly_review", date(2024, 3, 27), "runs after the close of 2024-03-28"),
    ("monthly_review", date(2024, 3, 22), "not the last session of 2024-03"),
    ("quarterly_review", date(2024, 3, 27), "not the last session of 2024-Q1"),
    ("monthly_review", date(2024, 3, 29), "is not"),  # Good Friday: no session at all
])
def test_any_other_session_skips_and_says_when(project_home: Path, name: str, day: date,
                                               said: str) -> None:
    outcome = tick(name, day, project_home)
    assert isinstance(outcome, SkipReason)
    assert said in outcome.skip_message
