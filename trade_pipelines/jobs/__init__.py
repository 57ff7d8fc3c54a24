"""Jobs: the daily cycle (also the replay job), the weekly gene-pool evaluation and the
periodic reviews."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    Config,
    Failure,
    OpExecutionContext,
    define_asset_job,
    job,
    op,
)

from trade_pipelines.assets.common import WAREHOUSE_POOL
from trade_pipelines.partitions import trading_years
from trade_pipelines.resources import WarehouseResource

# The hourly self-check of the stored bars runs in its own job, not in the cycle's runs.
STORED_BARS_SELF_CHECK = AssetSelection.checks(
    AssetCheckKey(AssetKey("market_bars"), "stored_bars_self_check"))
DAILY_CYCLE = AssetSelection.groups(
    "perception", "planning", "decision", "trading", "memory", "reflection"
) - STORED_BARS_SELF_CHECK
PLAN_BEFORE_OPEN = AssetSelection.assets(
    "market_bars", "market_features", "market_regime", "market_events", "daily_plans"
) - STORED_BARS_SELF_CHECK

daily_cycle_job = define_asset_job(
    "daily_cycle", selection=DAILY_CYCLE | AssetSelection.assets("strategy_evaluations"),
    partitions_def=trading_years,
    description="Bars to report for one year (the live cycle re-runs the year in "
                "progress up to the session; a replay runs a range of years in one run).")
morning_plan_job = define_asset_job(
    "morning_plan", selection=PLAN_BEFORE_OPEN, partitions_def=trading_years,
    description="Before the open: refresh bars, features, regime, events and the day's plan.")
weekly_evolution_job = define_asset_job(
    "weekly_gene_pool_evaluation",
    selection=AssetSelection.assets("strategy_evaluations"), partitions_def=trading_years,
    description="Score every genome on its last year of signals; flag and eliminate.")
periodic_review_job = define_asset_job(
    "periodic_reviews", selection=AssetSelection.assets("daily_reports", "horizon_reviews"),
    partitions_def=trading_years,
    description="At a week's, month's or quarter's last session: the daily reports and the "
                "weekly, monthly and quarterly reviews of the year up to the session.")
gene_pool_seed_job = define_asset_job(
    "seed_gene_pool", selection=AssetSelection.assets("strategy_gene_pool"))
bar_self_check_job = define_asset_job(
    "bar_self_check",
    selection=STORED_BARS_SELF_CHECK,
    description="Live mode, hourly: the quality suite and the split detector on the stored "
                "bars of the year in progress, without fetching anything.")
walk_forward_job = define_asset_job(
    "walk_forward_evaluation", selection=AssetSelection.assets("walk_forward_scoreboard"),
    description="Score the agent, its ablations and the baselines out of sample, window "
                "by window (the run's config gives the range and the output folder).")


class BarFileConfig(Config):
    path: str


@op(pool=WAREHOUSE_POOL)
def import_bar_file(context: OpExecutionContext, config: BarFileConfig,
                    warehouse: WarehouseResource) -> None:
    """Import one bar file from the inbox, then move it to inbox/imported (or
    inbox/rejected when it cannot be read as bars), so it is never imported twice and
    never lost."""
    from trade_pipelines.market_data.errors import BarImportRejected, BarSchemaError
    from trade_pipelines.market_data.importer import import_bars_file

    path = Path(config.path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        report = import_bars_file(path, warehouse.warehouse())
    except (BarSchemaError, BarImportRejected) as error:
        _move(path, path.parent / "rejected", stamp)
        raise Failure(f"{path.name} was not imported: {error}") from error
    _move(path, path.parent / "imported", stamp)
    context.log.info(report.message)


def _move(path: Path, folder: Path, stamp: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), folder / f"{stamp}-{path.name}")


@job(description="Import a bar file dropped into the inbox (launched by the inbox sensor).")
def import_bars_job() -> None:
    import_bar_file()


class NewsFeedsConfig(Config):
    feeds: list[str]  # entries [SYMBOLS=]URL[|Area/Zone] (rss_source.parse_feed_entry)


@op(pool=WAREHOUSE_POOL)
def fetch_news_feeds(context: OpExecutionContext, config: NewsFeedsConfig,
                     warehouse: WarehouseResource) -> None:
    """Fetch each feed and store its headlines (once per symbol a feed is about, its dates
    read in its zone); fails only when every feed failed (one dead feed does not stop the
    others)."""
    from trade_pipelines.market_data.rss_source import fetch_feeds

    reports = fetch_feeds(config.feeds, warehouse.warehouse())
    for report in reports:
        (context.log.warning if report.error else context.log.info)(report.message)
    if reports and all(r.error for r in reports):
        raise Failure("no feed could be read: " + "; ".join(r.message for r in reports))


@job(description="Fetch the RSS/Atom feeds of $TRADE_PIPELINES_NEWS_FEEDS into the news "
                 "table (launched by the news_feeds sensor).")
def fetch_news_job() -> None:
    fetch_news_feeds()
