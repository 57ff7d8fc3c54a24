"""Thin Dagster wiring, one module per layer of the agent."""

from trade_pipelines.assets.decisions import trade_proposals
from trade_pipelines.assets.evaluation import walk_forward_scoreboard
from trade_pipelines.assets.knowledge import knowledge_graph
from trade_pipelines.assets.market import (
    market_bars,
    market_features,
    market_regime,
    stored_bars_self_check,
)
from trade_pipelines.assets.memory import memory_index
from trade_pipelines.assets.news import news_sentiment
from trade_pipelines.assets.planning import daily_plans
from trade_pipelines.assets.probes import llm_counterfactual_probe, llm_recall_probe
from trade_pipelines.assets.reports import daily_reports, horizon_reviews
from trade_pipelines.assets.sentiment import market_anomalies, market_events, market_sentiment
from trade_pipelines.assets.strategy import strategy_evaluations, strategy_gene_pool
from trade_pipelines.assets.trading import daily_trading_loop

REPLAYABLE_ASSETS = [
    market_bars, market_features, market_regime, market_sentiment, market_anomalies,
    market_events, news_sentiment, strategy_evaluations, daily_plans,
    trade_proposals, daily_trading_loop, memory_index, knowledge_graph, daily_reports,
    horizon_reviews,
]
ALL_ASSETS = [strategy_gene_pool, *REPLAYABLE_ASSETS, walk_forward_scoreboard]
# The LLM's honesty probes run wherever the debate's decisions are materialised.
REASONER_PROBES = [llm_recall_probe, llm_counterfactual_probe]
ALL_ASSET_CHECKS = [stored_bars_self_check, *REASONER_PROBES]
