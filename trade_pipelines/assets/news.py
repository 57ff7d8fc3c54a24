"""Perception: each session's news sentiment per symbol, from the imported headlines."""

from datetime import timedelta

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, asset

from trade_pipelines.agent.perception.news import NEWS_SENTIMENT_COLUMNS, daily_news_sentiment
from trade_pipelines.assets.common import WAREHOUSE_POOL, markdown_preview, partition_window
from trade_pipelines.market_data import bar_available_at, bars_available_at
from trade_pipelines.market_data.calendar import exchange_sessions
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.settings import INCLUDE_DRILLS_ENV, include_drills_setting

# Calendar days searched back for the session before a window (the longest exchange
# holiday is well under this).
PREVIOUS_SESSION_SEARCH = timedelta(days=20)


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
    rules = market_data.rules()
    sessions = exchange_sessions(start - PREVIOUS_SESSION_SEARCH, end, rules.calendar)
    window = [d for d in sessions if d >= start]
    include_drills = include_drills_setting()
    rows = pd.DataFrame(columns=NEWS_SENTIMENT_COLUMNS)
    if window:
        earlier = [d for d in sessions if d < start]
        previous_close = bar_available_at(earlier[-1] if earlier else window[0] - timedelta(
            days=1), rules.code)
        closes = list(bars_available_at(pd.Series(window), rules.code))
        news = store.query(
            "SELECT news_id, symbol, headline, body, language, published_at, available_at, "
            "generated FROM news WHERE available_at > ? AND available_at <= ? "
            "ORDER BY available_at, news_id", [previous_close, closes[-1]])
        rows = daily_news_sentiment(news, window, closes, previous_close, include_drills)
    counts = store.replace_days({"news_sentiment": rows}, start, end)
    return MaterializeResult(metadata={
        "rows": counts["news_sentiment"],
        "headlines": int(rows["headlines"].sum()) if not rows.empty else 0,
        "symbols": int(rows["symbol"].nunique()) if not rows.empty else 0,
        "drills_included": include_drills, "drills_setting": INCLUDE_DRILLS_ENV,
        "preview": markdown_preview(rows.tail(10))})
