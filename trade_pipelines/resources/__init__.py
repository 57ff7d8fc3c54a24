"""Dagster resources: the warehouse, market data and the memory index.

Each carries its configuration as fields (the home folder, the data source, the traded
symbols), set once where the Definitions are built, so the Dagster UI shows what a run
used and no method reads the environment behind its back.
"""

from datetime import date
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from trade_pipelines.agent.decision.llm import config as llm_settings
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


# Each ReasonerResource field and the variable it comes from.
REASONER_VARIABLES = {
    "model": llm_settings.MODEL, "deep_model": llm_settings.DEEP_MODEL,
    "base_url": llm_settings.BASE_URL, "knowledge_cutoff": llm_settings.KNOWLEDGE_CUTOFF,
    "deep_knowledge_cutoff": llm_settings.DEEP_KNOWLEDGE_CUTOFF,
    "daily_tokens": llm_settings.DAILY_TOKENS, "daily_usd": llm_settings.DAILY_USD,
    "prices": llm_settings.PRICES, "concurrency": llm_settings.CONCURRENCY,
    "timeout": llm_settings.TIMEOUT, "anonymise": llm_settings.ANONYMISE,
}


class ReasonerResource(ConfigurableResource):
    """Who argues the debate: the deterministic reasoner (no model named), or an LLM on
    any OpenAI-compatible endpoint (agent/decision/llm/). The fields are what the Dagster
    UI shows of a run's reasoner; the API key is not one of them: it is read from
    $OPENAI_API_KEY only when a reasoner is built."""

    model: str = Field(default="", description="$TRADE_PIPELINES_LLM_MODEL: the debate's "
                                               "model; empty: the deterministic reasoner.")
    deep_model: str = Field(default="", description="$TRADE_PIPELINES_LLM_DEEP_MODEL: the "
                                                    "judge's model (default: the model).")
    base_url: str = Field(default="", description="$OPENAI_BASE_URL: the endpoint.")
    knowledge_cutoff: str = Field(default="", description="The model's training cut-off "
                                  "(ISO date): replays before it are labelled pre-cut-off.")
    deep_knowledge_cutoff: str = Field(default="", description="The judge model's cut-off.")
    daily_tokens: str = Field(default="", description="Tokens a trading day may spend.")
    daily_usd: str = Field(default="", description="US dollars a trading day may spend.")
    prices: str = Field(default="", description="model=IN/OUT USD per million tokens, "
                                                "over the built-in price table.")
    concurrency: str = Field(default="", description="Calls in flight at once (default 4).")
    timeout: str = Field(default="", description="Seconds a call may take (default 60).")
    anonymise: str = Field(default="", description="1: prompts alias symbols and shift "
                                                   "dates.")
    home: str = Field(default="", description="The project home: its llm_cache.duckdb "
                                              "holds every call's answer.")


    @classmethod
    def from_environment(cls, home: str) -> "ReasonerResource":
        """From the variables set (none: the deterministic reasoner)."""
        import os

        return cls(home=home, **{field: os.environ[name].strip()
                                 for field, name in REASONER_VARIABLES.items()
                                 if (os.environ.get(name) or "").strip()})

    def environment(self) -> dict[str, str]:
        """The fields as the variables the LLM configuration reads, with the key."""
        import os

        env = {name: str(getattr(self, field)) for field, name in REASONER_VARIABLES.items()
               if str(getattr(self, field)).strip()}
        key = os.environ.get(llm_settings.API_KEY, "")
        if key:
            env[llm_settings.API_KEY] = key
        return env

    def config(self) -> llm_settings.LLMConfig | None:
        """The LLM configuration, or None for the deterministic reasoner."""
        if not self.model.strip():
            return None
        return llm_settings.LLMConfig.from_env(self.environment())

    def reasoner(self, rules: MarketRules):  # -> LLMReasoner | None
        """The LLM reasoner, its calls cached in the home's llm_cache.duckdb and each
        call's data window bounded by the market's session close; None for the
        deterministic reasoner."""
        config = self.config()
        if config is None:
            return None
        from trade_pipelines.agent.decision.llm import LLMReasoner, market_close

        return LLMReasoner(config, Paths(Path(self.home)).ensure().llm_cache,
                           session_close=market_close(rules))

    def fingerprint(self) -> list[tuple[str, str]]:
        """What changes the decisions: part of each month's checkpoint, so switching the
        reasoner, its model, its endpoint or its budget recomputes the months. The
        concurrency is in it (a budget is checked between batches of that many debates, so
        it sets where a day's budget runs out); the key and the time-out are not."""
        if not self.model.strip():
            return [("reasoner", "deterministic")]
        kept = ("model", "deep_model", "base_url", "knowledge_cutoff",
                "deep_knowledge_cutoff", "daily_tokens", "daily_usd", "prices", "anonymise",
                "concurrency")
        return [("reasoner", "llm"), *((f, str(getattr(self, f))) for f in kept)]
