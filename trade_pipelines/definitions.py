"""The one Definitions object."""

from pathlib import Path

from dagster import Definitions

from trade_pipelines.assets import ALL_ASSET_CHECKS, ALL_ASSETS
from trade_pipelines.home_market import configured_market
from trade_pipelines.jobs import (
    bar_self_check_job,
    daily_cycle_job,
    fetch_news_job,
    gene_pool_seed_job,
    import_bars_job,
    morning_plan_job,
    periodic_review_job,
    walk_forward_job,
    weekly_evolution_job,
)
from trade_pipelines.market_data.loading import check_source
from trade_pipelines.resources import (
    MarketDataResource,
    MemoryIndexResource,
    ReasonerResource,
    WarehouseResource,
)
from trade_pipelines.sensors import SCHEDULES, SENSORS
from trade_pipelines.settings import home_dir, source_setting, symbols_setting


def build_resources(symbols: str | None = None, source: str | None = None,
                    home: Path | str | None = None,
                    market: str | None = None) -> dict[str, object]:
    """The resources, configured from the arguments or else from the environment
    ($TRADE_PIPELINES_HOME, $TRADE_PIPELINES_SOURCE, $TRADE_PIPELINES_SYMBOLS,
    $TRADE_PIPELINES_MARKET), read
    here once: a bad source name fails when the definitions load, not at 17:00."""
    home = str(Path(home) if home is not None else home_dir())
    symbols = symbols if symbols is not None else symbols_setting()
    return {
        "warehouse": WarehouseResource(home=home),
        "market_data": MarketDataResource(
            source=check_source(source if source is not None else source_setting()),
            symbols=symbols,
            market=market if market is not None else configured_market(home, symbols),
            home=home),
        "memory_index": MemoryIndexResource(home=home),
        "reasoner": ReasonerResource.from_environment(home),
    }


defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_ASSET_CHECKS,
    jobs=[daily_cycle_job, morning_plan_job, weekly_evolution_job, gene_pool_seed_job,
          import_bars_job, walk_forward_job, bar_self_check_job, fetch_news_job,
          periodic_review_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=build_resources(),
)
