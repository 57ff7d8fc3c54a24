"""Strategy evolution: the gene pool and its weekly evaluation."""


from datetime import date

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.evolution.evaluation import week_ends
from trade_pipelines.agent.evolution.genomes import seeded_pool
from trade_pipelines.agent.loop.wiring import evaluate_gene_pool, with_breadth
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    exchange_sessions,
    kept_rows,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.assets.market import market_features, market_regime
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse import Warehouse
from trade_pipelines.warehouse.checkpoints import MonthSlice, WindowCheckpoint


@asset(group_name="strategy_evolution", pool=WAREHOUSE_POOL)
def strategy_gene_pool(warehouse: WarehouseResource) -> MaterializeResult:
    """The genomes the agent may trade: the ten seeded strategies (mutation, crossover
    and wild strategies add to this table later)."""
    store = warehouse.warehouse()
    pool = seeded_pool()
    store.upsert("strategies", pool, keys=["strategy_id"])
    return MaterializeResult(metadata={"strategies": len(pool),
                                       "preview": markdown_preview(pool[["strategy_id", "name",
                                                                         "family"]])})


def features_with_breadth(store: Warehouse, universe: list[str], start: date | None,
                          end: date) -> pd.DataFrame:
    """The stored features of the universe for [start, end] with the market's breadth.
    ``market_features`` stores the whole history up to ``end``, so setup records and the
    gene pool see every past signal whichever months were replayed before."""
    features = with_breadth(to_dates(store.query(
        "SELECT * FROM features WHERE as_of <= ? AND list_contains(?, symbol) "
        "ORDER BY symbol, as_of", [end, universe]), "as_of"))
    if start is not None:
        features = features[features["as_of"] >= start]
    return features.reset_index(drop=True)


@asset(partitions_def=trading_years, backfill_policy=single_run,
       group_name="strategy_evolution", pool=WAREHOUSE_POOL,
       deps=[strategy_gene_pool, market_features, market_regime])
def strategy_evaluations(context: AssetExecutionContext, warehouse: WarehouseResource,
                         market_data: MarketDataResource) -> MaterializeResult:
    """Every genome scored at each week's last session on the trades its signals would
    have made in the year before (win rate, Sharpe, drawdown, score, status)."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    days = [d for d in week_ends(exchange_sessions(start, end + pd.Timedelta(days=7)))
            if start <= d <= end]
    features = features_with_breadth(store, market_data.universe(), None, end)
    previous = store.query(
        "SELECT strategy_id, status FROM strategy_evaluations WHERE as_of = "
        "(SELECT max(as_of) FROM strategy_evaluations WHERE as_of < ?)", [start])
    prior = dict(zip(previous["strategy_id"], previous["status"], strict=True)) \
        if not previous.empty else {}
    checkpoint = WindowCheckpoint(store, "strategy_evaluations", MonthSlice(start, end),
                                  features, days, sorted(prior.items()))
    if checkpoint.kept:
        return MaterializeResult(metadata=kept_rows(store, "strategy_evaluations", start, end))
    _, evaluations = evaluate_gene_pool(features, days, prior)
    checkpoint.commit({"strategy_evaluations": evaluations})
    counts = {"strategy_evaluations": len(evaluations)}
    latest = evaluations[evaluations["as_of"] == evaluations["as_of"].max()] \
        if not evaluations.empty else evaluations
    return MaterializeResult(metadata={
        "rows": counts["strategy_evaluations"], "evaluation_days": len(days),
        "status": MetadataValue.json(latest["status"].value_counts().to_dict()
                                     if not latest.empty else {}),
        "preview": markdown_preview(latest)})
