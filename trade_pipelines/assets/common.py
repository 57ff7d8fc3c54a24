"""Helpers shared by the asset modules: the partition's days and the trading calendar."""


import os
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import TypeVar

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue

from trade_pipelines.agent.markets import market_of_symbols, market_rules
from trade_pipelines.market_data.calendar import exchange_sessions
from trade_pipelines.partitions import trading_years
from trade_pipelines.warehouse import Warehouse

T = TypeVar("T")
# Every step that writes the warehouse runs in this Dagster concurrency pool, whose limit
# of one (set in the instance's dagster.yaml) keeps DuckDB to a single writer.
WAREHOUSE_POOL = "warehouse"
PROGRESS_ENV = "TRADE_PIPELINES_PROGRESS"
# Calendar days of history loaded before a window so 200-day features are complete.
FEATURE_HISTORY = timedelta(days=400)


# Run tags that narrow a run to the days a user asked for inside its months (set by
# ``trade-pipelines replay``; a run launched from the UI covers whole months).
FIRST_DAY_TAG = "trade_pipelines/first_day"
LAST_DAY_TAG = "trade_pipelines/last_day"


def partition_window(context: AssetExecutionContext) -> tuple[date, date]:
    """First and last calendar day covered by this run: its partitions (one year or a
    range), narrowed to the run's first/last day tags when a replay or a schedule asked
    for part of a year. Every table is keyed by day, so a later run can carry on from any
    day.

    Dagster marks every partition of the run as materialised, even one the run only partly
    computed; so each materialisation also records, as ``first_day``/``last_day``
    metadata, the days of its year this run actually covered (a replay from 2019-01-15
    shows 2019-01-15..2019-12-31 on the 2019 partition, not the whole year)."""
    window = context.partition_time_window
    start, end = window.start.date(), (window.end - timedelta(days=1)).date()
    tags = context.run.tags
    if FIRST_DAY_TAG in tags:
        start = max(start, date.fromisoformat(tags[FIRST_DAY_TAG]))
    if LAST_DAY_TAG in tags:
        end = min(end, date.fromisoformat(tags[LAST_DAY_TAG]))
    _record_days(context, start, end)
    return start, end


def _record_days(context: AssetExecutionContext, start: date, end: date) -> None:
    """Each partition's materialisation metadata names the days of it this run covered."""
    for key in context.partition_keys:
        window = trading_years.time_window_for_partition_key(key)
        covered = {"first_day": max(start, window.start.date()).isoformat(),
                   "last_day": min(end, (window.end - timedelta(days=1)).date()).isoformat()}
        for asset_key in context.selected_asset_keys:
            context.add_asset_metadata(covered, asset_key=asset_key, partition_key=key)


def kept_rows(store: Warehouse, table: str, start: date, end: date) -> dict[str, object]:
    """Metadata of a step that kept its stored rows: their inputs are unchanged since they
    were computed (see ``warehouse/checkpoints.py``)."""
    rows = store.query(f"SELECT count(*) AS n FROM {table} WHERE as_of BETWEEN ? AND ?",
                       [start, end])
    return {"rows": int(rows["n"].iloc[0]) if not rows.empty else 0, "inputs_unchanged": True}


def trading_days(warehouse: Warehouse, symbols: list[str], start: date, end: date,
                 calendar: str | None = None) -> list[date]:
    """Sessions of ``calendar`` (by default the calendar of the symbols' market: NYSE,
    Shanghai, Hong Kong or 24/7) in the window on which at least one traded symbol has a
    bar."""
    if calendar is None:
        calendar = market_rules(market_of_symbols(symbols)).calendar
    frame = warehouse.query(
        "SELECT DISTINCT as_of FROM bars WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol)"
        " ORDER BY as_of", [start, end, symbols])
    have = set(to_dates(frame, "as_of")["as_of"]) if not frame.empty else set()
    return [d for d in exchange_sessions(start, end, calendar) if d in have]


def stored_headlines(store: Warehouse, start: date, end: date) -> pd.DataFrame:
    """The ``news`` rows that can count for a session of [start, end]: read a little
    wider than the window (each is kept to the session whose close first follows its
    availability by ``wiring.news_sentiment_rows``)."""
    from trade_pipelines.agent.loop.wiring import PREVIOUS_SESSION_SEARCH

    if not store.table_exists("news"):
        return pd.DataFrame()
    return store.query(
        "SELECT news_id, symbol, headline, body, language, published_at, available_at, "
        "generated FROM news WHERE available_at > ? AND available_at <= ? "
        "ORDER BY available_at, news_id",
        [start - PREVIOUS_SESSION_SEARCH, end + timedelta(days=2)])


def progress(items: Iterable[T], description: str, total: int | None = None,
             unit: str = "day") -> Iterator[T]:
    """A progress bar on the console when the CLI asked for one, otherwise the items."""
    if os.environ.get(PROGRESS_ENV) != "1":
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=f"{description:<18}", total=total, unit=unit, leave=False)


def to_dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """DuckDB returns DATE columns as timestamps in pandas; the agent works in dates."""
    for column in columns:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date.astype(object)
    return frame


def markdown_preview(frame: pd.DataFrame, rows: int = 10) -> MetadataValue:
    if frame.empty:
        return MetadataValue.md("_no rows_")
    return MetadataValue.md(frame.head(rows).to_markdown(index=False))
