"""Trade memories: importance, tiers, one memory per trade, and honest recall."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.execution.ledger import TRADE_COLUMNS
from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.memory.trade_memory import (
    MEMORY_COLUMNS,
    MemoryBook,
    importance_from_outcome,
    tier_for,
    trade_memories,
)

DAY = date(2024, 6, 3)


def ago(days: int) -> date:
    return DAY - timedelta(days=days)


OPENED, CLOSED = ago(20), ago(5)


# -- importance and tiers -----------------------------------------------------------------

def test_importance_is_between_1_and_10() -> None:
    for r in np.linspace(-0.5, 0.5, 41):
        for stop in (0.02, 0.08, 0.2):
            for confidence in (0.1, 0.5, 0.69, 0.7, 0.95):
                assert 1 <= importance_from_outcome(float(r), stop, confidence) <= 10


def test_a_confident_big_loss_matters_more_than_a_small_win() -> None:
    big_loss = importance_from_outcome(-0.10, 0.08, 0.85)
    small_win = importance_from_outcome(0.01, 0.08, 0.85)
    assert big_loss > small_win
    assert big_loss >= 8
    assert small_win <= 3


def test_overconfidence_and_doubted_wins_add_importance() -> None:
    assert importance_from_outcome(-0.04, 0.08, 0.9) == \
        importance_from_outcome(-0.04, 0.08, 0.5) + 2
    assert importance_from_outcome(0.04, 0.08, 0.3) == \
        importance_from_outcome(0.04, 0.08, 0.6) + 1


def test_importance_grows_with_the_size_of_the_move_relative_to_the_stop() -> None:
    scores = [importance_from_outcome(r, 0.08, 0.6) for r in (0.0, 0.03, 0.06, 0.09, 0.12)]
    assert scores == sorted(scores)
    assert scores[0] == 1
    assert importance_from_outcome(0.5, 0.08, 0.6) == 7  # capped at 1.5 stops


@pytest.mark.parametrize(("importance", "tier"), [
    (10, "long_term"), (8, "long_term"), (7, "short_term"), (4, "short_term"),
    (3, "decaying"), (1, "decaying")])
def test_tier_thresholds(importance: int, tier: str) -> None:
    assert tier_for(importance) == tier


# -- one memory per trade -----------------------------------------------------------------

def trade(account: str, symbol: str = "AAA", strategy: str = "S01",
          opened: date = OPENED, closed: date = CLOSED, quantity: float = 100,
          return_pct: float = -0.09, reason: str = "stop_loss",
          decision_id: str | None = "D-opened") -> dict:
    entry = 100.0
    exit_ = entry * (1 + return_pct)
    return {"as_of": closed, "trade_id": stable_id("T", account, symbol, opened),
            "account": account, "symbol": symbol, "strategy_id": strategy,
            "opened_as_of": opened, "quantity": quantity, "entry_price": entry,
            "exit_price": exit_, "pnl": (exit_ - entry) * quantity,
            "return_pct": return_pct, "holding_days": 15, "exit_reason": reason,
            "decision_id": decision_id}


DECISIONS = pd.DataFrame([
    {"decision_id": "D-older", "as_of": ago(30), "symbol": "AAA", "strategy_id": "S01",
     "confidence": 0.40, "summary": "an older decision"},
    {"decision_id": "D-opened", "as_of": ago(21), "symbol": "AAA", "strategy_id": "S01",
     "confidence": 0.85, "summary": "execute buy AAA: edge outweighs the open risks"},
    {"decision_id": "D-later", "as_of": ago(20), "symbol": "AAA", "strategy_id": "S01",
     "confidence": 0.10, "summary": "made on the fill day: too late to explain the trade"},
])
REGIMES = pd.DataFrame({"as_of": [ago(20), ago(10)], "regime": ["bull", "bear"]})


def memories_for(trades: list[dict]) -> pd.DataFrame:
    return trade_memories(pd.DataFrame(trades, columns=TRADE_COLUMNS), DECISIONS, REGIMES,
                          {"S01": 0.08}, {"S01": "SMA 20/50 trend"})


def test_one_memory_per_distinct_trade_across_accounts() -> None:
    same = [trade("aggressive", quantity=100), trade("combined", quantity=80),
            trade("conservative", quantity=40)]
    other = trade("aggressive", symbol="BBB", opened=ago(10), return_pct=0.02,
                  reason="take_profit")
    memories = memories_for([*same, other])
    assert list(memories.columns) == MEMORY_COLUMNS
    assert len(memories) == 2
    aaa = memories[memories["symbol"] == "AAA"].iloc[0]
    # the combined account's copy is the one remembered
    assert aaa["memory_id"] == stable_id("M", same[1]["trade_id"])
    assert aaa["who"].startswith("combined account")
    assert memories["memory_id"].is_unique


def test_memory_quotes_the_decision_that_opened_the_trade() -> None:
    memories = memories_for([trade("combined")])
    row = memories.iloc[0]
    assert row["why"] == "execute buy AAA: edge outweighs the open risks"
    assert "85%" in row["text"]
    # -9% against an 8% stop with 85% confidence: an important lesson
    assert row["importance"] == importance_from_outcome(-0.09, 0.08, 0.85)
    assert row["tier"] == "long_term"
    assert row["regime"] == "bull"
    assert row["as_of"] == ago(5)
    assert row["outcome_return"] == pytest.approx(-0.09)
    assert "stop loss" in row["text"]


def test_trade_without_a_decision_gets_neutral_confidence() -> None:
    memories = memories_for([trade("combined", symbol="ZZZ", return_pct=0.01,
                                   reason="time_exit", decision_id=None)])
    row = memories.iloc[0]
    assert row["why"] == "exit of an open position"
    assert row["importance"] == importance_from_outcome(0.01, 0.08, 0.5)
    assert row["tier"] == "decaying"


def test_no_trades_no_memories() -> None:
    empty = memories_for([])
    assert empty.empty and list(empty.columns) == MEMORY_COLUMNS


# -- recall -------------------------------------------------------------------------------

def memory(memory_id: str, as_of: date, symbol: str = "AAA", strategy: str = "S01",
           regime: str = "bull", importance: int = 6,
           outcome_return: float | None = -0.03) -> dict:
    return {"as_of": as_of, "memory_id": memory_id, "symbol": symbol, "strategy_id": strategy,
            "regime": regime, "importance": importance, "outcome_return": outcome_return,
            "text": f"memory {memory_id}"}


def recall(bank: pd.DataFrame, as_of, symbol: str, strategy_id: str, regime: str,
           n: int = 3) -> list[dict]:
    return MemoryBook(bank).recall(as_of, symbol, strategy_id, regime, n)


def ids(recalled: list[dict]) -> list[str]:
    return [m["memory_id"] for m in recalled]


def test_recall_never_returns_memories_from_the_day_or_later() -> None:
    bank = pd.DataFrame([memory("M-today", DAY, importance=10),
                         memory("M-tomorrow", DAY + timedelta(days=1), importance=10),
                         memory("M-yesterday", ago(1), importance=5)])
    assert ids(recall(bank, DAY, "AAA", "S01", "bull")) == ["M-yesterday"]
    assert recall(bank, ago(1), "AAA", "S01", "bull") == []


def test_recall_prefers_the_same_symbol_and_strategy() -> None:
    bank = pd.DataFrame([
        memory("M-regime-only", ago(10), symbol="XXX", strategy="S09", importance=10),
        memory("M-strategy", ago(10), symbol="BBB", importance=9),
        memory("M-symbol", ago(10), strategy="S05", importance=9),
        memory("M-both", ago(60), importance=4),
    ])
    picked = ids(recall(bank, DAY, "AAA", "S01", "bull", n=3))
    assert picked[0] == "M-both"
    assert set(picked) == {"M-both", "M-strategy", "M-symbol"}
    assert "M-regime-only" not in ids(recall(bank, DAY, "AAA", "S01", "bull", n=10))
    assert ids(recall(bank, DAY, "AAA", "S01", "bull", n=1)) == ["M-both"]


def test_recall_forgets_low_importance_old_memories() -> None:
    bank = pd.DataFrame([
        memory("M-old-low", ago(200), importance=3),  # lasts 180 days
        memory("M-recent-low", ago(30), importance=3),
        memory("M-old-high", ago(400), importance=9),
    ])
    picked = ids(recall(bank, DAY, "AAA", "S01", "bull", n=5))
    assert "M-old-low" not in picked
    assert set(picked) == {"M-recent-low", "M-old-high"}


def test_recall_output_shape_and_missing_outcomes() -> None:
    bank = pd.DataFrame([memory("M-a", ago(3), outcome_return=None, importance=7),
                         memory("M-b", ago(4), outcome_return=float("nan")),
                         memory("M-c", ago(5), outcome_return=0.05)])
    recalled = recall(bank, DAY, "AAA", "S01", "bull", n=5)
    by_id = {m["memory_id"]: m for m in recalled}
    assert set(by_id) == {"M-a", "M-b", "M-c"}
    assert by_id["M-a"]["outcome_return"] is None
    assert by_id["M-b"]["outcome_return"] is None
    assert by_id["M-c"]["outcome_return"] == pytest.approx(0.05)
    assert by_id["M-a"]["importance"] == 7 and by_id["M-a"]["text"] == "memory M-a"
    assert recall(pd.DataFrame(columns=MEMORY_COLUMNS), DAY, "AAA", "S01", "bull") == []


def test_recall_is_deterministic_on_ties() -> None:
    bank = pd.DataFrame([memory(f"M-{i}", ago(7)) for i in (3, 1, 2)])
    assert ids(recall(bank, DAY, "AAA", "S01", "bull", n=2)) == ["M-1", "M-2"]
    shuffled = bank.sample(frac=1.0, random_state=1)
    assert ids(recall(shuffled, DAY, "AAA", "S01", "bull", n=2)) == ["M-1", "M-2"]
