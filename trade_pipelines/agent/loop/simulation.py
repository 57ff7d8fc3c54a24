"""The whole agent in memory: the same functions the assets call, driven over a date
range with no Dagster and no warehouse. For research and for measuring the agent loop
alone; a test proves it gives the same ledger as a replay through the asset graph."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.proposals import propose_for_window
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.evaluation import TRADEABLE, all_outcomes, evaluate_pool
from trade_pipelines.agent.evolution.evaluation import week_ends as last_sessions_of_weeks
from trade_pipelines.agent.evolution.genomes import GENOMES
from trade_pipelines.agent.execution.controls import ControlEvent, ControlSchedule
from trade_pipelines.agent.execution.ledger import ACCOUNTS, Ledger, LedgerState
from trade_pipelines.agent.loop.trading_loop import TradingLoop
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.perception.regime import detect_regimes, market_breadth
from trade_pipelines.agent.planning.daily_plan import make_plans


def run_agent_loop(bars: pd.DataFrame, start: date, end: date, universe_symbols: list[str],
                   benchmark_symbol: str, volatility_symbol: str,
                   controls: Iterable[ControlEvent] = ()) -> dict:
    """Perceive, evaluate, plan, propose, debate and trade every session in [start, end]
    from ``bars`` (the warehouse's columns, all history wanted before ``start``), under
    the supervisor's control events (none by default)."""
    bars = bars[bars["as_of"] <= end]
    universe = bars[bars["symbol"].isin(universe_symbols)]
    features = compute_features(universe)
    features = features.merge(market_breadth(features), left_on="as_of", right_index=True,
                              how="left")
    regimes = detect_regimes(bars[bars["symbol"] == benchmark_symbol], features,
                             bars[bars["symbol"] == volatility_symbol])
    genomes = list(GENOMES.values())
    outcomes = all_outcomes(genomes, features)
    window = features[features["as_of"] >= start]
    window_regimes = regimes[regimes["as_of"] >= start]
    days = sorted(window_regimes["as_of"])
    evaluations = evaluate_pool(genomes, outcomes, last_sessions_of_weeks(days), {})
    plans = list(make_plans(window_regimes, window))
    exposure = {plan.as_of: plan.exposure_target for plan in plans}
    proposals = propose_for_window(window, evaluations, GENOMES, TRADEABLE)
    deliberation = Deliberation(window, window_regimes, exposure, SetupBook(outcomes), GENOMES)
    loop = TradingLoop(deliberation, Ledger(LedgerState(), GENOMES), MemoryBook(),
                       DecisionIndex(), dict(zip(regimes["as_of"], regimes["regime"],
                                                 strict=True)), GENOMES)
    bars_with_volatility = universe[universe["as_of"] >= start].merge(
        features[["symbol", "as_of", "vol_20"]], on=["symbol", "as_of"], how="left")
    loop.run_days(days, bars_with_volatility, window_regimes, proposals,
                  ControlSchedule(controls))
    frames = loop.ledger.result.frames()
    decisions = loop.output.decisions_frame()
    memories = loop.output.memories_frame()
    accounts = frames["accounts"]
    last = accounts[accounts["as_of"] == accounts["as_of"].max()]
    recalled = int((decisions["memories_used"] != "[]").sum())
    return {"decisions": len(decisions), "fills": len(frames["fills"]),
            "decisions_recalling_memories": recalled,
            "memories": len(memories), "frames": {**frames, "decisions": decisions,
                                                  "memories": memories},
            "equity": {a: float(last.loc[last["account"] == a, "equity"].iloc[0])
                       for a in ACCOUNTS}}
