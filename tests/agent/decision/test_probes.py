"""The recall and counterfactual probes: they tell a reasoner that remembers prices or
ignores its evidence from one that reads what it is shown."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from test_debate import strong

from trade_pipelines.agent.decision.debate import Decision, Evidence, debate
from trade_pipelines.agent.decision.probes import (
    RECALL_ALARM,
    KnownMove,
    against_the_trade,
    counterfactual_probe,
    recall_probe,
)

# Stored closes adjusted for a later 4:1 split: a quarter of the printed prices.
MOVES = [KnownMove("AAA", date(2021, 3, d), 25.0 + d, date(2021, 4, d), 25.0 + d * 1.3)
         for d in range(1, 11)]
PRINTED = {**{(m.symbol, m.first_day): 4 * m.first_close for m in MOVES},
           **{(m.symbol, m.last_day): 4 * m.last_close for m in MOVES}}


def test_a_model_that_remembers_printed_prices_fails_the_recall_probe() -> None:
    remembered = recall_probe(lambda s, d: PRINTED[(s, d)] * 1.002, MOVES)
    assert remembered.score == 1.0 and not remembered.passed
    assert remembered.trials == len(MOVES)


def test_a_model_that_guesses_or_declines_passes_it() -> None:
    # the price level, not the day's: a flat guess misses every move of 5% or more
    guessing = recall_probe(lambda s, d: 100.0, MOVES)
    assert guessing.score <= RECALL_ALARM and guessing.passed
    declining = recall_probe(lambda s, d: None, MOVES)
    assert declining.score == 0.0 and declining.passed
    assert all(d["error"] is None for d in declining.details)


def test_the_turned_evidence_is_against_the_trade_and_keeps_the_proposal() -> None:
    e = strong()
    turned = against_the_trade(e)
    assert (turned.proposal_id, turned.symbol, turned.side) == (e.proposal_id, e.symbol, e.side)
    assert turned.record.win_rate < e.record.win_rate and turned.news.score < 0
    assert turned.vol_20 > e.vol_20 and not turned.above_sma_200
    # The headline is dated on the decision day: no text from after it.
    assert turned.news.top_published_at.date() == e.as_of


def test_the_deterministic_debate_moves_with_its_evidence() -> None:
    evidences = [strong(proposal_id=f"P{i}", symbol=s) for i, s in enumerate("ABCDE")]
    result = counterfactual_probe(lambda es: [debate(e) for e in es], evidences)
    assert result.passed and result.score == 1.0 and result.trials == 5


def test_a_reasoner_that_ignores_its_evidence_fails_it() -> None:
    def stubborn(evidences: list[Evidence]) -> list[Decision]:
        # Always the verdict on the untouched evidence: reads a name, not its evidence.
        return [debate(replace(e, record=strong().record, news=None, vol_20=0.15,
                               rsi_14=55.0, ret_20d=0.06, above_sma_200=True))
                for e in evidences]

    result = counterfactual_probe(stubborn, [strong(proposal_id="P1")])
    assert not result.passed and result.score == 0.0
    assert result.details[0]["turned_verdict"] == result.details[0]["verdict"]


def test_pairs_the_model_did_not_argue_do_not_count() -> None:
    evidences = [strong(proposal_id=f"P{i}", symbol=s) for i, s in enumerate("ABC")]
    # an unreachable model: the deterministic debate answered every time
    fell_back = counterfactual_probe(lambda es: [debate(e) for e in es], evidences,
                                     reasoner="llm")
    assert fell_back.trials == 0 and not fell_back.passed
    argued = counterfactual_probe(
        lambda es: [replace(debate(e), reasoner="llm") for e in es], evidences,
        reasoner="llm")
    assert argued.trials == 3 and argued.passed


def test_missing_figures_still_turn_against_the_trade() -> None:
    turned = against_the_trade(strong(vol_20=float("nan"), ret_20d=float("nan")))
    assert turned.vol_20 == 0.4 and turned.ret_20d == 0.25
