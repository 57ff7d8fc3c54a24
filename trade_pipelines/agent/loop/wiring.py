"""The agent's layers wired together once. Each function is one step of the day cycle:
its Dagster asset calls it with data read from the warehouse, and the in-memory
simulation (``simulation.py``) chains the same functions with data held in memory, so
the two cannot drift apart (a test proves they give the same ledger)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import pandas as pd

from trade_pipelines.agent.decision.calibration import JudgeCalibration
from trade_pipelines.agent.decision.deliberation import Deliberation, Reasoner
from trade_pipelines.agent.decision.proposals import COLUMNS as PROPOSAL_COLUMNS
from trade_pipelines.agent.decision.proposals import propose_for_window
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.evaluation import TRADEABLE
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES, StrategyGenome, with_indicators
from trade_pipelines.agent.evolution.lifecycle import GenePool, PoolRun, PoolState, Probation
from trade_pipelines.agent.execution.broker import ADV_SESSIONS
from trade_pipelines.agent.execution.ledger import Ledger, LedgerState
from trade_pipelines.agent.loop.trading_loop import TradingLoop
from trade_pipelines.agent.loop.variant import FULL_AGENT, AgentVariant
from trade_pipelines.agent.markets import US, MarketRules, market_rules
from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook
from trade_pipelines.agent.perception.events import EVENT_HORIZON, market_events
from trade_pipelines.agent.perception.features import equal_weight_index
from trade_pipelines.agent.perception.news import (
    NEWS_SENTIMENT_COLUMNS,
    daily_news_sentiment,
    news_by_symbol_day,
)
from trade_pipelines.agent.perception.regime import detect_regimes, market_breadth
from trade_pipelines.agent.perception.sentiment import US_SECTORS, market_sentiment
from trade_pipelines.agent.planning.daily_plan import make_plans
from trade_pipelines.agent.reflection.changes import HumanDecision
from trade_pipelines.agent.reflection.cycles import ReflectionCycle
from trade_pipelines.market_data import bar_available_at, bars_available_at
from trade_pipelines.market_data.calendar import exchange_sessions

PLAN_COLUMNS = ["as_of", "regime", "stance", "exposure_target", "watchlist", "key_levels",
                "tasks"]


def with_breadth(features: pd.DataFrame, sentiment: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """Features with the market's breadth that day (share of stocks above their 50-day
    average) and, given the market sentiment's rows, its fear/greed composite: what the
    sentiment genomes read."""
    if features.empty:
        out = features.assign(breadth=pd.Series(dtype=float))
    else:
        out = features.merge(market_breadth(features), left_on="as_of", right_index=True,
                             how="left")
    if sentiment is not None:
        scores = sentiment[["as_of", "fear_greed"]].astype({"fear_greed": float})
        out = out.merge(scores, on="as_of", how="left")
    return out


def market_sentiment_rows(market: str, benchmark: pd.DataFrame, features: pd.DataFrame,
                          benchmark_symbol: str, volatility_index: pd.DataFrame | None,
                          index_symbol: str | None,
                          universe_bars: pd.DataFrame | None = None) -> pd.DataFrame:
    """The market's sentiment per day (``agent/perception/sentiment.py``); with no
    benchmark bars, from the equal-weighted index of ``universe_bars``, as the regimes."""
    if benchmark.empty and universe_bars is not None and not universe_bars.empty:
        benchmark = equal_weight_index(universe_bars)
    sectors = US_SECTORS if market == "us" else None
    return market_sentiment(market, benchmark, features, benchmark_symbol, volatility_index,
                            index_symbol, sectors)


# Calendar days searched back for the session before a window (the longest exchange
# holiday is well under this).
PREVIOUS_SESSION_SEARCH = timedelta(days=20)


def news_sentiment_rows(market: str, news: pd.DataFrame, start: date, end: date,
                        include_generated: bool = False) -> pd.DataFrame:
    """Per session in [start, end] on the market's calendar, the sentiment of the stored
    headlines (``news``) that became available after the previous session's close and
    up to that session's close (drills only with ``include_generated``)."""
    rules = market_rules(market)
    sessions = exchange_sessions(start - PREVIOUS_SESSION_SEARCH, end, rules.calendar)
    window = [d for d in sessions if d >= start]
    if not window or news.empty:
        return pd.DataFrame(columns=NEWS_SENTIMENT_COLUMNS)
    earlier = [d for d in sessions if d < start]
    previous_close = bar_available_at(earlier[-1] if earlier else window[0] - timedelta(
        days=1), rules.code)
    closes = list(bars_available_at(pd.Series(window), rules.code))
    return daily_news_sentiment(news, window, closes, previous_close, include_generated)


