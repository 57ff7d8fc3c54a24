"""Planning: the daily plan, made after each close for the next session."""


from dagster import AssetExecutionContext, MaterializeResult, asset

from trade_pipelines.agent.loop.wiring import session_plans
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.assets.market import market_features, market_regime
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import WarehouseResource


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="planning",
       deps=[market_features, market_regime], pool=WAREHOUSE_POOL)
def daily_plans(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Stance, exposure target, watchlist, key price levels and tasks for the next session."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    regimes = to_dates(store.query("SELECT * FROM regimes WHERE as_of BETWEEN ? AND ? "
                                   "ORDER BY as_of", [start, end]), "as_of")
    features = to_dates(store.query("SELECT * FROM features WHERE as_of BETWEEN ? AND ?",
                                    [start, end]), "as_of")
    plans = session_plans(regimes, features)
    counts = store.replace_days({"plans": plans}, start, end)
    return MaterializeResult(metadata={"rows": counts["plans"],
                                       "preview": markdown_preview(plans.tail(5))})
