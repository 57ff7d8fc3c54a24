"""Memory tiers: promotion at birth, decay by half-life, forgetting, and their audit."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.memory.recall import MemoryBook
from trade_pipelines.agent.memory.tiers import (
    AUDIT_COLUMNS,
    FORGET_BELOW,
    LONG_TERM_HALF_LIFE,
    SHORT_TERM_HALF_LIFE,
    decayed_importance,
    forget_day,
    half_lives,
    lifetimes,
    tier_for,
)

DAY = date(2024, 6, 3)


@pytest.mark.parametrize(("importance", "return_pct", "stop", "black_swan", "tier"), [
    (9, -0.10, 0.08, False, "long_term"),       # a big loss, but within twice the stop
    (9, -0.17, 0.08, False, "episodic"),        # beyond twice the stop
    (5, 0.25, 0.10, False, "episodic"),         # a gain counts the same
    (5, 0.01, 0.08, True, "episodic"),          # a black-swan day
    (5, 0.01, 0.08, False, "short_term"),
    (3, None, None, False, "decaying"),
    (8, None, None, False, "long_term"),
])
def test_tier_at_birth(importance: int, return_pct: float | None, stop: float | None,
                       black_swan: bool, tier: str) -> None:
    assert tier_for(importance, return_pct, stop, black_swan) == tier


def test_importance_halves_every_half_life_and_episodes_never_fade() -> None:
    tiers = np.array(["short_term", "long_term", "episodic"], dtype=object)
    h = half_lives(tiers)
    assert list(h[:2]) == [SHORT_TERM_HALF_LIFE.days, LONG_TERM_HALF_LIFE.days]
    decayed = decayed_importance(np.array([8.0, 8.0, 8.0]), h, np.array([90, 730, 10_000]))
    assert decayed == pytest.approx([4.0, 4.0, 8.0])
    assert lifetimes(np.array([8.0]), np.array([np.inf]))[0] == np.inf
    assert forget_day(DAY, np.inf) is None


def test_documented_lifetimes() -> None:
    short = lifetimes(np.array([1.0, 3.0, 5.0]), np.full(3, 90.0))
    assert np.floor(short).tolist() == [37, 180, 246]
    assert lifetimes(np.array([8.0]), np.array([730.0]))[0] / 365 == pytest.approx(6.8, abs=0.05)
    # at its lifetime the decayed importance is exactly the threshold
    assert decayed_importance(np.array([5.0]), np.array([90.0]), short[2:])[0] == \
        pytest.approx(FORGET_BELOW)


def _bank(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{"symbol": "AAA", "strategy_id": "S01", "regime": "bull",
                          "outcome_return": -0.03, "text": "AAA trend trade lost",
                          **row} for row in rows])


def test_recall_stops_on_the_forget_day_the_audit_names() -> None:
    born = DAY - timedelta(days=300)
    bank = _bank({"as_of": born, "memory_id": "M-five", "importance": 5,
                  "tier": "short_term"})
    gone = forget_day(born, float(lifetimes(np.array([5.0]), np.array([90.0]))[0]))
    assert gone == born + timedelta(days=247)
    book = MemoryBook(bank)
    assert [m["memory_id"] for m in book.recall(gone - timedelta(days=1), "AAA", "S01",
                                                "bull")] == ["M-five"]
    assert book.recall(gone, "AAA", "S01", "bull") == []
    book.reviewed_through = gone - timedelta(days=1)
    (row,) = book.review(gone + timedelta(days=2))  # a weekend: the next session
    assert list(row) == AUDIT_COLUMNS
    assert row["as_of"] == gone + timedelta(days=2)
    assert (row["memory_id"], row["event"], row["tier_before"], row["tier_after"]) == (
        "M-five", "forget", "short_term", "forgotten")
    assert row["importance"] < FORGET_BELOW
    assert "247 days" in row["reason"] and "half-life 90 days" in row["reason"]
    assert book.review(gone + timedelta(days=400)) == []  # audited once


def test_promotions_are_audited_on_the_day_they_are_formed() -> None:
    book = MemoryBook(_bank(
        {"as_of": DAY, "memory_id": "M-lesson", "importance": 9, "tier": "long_term"},
        {"as_of": DAY, "memory_id": "M-crash", "importance": 10, "tier": "episodic",
         "outcome_return": -0.22},
        {"as_of": DAY, "memory_id": "M-plain", "importance": 5, "tier": "short_term"},
        {"as_of": DAY + timedelta(days=1), "memory_id": "M-later", "importance": 8,
         "tier": "long_term"}))
    book.reviewed_through = DAY - timedelta(days=1)
    rows = book.review(DAY)
    assert [(r["memory_id"], r["event"], r["tier_after"]) for r in rows] == [
        ("M-crash", "promote", "episodic"), ("M-lesson", "promote", "long_term")]
    assert all(r["tier_before"] == "short_term" and r["as_of"] == DAY for r in rows)
    assert "-22.0%" in rows[0]["reason"] and "never fades" in rows[0]["reason"]
    assert "importance 9 >= 8" in rows[1]["reason"]
    assert [r["memory_id"] for r in book.review(DAY + timedelta(days=1))] == ["M-later"]


def test_a_resumed_review_audits_what_an_uninterrupted_one_does() -> None:
    bank = _bank(*({"as_of": DAY + timedelta(days=7 * i), "memory_id": f"M-{i:02d}",
                    "importance": 1 + i % 10, "tier": tier_for(1 + i % 10)}
                   for i in range(30)))
    days = [DAY + timedelta(days=d) for d in range(0, 400) if d % 7 not in (5, 6)]
    whole = MemoryBook(bank)
    uninterrupted = [r for d in days for r in whole.review(d)]
    cut = days[len(days) // 2]
    first, second = MemoryBook(bank), MemoryBook(bank)
    before = [r for d in days if d < cut for r in first.review(d)]
    second.reviewed_through = max(d for d in days if d < cut)  # the last stored close
    after = [r for d in days if d >= cut for r in second.review(d)]
    assert before + after == uninterrupted
    assert {r["event"] for r in uninterrupted} == {"promote", "forget"}
