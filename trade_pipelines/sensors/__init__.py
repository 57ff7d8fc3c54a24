"""Schedules of the live cycle, in the configured market's time (New York for US stocks,
Shanghai, Hong Kong; crypto every day, its day closing at midnight Shanghai time): plan
before the open, run the whole cycle after the close, evaluate the gene pool at the
week's end, review the week, month and quarter after their last sessions. Each targets
the year in progress (its partition) up to the session (the last-day tag the assets
read), with a run key per session (per period for the reviews) so a tick never runs
twice. A
tick on a day the market's exchange is closed, or whose source has no bar for the
session, is skipped with the reason and what to configure: a run that can only fail is
never launched."""


import hashlib
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from trade_pipelines.agent.reflection.changes import MONTHLY, QUARTERLY, WEEKLY, period_of
from trade_pipelines.agent.reflection.horizon_reviews import period_end
from trade_pipelines.assets.common import LAST_DAY_TAG, exchange_sessions
from trade_pipelines.home_market import configured_market
from trade_pipelines.jobs import (
    bar_self_check_job,
    daily_cycle_job,
    fetch_news_job,
    import_bars_job,
    morning_plan_job,
    periodic_review_job,
    weekly_evolution_job,
)
from trade_pipelines.market_data.calendar import a_session_of
from trade_pipelines.partitions import year_partition
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.settings import (
    NEWS_FEEDS_ENV,
    home_dir,
    news_feeds_setting,
    symbols_setting,
)
from trade_pipelines.warehouse import Warehouse

BAR_FILE_SUFFIXES = (".csv", ".parquet", ".pq")

# The market the definitions trade (as ``build_resources`` configures it): its clock.
MARKET = MarketDataResource(symbols=symbols_setting(),
                            market=configured_market(home_dir(), symbols_setting())).rules()
TIMEZONE = MARKET.timezone
# A crypto day's bar is final at midnight: its cycle runs just after, for the day before.
CLOSE_TICK_DAYS_BACK = 1 if MARKET.close_next_day else 0
WEEKDAYS = "*" if MARKET.always_open else "1-5"
TICK_LOCK_TIMEOUT_S = 10.0


def session_of(context: ScheduleEvaluationContext, days_back: int = 0) -> date:
    """The market's calendar day the tick is for (``days_back`` days before the tick's)."""
    moment = context.scheduled_execution_time or datetime.now(ZoneInfo(TIMEZONE))
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(TIMEZONE))
    return moment.date() - timedelta(days=days_back)


def previous_session(day: date, calendar: str = "XNYS") -> date:
    return exchange_sessions(day - timedelta(days=10), day - timedelta(days=1), calendar)[-1]


def _request(name: str, session: date, needs_bar_for: date, market_data: MarketDataResource,
             warehouse: WarehouseResource, run_key: str | None = None
             ) -> RunRequest | SkipReason:
    """A run for the year in progress up to ``session``, or the reason there is none."""
    calendar = market_data.rules().calendar
    if session not in exchange_sessions(session, session, calendar):
        return SkipReason(f"{session} is not {a_session_of(calendar)}: nothing to trade")
    # Read-only and short: a tick must never wait behind a replay's writes for long, nor
    # write the warehouse outside the writers' pool.
    store = Warehouse(warehouse.paths().warehouse, lock_timeout_s=TICK_LOCK_TIMEOUT_S)
    gap = market_data.session_gap(store, needs_bar_for)
    if gap is not None:
        return SkipReason(f"no {name} run for {session}: {gap}")
    return RunRequest(run_key=run_key or f"{name}-{session:%Y-%m-%d}",
                      partition_key=year_partition(session),
                      tags={LAST_DAY_TAG: session.isoformat()})


@schedule(job=morning_plan_job, cron_schedule=f"0 7 * * {WEEKDAYS}",
          execution_timezone=TIMEZONE, name="plan_before_open")
def plan_before_open(context: ScheduleEvaluationContext, market_data: MarketDataResource,
                     warehouse: WarehouseResource) -> RunRequest | SkipReason:
    """Before the open the newest bar is the previous session's close."""
    session = session_of(context)
    return _request("plan", session,
                    previous_session(session, market_data.rules().calendar),
                    market_data, warehouse)


@schedule(job=daily_cycle_job,
          cron_schedule="30 0 * * *" if CLOSE_TICK_DAYS_BACK else "0 17 * * 1-5",
          execution_timezone=TIMEZONE, name="review_after_close")
def review_after_close(context: ScheduleEvaluationContext, market_data: MarketDataResource,
                       warehouse: WarehouseResource) -> RunRequest | SkipReason:
    session = session_of(context, CLOSE_TICK_DAYS_BACK)
    return _request("cycle", session, session, market_data, warehouse)


@schedule(job=weekly_evolution_job,
          cron_schedule="0 1 * * 1" if CLOSE_TICK_DAYS_BACK else "0 18 * * 5",
          execution_timezone=TIMEZONE, name="weekly_gene_pool_evaluation")
def weekly_gene_pool_evaluation(context: ScheduleEvaluationContext,
                                market_data: MarketDataResource,
                                warehouse: WarehouseResource) -> RunRequest | SkipReason:
    """At the week's last session (Friday; Sunday for crypto, run early on Monday)."""
    session = session_of(context, CLOSE_TICK_DAYS_BACK)
    return _request("gene-pool", session, session, market_data, warehouse)


