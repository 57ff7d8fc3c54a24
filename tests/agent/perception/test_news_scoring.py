"""Lexicon scores whose sign a reader can check, in English and Chinese."""

from __future__ import annotations

import pytest

from trade_pipelines.agent.perception.news_scoring import (
    chinese_words,
    detect_language,
    headlines_scored_per_second,
    score_headline,
    sentiment_score,
)


@pytest.mark.parametrize(("text", "sign"), [
    ("Bank faces lawsuit over losses; shares plunge on default fears", -1),
    ("Stocks rally on strong earnings", 1),
    ("Company misses estimates and cuts guidance", -1),  # "misses" is an LM negative
    ("Exxon announces quarterly dividend", 0),
    ("招商银行净利润大幅增长，业绩超出预期", 1),       # net profit grows, beats expectations
    ("万科遭遇债务违约风险，股价暴跌", -1),            # debt default risk, the price plunges
])
def test_headline_tone(text: str, sign: int) -> None:
    score = score_headline(text).score
    assert (score > 0) - (score < 0) == sign


def test_counts_are_kept_and_the_score_is_bounded() -> None:
    scored = score_headline("Bank faces lawsuit over losses; shares plunge on default fears")
    assert (scored.positive, scored.negative) == (0, 3)
    assert scored.score == pytest.approx(-3 / 4)
    assert sentiment_score(0, 0) == 0.0
    assert -1 < sentiment_score(0, 1000) < sentiment_score(0, 1) < 0


def test_english_negation_within_three_words_flips() -> None:
    assert score_headline("Profit strong").score > 0
    assert score_headline("Profit not strong").score < 0
    assert score_headline("Company does not expect losses").score > 0
    # four words away: no longer negated
    assert score_headline("No comment from the board; strong quarter").score > 0


def test_chinese_is_cut_by_longest_match_and_negated() -> None:
    words = [w for _, w in chinese_words("业绩超出预期")]
    assert words == ["业绩", "超出预期"]  # the longer entry wins over its prefix
    assert score_headline("销量增长").score > 0          # sales grew
    assert score_headline("销量没有增长").score < 0      # sales did not grow
    assert score_headline("销量未增长").score < 0        # sales have not grown
    # a negated form listed in the lexicon is matched whole: 不稳 (unstable)
    assert [w for _, w in chinese_words("盈利不稳定")] == ["盈利", "不稳"]


def test_language_detection() -> None:
    assert detect_language("Apple beats estimates") == "en"
    assert detect_language("腾讯控股 (0700.HK) 业绩增长") == "zh"


def test_scoring_rate_is_measured() -> None:
    assert headlines_scored_per_second(minimum_s=0.05) > 1000
