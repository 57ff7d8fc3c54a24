"""The debate: deterministic, bounded, and ruled by the evidence."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import replace
from datetime import date

import pytest

from trade_pipelines.agent.decision.debate import (
    LOW_CERTAINTY,
    MAX_ROUNDS,
    MIN_ROUNDS,
    EventContext,
    Evidence,
    MarketMood,
    SetupRecord,
    debate,
)
from trade_pipelines.agent.ids import stable_id

STRONG_RECORD = SetupRecord(n=120, win_rate=0.68, expectancy=0.03, payoff=1.8, symbol_n=12,
                            symbol_win_rate=0.75)
WEAK_RECORD = SetupRecord(n=40, win_rate=0.35, expectancy=-0.01, payoff=0.7, symbol_n=2,
                          symbol_win_rate=0.0)
EMPTY_RECORD = SetupRecord(n=0, win_rate=float("nan"), expectancy=float("nan"),
                           payoff=float("nan"), symbol_n=0, symbol_win_rate=float("nan"))

GOOD_MEMORIES = [
    {"memory_id": "M-good1", "text": "AAA trend trade won", "importance": 6,
     "outcome_return": 0.06},
    {"memory_id": "M-good2", "text": "AAA trend trade won again", "importance": 5,
     "outcome_return": 0.04},
]
BAD_MEMORIES = [
    {"memory_id": "M-bad1", "text": "lost", "importance": 8, "outcome_return": -0.05},
    {"memory_id": "M-bad2", "text": "lost again", "importance": 7, "outcome_return": -0.03},
]


def strong(**overrides: object) -> Evidence:
    base = dict(as_of=date(2024, 3, 1), proposal_id="P-strong", symbol="AAA", side="buy",
                strategy_id="S01", strategy_name="SMA 20/50 trend", family="trend",
                strength=0.8, close=100.0, ret_20d=0.06, vol_20=0.15, rsi_14=55.0,
                above_sma_200=True, regime="bull", defensive=False, exposure_target=1.0,
                record=STRONG_RECORD, memories=list(GOOD_MEMORIES))
    base.update(overrides)
    return Evidence(**base)


def weak(**overrides: object) -> Evidence:
    base = dict(proposal_id="P-weak", symbol="BBB", strategy_id="S05",
                strategy_name="RSI oversold bounce", family="mean_reversion", strength=0.3,
                close=40.0, ret_20d=-0.25, vol_20=0.55, rsi_14=25.0, above_sma_200=False,
                regime="bear", record=WEAK_RECORD, memories=list(BAD_MEMORIES))
    base.update(overrides)
    return strong(**base)


def grid() -> list[Evidence]:
    out = []
    for record, family, vol, regime, above, memories, strength in itertools.product(
            (STRONG_RECORD, WEAK_RECORD, EMPTY_RECORD),
            ("trend", "mean_reversion"), (0.12, 0.35, 0.9), ("bull", "range", "bear"),
            (True, False), ([], GOOD_MEMORIES[:1], BAD_MEMORIES), (0.0, 1.0)):
        out.append(strong(record=record, family=family, vol_20=vol, regime=regime,
                          above_sma_200=above, memories=list(memories), strength=strength,
                          rsi_14=80.0 if family == "trend" else 25.0,
                          ret_20d=0.2 if family == "trend" else -0.2,
                          proposal_id=f"P-{len(out)}"))
    return out


def test_same_evidence_gives_an_identical_transcript() -> None:
    for evidence in (strong(), weak(), strong(record=EMPTY_RECORD, memories=[])):
        first = debate(evidence)
        second = debate(copy.deepcopy(evidence))
        assert first.transcript == second.transcript
        assert first.row() == second.row()


def test_debate_does_not_mutate_its_evidence() -> None:
    evidence = weak()
    before = copy.deepcopy(evidence)
    debate(evidence)
    assert evidence == before


def test_rounds_between_3_and_5() -> None:
    seen = set()
    for evidence in grid():
        decision = debate(evidence)
        assert MIN_ROUNDS <= decision.rounds <= MAX_ROUNDS
        rounds = {line["round"] for line in decision.transcript}
        assert rounds == set(range(1, decision.rounds + 1))
        assert decision.transcript[-1]["role"] == "judge"
        seen.add(decision.rounds)
    assert seen == {3, 4, 5}  # the grid exercises short and long debates


def test_exactly_five_objections_in_round_one() -> None:
    for evidence in (strong(), weak(), strong(record=EMPTY_RECORD, memories=[])):
        transcript = debate(evidence).transcript
        round_one = [line for line in transcript if line["round"] == 1]
        objections = [line for line in round_one if line["role"] == "conservative"]
        assert len(objections) == 5
        assert [o["text"].split(" (")[0] for o in objections] == [
            f"Objection {i}" for i in range(1, 6)]
        assert [line["role"] for line in round_one] == (
            ["aggressive"] + ["conservative"] * 5 + ["quant"])


EARNINGS_TOMORROW = EventContext("AAA earnings", date(2024, 3, 4), 1, 9,
                                  "no new entries into AAA on 2024-03-01 and 2024-03-04",
                                  "last 4 AAA reports: ...; mean absolute move 6.1%")


def test_the_conservative_objects_to_an_entry_before_earnings() -> None:
    plain, before = debate(strong()), debate(strong(event=EARNINGS_TOMORROW))
    objections = [line["text"] for line in before.transcript
                  if line["round"] == 1 and line["role"] == "conservative"]
    assert len(objections) == 5  # the event displaces the weakest objection
    event = next(o for o in objections if "(event, severity 0.90)" in o)
    assert "AAA earnings in 1 day(s) (2024-03-04, impact 9/10)" in event
    assert "Response plan: no new entries into AAA" in event
    assert before.confidence < plain.confidence
    assert before.weight_combined < plain.weight_combined


def test_the_debate_cites_the_market_sentiment() -> None:
    calm = MarketMood(62.0, "^VIX", 14.2, -1.3, None)
    turning = MarketMood(38.0, "^VIX", 24.5, 6.1, "toward_fear")
    cited = debate(strong(sentiment=calm)).transcript
    assert any("Fear/greed stands at 62 (^VIX 14.2, -1.3 in 5 days)." in line["text"]
               for line in cited)
    # A turn toward fear sharpens the regime objection.
    before = debate(strong(sentiment=turning)).transcript
    regime = next(line["text"] for line in before if "(regime, severity" in line["text"])
    assert "Sentiment just turned toward fear." in regime
    assert "severity 0.20" in regime  # a bull regime's 0.0 plus the turn's 0.2
    assert debate(strong()).transcript == debate(strong(sentiment=None)).transcript


def test_defensive_regime_drops_with_zero_weights() -> None:
    decision = debate(strong(defensive=True))
    assert decision.verdict == "drop"
    assert decision.weight_aggressive == 0.0
    assert decision.weight_conservative == 0.0
    assert decision.weight_combined == 0.0
    assert "defensive" in decision.summary


def test_strong_evidence_executes_with_confidence() -> None:
    decision = debate(strong())
    assert decision.verdict == "execute"
    assert decision.confidence >= LOW_CERTAINTY
    assert decision.weight_combined > 0
    assert decision.weight_aggressive == pytest.approx(0.05 + 0.05 * 0.8)
    assert 0 < decision.weight_conservative <= 0.04
    row = decision.row()
    assert row["low_certainty"] is False
    assert row["verdict"] == "execute"


def test_combined_weight_scales_with_the_exposure_target() -> None:
    full = debate(strong(exposure_target=1.0))
    half = debate(strong(exposure_target=0.5))
    assert half.verdict == full.verdict == "execute"
    assert half.weight_combined == pytest.approx(full.weight_combined / 2)


def test_weak_evidence_drops_and_flags_low_certainty() -> None:
    decision = debate(weak())
    assert decision.verdict in ("drop", "adjust")
    assert decision.confidence < LOW_CERTAINTY
    row = decision.row()
    assert row["low_certainty"] is True
    assert row["weight_combined"] < debate(strong()).weight_combined


def test_low_confidence_never_executes() -> None:
    low = 0
    for evidence in grid():
        decision = debate(evidence)
        row = decision.row()
        assert 0.0 < decision.confidence < 1.0
        assert row["low_certainty"] == (decision.confidence < LOW_CERTAINTY)
        if decision.confidence < LOW_CERTAINTY:
            low += 1
            assert decision.verdict in ("drop", "adjust")
        if decision.verdict == "drop":
            assert decision.weight_combined == 0.0
        if decision.verdict == "adjust":
            assert decision.weight_combined > 0.0
    assert low > 0


def test_memories_used_lists_the_given_memory_ids() -> None:
    memories = [*GOOD_MEMORIES, {"memory_id": "M-none", "text": "an event",
                                 "importance": 9, "outcome_return": None}]
    row = debate(strong(memories=memories)).row()
    assert json.loads(row["memories_used"]) == [
        {"memory_id": m, "score": None} for m in ("M-good1", "M-good2", "M-none")]
    assert json.loads(debate(strong(memories=[])).row()["memories_used"]) == []


def test_row_has_stable_ids_and_a_json_transcript() -> None:
    evidence = strong()
    decision = debate(evidence)
    row = decision.row()
    assert row["decision_id"] == stable_id("D", "P-strong")
    assert json.loads(row["transcript"]) == decision.transcript
    assert row["rounds"] == decision.rounds
    other = debate(replace(evidence, proposal_id="P-other")).row()
    assert other["decision_id"] != row["decision_id"]


def test_bad_memories_lower_confidence() -> None:
    good = debate(strong(memories=list(GOOD_MEMORIES)))
    bad = debate(strong(memories=list(BAD_MEMORIES)))
    assert bad.confidence < good.confidence
    assert any("memory does not back this" in line["text"] for line in bad.transcript)


def test_the_quant_cites_the_knowledge_graph() -> None:
    fact = "AAA: trend trades won 4 of 6 (+2.1% mean), evidence 6 trades to 2024-02-20"
    cited = debate(strong(graph_facts=[fact]))
    plain = debate(strong())
    quant = [t["text"] for t in cited.transcript if t["role"] == "quant"]
    assert any(fact in text for text in quant)
    assert not any("knowledge graph" in t["text"] for t in plain.transcript)
    # Cited, not weighed: the verdict is the evidence's.
    assert (cited.verdict, cited.confidence) == (plain.verdict, plain.confidence)


def test_the_quant_gives_the_win_rates_wilson_interval() -> None:
    quant = " ".join(t["text"] for t in debate(strong()).transcript if t["role"] == "quant")
    # 82 of 120 (68%): [59.6%, 76.0%]; 9 of 12: [46.8%, 91.1%]
    assert "120 trades (one at a time per symbol), win rate 68% (95% interval 60%-76%)" in quant
    assert "12 trades, win rate 75% (95% interval 47%-91%)" in quant


def test_a_backdated_lesson_labels_the_decision_as_hindsight() -> None:
    lesson = {"memory_id": "K-1", "text": "chip makers fall after weak guidance",
              "importance": 8, "outcome_return": None, "as_of": date(2024, 2, 1)}
    on_time = debate(strong(memories=[{**lesson, "recorded_on": date(2024, 2, 1)}])).row()
    backdated = debate(strong(memories=[{**lesson, "recorded_on": date(2026, 11, 29)}])).row()
    assert on_time["cleanliness"] == "replay"
    assert backdated["cleanliness"] == "replay_hindsight"
