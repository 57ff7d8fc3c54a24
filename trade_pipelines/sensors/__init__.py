"""Schedules of the live cycle, in New York time: plan before the open, run the whole
cycle after the close, evaluate the gene pool at the week's end. Each targets the month
in progress (its partition), with a run key per day so a tick never runs twice."""


from datetime import datetime

from dagster import RunRequest, ScheduleEvaluationContext, schedule

from trade_pipelines.jobs import daily_cycle_job, morning_plan_job, weekly_evolution_job

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


SCHEDULES = [plan_before_open, review_after_close, weekly_gene_pool_evaluation]
