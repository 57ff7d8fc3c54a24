"""The agent's layers wired together once. Each function is one step of the day cycle:
its Dagster asset calls it with data read from the warehouse, and the in-memory
simulation (``simulation.py``) chains the same functions with data held in memory, so
the two cannot drift apart (a test proves they give the same ledger)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd

from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.proposals import COLUMNS as PROPOSAL_COLUMNS
from trade_pipelines.agent.decision.proposals import propose_for_window
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.evaluation import TRADEABLE, all_outcomes, evaluate_pool
from trade_pipelines.agent.evolution.genomes import GENOMES
from trade_pipelines.agent.execution.broker import ADV_SESSIONS
from trade_pipelines.agent.execution.ledger import Ledger, LedgerState
from trade_pipelines.agent.loop.trading_loop import TradingLoop
from trade_pipelines.agent.loop.variant import FULL_AGENT, AgentVariant
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook
from trade_pipelines.agent.perception.features import equal_weight_index
from trade_pipelines.agent.perception.regime import detect_regimes, market_breadth
from trade_pipelines.agent.planning.daily_plan import make_plans

PLAN_COLUMNS = ["as_of", "regime", "stance", "exposure_target", "watchlist", "key_levels",
                "tasks"]


def with_breadth(features: pd.DataFrame) -> pd.DataFrame:
    """Features with the market's breadth that day (share of stocks above their 50-day
    average), which the sentiment genomes read."""
    if features.empty:
        return features.assign(breadth=pd.Series(dtype=float))
    return features.merge(market_breadth(features), left_on="as_of", right_index=True,
                          how="left")


def market_regimes(benchmark: pd.DataFrame, features: pd.DataFrame, vix: pd.DataFrame,
                   universe_bars: pd.DataFrame | None = None) -> pd.DataFrame:
    """Regimes per day from the benchmark's bars; with none, from an equal-weighted index
    of ``universe_bars`` (pass every bar from the first one: an index rebased at a
    window's start would jump at window boundaries)."""
    if benchmark.empty:
        if universe_bars is None or universe_bars.empty:
            raise ValueError("no bars for the benchmark or the universe: import bars or "
                             "pick another range")
        benchmark = equal_weight_index(universe_bars)
    return detect_regimes(benchmark, features, vix)


def evaluate_gene_pool(features: pd.DataFrame, evaluation_days: list[date],
                       prior_status: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What every genome's past signals did (from all of ``features``' history) and the
    gene pool's evaluations at each of ``evaluation_days``."""
    genomes = list(GENOMES.values())
    outcomes = all_outcomes(genomes, features)
    return outcomes, evaluate_pool(genomes, outcomes, evaluation_days, dict(prior_status))


def session_plans(regimes: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The plan made after each close for the next session, as warehouse rows."""
    return pd.DataFrame([plan.row() for plan in make_plans(regimes, features)],
                        columns=PLAN_COLUMNS)


def trade_proposals(features: pd.DataFrame, evaluations: pd.DataFrame) -> pd.DataFrame:
    """The aggressive agent's candidates from the tradeable genomes' signals."""
    return propose_for_window(features, evaluations, GENOMES, TRADEABLE)[PROPOSAL_COLUMNS]


def trading_bars(bars: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The bars the ledger fills at, with each symbol's volatility (for slippage) and its
    average daily volume over the sessions before (for the volume cap; pass the history
    before the window too, or the window's first days have none)."""
    ordered = bars[["symbol", "as_of", "open", "close", "volume"]].sort_values(
        ["symbol", "as_of"], kind="mergesort")
    adv = ordered.groupby("symbol", sort=False)["volume"].transform(
        lambda v: v.shift(1).rolling(ADV_SESSIONS, min_periods=ADV_SESSIONS).mean())
    return ordered.assign(adv=adv).merge(
        features[["symbol", "as_of", "vol_20"]], on=["symbol", "as_of"], how="left")


def trading_loop(features: pd.DataFrame, regimes: pd.DataFrame, plans: pd.DataFrame,
                 outcomes: pd.DataFrame, regime_by_day: Mapping[date, str],
                 state: LedgerState | None = None, memories: pd.DataFrame | None = None,
                 earlier_decisions: pd.DataFrame | None = None,
                 variant: AgentVariant = FULL_AGENT) -> TradingLoop:
    """The day loop over a window (its features, regimes and plans), continuing from a
    ledger state, the memories formed before and the debates behind carried positions."""
    exposure = dict(zip(plans["as_of"], plans["exposure_target"], strict=True))
    deliberation = Deliberation(features, regimes, exposure, SetupBook(outcomes), GENOMES,
                                recall=variant.memory, argue=variant.debate)
    return TradingLoop(deliberation, Ledger(state or LedgerState(), GENOMES),
                       MemoryBook(memories), DecisionIndex(earlier_decisions),
                       regime_by_day, GENOMES)
