"""One trading day after another: debate today's proposals, run the ledger, turn the
trades that closed into memories, so tomorrow's debate can recall them.

The loop is the same for a replay of years and for the live evening run, and it is the
only place where decision, execution and memory meet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from trade_pipelines.agent.decision.calibration import JudgeCalibration
from trade_pipelines.agent.decision.checklist import apply_checklist, risk_limits
from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.role_weights import ROLE_WEIGHT_COLUMNS
from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.controls import (
    ACTIVE,
    NO_CONTROLS,
    ControlSchedule,
    TradingState,
)
from trade_pipelines.agent.execution.ledger import DayMarket, Ledger, bars_by_day
from trade_pipelines.agent.markets import USD_IN_CURRENCY
from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
from trade_pipelines.agent.memory.tiers import AUDIT_COLUMNS
from trade_pipelines.agent.memory.trade_memory import (
    MEMORY_COLUMNS,
    DecisionIndex,
    MemoryBook,
    trade_memories,
)
from trade_pipelines.agent.perception.events import NO_RESPONSES, EventResponses
from trade_pipelines.agent.reflection.changes import CHANGE_COLUMNS, PROPOSAL_COLUMNS
from trade_pipelines.agent.reflection.cycles import (
    PLAN_COLUMNS,
    ReflectionCycle,
    ReflectionOutput,
)


@dataclass
class LoopOutput:
    decisions: list[dict] = field(default_factory=list)
    memories: list[pd.DataFrame] = field(default_factory=list)
    # The role weights' history rows (role_weights.py): one per role and regime a day's
    # closed trades moved.
    role_weights: list[dict] = field(default_factory=list)
    # Promotions and forgettings of memories, dated by the session they took effect.
    memory_audit: list[dict] = field(default_factory=list)
    # The reviews' changes, plans and proposals (agent/reflection/cycles.py).
    reflection: ReflectionOutput = field(default_factory=ReflectionOutput)

    def changes_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.reflection.changes, columns=CHANGE_COLUMNS)

    def plans_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.reflection.plans, columns=PLAN_COLUMNS)

    def proposals_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.reflection.proposals, columns=PROPOSAL_COLUMNS)

    def role_weights_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.role_weights, columns=ROLE_WEIGHT_COLUMNS)

    def decisions_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.decisions)

    def memories_frame(self) -> pd.DataFrame:
        frames = [m for m in self.memories if not m.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=MEMORY_COLUMNS)

    def memory_audit_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.memory_audit, columns=AUDIT_COLUMNS)


class TradingLoop:
    def __init__(self, deliberation: Deliberation, ledger: Ledger, memory: MemoryBook,
                 decision_index: DecisionIndex, regime_by_day: Mapping[date, str],
                 genomes: Mapping[str, StrategyGenome],
                 calibration: JudgeCalibration | None = None,
                 knowledge: KnowledgeGraph | None = None,
                 reflection: ReflectionCycle | None = None) -> None:
        self.deliberation = deliberation
        self.ledger = ledger
        self.memory = memory
        self.decision_index = decision_index
        self.regime_by_day = regime_by_day
        self.stop_losses = {k: g.stop_loss for k, g in genomes.items()}
        self.names = {k: g.name for k, g in genomes.items()}
        self.output = LoopOutput()
        # The judge's calibration and the role weights: they report, the debate decides.
        self.calibration = calibration or JudgeCalibration()
        # The knowledge graph learns each trade on its closing day (the debate reads it).
        self.knowledge = knowledge
        self.genomes = dict(genomes)
        self.families = {k: g.family for k, g in genomes.items()}
        # The reviews at the week's, month's and quarter's end, and the policy they leave
        # for each session (none: the agent trades under its defaults, no review runs).
        self.reflection = reflection
        if reflection is not None and reflection.role_weights is None:
            weights = self.calibration.role_weights
            reflection.role_weights = lambda regime: (weights.weight(regime),
                                                      weights.outcomes(regime))

    def run_days(self, days: Iterable[date], bars: pd.DataFrame, regimes: pd.DataFrame,
                 proposals: pd.DataFrame, controls: ControlSchedule = NO_CONTROLS,
                 previous_benchmark_close: float = math.nan,
                 responses: EventResponses = NO_RESPONSES) -> float:
        """Walk ``days`` in order. ``bars``: symbol, as_of, open, close, volume, vol_20;
        ``regimes``: as_of, benchmark_close, defensive; ``proposals``: the window's;
        ``controls``: the supervisor's recorded events, which give each day's state;
        ``responses``: the high-impact events' plans (names barred, sizes scaled).
        Returns the benchmark's last close seen, for the next batch of days."""
        market = bars_by_day(bars)
        proposals_by_day: dict[date, list[dict]] = {}
        for record in proposals.to_dict("records"):
            proposals_by_day.setdefault(record["as_of"], []).append(record)
        benchmark = dict(zip(regimes["as_of"], regimes["benchmark_close"].astype(float),
                             strict=True))
        defensive = dict(zip(regimes["as_of"], regimes["defensive"].astype(bool), strict=True))
        previous = previous_benchmark_close
        for day in days:
            day_bars, volatility = market.get(day, ({}, {}))
            close = benchmark.get(day, math.nan)
            change = close / previous - 1 if math.isfinite(previous) and math.isfinite(close) \
                and previous else 0.0
            previous = close if math.isfinite(close) else previous
            self.run_day(DayMarket(day, day_bars, volatility, close, change,
                                   defensive.get(day, False), responses.names_barred(day),
                                   responses.scale(day)),
                         proposals_by_day.get(day, []), controls.state(day))
        return previous

    def start_new_batch(self) -> None:
        """Forget the rows produced so far (they are stored); the state carries on."""
        self.ledger.start_new_batch()
        self.output = LoopOutput()

    def run_day(self, market: DayMarket, proposals: Sequence[Mapping[str, Any]],
                trading: TradingState = ACTIVE) -> None:
        # A symbol every account already holds (or has an order out for) cannot be
        # bought again: it is not worth a debate.
        state = self.ledger.state
        taken = {(o.account, o.symbol) for o in state.pending}
        open_proposals = [
            p for p in proposals
            if any(p["symbol"] not in state.accounts[a].positions and (a, p["symbol"])
                   not in taken for a in state.accounts)]
        day = market.as_of
        regime = self.regime_by_day.get(day, "unknown")
        if self.reflection is not None:
            self.output.reflection.extend(self.reflection.before_day(day))
            policy = self.reflection.policy_for(day)
            self.ledger.limits = risk_limits(policy)
            decisions = apply_checklist(self.deliberation.decide(open_proposals, self.memory),
                                        policy, regime, self.families)
        else:
            decisions = self.deliberation.decide(open_proposals, self.memory)
        # Stored with the calibrated confidence; the ledger and the memories keep the
        # debate's rows (its confidence orders the day's orders).
        self.output.decisions.extend(self.calibration.calibrate(
            market.as_of, decisions, regime))
        self.decision_index.add(decisions)
        closed_before = len(self.ledger.result.trades)
        # The LLM's token spend is a trading cost (zero for the deterministic reasoner),
        # priced in dollars and paid in the market's currency.
        research_cost = sum(float(d.get("llm_cost") or 0.0) for d in decisions) \
            * USD_IN_CURRENCY[self.ledger.rules.currency]
        self.ledger.run_day(market, decisions, trading, research_cost)
        closed = self.ledger.result.trades[closed_before:]
        if closed:
            memories = trade_memories(closed, self.decision_index,
                                      self.regime_by_day, self.stop_losses, self.names)
            self.memory.add(memories)
            self.output.memories.append(memories)
            if self.knowledge is not None:
                self.knowledge.add_trades(closed, self.genomes)
        self.output.role_weights.extend(self.calibration.observe_closed(market.as_of, closed))
        self.output.memory_audit.extend(self.memory.review(market.as_of))
        if self.reflection is not None:
            self.reflection.observe(day, decisions, closed, [
                a for a in self.ledger.result.accounts[-len(self.ledger.state.accounts):]
                if a["as_of"] == day])
            self.output.reflection.extend(self.reflection.after_day(day))
