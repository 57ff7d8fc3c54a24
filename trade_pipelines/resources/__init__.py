"""Dagster resources: the warehouse, market data, the memory index and the pause switch."""


from dagster import ConfigurableResource

from trade_pipelines.control import PauseState, read_pause_state
from trade_pipelines.settings import Paths, paths
from trade_pipelines.warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse under the project home (``$TRADE_PIPELINES_HOME``)."""

    def paths(self) -> Paths:
        return paths()

    def warehouse(self) -> Warehouse:
        warehouse = Warehouse(paths().warehouse)
        warehouse.migrate()
        return warehouse

    def pause_state(self) -> PauseState:
        return read_pause_state(paths().control)


class MarketDataResource(ConfigurableResource):
    """Which bars the agent trades: ``builtin`` data that installs with the project, or
    bars already in the warehouse (``warehouse``: imported with ``import-bars``)."""

    source: str = "builtin"
    symbols: str = ""  # comma-separated; empty means the built-in universe
    benchmark_symbol: str = "^GSPC"
    volatility_index_symbol: str = "^VIX"

    def universe(self) -> list[str]:
        from trade_pipelines.market_data.builtin import BUILTIN_UNIVERSE

        chosen = [s.strip() for s in self.symbols.split(",") if s.strip()]
        return sorted(dict.fromkeys(chosen or list(BUILTIN_UNIVERSE)))


class MemoryIndexResource(ConfigurableResource):
    """The semantic memory index (ChromaDB) under the project home."""

    def index(self):  # -> MemoryIndex; imported lazily: chromadb is slow to import
        from trade_pipelines.memory_index.index import MemoryIndex

        return MemoryIndex(paths().memory_index)
