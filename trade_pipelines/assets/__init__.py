"""Thin Dagster wiring, one module per layer of the agent."""

from trade_pipelines.assets.decisions import debate_decisions, trade_proposals
from trade_pipelines.assets.ledger import paper_ledger
from trade_pipelines.assets.market import market_bars, market_features, market_regime
from trade_pipelines.assets.memory import trade_memories
from trade_pipelines.assets.planning import daily_plans
from trade_pipelines.assets.reports import daily_reports
from trade_pipelines.assets.strategy import strategy_evaluations, strategy_gene_pool

REPLAYABLE_ASSETS = [
    market_bars, market_features, market_regime, strategy_evaluations, daily_plans,
    trade_proposals, debate_decisions, paper_ledger, trade_memories, daily_reports,
]
ALL_ASSETS = [strategy_gene_pool, *REPLAYABLE_ASSETS]
