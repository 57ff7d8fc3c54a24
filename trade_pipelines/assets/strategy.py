"""Strategy evolution: the gene pool and its weekly evaluation."""


from datetime import date

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.evolution.evaluation import evaluation_days
from trade_pipelines.agent.evolution.genomes import (
    SEEDED_GENOMES,
    StrategyGenome,
    genome_from_json,
    seeded_pool,
)
from trade_pipelines.agent.evolution.lifecycle import PoolState, Probation
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
from trade_pipelines.assets.sentiment import stored_sentiment
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse import Warehouse
from trade_pipelines.warehouse.checkpoints import MonthSlice, WindowCheckpoint


@asset(group_name="strategy_evolution", pool=WAREHOUSE_POOL)
def strategy_gene_pool(warehouse: WarehouseResource) -> MaterializeResult:
    """The ten seeded genomes; the genomes bred by mutation, crossover or at random are
    added by ``strategy_evaluations`` on the day they are born."""
    store = warehouse.warehouse()
    pool = seeded_pool()
    store.upsert("strategies", pool, keys=["strategy_id"])
    sync_strategy_statuses(store)  # a seed keeps the status its evaluations gave it
    return MaterializeResult(metadata={"strategies": len(pool),
                                       "preview": markdown_preview(pool[["strategy_id", "name",
                                                                         "family"]])})


def sync_strategy_statuses(store: Warehouse) -> None:
    """Every genome's status is its latest stored evaluation's, whichever partitions ran,
    in whatever order, and whichever of them were kept from a checkpoint (re-running an
    earlier year, or re-seeding the pool, must not roll a status back)."""
    if not store.table_exists("strategy_evaluations"):
        return
    with store.transaction() as connection:
        connection.execute(
            "UPDATE strategies SET status = latest.status FROM (SELECT strategy_id, "
            "arg_max(status, as_of) AS status FROM strategy_evaluations GROUP BY "
            "strategy_id) AS latest WHERE strategies.strategy_id = latest.strategy_id")


def features_with_breadth(store: Warehouse, universe: list[str], start: date | None,
                          end: date, market: str | None = None) -> pd.DataFrame:
    """The stored features of the universe for [start, end] with the market's breadth
    and, given the ``market``, its stored fear/greed (``market_sentiment``).
    ``market_features`` and ``market_sentiment`` store the whole history up to ``end``,
    so setup records and the gene pool see every past signal whichever months were
    replayed before."""
    sentiment = stored_sentiment(store, market, end) if market is not None else None
    features = with_breadth(to_dates(store.query(
        "SELECT * FROM features WHERE as_of <= ? AND list_contains(?, symbol) "
        "ORDER BY symbol, as_of", [end, universe]), "as_of"), sentiment)
    if start is not None:
        features = features[features["as_of"] >= start]
    return features.reset_index(drop=True)


@asset(partitions_def=trading_years, backfill_policy=single_run,
       group_name="strategy_evolution", pool=WAREHOUSE_POOL,
       deps=[strategy_gene_pool, market_features, market_regime, "market_sentiment"])
def strategy_evaluations(context: AssetExecutionContext, warehouse: WarehouseResource,
                         market_data: MarketDataResource) -> MaterializeResult:
    """Every genome scored at each week's last session on the trades its signals would
    have made in the year before (win rate, Sharpe, drawdown, score, status)."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    days = evaluation_days(exchange_sessions(start, end + pd.Timedelta(days=7),
                                             market_data.rules().calendar), start, end)
    features = features_with_breadth(store, universe=market_data.universe(), start=None,
                                     end=end, market=market_data.rules().code)
    # The pool as it stood before the window: genomes born before it, the statuses of
    # the last evaluation before it and the promotions before it.
    bred = store.query("SELECT * FROM strategies WHERE origin <> 'seed' AND born_as_of < ? "
                       "ORDER BY strategy_id", [start])
    previous = store.query(
        "SELECT strategy_id, status FROM strategy_evaluations WHERE as_of = "
        "(SELECT max(as_of) FROM strategy_evaluations WHERE as_of < ?) ORDER BY strategy_id",
        [start])
    promotions = _promotions(store, start - pd.Timedelta(days=1))
    checkpoint = WindowCheckpoint(store, "strategy_evaluations", MonthSlice(start, end),
                                  features, days, previous, bred[["strategy_id", "genome"]],
                                  promotions)
    if checkpoint.kept:
        sync_strategy_statuses(store)
        return MaterializeResult(metadata=kept_rows(store, "strategy_evaluations", start, end))
    pool = evaluate_gene_pool(features, days, PoolState.from_tables(bred, previous, promotions))
    evaluations = pool.evaluations
    checkpoint.commit({"strategy_evaluations": evaluations,
                       "strategy_history": pool.history,
                       "strategies": pool.strategies(born_from=start)})
    sync_strategy_statuses(store)
    counts = {"strategy_evaluations": len(evaluations)}
    latest = evaluations[evaluations["as_of"] == evaluations["as_of"].max()] \
        if not evaluations.empty else evaluations
    births = pool.history[pool.history["event"] == "birth"]
    return MaterializeResult(metadata={
        "rows": counts["strategy_evaluations"], "evaluation_days": len(days),
        "births": len(births),
        "events": MetadataValue.json(pool.history["event"].value_counts().to_dict()),
        "status": MetadataValue.json(latest["status"].value_counts().to_dict()
                                     if not latest.empty else {}),
        "preview": markdown_preview(latest)})


def _promotions(store: Warehouse, last: date) -> pd.DataFrame:
    return to_dates(store.query(
        "SELECT strategy_id, min(as_of) AS as_of FROM strategy_history WHERE event = "
        "'promotion' AND as_of <= ? GROUP BY strategy_id ORDER BY strategy_id", [last]),
        "as_of")


def known_genomes(store: Warehouse, end: date) -> dict[str, StrategyGenome]:
    """Every genome that may have traded by ``end``: the seeded ones and those born by
    then (eliminated ones included: their positions may still be open)."""
    bred = store.query("SELECT strategy_id, genome FROM strategies WHERE origin <> 'seed' "
                       "AND born_as_of <= ? ORDER BY strategy_id", [end])
    return {**SEEDED_GENOMES, **{sid: genome_from_json(text) for sid, text
                                 in zip(bred["strategy_id"], bred["genome"], strict=True)}}


def probation_by(store: Warehouse, end: date) -> Probation:
    """Which genomes trade on probation, as known by ``end``."""
    born = to_dates(store.query("SELECT strategy_id, born_as_of FROM strategies WHERE "
                                "origin <> 'seed' AND born_as_of <= ?", [end]), "born_as_of")
    promoted = _promotions(store, end)
    return Probation(dict(zip(born["strategy_id"], born["born_as_of"], strict=True)),
                     dict(zip(promoted["strategy_id"], promoted["as_of"], strict=True)))
