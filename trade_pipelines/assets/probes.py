"""The LLM reasoner's honesty probes, as asset checks on the debate's decisions: their
scores show in the Dagster UI beside every materialisation (agent/decision/probes.py).
With the deterministic reasoner there is no model to probe, and they pass saying so."""

import math

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from trade_pipelines.agent.decision.debate import Evidence, SetupRecord
from trade_pipelines.agent.decision.probes import (
    RECALL_TOLERANCE,
    KnownMove,
    ProbeResult,
    counterfactual_probe,
    recall_probe,
)
from trade_pipelines.assets.common import WAREHOUSE_POOL
from trade_pipelines.resources import MarketDataResource, ReasonerResource, WarehouseResource

DEBATE_DECISIONS = AssetKey("debate_decisions")
RECALL_QUESTIONS = 10
RECALL_SESSIONS = 20
COUNTERFACTUAL_PROPOSALS = 5
# The record the counterfactual probe's proposals start from: a modest, real-looking edge,
# so the turned evidence has something to take away.
SUPPORTIVE_RECORD = SetupRecord(n=60, win_rate=0.6, expectancy=0.01, payoff=1.3, symbol_n=8,
                                symbol_win_rate=0.62)


def _deterministic() -> AssetCheckResult:
    return AssetCheckResult(passed=True, metadata={
        "reasoner": "deterministic", "note": "no model to probe: the debate's figures are "
                                             "computed from data known by each day"})


def _result(result: ProbeResult, describe: dict, severity: AssetCheckSeverity,
            ) -> AssetCheckResult:
    return AssetCheckResult(
        passed=result.passed, severity=severity,
        metadata={"reasoner": "llm", "model": str(describe.get("model")),
                  "score": round(result.score, 4), "trials": result.trials,
                  "details": MetadataValue.md(pd.DataFrame(result.details).to_markdown(
                      index=False) if result.details else "_no trial_")})


@asset_check(asset=DEBATE_DECISIONS, name="llm_recall_probe", pool=WAREHOUSE_POOL,
             description="Asks the LLM for the closes of decided days and of 20 sessions "
                         "later, which it should not know; more than 20% of the moves "
                         "named within 1% warns that the replay's decisions may use "
                         "hindsight (a model before its cut-off).")
def llm_recall_probe(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                     market_data: MarketDataResource,
                     reasoner: ReasonerResource) -> AssetCheckResult:
    llm = reasoner.reasoner(market_data.rules())
    if llm is None:
        return _deterministic()
    # Decided days' closes and the close 20 sessions later (adjusted data: the ratio is
    # what a model that remembers printed prices gets right), up to its cut-off.
    cutoff = llm.knowledge_cutoff()
    sample = warehouse.warehouse().query(
        "WITH later AS (SELECT symbol, as_of, close, lead(as_of, ?) OVER w AS last_day, "
        "lead(close, ?) OVER w AS last_close FROM bars WINDOW w AS (PARTITION BY symbol "
        "ORDER BY as_of)) SELECT l.* FROM (SELECT DISTINCT symbol, as_of FROM decisions) d "
        "JOIN later l USING (symbol, as_of) WHERE l.last_day IS NOT NULL "
        # a move a flat guess would match proves nothing; a day after the model's
        # cut-off it cannot remember
        "AND abs(l.last_close / l.close - 1) >= ? AND (CAST(? AS DATE) IS NULL "
        "OR l.last_day <= CAST(? AS DATE)) "
        "ORDER BY md5(d.symbol || CAST(d.as_of AS VARCHAR)) LIMIT ?",
        [RECALL_SESSIONS, RECALL_SESSIONS, 2 * RECALL_TOLERANCE, cutoff, cutoff,
         RECALL_QUESTIONS])
    moves = [KnownMove(r.symbol, pd.Timestamp(r.as_of).date(), float(r.close),
                       pd.Timestamp(r.last_day).date(), float(r.last_close))
             for r in sample.itertuples()
             if math.isfinite(float(r.close)) and math.isfinite(float(r.last_close))]
    result = recall_probe(llm.recall_close, moves)
    context.log.info(f"recall probe: {result.score:.0%} of {result.trials} moves named "
                     f"within {RECALL_TOLERANCE:.0%}")
    return _result(result, llm.config.describe(), AssetCheckSeverity.WARN)


@asset_check(asset=DEBATE_DECISIONS, name="llm_counterfactual_probe", pool=WAREHOUSE_POOL,
             description="Argues the latest decided proposals again, once as stored and once "
                         "with the evidence turned against them; fails when fewer than 80% "
                         "lose confidence (the model is not reading its evidence), or when "
                         "no pair was argued by the model (it fell back every time).")
def llm_counterfactual_probe(context: AssetCheckExecutionContext,
                             warehouse: WarehouseResource, market_data: MarketDataResource,
                             reasoner: ReasonerResource) -> AssetCheckResult:
    llm = reasoner.reasoner(market_data.rules())
    if llm is None:
        return _deterministic()
    rows = warehouse.warehouse().query(
        "SELECT d.as_of, d.proposal_id, d.symbol, d.side, d.strategy_id, s.name, s.family, "
        "f.close, f.ret_20d, f.vol_20, f.rsi_14, f.close > f.sma_200 AS above_sma_200, "
        "r.regime FROM decisions d JOIN features f USING (symbol, as_of) "
        "JOIN strategies s USING (strategy_id) JOIN regimes r USING (as_of) "
        "ORDER BY d.as_of DESC, d.proposal_id LIMIT ?", [COUNTERFACTUAL_PROPOSALS])
    evidences = [Evidence(
        as_of=pd.Timestamp(r.as_of).date(), proposal_id=f"probe-{r.proposal_id}",
        symbol=r.symbol, side=r.side, strategy_id=r.strategy_id, strategy_name=r.name,
        family=r.family, strength=0.6, close=float(r.close), ret_20d=float(r.ret_20d),
        vol_20=float(r.vol_20), rsi_14=float(r.rsi_14),
        above_sma_200=bool(r.above_sma_200) if pd.notna(r.above_sma_200) else False,
        regime=str(r.regime), defensive=False, exposure_target=1.0,
        record=SUPPORTIVE_RECORD) for r in rows.itertuples()]
    result = counterfactual_probe(llm.decide_day, evidences, reasoner="llm")
    context.log.info(f"counterfactual probe: {result.score:.0%} of {result.trials} moved")
    return _result(result, llm.config.describe(), AssetCheckSeverity.ERROR)
