"""The day-by-day loop: debate, ledger, memory."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES as GENOMES
from trade_pipelines.agent.execution.broker import Bar
from trade_pipelines.agent.execution.ledger import DayMarket, Ledger, LedgerState, Position
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook

from trade_pipelines.agent.loop.trading_loop import TradingLoop  # isort: skip

DAYS = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
SYMBOLS = ("AAA", "BBB")


def _features() -> pd.DataFrame:
    return pd.DataFrame([
        {"symbol": s, "as_of": d, "close": 100.0, "ret_20d": 0.05, "vol_20": 0.2,
         "rsi_14": 55.0, "sma_200": 90.0}
        for s in SYMBOLS for d in DAYS])


def _loop(state: LedgerState, memory: MemoryBook | None = None) -> TradingLoop:
    regimes = pd.DataFrame({"as_of": DAYS, "regime": "bull", "defensive": False})
    deliberation = Deliberation(_features(), regimes, {}, SetupBook(pd.DataFrame()), GENOMES)
    return TradingLoop(deliberation, Ledger(state, GENOMES), memory or MemoryBook(),
                       DecisionIndex(), dict.fromkeys(DAYS, "bull"), GENOMES)


def _proposal(symbol: str, day: date) -> dict:
    return {"as_of": day, "proposal_id": f"P-{symbol}-{day}", "symbol": symbol, "side": "buy",
            "strategy_id": "S03", "strength": 0.8, "rationale": "test"}


def _market(day: date, price: float = 100.0) -> DayMarket:
    bars = {s: Bar(float("nan"), price, float("nan")) for s in SYMBOLS}
    return DayMarket(day, bars, dict.fromkeys(SYMBOLS, 0.2), 4000.0, 0.0, False)


def test_a_symbol_every_account_holds_is_not_debated() -> None:
    state = LedgerState()
    for account in state.accounts.values():
        account.positions["AAA"] = Position(100.0, 100.0, date(2024, 3, 1), "S03")
        account.cash -= 10_000.0
    loop = _loop(state)
    loop.run_day(_market(DAYS[0]), [_proposal("AAA", DAYS[0]), _proposal("BBB", DAYS[0])])
    assert [d["symbol"] for d in loop.output.decisions] == ["BBB"]


def test_decisions_fill_next_day_and_closed_trades_become_memories() -> None:
    loop = _loop(LedgerState())
    loop.run_day(_market(DAYS[0]), [_proposal("AAA", DAYS[0])])
    executed = [d for d in loop.output.decisions if d["verdict"] != "drop"]
    assert executed, "a strong bull-market proposal should be traded"
    assert not loop.ledger.result.fills  # decided at the close, nothing fills the same day
    loop.run_day(_market(DAYS[1]), [])
    assert {f["as_of"] for f in loop.ledger.result.fills} == {DAYS[1]}
    # a +20% day hits the take-profit of S03 (15%): sold at the next bar, then remembered
    loop.run_day(_market(DAYS[2], 120.0), [])
    loop.run_day(_market(date(2024, 3, 7), 120.0), [])
    memories = loop.output.memories_frame()
    assert len(memories) == 1
    assert memories["symbol"].iloc[0] == "AAA"
    assert memories["outcome_return"].iloc[0] > 0.15
    assert len(loop.memory) == 1


def test_the_debate_recalls_memories_formed_before_its_day() -> None:
    old = pd.DataFrame([{
        "as_of": DAYS[0], "memory_id": "M-old", "symbol": "AAA", "strategy_id": "S03",
        "regime": "bull", "importance": 9, "outcome_return": -0.07,
        "text": "AAA momentum trade lost"}])
    same_day = _loop(LedgerState(), MemoryBook(old))
    same_day.run_day(_market(DAYS[0]), [_proposal("AAA", DAYS[0])])
    next_day = _loop(LedgerState(), MemoryBook(old))
    next_day.run_day(_market(DAYS[1]), [_proposal("AAA", DAYS[1])])
    assert json.loads(same_day.output.decisions[0]["memories_used"]) == []
    (used,) = json.loads(next_day.output.decisions[0]["memories_used"])
    assert used["memory_id"] == "M-old" and 0 < used["score"] <= 1
    # the lost trade in memory weighs on the debate
    transcript = json.loads(next_day.output.decisions[0]["transcript"])
    assert any("averaged -7.0%" in turn["text"] for turn in transcript)


def test_the_knowledge_graph_learns_a_closed_trade_and_the_next_debate_cites_it() -> None:
    from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph

    closed_on, after = date(2024, 3, 7), date(2024, 3, 8)
    days = [*DAYS, closed_on, after]
    features = pd.DataFrame([
        {"symbol": s, "as_of": d, "close": 100.0, "ret_20d": 0.05, "vol_20": 0.2,
         "rsi_14": 55.0, "sma_200": 90.0} for s in SYMBOLS for d in days])
    graph = KnowledgeGraph()
    graph.add_regimes(pd.DataFrame({"as_of": days, "regime": "bull"}))
    regimes = pd.DataFrame({"as_of": days, "regime": "bull", "defensive": False})
    deliberation = Deliberation(features, regimes, {}, SetupBook(pd.DataFrame()), GENOMES,
                                knowledge=graph)
    loop = TradingLoop(deliberation, Ledger(LedgerState(), GENOMES), MemoryBook(),
                       DecisionIndex(), dict.fromkeys(days, "bull"), GENOMES, knowledge=graph)
    loop.run_day(_market(DAYS[0]), [_proposal("AAA", DAYS[0])])
    loop.run_day(_market(DAYS[1]), [])
    loop.run_day(_market(DAYS[2], 120.0), [])
    # Debated on the closing day itself: the trade is not known yet.
    loop.run_day(_market(closed_on, 120.0), [_proposal("BBB", closed_on)])
    assert len(loop.output.memories_frame()) == 1
    same_day = json.loads(loop.output.decisions[-1]["transcript"])
    assert not any("knowledge graph" in t["text"] for t in same_day)
    loop.run_day(_market(after, 120.0), [_proposal("AAA", after)])
    cited = [t["text"] for t in json.loads(loop.output.decisions[-1]["transcript"])
             if "knowledge graph" in t["text"]]
    assert cited and "AAA" in cited[0] and "1 trade" in cited[0], cited


def test_the_llm_spend_is_paid_in_the_market_s_currency() -> None:
    from dataclasses import replace

    from trade_pipelines.agent.decision.debate import debate
    from trade_pipelines.agent.execution.ledger import STARTING_CAPITAL
    from trade_pipelines.agent.markets import USD_IN_CURRENCY, market_rules

    class PricedReasoner:  # what an LLM reasoner returns: the debate, with its bill
        def decide_day(self, evidences: list) -> list:
            return [replace(debate(e), llm_cost=0.5) for e in evidences]

    for code in ("us", "cn", "hk"):
        rules = market_rules(code)
        regimes = pd.DataFrame({"as_of": DAYS, "regime": "bull", "defensive": False})
        deliberation = Deliberation(_features(), regimes, {}, SetupBook(pd.DataFrame()),
                                    GENOMES, reasoner=PricedReasoner())
        loop = TradingLoop(deliberation, Ledger(LedgerState(), GENOMES, rules=rules),
                           MemoryBook(), DecisionIndex(), dict.fromkeys(DAYS, "bull"), GENOMES)
        loop.run_day(_market(DAYS[0]), [_proposal("AAA", DAYS[0]), _proposal("BBB", DAYS[0])])
        cash = {a["account"]: a["cash"] for a in loop.ledger.result.accounts}
        paid = 2 * 0.5 * USD_IN_CURRENCY[rules.currency]
        assert cash == pytest.approx(dict.fromkeys(cash, STARTING_CAPITAL - paid)), code
