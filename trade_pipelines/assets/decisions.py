"""Decision: trade proposals and the multi-agent debate over each of them."""

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.deliberation import decide_for_window
from trade_pipelines.agent.gene_pool import GENOMES, TRADEABLE, all_outcomes
from trade_pipelines.agent.proposals import COLUMNS as PROPOSAL_COLUMNS
from trade_pipelines.agent.proposals import propose_for_window
from trade_pipelines.agent.setups import SetupBook
from trade_pipelines.assets.common import (
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.assets.market import WRITER_TAGS, market_features, market_regime
from trade_pipelines.assets.planning import daily_plans
from trade_pipelines.assets.strategy import features_with_breadth, strategy_evaluations
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import MarketDataResource, WarehouseResource


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="decision",
       deps=[market_features, market_regime, strategy_evaluations], op_tags=WRITER_TAGS)
def trade_proposals(context: AssetExecutionContext, warehouse: WarehouseResource,
                    market_data: MarketDataResource) -> MaterializeResult:
    """The aggressive agent's candidates: entries signalled by the tradeable genomes,
    ranked by each genome's latest score (known before the day) and signal strength."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    features = features_with_breadth(store, market_data.universe(), start, end)
    evaluations = store.query(
        "SELECT as_of, strategy_id, score, status FROM strategy_evaluations "
        "WHERE as_of BETWEEN ? AND ?", [start - pd.Timedelta(days=14), end])
    proposals = propose_for_window(features, evaluations, GENOMES, TRADEABLE)
    counts = store.replace_days({"proposals": proposals[PROPOSAL_COLUMNS]}, start, end)
    return MaterializeResult(metadata={
        "rows": counts["proposals"],
        "by_strategy": MetadataValue.json(proposals["strategy_id"].value_counts().to_dict()
                                          if not proposals.empty else {}),
        "preview": markdown_preview(proposals.tail(10))})


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="decision",
       deps=[trade_proposals, daily_plans, market_features, market_regime],
       op_tags=WRITER_TAGS)
def debate_decisions(context: AssetExecutionContext, warehouse: WarehouseResource,
                     market_data: MarketDataResource) -> MaterializeResult:
    """Each proposal argued by aggressive, conservative and quant agents over 3-5 rounds
    and ruled on by the judge; the transcript and the memories used are stored.

    Memories come from trades closed before this run's first day (memory is consolidated
    after each run), and the quant's record counts only outcomes known before the day.
    """
    start, end = partition_window(context)
    store = warehouse.warehouse()
    proposals = to_dates(store.query("SELECT * FROM proposals WHERE as_of BETWEEN ? AND ? "
                                     "ORDER BY as_of, proposal_id", [start, end]), "as_of")
    features = features_with_breadth(store, market_data.universe(), None, end)
    regimes = to_dates(store.query("SELECT * FROM regimes WHERE as_of BETWEEN ? AND ?",
                                   [start, end]), "as_of")
    plans = to_dates(store.query("SELECT as_of, exposure_target FROM plans "
                                 "WHERE as_of BETWEEN ? AND ?", [start, end]), "as_of")
    exposure = dict(zip(plans["as_of"], plans["exposure_target"], strict=True))
    memories = to_dates(store.query(
        "SELECT as_of, memory_id, symbol, strategy_id, regime, importance, outcome_return, "
        "text FROM memories WHERE as_of < ?", [start]), "as_of")
    book = SetupBook(all_outcomes(list(GENOMES.values()), features))
    decisions = decide_for_window(proposals, features, regimes, exposure, memories, book,
                                  GENOMES)
    if decisions.empty:
        decisions = pd.DataFrame(columns=["as_of", "decision_id"])
    counts = store.replace_days({"decisions": decisions}, start, end)
    verdicts = decisions["verdict"].value_counts().to_dict() if "verdict" in decisions else {}
    return MaterializeResult(metadata={
        "rows": counts["decisions"], "verdicts": MetadataValue.json(verdicts),
        "low_certainty": int(decisions["low_certainty"].sum()) if "verdict" in decisions
        else 0,
        "preview": markdown_preview(decisions.drop(columns=["transcript"], errors="ignore")
                                    .tail(10))})
