"""Schedules of the live cycle, in New York time: plan before the open, run the whole
cycle after the close, evaluate the gene pool at the week's end. Each targets the month
in progress (its partition), with a run key per day so a tick never runs twice."""


import hashlib
import json
from datetime import datetime

from dagster import (
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    schedule,
    sensor,
)

from trade_pipelines.jobs import (
    daily_cycle_job,
    import_bars_job,
    morning_plan_job,
    weekly_evolution_job,
)
from trade_pipelines.settings import paths

BAR_FILE_SUFFIXES = (".csv", ".parquet", ".pq")

TIMEZONE = "America/New_York"


def month_partition(moment: datetime) -> str:
    return f"{moment:%Y-%m}-01"


def _request(name: str, context: ScheduleEvaluationContext) -> RunRequest:
    moment = context.scheduled_execution_time
    return RunRequest(run_key=f"{name}-{moment:%Y-%m-%d}", partition_key=month_partition(moment),
                      tags={"trade_pipelines/session": f"{moment:%Y-%m-%d}"})


@schedule(job=morning_plan_job, cron_schedule="0 7 * * 1-5", execution_timezone=TIMEZONE,
          name="plan_before_open")
def plan_before_open(context: ScheduleEvaluationContext) -> RunRequest:
    return _request("plan", context)


@schedule(job=daily_cycle_job, cron_schedule="0 17 * * 1-5", execution_timezone=TIMEZONE,
          name="review_after_close")
def review_after_close(context: ScheduleEvaluationContext) -> RunRequest:
    return _request("cycle", context)


@schedule(job=weekly_evolution_job, cron_schedule="0 18 * * 5", execution_timezone=TIMEZONE,
          name="weekly_gene_pool_evaluation")
def weekly_gene_pool_evaluation(context: ScheduleEvaluationContext) -> RunRequest:
    return _request("gene-pool", context)


@sensor(job=import_bars_job, minimum_interval_seconds=30, name="bar_file_inbox")
def bar_file_inbox(context: SensorEvaluationContext) -> SensorResult:
    """A bar file dropped into $TRADE_PIPELINES_HOME/inbox is imported once. The cursor
    remembers each file's content hash, so a tick only reads what is new or changed, and
    the run key makes a second request for the same content a no-op."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests = []
    for path in sorted(paths().inbox.iterdir()):
        if not path.is_file() or path.suffix.lower() not in BAR_FILE_SUFFIXES:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        if seen.get(path.name) == digest:
            continue
        seen[path.name] = digest
        requests.append(RunRequest(
            run_key=f"{path.name}:{digest}",
            run_config={"ops": {"import_bar_file": {"config": {"path": str(path)}}}},
            tags={"trade_pipelines/bar_file": path.name}))
    return SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))


SCHEDULES = [plan_before_open, review_after_close, weekly_gene_pool_evaluation]
SENSORS = [bar_file_inbox]
