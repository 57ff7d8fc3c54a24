"""The one Definitions object."""

from dagster import Definitions

from trade_pipelines.assets import ALL_ASSETS
from trade_pipelines.jobs import (
    daily_cycle_job,
    gene_pool_seed_job,
    morning_plan_job,
    weekly_evolution_job,
)
from trade_pipelines.resources import MarketDataResource, MemoryIndexResource, WarehouseResource
from trade_pipelines.sensors import SCHEDULES


def build_resources(symbols: str = "", source: str = "builtin") -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(),
        "market_data": MarketDataResource(source=source, symbols=symbols),
        "memory_index": MemoryIndexResource(),
    }


defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=[],
    jobs=[daily_cycle_job, morning_plan_job, weekly_evolution_job, gene_pool_seed_job],
    schedules=SCHEDULES,
    resources=build_resources(),
)
