"""The debate reads the symbol's news: good news is cited, bad news objected to, the top
headline quoted with its timestamp, and a drill's headline marked as generated."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from test_debate import strong

from trade_pipelines.agent.decision.debate import debate
from trade_pipelines.agent.perception.news import DRILL_MARK, NewsSentiment

BAD_NEWS = NewsSentiment(headlines=3, score=-0.7, positive=0, negative=6,
                         top_headline="AAA faces fraud investigation",
                         top_published_at=datetime(2024, 3, 1, 15, 20))
GOOD_NEWS = NewsSentiment(headlines=2, score=0.6, positive=4, negative=1,
                          top_headline="AAA posts strong gains",
                          top_published_at=datetime(2024, 3, 1, 13, 5))


def _texts(decision, role: str) -> str:
    return " ".join(t["text"] for t in decision.transcript if t["role"] == role)


def test_no_news_leaves_the_debate_as_it_was() -> None:
    assert debate(strong()) == debate(strong(news=None))
    assert "news" not in " ".join(t["text"] for t in debate(strong()).transcript).lower()


def test_the_conservative_objects_to_a_long_entry_against_bad_news() -> None:
    calm, alarmed = debate(strong()), debate(strong(news=BAD_NEWS))
    objections = _texts(alarmed, "conservative")
    assert "Objection 6 (news" in objections
    assert '"AAA faces fraud investigation" (2024-03-01 15:20 UTC)' in objections
    assert alarmed.confidence < calm.confidence
    assert alarmed.weight_combined <= calm.weight_combined


def test_the_aggressive_cites_good_news_and_gains_confidence() -> None:
    calm, cheered = debate(strong()), debate(strong(news=GOOD_NEWS))
    assert '"AAA posts strong gains" (2024-03-01 13:05 UTC)' in _texts(cheered, "aggressive")
    assert "Objection 6" not in _texts(cheered, "conservative")
    assert cheered.confidence > calm.confidence


def test_mild_news_is_only_reported() -> None:
    mild = replace(GOOD_NEWS, score=0.1)
    decision = debate(strong(news=mild))
    assert "News to today's close: 2 headline(s)" in _texts(decision, "quant")
    assert "Objection 6" not in _texts(decision, "conservative")


def test_a_drill_headline_is_marked_in_the_transcript() -> None:
    drill = replace(BAD_NEWS, top_generated=True, generated_share=1.0)
    text = _texts(debate(strong(news=drill)), "conservative")
    assert f'{DRILL_MARK} "AAA faces fraud investigation"' in text
    assert DRILL_MARK not in _texts(debate(strong(news=BAD_NEWS)), "conservative")


def test_market_wide_news_is_read_by_every_proposal_and_weighs_half() -> None:
    calm = debate(strong())
    alarmed = debate(strong(market_news=replace(BAD_NEWS, top_headline="Markets slump")))
    named = debate(strong(news=BAD_NEWS))
    assert "Market-wide news to today's close: 3 headline(s)" in _texts(alarmed, "quant")
    assert "Objection 6 (market news" in _texts(alarmed, "conservative")
    assert '"Markets slump"' in _texts(alarmed, "conservative")
    # Bad news about every name costs less confidence than the same news about this one.
    assert named.confidence < alarmed.confidence < calm.confidence
