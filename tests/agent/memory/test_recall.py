"""Recall by meaning and metadata with the real WordLlama model: batching, caching,
ranking, and its speed over a year of days."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.memory.recall import (
    MEANING_FLOOR,
    MemoryBook,
    RecallQuery,
    setup_text,
)
from trade_pipelines.memory_index.embedding import default_embedder

DAY = date(2024, 6, 3)


class CountingEmbedder:
    """The real encoder, with a record of every batch it was asked to embed."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return default_embedder().embed(texts)


def memory(memory_id: str, text: str, symbol: str = "AAPL", strategy: str = "S01",
           regime: str = "bull", importance: int = 6, days_ago: int = 10,
           outcome: float | None = 0.05, source: str = "agent") -> dict:
    return {"as_of": DAY - timedelta(days=days_ago), "memory_id": memory_id,
            "symbol": symbol, "strategy_id": strategy, "regime": regime,
            "importance": importance, "outcome_return": outcome, "text": text,
            "source": source}


def query(symbol: str = "AAPL", strategy: str = "S01", regime: str = "bull",
          name: str = "SMA 20/50 trend", family: str = "trend",
          setup: str = "buy after a rally, above its 200-day average",
          family_ids: frozenset[str] = frozenset(), as_of: date = DAY) -> RecallQuery:
    return RecallQuery(as_of, symbol, strategy, regime, name, family, setup, family_ids)


BANK = pd.DataFrame([
    memory("M-won-a", "AAPL SMA 20/50 trend trade in a bull market won +5.2% in 12 days, "
                      "exit by take profit, judge confidence 70%."),
    memory("M-won-b", "AAPL SMA 20/50 trend trade in a bull market won +4.8% in 12 days, "
                      "exit by take profit, judge confidence 70%.", days_ago=20),
    memory("M-msft-knife", "MSFT RSI reversion trade in a bear market lost -8.1% in 3 days, "
                           "exit by stop loss, judge confidence 80%.",
           symbol="MSFT", strategy="S09", regime="bear", outcome=-0.081),
    memory("M-ko-flat", "KO breakout trade in a range market won +0.4% in 20 days, exit by "
                        "time exit, judge confidence 55%.", symbol="KO", strategy="S07",
           regime="range", outcome=0.004),
])


def test_setup_text_describes_the_setup_in_words() -> None:
    assert setup_text("buy", 0.08, 75, True) == \
        "buy after a rally, overbought, above its 200-day average"
    assert setup_text("buy", -0.12, 25, False) == \
        "buy after a fall, oversold, below its 200-day average"
    assert query(family="mean_reversion").text.startswith(
        "AAPL SMA 20/50 trend mean reversion trade in a bull market: buy after")


def test_a_days_queries_are_embedded_in_one_batch_and_each_gist_once() -> None:
    embedder = CountingEmbedder()
    book = MemoryBook(BANK, embedder=embedder)
    assert embedder.batches == []  # nothing is embedded before the first recall
    queries = [query(), query("MSFT", "S09", "bear"), query(), query("KO", "S07", "range")]
    first = book.recall_many(queries)
    # the two AAPL trades differ only in figures: one gist, one embedding
    assert [len(b) for b in embedder.batches] == [3, 3]
    assert book.recall_many(queries) == first
    assert len(embedder.batches) == 2  # the second day with the same queries embeds nothing
    assert first == [book.recall_many([q])[0] for q in queries]
    book.add(pd.DataFrame([memory("M-new", "AAPL trend trade in a bull market lost -3% in "
                                           "5 days, exit by stop loss.", days_ago=2)]))
    book.recall_many(queries[:1])
    assert embedder.batches[-1] == ["AAPL trend trade in a bull market lost in days, exit by "
                                    "stop loss."]


def test_recalled_memories_carry_their_score_and_rank_by_it() -> None:
    book = MemoryBook(BANK)
    recalled = book.recall_many([query()], n=5)[0]
    assert [m["memory_id"] for m in recalled] == ["M-won-a", "M-won-b"]
    best = recalled[0]
    assert set(best) >= {"memory_id", "text", "importance", "outcome_return", "score",
                         "similarity", "source"}
    assert best["source"] == "agent" and best["outcome_return"] == pytest.approx(0.05)
    assert best["similarity"] > 0.6
    # same symbol, strategy and regime, plus similarity, recency and importance
    assert 0.8 < best["score"] <= 1.0
    assert recalled[0]["score"] > recalled[1]["score"]  # the same gist, but more recent