def _review_request(horizon: str, context: ScheduleEvaluationContext,
                    market_data: MarketDataResource,
                    warehouse: WarehouseResource) -> RunRequest | SkipReason:
    """The reviews' run at the last session of the period (on the exchange's calendar),
    one per period; any other session is skipped, saying when the review runs."""
    session = session_of(context, CLOSE_TICK_DAYS_BACK)
    calendar = market_data.rules().calendar
    sessions = exchange_sessions(session, period_end(horizon, session), calendar)
    if session in sessions and sessions[-1] != session:
        return SkipReason(f"{session} is not the last session of {period_of(horizon, session)}"
                          f": its {horizon} review runs after the close of {sessions[-1]}")
    return _request(f"{horizon}-review", session, session, market_data, warehouse,
                    run_key=f"{horizon}-review-{period_of(horizon, session)}")


# After the close, once the daily cycle has had its time.
REVIEW_CRON = "30 1 * * *" if CLOSE_TICK_DAYS_BACK else f"30 18 * * {WEEKDAYS}"


@schedule(job=periodic_review_job, cron_schedule=REVIEW_CRON, execution_timezone=TIMEZONE,
          name="weekly_review")
def weekly_review(context: ScheduleEvaluationContext, market_data: MarketDataResource,
                  warehouse: WarehouseResource) -> RunRequest | SkipReason:
    """At the week's last session: best and worst strategies, counterfactuals, principles."""
    return _review_request(WEEKLY, context, market_data, warehouse)


@schedule(job=periodic_review_job, cron_schedule=REVIEW_CRON, execution_timezone=TIMEZONE,
          name="monthly_review")
def monthly_review(context: ScheduleEvaluationContext, market_data: MarketDataResource,
                   warehouse: WarehouseResource) -> RunRequest | SkipReason:
    """At the month's last session: top trades and their chains, biases, learning curve."""
    return _review_request(MONTHLY, context, market_data, warehouse)


@schedule(job=periodic_review_job, cron_schedule=REVIEW_CRON, execution_timezone=TIMEZONE,
          name="quarterly_review")
def quarterly_review(context: ScheduleEvaluationContext, market_data: MarketDataResource,
                     warehouse: WarehouseResource) -> RunRequest | SkipReason:
    """At the quarter's last session: targets met or missed, proposals, every change."""
    return _review_request(QUARTERLY, context, market_data, warehouse)


@schedule(job=bar_self_check_job, cron_schedule="0 * * * *", execution_timezone=TIMEZONE,
          name="hourly_bar_self_check", default_status=DefaultScheduleStatus.STOPPED)
def hourly_bar_self_check(context: ScheduleEvaluationContext) -> RunRequest:
    """Live mode: every hour, the stored bars of the year in progress pass the quality
    suite again (stopped by default: a replay has no need of it)."""
    moment = context.scheduled_execution_time or datetime.now(ZoneInfo(TIMEZONE))
    return RunRequest(run_key=f"bar-self-check-{moment:%Y-%m-%dT%H}")


@sensor(job=import_bars_job, minimum_interval_seconds=30, name="bar_file_inbox")
def bar_file_inbox(context: SensorEvaluationContext,
                   warehouse: WarehouseResource) -> SensorResult:
    """A bar file dropped into the home's inbox/ is imported once. The cursor
    remembers each file's content hash, so a tick only reads what is new or changed, and
    the run key makes a second request for the same content a no-op."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests = []
    for path in sorted(warehouse.paths().inbox.iterdir()):
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


NEWS_FEED_INTERVAL_S = 900


@sensor(job=fetch_news_job, minimum_interval_seconds=NEWS_FEED_INTERVAL_S, name="news_feeds",
        default_status=DefaultSensorStatus.STOPPED)
def news_feeds(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    """Live mode: every 15 minutes, a run that fetches the feeds named in
    $TRADE_PIPELINES_NEWS_FEEDS into the news table (stopped by default). Each entry is
    ``[SYMBOLS=]URL[|Area/Zone]`` (``rss_source.feed_specs``)."""
    from trade_pipelines.market_data.rss_source import feed_urls

    try:
        urls = feed_urls(news_feeds_setting())
    except ValueError as error:  # a badly written entry: said, not guessed around
        return SkipReason(f"{NEWS_FEEDS_ENV} is not a list of feeds: {error}")
    if not urls:
        return SkipReason(f"no feeds configured: set {NEWS_FEEDS_ENV} to RSS or Atom URLs "
                          "([SYMBOLS=]URL[|Area/Zone], separated by spaces or ';')")
    bucket = int(datetime.now().timestamp()) // NEWS_FEED_INTERVAL_S
    return RunRequest(run_key=f"news-feeds-{bucket}",
                      run_config={"ops": {"fetch_news_feeds": {"config": {"feeds": urls}}}})


SCHEDULES = [plan_before_open, review_after_close, weekly_gene_pool_evaluation,
             weekly_review, monthly_review, quarterly_review, hourly_bar_self_check]
SENSORS = [bar_file_inbox, news_feeds]
