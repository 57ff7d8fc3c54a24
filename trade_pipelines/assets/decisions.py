"""Decision: trade proposals and the multi-agent debate over each of them."""

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.loop.wiring import trade_proposals as trade_proposals_for
from trade_pipelines.assets.common import (
    FEATURE_HISTORY,
    WAREHOUSE_POOL,
    kept_rows,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.assets.market import market_features, market_regime
from trade_pipelines.assets.strategy import known_genomes, probation_by, strategy_evaluations
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse.checkpoints import MonthSlice, WindowCheckpoint


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="decision",
       deps=[market_features, market_regime, strategy_evaluations, "market_sentiment"],
       pool=WAREHOUSE_POOL)
def trade_proposals(context: AssetExecutionContext, warehouse: WarehouseResource,
                    market_data: MarketDataResource) -> MaterializeResult:
    """The aggressive agent's candidates: entries signalled by the tradeable genomes,
    ranked by each genome's latest score (known before the day) and signal strength."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    # The window's features and breadth as the perception assets stored them (features
    # have a finite look-back, so these equal a computation over all history).
    # The history before it too, so a bred genome's indicator of any window is complete.
    # With the market sentiment's fear/greed, which the sentiment genomes read.
    features = to_dates(store.query(
        "SELECT f.*, r.breadth, s.fear_greed FROM features f LEFT JOIN regimes r "
        "USING (as_of) LEFT JOIN market_sentiment s ON s.as_of = f.as_of AND s.market = ? "
        "WHERE f.as_of BETWEEN ? AND ? AND list_contains(?, f.symbol) "
        "ORDER BY f.symbol, f.as_of",
        [market_data.rules().code, start - FEATURE_HISTORY, end, market_data.universe()]),
        "as_of")
    evaluations = store.query(
        "SELECT as_of, strategy_id, score, status FROM strategy_evaluations "
        "WHERE as_of BETWEEN ? AND ?", [start - pd.Timedelta(days=14), end])
    genomes = known_genomes(store, end)
    probation = probation_by(store, end)
    checkpoint = WindowCheckpoint(store, "trade_proposals", MonthSlice(start, end), features,
                                  evaluations, sorted(genomes), sorted(probation.born.items()),
                                  sorted(probation.promoted.items()))
    if checkpoint.kept:
        return MaterializeResult(metadata=kept_rows(store, "proposals", start, end))
    proposals = trade_proposals_for(features, evaluations, genomes, start, probation)
    checkpoint.commit({"proposals": proposals})
    return MaterializeResult(metadata={
        "rows": len(proposals),
        "by_strategy": MetadataValue.json(proposals["strategy_id"].value_counts().to_dict()
                                          if not proposals.empty else {}),
        "preview": markdown_preview(proposals.tail(10))})