def test_meaning_alone_recalls_a_memory_of_another_name_and_strategy() -> None:
    book = MemoryBook(BANK)
    nvda = query("NVDA", "S05", "bear", "RSI reversion", "mean_reversion",
                 "buy after a fall, oversold, below its 200-day average")
    (recalled,) = book.recall_many([nvda], n=5)
    assert [m["memory_id"] for m in recalled] == ["M-msft-knife"]
    assert recalled[0]["similarity"] >= MEANING_FLOOR
    # a different kind of trade shares no name and means something else: not recalled
    assert "M-ko-flat" not in [m["memory_id"] for m in book.recall_many([nvda], n=5)[0]]


def test_the_same_family_and_a_neighbouring_regime_count_for_something() -> None:
    text = "A trend trade won."
    bank = pd.DataFrame([memory("M-family", text, strategy="S02"),
                         memory("M-other", text, strategy="S08"),
                         memory("M-range", text, symbol="XOM", strategy="S01",
                                regime="range"),
                         memory("M-bear", text, symbol="XOM", strategy="S01",
                                regime="bear")])
    recalled = MemoryBook(bank).recall_many([query(family_ids=frozenset({"S01", "S02"}))],
                                            n=5)[0]
    scores = {m["memory_id"]: m["score"] for m in recalled}
    assert scores["M-range"] > scores["M-bear"]  # both share the strategy
    assert scores["M-family"] == pytest.approx(scores["M-other"] + 0.5 * 0.15, abs=1e-4)


def test_a_years_recalls_take_milliseconds_a_day() -> None:
    """A year of 250 sessions, four proposals a day, against 800 memories."""
    rng = np.random.default_rng(7)
    symbols = ["AAPL", "MSFT", "NVDA", "KO", "XOM", "JPM", "AMZN", "PG"]
    names = ["SMA 20/50 trend", "RSI reversion", "55-day breakout", "news sentiment"]
    regimes = ["bull", "bear", "range"]
    rows = [memory(f"M-{i:04d}", f"{rng.choice(symbols)} {rng.choice(names)} trade in a "
                                  f"{rng.choice(regimes)} market "
                                  f"{'won' if i % 2 else 'lost'} {rng.normal():+.1%} in "
                                  f"{rng.integers(2, 30)} days, exit by stop loss.",
                   symbol=str(rng.choice(symbols)), strategy=f"S0{i % 9 + 1}",
                   regime=str(rng.choice(regimes)), importance=int(rng.integers(1, 11)),
                   days_ago=int(rng.integers(1, 700)))
            for i in range(800)]
    book = MemoryBook(pd.DataFrame(rows))
    book.recall_many([query()])  # the model loads once a process
    days = [DAY + timedelta(days=d) for d in range(250)]
    started = time.perf_counter()
    recalled = 0
    for day in days:
        queries = [query(str(rng.choice(symbols)), f"S0{rng.integers(1, 10)}",
                         str(rng.choice(regimes)), str(rng.choice(names)), "trend",
                         setup_text("buy", rng.normal(0, 0.08), rng.uniform(20, 80),
                                    bool(rng.integers(0, 2))), as_of=day)
                   for _ in range(4)]
        recalled += sum(map(len, book.recall_many(queries)))
    per_day = (time.perf_counter() - started) / len(days)
    print(f"recall: {per_day * 1000:.2f} ms a day (4 queries, 800 memories)")
    assert recalled > 250
    assert per_day < 0.05


def test_recalled_memories_carry_the_day_they_were_formed() -> None:
    from datetime import date

    import pandas as pd

    from trade_pipelines.agent.memory.trade_memory import MEMORY_COLUMNS, MemoryBook

    row = dict.fromkeys(MEMORY_COLUMNS)
    row.update(as_of=date(2021, 3, 1), memory_id="M-1", kind="trade", tier="short_term",
               symbol="AAA", strategy_id="S01", regime="bull", importance=6,
               outcome_return=0.04, text="AAA trend trade in a bull market won", source="agent")
    book = MemoryBook(pd.DataFrame([row], columns=MEMORY_COLUMNS))
    [recalled] = book.recall(date(2021, 3, 10), "AAA", "S01", "bull")
    assert recalled["memory_id"] == "M-1" and recalled["as_of"] == date(2021, 3, 1)
