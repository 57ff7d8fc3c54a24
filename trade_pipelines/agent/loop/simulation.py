"""The whole agent in memory: the steps of ``wiring.py``, which the assets call one by
one, chained over a date range with no Dagster and no warehouse. For research and for
measuring the agent loop alone; a test proves it gives the same ledger as a replay
through the asset graph."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import pandas as pd

from trade_pipelines.agent.evolution.evaluation import evaluation_days
from trade_pipelines.agent.evolution.lifecycle import Probation
from trade_pipelines.agent.execution.controls import ControlEvent, ControlSchedule
from trade_pipelines.agent.execution.ledger import ACCOUNTS
from trade_pipelines.agent.loop import wiring
from trade_pipelines.agent.loop.variant import FULL_AGENT, AgentVariant
from trade_pipelines.agent.markets import US, MarketRules
from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
from trade_pipelines.agent.perception.events import EventResponses
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.perception.sentiment import US_SECTORS
from trade_pipelines.agent.reflection.changes import HumanDecision
from trade_pipelines.agent.reflection.cycles import ReflectionCycle
from trade_pipelines.market_data.calendar import exchange_sessions


def run_agent_loop(bars: pd.DataFrame, start: date, end: date, universe_symbols: list[str],
                   benchmark_symbol: str, volatility_symbol: str | None,
                   controls: Iterable[ControlEvent] = (),
                   variant: AgentVariant = FULL_AGENT, rules: MarketRules = US,
                   headlines: pd.DataFrame | None = None,
                   include_generated: bool = False,
                   human: Sequence[HumanDecision] = (),
                   reflection: type[ReflectionCycle] = ReflectionCycle) -> dict:
    """Perceive, evaluate, plan, propose, debate and trade every session in [start, end]
    from ``bars`` (the warehouse's columns, all history wanted before ``start``), under
    the supervisor's control events (none by default), with the layers ``variant`` keeps,
    under the market's ``rules`` (the US by default: its calendar's weeks end the gene
    pool's evaluations); ``headlines``: the warehouse's ``news`` rows (none by default),
    which become news sentiment and headline events as in the graph (drills only with
    ``include_generated``); ``human``: the people's decisions on the reviews' changes and
    proposals; ``reflection``: the class of the reviews (a subclass changes how they
    review)."""
    bars = bars[bars["as_of"] <= end]
    universe = bars[bars["symbol"].isin(universe_symbols)]
    stock_features = compute_features(universe)
    benchmark = bars[bars["symbol"] == benchmark_symbol]
    volatility = bars[bars["symbol"] == volatility_symbol]
    sentiment = wiring.market_sentiment_rows(rules.code, benchmark, stock_features,
                                             benchmark_symbol, volatility, volatility_symbol,
                                             universe)
    features = wiring.with_breadth(stock_features, sentiment)
    regimes = wiring.market_regimes(benchmark, features, volatility, universe,
                                     rules.always_open)
    headlines = headlines if headlines is not None else pd.DataFrame()
    news = wiring.news_sentiment_rows(rules.code, headlines, start, end, include_generated)
    events = wiring.event_rows(rules.code, list(universe_symbols),
                               bars[bars["symbol"].isin([*universe_symbols, benchmark_symbol])],
                               benchmark_symbol, start, end, headlines if len(headlines) else None,
                               include_generated)
    window = features[features["as_of"] >= start]
    window_regimes = regimes[regimes["as_of"] >= start]
    days = sorted(window_regimes["as_of"])
    sessions = exchange_sessions(start, end + timedelta(days=7), rules.calendar)
    pool = wiring.evaluate_gene_pool(features, evaluation_days(sessions, start, end),
                                     evolve=variant.evolution)
    genomes = {k: v.genome for k, v in sorted(pool.state.lineages.items())}
    plans = wiring.session_plans(window_regimes, window, events)
    proposals = wiring.trade_proposals(features, pool.evaluations, genomes, start,
                                       Probation.of(pool.state))
    # The knowledge graph as the asset graph's loop starts it: regimes, no trade yet.
    knowledge = KnowledgeGraph(US_SECTORS)
    knowledge.add_regimes(regimes[["as_of", "regime"]])
    regime_by_day = dict(zip(regimes["as_of"], regimes["regime"], strict=True))
    cycle = wiring.reflection_cycle(window, window_regimes, rules, genomes, regime_by_day,
                                    events, human, variant, reflection)
    loop = wiring.trading_loop(window, window_regimes, plans, pool.outcomes, regime_by_day,
                               variant=variant, genomes=genomes,
                               probation=Probation.of(pool.state), rules=rules, news=news,
                               sentiment=sentiment[sentiment["as_of"] >= start], events=events,
                               knowledge=knowledge, reflection=cycle)
    bars_to_fill = wiring.trading_bars(universe, features)
    loop.run_days(days, bars_to_fill[bars_to_fill["as_of"] >= start],
                  window_regimes, proposals, ControlSchedule(controls),
                  responses=EventResponses.of(events))
    frames = loop.ledger.result.frames()
    decisions = loop.output.decisions_frame()
    memories = loop.output.memories_frame()
    accounts = frames["accounts"]
    last = accounts[accounts["as_of"] == accounts["as_of"].max()]
    recalled = int((decisions["memories_used"] != "[]").sum())
    return {"decisions": len(decisions), "fills": len(frames["fills"]),
            "decisions_recalling_memories": recalled,
            "memories": len(memories), "frames": {**frames, "decisions": decisions,
                                                  "memories": memories,
                                                  "changes": loop.output.changes_frame(),
                                                  "horizon_plans": loop.output.plans_frame(),
                                                  "framework_proposals":
                                                      loop.output.proposals_frame(),
                                                  "regimes": window_regimes,
                                                  "market_sentiment": sentiment[
                                                      sentiment["as_of"] >= start],
                                                  "market_events": events,
                                                  "news_sentiment": news,
                                                  "strategies": pool.strategies(),
                                                  "strategy_evaluations": pool.evaluations,
                                                  "strategy_history": pool.history},
            # every genome the gene pool held (its trials, for the deflated Sharpe)
            "genomes": list(genomes.values()),
            "equity": {a: float(last.loc[last["account"] == a, "equity"].iloc[0])
                       for a in ACCOUNTS}}
