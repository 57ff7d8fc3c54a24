"""The one Definitions object."""

from dagster import Definitions

from trade_pipelines.assets import ALL_ASSETS
from trade_pipelines.jobs import (
    daily_cycle_job,
    gene_pool_seed_job,
    import_bars_job,
    morning_plan_job,
    weekly_evolution_job,
)
from trade_pipelines.resources import MarketDataResource, MemoryIndexResource, WarehouseResource
from trade_pipelines.sensors import SCHEDULES, SENSORS


def build_resources(symbols: str = "", source: str = "builtin") -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(),
        "market_data": MarketDataResource(source=source, symbols=symbols),
        "memory_index": MemoryIndexResource(),
    }


defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=[],
    jobs=[daily_cycle_job, morning_plan_job, weekly_evolution_job, gene_pool_seed_job,
          import_bars_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=build_resources(),
)
