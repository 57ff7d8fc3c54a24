"""Perception: each session's news sentiment per symbol, from the imported headlines."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from trade_pipelines.agent.loop.wiring import news_sentiment_rows
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    markdown_preview,
    partition_window,
    stored_headlines,
)
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.settings import INCLUDE_DRILLS_ENV, include_drills_setting


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
       pool=WAREHOUSE_POOL)
def news_sentiment(context: AssetExecutionContext, warehouse: WarehouseResource,
                   market_data: MarketDataResource) -> MaterializeResult:
    """Per session and symbol (``*``: headlines naming no symbol): the lexicon sentiment
    of the headlines published after the previous session's close and up to this
    session's close, when the day's decisions are made; with the counts, the share of
    generated headlines and the strongest headline. Drill headlines count only with
    $TRADE_PIPELINES_INCLUDE_DRILLS=1."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    include_drills = include_drills_setting()
    news = stored_headlines(store, start, end)
    rows = news_sentiment_rows(market_data.rules().code, news, start, end, include_drills)
    counts = store.replace_days({"news_sentiment": rows}, start, end)
    return MaterializeResult(metadata={
        "rows": counts["news_sentiment"],
        "headlines": int(rows["headlines"].sum()) if not rows.empty else 0,
        "symbols": int(rows["symbol"].nunique()) if not rows.empty else 0,
        "drills_included": include_drills, "drills_setting": INCLUDE_DRILLS_ENV,
        "preview": markdown_preview(rows.tail(10))})
