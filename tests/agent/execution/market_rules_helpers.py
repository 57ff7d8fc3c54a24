"""What the market-rules tests share: their genomes, a session's market and decisions,
a ledger run over sessions, and the purchase and sale of one stock meeting at one open
(where T+1 binds)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import pandas as pd

from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.broker import Bar
from trade_pipelines.agent.execution.ledger import (
    DayMarket,
    Ledger,
    LedgerState,
    PendingOrder,
    Position,
)
from trade_pipelines.agent.markets import MarketRules

VOL = 0.2
HOLD = StrategyGenome("H", "hold", "trend", "momentum", {"min_return": 0.0},
                      stop_loss=0.5, take_profit=5.0, max_holding_days=1000)
SWING = StrategyGenome("S", "swing", "trend", "momentum", {"min_return": 0.0},
                       stop_loss=0.05, take_profit=0.15, max_holding_days=5)
GENOMES = {"H": HOLD, "S": SWING}
DECISION_COLUMNS = ["as_of", "decision_id", "symbol", "strategy_id", "confidence",
                    "weight_aggressive", "weight_conservative", "weight_combined"]

# A session's bars and volatilities (None: ``VOL`` for every symbol), by day.
Sessions = Mapping[date, tuple[dict[str, Bar], dict[str, float] | None]]


def decisions(day: date, rows: Iterable[tuple[str, float]],
              strategy: str = "H") -> pd.DataFrame:
    """One decision per (symbol, weight); the conservative account takes half."""
    return pd.DataFrame([
        {"as_of": day, "decision_id": f"D-{day}-{s}", "symbol": s, "strategy_id": strategy,
         "confidence": 0.7, "weight_aggressive": w, "weight_conservative": w / 2,
         "weight_combined": w} for s, w in rows], columns=DECISION_COLUMNS)


def day_market(day: date, bars: dict[str, Bar],
               volatility: dict[str, float] | None = None) -> DayMarket:
    return DayMarket(day, bars, volatility if volatility is not None
                     else {s: VOL for s in bars}, 4000.0, 0.0, False)


def run(days: Sessions, sessions: Iterable[date], rules: MarketRules,
        chosen: Mapping[date, list[tuple[str, float]]] | None = None,
        state: LedgerState | None = None, strategy: str = "H",
        genomes: Mapping[str, StrategyGenome] = GENOMES) -> Ledger:
    """A ledger under ``rules`` run over ``sessions`` of ``days``, deciding ``chosen``
    (symbol, weight) on each day with ``strategy``."""
    ledger = Ledger(state or LedgerState(), dict(genomes), rules=rules)
    for day in sessions:
        bars, volatility = days[day]
        ledger.run_day(day_market(day, bars, volatility),
                       decisions(day, (chosen or {}).get(day, []), strategy))
    return ledger


def held_and_topped_up(avg_cost: float, opened_as_of: date,
                       symbol: str = "600036.SH") -> LedgerState:
    """200 ``symbol`` held by the combined account from before; a purchase of 300 more
    and a sale of all 500 (a halt's) both pending for the next open."""
    state = LedgerState()
    state.accounts["combined"].positions[symbol] = Position(
        200.0, avg_cost, opened_as_of, "H", days_held=20, peak_close=avg_cost)
    state.accounts["combined"].cash -= 200.0 * avg_cost
    state.pending.append(PendingOrder("O-buy", "combined", symbol, "buy", 300.0, "H",
                                      "entry", "D-1"))
    state.pending.append(PendingOrder("O-sell", "combined", symbol, "sell", 500.0, "H",
                                      "halt"))
    return state


def entered(rules: MarketRules, day: date, bars: dict[str, Bar],
            weights: Iterable[tuple[str, float]]) -> Ledger:
    """A new ledger under ``rules`` after one session whose decisions are ``weights``."""
    ledger = Ledger(LedgerState(), GENOMES, rules=rules)
    ledger.run_day(day_market(day, bars), decisions(day, weights))
    return ledger
