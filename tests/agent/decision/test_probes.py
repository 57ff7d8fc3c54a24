"""The recall and counterfactual probes: they tell a reasoner that remembers prices or
ignores its evidence from one that reads what it is shown."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from test_debate import strong

from trade_pipelines.agent.decision.debate import Decision, Evidence, debate
from trade_pipelines.agent.decision.probes import (
    RECALL_ALARM,
    KnownClose,
    against_the_trade,
    counterfactual_probe,
    recall_probe,
)

CLOSES = [KnownClose("AAA", date(2021, 3, d), 100.0 + d) for d in range(1, 11)]


def test_a_model_that_names_the_closes_fails_the_recall_probe() -> None:
    truth = {(c.symbol, c.as_of): c.close for c in CLOSES}
    remembered = recall_probe(lambda s, d: truth[(s, d)] * 1.001, CLOSES)
    assert remembered.score == 1.0 and not remembered.passed
    assert remembered.trials == len(CLOSES)


def test_a_model_that_guesses_or_declines_passes_it() -> None:
    guessing = recall_probe(lambda s, d: 100.0, CLOSES)  # the price level, not the day's
    assert guessing.score <= RECALL_ALARM and guessing.passed
    declining = recall_probe(lambda s, d: None, CLOSES)
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