def event_rows(market: str, universe: list[str], closes: pd.DataFrame,
               benchmark_symbol: str, start: date, end: date,
               news: pd.DataFrame | None = None,
               include_generated: bool = False) -> pd.DataFrame:
    """The events whose session falls in [start, end + EVENT_HORIZON] (so a window's last
    sessions see the blackouts of the events just after it) on the market's calendar;
    ``news``: the stored headlines (drills only with ``include_generated``)."""
    last = end + EVENT_HORIZON
    sessions = exchange_sessions(start - timedelta(days=10), last + timedelta(days=10),
                                 market_rules(market).calendar)
    return market_events(market, universe, closes, benchmark_symbol, sessions, start, last,
                         news, include_generated=include_generated)


def market_regimes(benchmark: pd.DataFrame, features: pd.DataFrame, vix: pd.DataFrame,
                   universe_bars: pd.DataFrame | None = None,
                   always_open: bool | None = None) -> pd.DataFrame:
    """Regimes per day from the benchmark's bars; with none, from an equal-weighted index
    of ``universe_bars`` (pass every bar from the first one: an index rebased at a
    window's start would jump at window boundaries)."""
    if benchmark.empty:
        if universe_bars is None or universe_bars.empty:
            raise ValueError("no bars for the benchmark or the universe: import bars or "
                             "pick another range")
        benchmark = equal_weight_index(universe_bars)
    return detect_regimes(benchmark, features, vix, always_open)


def evaluate_gene_pool(features: pd.DataFrame, evaluation_days: list[date],
                       state: PoolState | None = None, evolve: bool = True) -> PoolRun:
    """The gene pool at each of ``evaluation_days``, from ``state`` (the seeded pool by
    default): every living genome's setup outcomes (from all of ``features``' history),
    its evaluations, the status changes and the state after the last day. With
    ``evolve`` False no genome is born: the seeded pool is only judged."""
    pool = GenePool(features, state or PoolState.seeded(), evolve=evolve)
    return pool.run(evaluation_days)


def session_plans(regimes: pd.DataFrame, features: pd.DataFrame,
                  events: pd.DataFrame | None = None) -> pd.DataFrame:
    """The plan made after each close for the next session, as warehouse rows, with the
    events ahead and their response plans among its tasks."""
    return pd.DataFrame([plan.row() for plan in make_plans(regimes, features, events)],
                        columns=PLAN_COLUMNS)


def trade_proposals(features: pd.DataFrame, evaluations: pd.DataFrame,
                    genomes: Mapping[str, StrategyGenome], start: date,
                    probation: Probation | None = None) -> pd.DataFrame:
    """The aggressive agent's candidates from the tradeable genomes' signals, for the days
    from ``start``. ``features`` reach back far enough for every genome's indicators
    (``FEATURE_HISTORY``); before any evaluation only the seeded genomes may trade."""
    features = with_indicators(features, genomes.values())
    window = features[features["as_of"] >= start]
    return propose_for_window(window, evaluations, dict(genomes), TRADEABLE,
                              initial=list(SEEDED_GENOMES),
                              probation=probation)[PROPOSAL_COLUMNS]


