"""Perception: the market's sentiment per day, anomaly scores per bar, and dated events
with their impact and response plans."""


from datetime import date

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.loop.wiring import event_rows, market_sentiment_rows
from trade_pipelines.agent.perception.anomalies import anomaly_scores
from trade_pipelines.agent.perception.events import EVENT_HORIZON, RESPONSE_IMPACT
from trade_pipelines.agent.perception.regime import collapse_breadth
from trade_pipelines.assets.common import (
    FEATURE_HISTORY,
    WAREHOUSE_POOL,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.assets.market import market_bars, market_features
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.settings import include_drills_setting
from trade_pipelines.warehouse import Warehouse

# Headlines scored by the news assets, when that table exists.
NEWS_TABLE = "news"


def _bars(store: Warehouse, symbols: list[str | None], start: date, end: date
          ) -> pd.DataFrame:
    return to_dates(store.query(
        "SELECT symbol, as_of, open, high, low, close, volume FROM bars "
        "WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) ORDER BY symbol, as_of",
        [start, end, [s for s in symbols if s]]), "as_of")


def _features(store: Warehouse, universe: list[str], start: date, end: date) -> pd.DataFrame:
    return to_dates(store.query(
        "SELECT symbol, as_of, close, sma_50, ret_1d, ret_20d FROM features "
        "WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) ORDER BY symbol, as_of",
        [start, end, universe]), "as_of")


def stored_sentiment(store: Warehouse, market: str, end: date) -> pd.DataFrame:
    """The market's sentiment rows up to ``end``, as ``market_sentiment`` stored them."""
    return to_dates(store.query("SELECT * FROM market_sentiment WHERE market = ? AND "
                                "as_of <= ? ORDER BY as_of", [market, end]), "as_of")


def stored_events(store: Warehouse, start: date, end: date) -> pd.DataFrame:
    """The events whose session falls in [start, end + EVENT_HORIZON]."""
    return to_dates(store.query(
        "SELECT * FROM market_events WHERE as_of BETWEEN ? AND ? ORDER BY as_of, kind, "
        "symbol NULLS FIRST, event_id", [start, end + EVENT_HORIZON]), "as_of", "known_from")


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
       deps=[market_bars, market_features], pool=WAREHOUSE_POOL)
def market_sentiment(context: AssetExecutionContext, warehouse: WarehouseResource,
                     market_data: MarketDataResource) -> MaterializeResult:
    """Per day and market: volatility index (or the benchmark's realised volatility,
    labelled), breadth, advance/decline, sector momentum, fear/greed and turning points,
    each row with its reason; from bars and features up to that day's close.

    Computed for the whole stored history up to the window's end (about a second for
    thirty years), as ``market_features`` is: the sentiment genomes read it over the gene
    pool's look-back, whichever years were replayed before."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    market = market_data.rules().code
    universe = market_data.universe()
    benchmark = _bars(store, [market_data.benchmark_symbol], date.min, end)
    index = _bars(store, [market_data.volatility_index_symbol], date.min, end)
    features = _features(store, universe, date.min, end)
    universe_bars = _bars(store, universe, date.min, end) if benchmark.empty else None
    sentiment = market_sentiment_rows(market, benchmark, features,
                                      market_data.benchmark_symbol, index,
                                      market_data.volatility_index_symbol, universe_bars)
    first = sentiment["as_of"].min() if not sentiment.empty else start
    with store.transaction() as connection:
        connection.execute("DELETE FROM market_sentiment WHERE market = ? AND as_of <= ?",
                           [market, end])
        store.insert_frame(connection, "market_sentiment", sentiment)
    window = sentiment[sentiment["as_of"] >= start]
    turns = window[window["turning_point"].notna()]
    return MaterializeResult(metadata={
        "rows": len(window), "history_rows": len(sentiment), "history_from": str(first),
        "market": market,
        "volatility_sources": MetadataValue.json(
            window["volatility_source"].value_counts().to_dict()),
        "turning_points": markdown_preview(turns[["as_of", "turning_point", "reason"]], 20),
        "preview": markdown_preview(window.tail(10))})


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
       deps=[market_bars, market_features], pool=WAREHOUSE_POOL)
def market_anomalies(context: AssetExecutionContext, warehouse: WarehouseResource,
                     market_data: MarketDataResource) -> MaterializeResult:
    """Per bar of the universe and the benchmark: price jump, volume burst, volatility
    spike and gap against the symbol's trailing history, a combined score 0-10, and the
    black-swan flag on the benchmark (which ``market_regime`` turns into defensive mode
    in the same bar)."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    symbols = [*market_data.universe(), market_data.benchmark_symbol]
    bars = _bars(store, symbols, start - FEATURE_HISTORY, end)
    breadth = collapse_breadth(_features(store, market_data.universe(),
                                         start - FEATURE_HISTORY, end))
    scores = anomaly_scores(bars, market_data.benchmark_symbol, breadth,
                            market_data.rules().always_open)
    scores = scores[(scores["as_of"] >= start) & (scores["as_of"] <= end)]
    counts = store.replace_days({"anomalies": scores}, start, end)
    notable = scores[scores["score"] >= 5].sort_values("score", ascending=False)
    swans = scores[scores["black_swan"].astype(bool)]
    return MaterializeResult(metadata={
        "rows": counts["anomalies"], "scored_5_or_more": len(notable),
        "black_swan_days": markdown_preview(swans[["as_of", "reason"]], 20),
        "preview": markdown_preview(notable.head(10))})


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
       deps=[market_bars], pool=WAREHOUSE_POOL)
def market_events(context: AssetExecutionContext, warehouse: WarehouseResource,
                  market_data: MarketDataResource) -> MaterializeResult:
    """Earnings of the traded names, FOMC decisions and strong headlines, each scored 1-10
    for impact with the reason, the memory of similar past events (how the stock or the
    market moved then, from bars before the event was known) and, from an impact of 8,
    the response plan the planner and the risk engine read. Each row says from when it
    is known; the window's rows run a week past its end, so its last sessions see the
    blackouts of the events just after it."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    market = market_data.rules().code
    universe = market_data.universe()
    closes = _bars(store, [*universe, market_data.benchmark_symbol],
                   start - FEATURE_HISTORY, end)[["symbol", "as_of", "close"]]
    news = None
    if store.table_exists(NEWS_TABLE):
        news = store.query(f"SELECT * FROM {NEWS_TABLE} WHERE available_at <= ?",
                           [pd.Timestamp(end + EVENT_HORIZON) + pd.Timedelta(days=1)])
    events = event_rows(market, universe, closes, market_data.benchmark_symbol, start, end,
                        news, include_generated=include_drills_setting())
    last = end + EVENT_HORIZON
    with store.transaction() as connection:
        connection.execute("DELETE FROM market_events WHERE as_of BETWEEN ? AND ?",
                           [start, last])
        store.insert_frame(connection, "market_events", events)
    planned = events[events["impact"] >= RESPONSE_IMPACT]
    return MaterializeResult(metadata={
        "rows": len(events), "with_response_plan": len(planned),
        "by_kind": MetadataValue.json(events["kind"].value_counts().to_dict()),
        "news_table": news is not None,
        "preview": markdown_preview(events[["as_of", "known_from", "kind", "symbol", "title",
                                            "impact", "response"]].head(10))})
