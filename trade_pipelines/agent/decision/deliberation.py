"""The debate over a day's proposals: gathers each proposal's evidence (features, regime,
plan, the setup's record, recalled memories) and runs the debate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import pandas as pd

from trade_pipelines.agent.decision.debate import (
    Decision,
    EventContext,
    Evidence,
    MarketMood,
    debate,
    no_debate,
)
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.genomes import StrategyGenome, sizing_scale
from trade_pipelines.agent.evolution.lifecycle import Probation
from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
from trade_pipelines.agent.memory.recall import MemoryBook, RecallQuery, setup_text
from trade_pipelines.agent.perception.events import EventBook
from trade_pipelines.agent.perception.news import MARKET_WIDE, NewsSentiment

DEFAULT_EXPOSURE = 0.6
FEATURES_USED = ["close", "ret_20d", "vol_20", "rsi_14", "sma_200"]


class Reasoner(Protocol):
    """Argues a day's proposals at once (an LLM reasoner calls its model concurrently);
    without one the deterministic debate argues each."""

    def decide_day(self, evidences: Sequence[Evidence]) -> list[Decision]: ...


class Deliberation:
    """Everything the debate may know about a window, indexed once."""

    def __init__(self, features: pd.DataFrame, regimes: pd.DataFrame,
                 exposure_by_day: Mapping[Any, float], book: SetupBook,
                 genomes: Mapping[str, StrategyGenome], *, recall: bool = True,
                 argue: bool = True, probation: Probation | None = None,
                 news: Mapping[tuple[str, Any], NewsSentiment] | None = None,
                 sentiment: pd.DataFrame | None = None,
                 events: pd.DataFrame | None = None,
                 reasoner: Reasoner | None = None,
                 knowledge: KnowledgeGraph | None = None) -> None:
        self.features = features.set_index(["symbol", "as_of"])[FEATURES_USED].to_dict("index")
        self.regimes = regimes.set_index("as_of")[["regime", "defensive"]].to_dict("index")
        self.exposure = exposure_by_day
        self.book = book
        self.genomes = genomes
        self.recall = recall      # False: the no-memory ablation
        self.argue = argue        # False: the no-debate ablation
        self.probation = probation or Probation({}, {})
        self.news = news or {}    # (symbol, day) -> the day's news sentiment
        # The market's mood per day and the events ahead (both optional).
        self.moods = _moods(sentiment)
        self.events = EventBook(events)
        self.reasoner = reasoner  # None: the deterministic debate
        self.knowledge = knowledge  # the knowledge graph, grown by the loop (optional)

    def decide(self, proposals: Iterable[Mapping[str, Any]],
               memory: MemoryBook) -> list[dict]:
        """One decision row per proposal; memories come from ``memory`` as of each day."""
        evidences = []
        for p in proposals:
            f = self.features[(p["symbol"], p["as_of"])]
            regime = self.regimes[p["as_of"]]
            genome = self.genomes[p["strategy_id"]]
            sma_200 = f["sma_200"]
            evidence = Evidence(
                as_of=p["as_of"], proposal_id=p["proposal_id"], symbol=p["symbol"],
                side=p["side"], strategy_id=p["strategy_id"], strategy_name=genome.name,
                family=genome.family, strength=float(p["strength"]), close=float(f["close"]),
                ret_20d=float(f["ret_20d"]), vol_20=float(f["vol_20"]),
                rsi_14=float(f["rsi_14"]),
                above_sma_200=bool(f["close"] > sma_200) if pd.notna(sma_200) else False,
                regime=str(regime["regime"]), defensive=bool(regime["defensive"]),
                exposure_target=float(self.exposure.get(p["as_of"], DEFAULT_EXPOSURE)),
                record=self.book.record(p["strategy_id"], p["symbol"], p["as_of"]),
                size_scale=sizing_scale(genome, float(f["vol_20"]))
                * self.probation.scale(p["strategy_id"], p["as_of"]),
                news=self.news.get((p["symbol"], p["as_of"])),
                market_news=self.news.get((MARKET_WIDE, p["as_of"])),
                sentiment=self.moods.get(p["as_of"]),
                event=self._event(p["symbol"], p["as_of"]),
            )
            evidences.append(evidence)
        if self.recall:  # the day's proposals ask memory at once: one batch of embeddings
            recalled = memory.recall_many([RecallQuery(
                e.as_of, e.symbol, e.strategy_id, e.regime, e.strategy_name, e.family,
                setup_text(e.side, e.ret_20d, e.rsi_14, e.above_sma_200),
                frozenset(k for k, g in self.genomes.items() if g.family == e.family))
                for e in evidences])
            evidences = [replace(e, memories=m)
                         for e, m in zip(evidences, recalled, strict=True)]
            if self.knowledge is not None:  # what the graph learned before the day
                evidences = [replace(e, graph_facts=self.knowledge.facts(
                    e.symbol, e.family, e.regime, e.as_of)) for e in evidences]
        if not self.argue:
            return [no_debate(e).row() for e in evidences]
        if self.reasoner is None or not evidences:
            return [debate(e).row() for e in evidences]
        return [d.row() for d in self.reasoner.decide_day(evidences)]

    def _event(self, symbol: str, day: Any) -> EventContext | None:
        row = self.events.ahead(symbol, day)
        if row is None:
            return None
        return EventContext(str(row["title"]), row["as_of"], (row["as_of"] - day).days,
                            int(row["impact"]), str(row["response"]), str(row["memory"]))


def _moods(sentiment: pd.DataFrame | None) -> dict[Any, MarketMood]:
    if sentiment is None or sentiment.empty:
        return {}

    def number(value: object) -> float:
        return float(value) if value is not None and pd.notna(value) else float("nan")

    return {row["as_of"]: MarketMood(
        number(row["fear_greed"]), str(row["volatility_source"]),
        number(row["volatility_level"]), number(row["volatility_change_5d"]),
        row["turning_point"] if isinstance(row["turning_point"], str) else None)
        for row in sentiment.to_dict("records")}
