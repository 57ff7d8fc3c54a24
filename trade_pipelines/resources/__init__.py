"""Dagster resources: the warehouse, market data and the memory index.

Each carries its configuration as fields (the home folder, the data source, the traded
symbols), set once where the Definitions are built, so the Dagster UI shows what a run
used and no method reads the environment behind its back.
"""

from datetime import date
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from trade_pipelines.agent.markets import MarketRules, market_of_symbols, market_rules
from trade_pipelines.board_lots import with_board_lots
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse and the other files under one project home."""

    home: str = Field(description="The project home folder (warehouse.duckdb, reports/, "
                                  "inbox/); $TRADE_PIPELINES_HOME by default.")

    def paths(self) -> Paths:
        return Paths(Path(self.home)).ensure()

    def warehouse(self) -> Warehouse:
        warehouse = Warehouse(self.paths().warehouse)
        warehouse.migrate()
        return warehouse


class MarketDataResource(ConfigurableResource):
    """Which bars the agent trades: ``builtin`` data that installs with the project (US
    to 2022-12-28; A-shares, Hong Kong and crypto to 2017-07-26), live ``yfinance``
    bars, the market's ``live`` source chain (market_data/source_chain.py), or bars
    already in the warehouse (``warehouse``: imported with ``import-bars``)."""

    source: str = Field(default="builtin",
                        description="builtin | yfinance | live | warehouse "
                                    "($TRADE_PIPELINES_SOURCE by default).")
    symbols: str = Field(default="",
                         description="Comma-separated tickers to trade; empty means the "
                                     "built-in universe ($TRADE_PIPELINES_SYMBOLS).")
    market: str = Field(default="",
                        description="us | cn | hk | crypto ($TRADE_PIPELINES_MARKET); empty: "
                                    "the symbols decide, US for the built-in universe.")
    home: str = Field(default="",
                      description="The project home, whose board_lots.csv (symbol,lot) adds "
                                  "Hong Kong board lots to the built-in ones; empty: the "
                                  "built-in lots only.")

    def rules(self) -> MarketRules:
        """The market traded: its calendar, currency, benchmark and order rules (Hong
        Kong's board lots with those of the home's ``board_lots.csv`` merged in)."""
        if self.market.strip():
            rules = market_rules(self.market)
        else:
            chosen = [s for s in self.symbols.split(",") if s.strip()]
            rules = market_rules(market_of_symbols(chosen))
        if not self.home.strip():
            return rules
        return with_board_lots(rules, Paths(Path(self.home)).board_lots)

    @property
    def benchmark_symbol(self) -> str:
        return self.rules().benchmark_symbol

    @property
    def volatility_index_symbol(self) -> str | None:
        return self.rules().volatility_index_symbol

    def universe(self) -> list[str]:
        """The symbols chosen, or else the market's built-in universe (the twenty US
        stocks; ten A-shares; seven Hong Kong stocks; Bitcoin and Litecoin)."""
        chosen = [s.strip().upper() for s in self.symbols.split(",") if s.strip()]
        if chosen:
            return sorted(dict.fromkeys(chosen))
        market = self.rules().code
        if market == "us":
            from trade_pipelines.market_data.builtin import BUILTIN_UNIVERSE

            return sorted(BUILTIN_UNIVERSE)
        from trade_pipelines.market_data.builtin_markets import builtin_universe

        return sorted(builtin_universe(market))

    def all_symbols(self) -> list[str]:
        """Everything a run loads: the universe, the benchmark and the volatility index
        (where the market has one)."""
        extra = [self.benchmark_symbol, self.volatility_index_symbol]
        return [*self.universe(), *(s for s in extra if s)]

    def session_gap(self, warehouse: Warehouse, session: date) -> str | None:
        """Why this source has no bar for ``session`` (and what to configure), or None."""
        from trade_pipelines.market_data.loading import session_gap

        return session_gap(self.source, warehouse, self.universe(), self.all_symbols(),
                           session, market=self.rules().code)


class MemoryIndexResource(ConfigurableResource):
    """The semantic memory index (ChromaDB) under the project home."""

    home: str = Field(description="The project home folder; the index lives in its "
                                  "memory_index/.")

    def index(self):  # -> MemoryIndex; imported lazily: chromadb is slow to import
        from trade_pipelines.memory_index.index import MemoryIndex

        return MemoryIndex(Paths(Path(self.home)).ensure().memory_index)