def trading_bars(bars: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The bars the ledger fills at, with what is known of each symbol before the open:
    its volatility at the previous close (for slippage), its average daily volume over
    the sessions before (for the volume cap) and its previous session's close (a daily
    price limit's base). Pass the history before the window too, or the window's first
    day has none of them."""
    ordered = bars[["symbol", "as_of", "open", "close", "volume"]].sort_values(
        ["symbol", "as_of"], kind="mergesort")
    by_symbol = ordered.groupby("symbol", sort=False)
    adv = by_symbol["volume"].transform(
        lambda v: v.shift(1).rolling(ADV_SESSIONS, min_periods=1).mean())
    previous_close = by_symbol["close"].shift(1)
    known = features[["symbol", "as_of", "vol_20"]].sort_values(["symbol", "as_of"],
                                                                kind="mergesort")
    known = known.assign(vol_20=known.groupby("symbol", sort=False)["vol_20"].shift(1))
    return ordered.assign(adv=adv, previous_close=previous_close).merge(
        known, on=["symbol", "as_of"], how="left")


def trading_loop(features: pd.DataFrame, regimes: pd.DataFrame, plans: pd.DataFrame,
                 outcomes: pd.DataFrame, regime_by_day: Mapping[date, str],
                 state: LedgerState | None = None, memories: pd.DataFrame | None = None,
                 earlier_decisions: pd.DataFrame | None = None,
                 variant: AgentVariant = FULL_AGENT,
                 genomes: Mapping[str, StrategyGenome] | None = None,
                 probation: Probation | None = None,
                 rules: MarketRules = US,
                 news: pd.DataFrame | None = None,
                 sentiment: pd.DataFrame | None = None,
                 events: pd.DataFrame | None = None,
                 reasoner: Reasoner | None = None,
                 calibration: JudgeCalibration | None = None,
                 knowledge: KnowledgeGraph | None = None,
                 reflection: ReflectionCycle | None = None,
                 human: Sequence[HumanDecision] = ()) -> TradingLoop:
    """The day loop over a window (its features, regimes and plans), continuing from a
    ledger state, the memories formed before and the debates behind carried positions.
    ``genomes`` are every genome that may have traded (the seeded ones by default);
    ``probation`` scales the size of newborns' trades; ``rules`` are the market's (lots,
    T+1, price limits, fees), which the ledger applies; ``news`` (the window's
    ``news_sentiment`` rows), ``sentiment`` and ``events`` (the market's mood per day,
    the events ahead) join the debate's evidence; ``reasoner`` argues it (None: the
    deterministic debate); ``calibration``: the judge's, as the decisions and trades
    before the window left it (a fresh one by default); ``knowledge``: the knowledge
    graph as the trades before the window left it, which the loop grows and the debate
    cites (none by default); ``reflection``: the reviews' state as the days before the
    window left it (by default a new one, under the humans' recorded decisions
    ``human``; the variant says whether its changes apply)."""
    genomes = dict(genomes or SEEDED_GENOMES)
    exposure = dict(zip(plans["as_of"], plans["exposure_target"], strict=True))
    deliberation = Deliberation(features, regimes, exposure, SetupBook(outcomes), genomes,
                                recall=variant.memory, argue=variant.debate,
                                probation=probation, news=news_by_symbol_day(news),
                                sentiment=sentiment, events=events, reasoner=reasoner,
                                knowledge=knowledge)
    if reflection is None:
        reflection = reflection_cycle(features, regimes, rules, genomes, regime_by_day,
                                      events, human, variant)
    return TradingLoop(deliberation, Ledger(state or LedgerState(), genomes, rules=rules),
                       MemoryBook(memories), DecisionIndex(earlier_decisions),
                       regime_by_day, genomes, calibration, knowledge, reflection)


# Calendar days of sessions the reviews look ahead to (the next session after a window's
# last day; the longest exchange holiday is well under this).
SESSIONS_AHEAD = timedelta(days=30)


def reflection_cycle(features: pd.DataFrame, regimes: pd.DataFrame, rules: MarketRules,
                     genomes: Mapping[str, StrategyGenome], regime_by_day: Mapping[date, str],
                     events: pd.DataFrame | None, human: Sequence[HumanDecision],
                     variant: AgentVariant = FULL_AGENT,
                     kind: type[ReflectionCycle] = ReflectionCycle) -> ReflectionCycle:
    """A new reflection cycle over the window of ``features``, on the market's calendar."""
    days = features["as_of"] if not features.empty else pd.Series([date.today()])
    sessions = exchange_sessions(min(days) - PREVIOUS_SESSION_SEARCH,
                                 max(days) + SESSIONS_AHEAD, rules.calendar)
    return kind(sessions, {k: g.family for k, g in genomes.items()},
                           regime_by_day, events, human, apply=variant.reflection,
                           defensive_by_day=dict(zip(regimes["as_of"],
                                                     regimes["defensive"].astype(bool),
                                                     strict=True)))
