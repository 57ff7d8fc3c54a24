"""Taught memories: a person's lesson is recalled by the debates after its day, never
before, cited with its score, and its promotion is audited."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pytest

from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES as GENOMES
from trade_pipelines.agent.execution.broker import Bar
from trade_pipelines.agent.execution.ledger import DayMarket, Ledger, LedgerState
from trade_pipelines.agent.loop.trading_loop import TradingLoop
from trade_pipelines.agent.memory.taught import TAUGHT_COLUMNS, taught_memory
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook

DAYS = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
TAUGHT_ON = DAYS[1]
NOW = datetime(2024, 3, 5, 18, 0)


def lesson(**changes: object) -> pd.DataFrame:
    arguments = {"text": "chip makers  fall after weak guidance", "as_of": TAUGHT_ON,
                 "recorded_by": "ana", "recorded_at": NOW, "symbol": "nvda",
                 "tags": ["Semis", " guidance", ""], **changes}
    return taught_memory(**arguments)  # type: ignore[arg-type]


def test_a_taught_memory_is_a_human_long_term_row() -> None:
    row = lesson().iloc[0]
    assert list(lesson().columns) == TAUGHT_COLUMNS
    assert (row["kind"], row["source"], row["tier"], row["importance"]) == (
        "taught", "human", "long_term", 8)
    assert row["text"] == "chip makers fall after weak guidance"
    assert (row["symbol"], row["tags"]) == ("NVDA", "guidance,semis")
    assert row["memory_id"].startswith("K-")
    # taught again: the same memory; another day or symbol: another one
    assert lesson(text="Chip makers fall after weak guidance").iloc[0]["memory_id"] == \
        row["memory_id"]
    assert lesson(as_of=DAYS[2]).iloc[0]["memory_id"] != row["memory_id"]
    assert lesson(importance=5).iloc[0]["tier"] == "short_term"
    with pytest.raises(ValueError, match="text"):
        lesson(text="  ")
    with pytest.raises(ValueError, match="importance"):
        lesson(importance=11)


def _loop(memory: MemoryBook) -> TradingLoop:
    features = pd.DataFrame([{"symbol": "NVDA", "as_of": d, "close": 100.0, "ret_20d": -0.08,
                              "vol_20": 0.3, "rsi_14": 35.0, "sma_200": 90.0} for d in DAYS])
    regimes = pd.DataFrame({"as_of": DAYS, "regime": "bull", "defensive": False})
    deliberation = Deliberation(features, regimes, {}, SetupBook(pd.DataFrame()), GENOMES)
    return TradingLoop(deliberation, Ledger(LedgerState(), GENOMES), memory, DecisionIndex(),
                       dict.fromkeys(DAYS, "bull"), GENOMES)


def _decide(day: date) -> TradingLoop:
    loop = _loop(MemoryBook(lesson()))
    proposal = {"as_of": day, "proposal_id": f"P-NVDA-{day}", "symbol": "NVDA",
                "side": "buy", "strategy_id": "S03", "strength": 0.8}
    loop.run_day(DayMarket(day, {"NVDA": Bar(float("nan"), 100.0, float("nan"))},
                           {"NVDA": 0.3}, 4000.0, 0.0, False), [proposal])
    return loop


def test_only_decisions_after_its_day_recall_a_taught_memory() -> None:
    taught_id = lesson().iloc[0]["memory_id"]
    for day in DAYS[:2]:  # before it was taught, and on the day itself
        (decision,) = _decide(day).output.decisions
        assert json.loads(decision["memories_used"]) == []
        assert taught_id not in decision["transcript"]
    after = _decide(DAYS[2])
    (decision,) = after.output.decisions
    (used,) = json.loads(decision["memories_used"])
    assert used["memory_id"] == taught_id and 0.2 < used["score"] <= 1.0
    # the quant cites it, by id and score, with the lesson itself
    quant = [t["text"] for t in json.loads(decision["transcript"]) if t["role"] == "quant"]
    assert any(f"{taught_id} (score {used['score']:.2f}, taught: \"chip makers fall after "
               "weak guidance\")" in text for text in quant)
    # no outcome of its own: the memory objection still says it has no precedent trade
    assert "no precedent" in decision["transcript"]


def test_the_loop_audits_a_taught_memory_promotion_on_its_day() -> None:
    taught_id = lesson().iloc[0]["memory_id"]
    loop = _decide(DAYS[0])
    assert loop.output.memory_audit_frame().empty
    loop.run_day(DayMarket(DAYS[1], {}, {}, 4000.0, 0.0, False), [])
    audit = loop.output.memory_audit_frame()
    assert audit[["as_of", "memory_id", "event", "tier_after"]].values.tolist() == [
        [DAYS[1], taught_id, "promote", "long_term"]]
    assert "taught by a person" in audit["reason"].iloc[0]
