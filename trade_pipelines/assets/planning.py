"""Planning: the daily plan, made after each close for the next session."""


from dagster import AssetExecutionContext, MaterializeResult, asset

from trade_pipelines.agent.loop.wiring import session_plans
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    kept_rows,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.assets.market import market_features, market_regime
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse.checkpoints import MonthSlice, WindowCheckpoint


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="planning",
       deps=[market_features, market_regime, "market_events"], pool=WAREHOUSE_POOL)
def daily_plans(context: AssetExecutionContext, warehouse: WarehouseResource,
                market_data: MarketDataResource) -> MaterializeResult:
    """Stance, exposure target, watchlist, key price levels and tasks for the next session,
    among them the events ahead (``market_events``) and their response plans."""
    from trade_pipelines.assets.sentiment import stored_events

    start, end = partition_window(context)
    store = warehouse.warehouse()
    regimes = to_dates(store.query("SELECT * FROM regimes WHERE as_of BETWEEN ? AND ? "
                                   "ORDER BY as_of", [start, end]), "as_of")
    features = to_dates(store.query("SELECT * FROM features WHERE as_of BETWEEN ? AND ? "
                                    "AND list_contains(?, symbol) ORDER BY symbol, as_of",
                                    [start, end, market_data.universe()]), "as_of")
    events = stored_events(store, start, end)
    checkpoint = WindowCheckpoint(store, "daily_plans", MonthSlice(start, end), regimes,
                                  features, events)
    if checkpoint.kept:
        return MaterializeResult(metadata=kept_rows(store, "plans", start, end))
    plans = session_plans(regimes, features, events)
    checkpoint.commit({"plans": plans})
    return MaterializeResult(metadata={"rows": len(plans),
                                       "preview": markdown_preview(plans.tail(5))})
