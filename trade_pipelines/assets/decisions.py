"""Decision: trade proposals and the multi-agent debate over each of them."""


import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.debate import Evidence, debate
from trade_pipelines.agent.gene_pool import GENOMES, TRADEABLE, all_outcomes
from trade_pipelines.agent.memory import recall
from trade_pipelines.agent.proposals import propose
from trade_pipelines.agent.setups import SetupBook
from trade_pipelines.assets.common import (
    markdown_preview,
    partition_window,
    progress,
    to_dates,
)
from trade_pipelines.assets.market import WRITER_TAGS, market_features, market_regime
from trade_pipelines.assets.planning import daily_plans
from trade_pipelines.assets.strategy import features_with_breadth, strategy_evaluations
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import MarketDataResource, WarehouseResource

PROPOSAL_COLUMNS = ["as_of", "proposal_id", "symbol", "side", "strategy_id", "strength",
                    "rationale"]


def _latest_before(evaluations: pd.DataFrame, day) -> pd.DataFrame:
    known = evaluations[evaluations["as_of"] < day]
    return known[known["as_of"] == known["as_of"].max()] if not known.empty else known


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="decision",
       deps=[market_features, market_regime, strategy_evaluations], op_tags=WRITER_TAGS)
def trade_proposals(context: AssetExecutionContext, warehouse: WarehouseResource,
                    market_data: MarketDataResource) -> MaterializeResult:
    """The aggressive agent's candidates: entries signalled by the tradeable genomes,
    ranked by each genome's latest score (known before the day) and signal strength."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    features = features_with_breadth(store, market_data.universe(), start, end)
    # as_of stays a timestamp here: the evaluations are searched once per week below
    evaluations = store.query(
        "SELECT as_of, strategy_id, score, status FROM strategy_evaluations "
        "WHERE as_of BETWEEN ? AND ?", [start - pd.Timedelta(days=14), end])
    evaluations["as_of"] = pd.to_datetime(evaluations["as_of"])
    frames = []
    # Days that see the same latest evaluation (the pool between two weekly evaluations)
    # share genomes and scores, so they are proposed for together; each day is still
    # ranked on its own rows.
    known = pd.Series(evaluations["as_of"].sort_values().unique())
    span = known.searchsorted(pd.to_datetime(features["as_of"]), side="left")
    spans = list(features.groupby(span, sort=True)) if not features.empty else []
    for _, span_features in progress(spans, "trade proposals", len(spans)):
        latest = _latest_before(evaluations, pd.Timestamp(span_features["as_of"].min()))
        if latest.empty:  # before the first evaluation every seeded genome may trade
            genomes, scores = list(GENOMES.values()), {}
        else:
            tradeable = latest[latest["status"].isin(TRADEABLE)]
            genomes = [GENOMES[s] for s in tradeable["strategy_id"] if s in GENOMES]
            scores = dict(zip(latest["strategy_id"], latest["score"], strict=True))
        frames.append(propose(span_features, genomes, scores))
    frames = [f for f in frames if not f.empty]
    proposals = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=PROPOSAL_COLUMNS)
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
                                   [start, end]), "as_of").set_index("as_of")
    plans = to_dates(store.query("SELECT as_of, exposure_target FROM plans "
                                 "WHERE as_of BETWEEN ? AND ?", [start, end]), "as_of")
    exposure = dict(zip(plans["as_of"], plans["exposure_target"], strict=True))
    memories = to_dates(store.query(
        "SELECT as_of, memory_id, symbol, strategy_id, regime, importance, outcome_return, "
        "text FROM memories WHERE as_of < ?", [start]), "as_of")
    book = SetupBook(all_outcomes(list(GENOMES.values()), features))
    feature_rows = features.set_index(["symbol", "as_of"])
    rows = []
    for p in progress(proposals.itertuples(), "debate decisions", len(proposals)):
        f = feature_rows.loc[(p.symbol, p.as_of)]
        regime = regimes.loc[p.as_of]
        genome = GENOMES[p.strategy_id]
        evidence = Evidence(
            as_of=p.as_of, proposal_id=p.proposal_id, symbol=p.symbol, side=p.side,
            strategy_id=p.strategy_id, strategy_name=genome.name, family=genome.family,
            strength=float(p.strength), close=float(f["close"]), ret_20d=float(f["ret_20d"]),
            vol_20=float(f["vol_20"]), rsi_14=float(f["rsi_14"]),
            above_sma_200=bool(f["close"] > f["sma_200"]) if pd.notna(f["sma_200"]) else False,
            regime=str(regime["regime"]), defensive=bool(regime["defensive"]),
            exposure_target=float(exposure.get(p.as_of, 0.6)),
            record=book.record(p.strategy_id, p.symbol, p.as_of),
            memories=recall(memories, p.as_of, p.symbol, p.strategy_id, str(regime["regime"])),
        )
        rows.append(debate(evidence).row())
    decisions = pd.DataFrame(rows)
    if decisions.empty:
        decisions = pd.DataFrame(columns=["as_of", "decision_id"])
    counts = store.replace_days({"decisions": decisions}, start, end)
    verdicts = decisions["verdict"].value_counts().to_dict() if "verdict" in decisions else {}
    return MaterializeResult(metadata={
        "rows": counts["decisions"], "verdicts": MetadataValue.json(verdicts),
        "low_certainty": int(decisions["low_certainty"].sum()) if len(rows) else 0,
        "preview": markdown_preview(decisions.drop(columns=["transcript"], errors="ignore")
                                    .tail(10))})
