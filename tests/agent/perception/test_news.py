"""Each session's news as of its close: the window, the market-wide row, drills."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from trade_pipelines.agent.perception.news import (
    DRILL_KINDS,
    MARKET_WIDE,
    daily_news_sentiment,
    drill_headlines,
    news_by_symbol_day,
)
from trade_pipelines.agent.perception.news_scoring import score_headline
from trade_pipelines.market_data import bar_available_at

# Thursday 14, Friday 15 and Monday 18 March 2019 (New York closes at 20:00 UTC then).
SESSIONS = [date(2019, 3, 14), date(2019, 3, 15), date(2019, 3, 18)]
CLOSES = [bar_available_at(d) for d in SESSIONS]
PREVIOUS_CLOSE = bar_available_at(date(2019, 3, 13))


def _news(*items: tuple[datetime, str, str | None, bool]) -> pd.DataFrame:
    return pd.DataFrame([
        {"news_id": f"N-{i}", "symbol": symbol, "headline": headline, "body": None,
         "language": "en", "published_at": at, "available_at": at, "generated": generated}
        for i, (at, headline, symbol, generated) in enumerate(items)])


def _sentiment(news: pd.DataFrame, include_generated: bool = False) -> pd.DataFrame:
    return daily_news_sentiment(news, SESSIONS, CLOSES, PREVIOUS_CLOSE, include_generated)


def test_ten_minutes_before_the_close_counts_for_the_day_ten_after_for_the_next() -> None:
    friday_close = CLOSES[1]
    assert friday_close == datetime(2019, 3, 15, 20)  # 16:00 New York in daylight time
    rows = _sentiment(_news(
        (friday_close - timedelta(minutes=10), "AAA reports losses", "AAA", False),
        (friday_close + timedelta(minutes=10), "AAA posts strong gains", "AAA", False)))
    by_day = rows.set_index("as_of")
    assert by_day.loc[date(2019, 3, 15), "top_headline"] == "AAA reports losses"
    # after Friday's close: Monday's news (no session in between)
    assert by_day.loc[date(2019, 3, 18), "top_headline"] == "AAA posts strong gains"
    assert by_day.loc[date(2019, 3, 15), "score"] < 0 < by_day.loc[date(2019, 3, 18), "score"]


def test_a_headline_at_the_close_counts_and_nothing_outside_the_window_does() -> None:
    rows = _sentiment(_news(
        (CLOSES[0], "AAA posts strong gains", "AAA", False),
        (PREVIOUS_CLOSE, "AAA reports losses", "AAA", False),          # the day before's
        (CLOSES[-1] + timedelta(seconds=1), "AAA reports losses", "AAA", False)))
    assert list(rows["as_of"]) == [date(2019, 3, 14)]
    assert rows["headlines"].tolist() == [1]
    assert rows["window_start"].iloc[0] == pd.Timestamp(PREVIOUS_CLOSE)
    assert rows["window_end"].iloc[0] == pd.Timestamp(CLOSES[0])


def test_counts_add_up_and_the_strongest_headline_leads() -> None:
    at = CLOSES[0] - timedelta(hours=2)
    rows = _sentiment(_news(
        (at, "AAA announces quarterly dividend", "AAA", False),
        (at, "AAA faces lawsuit over losses; default fears", "AAA", False),
        (at, "Stocks rally on strong earnings", None, False)))
    aaa = rows[rows["symbol"] == "AAA"].iloc[0]
    scored = score_headline("AAA faces lawsuit over losses; default fears")
    assert (aaa["headlines"], aaa["positive"], aaa["negative"]) == (2, 0, scored.negative)
    assert aaa["top_headline"] == "AAA faces lawsuit over losses; default fears"
    market = rows[rows["symbol"] == MARKET_WIDE].iloc[0]
    assert market["score"] > 0 and market["headlines"] == 1


def test_generated_headlines_count_only_when_asked_and_are_marked() -> None:
    at = CLOSES[0] - timedelta(hours=1)
    news = _news((at, "AAA announces quarterly dividend", "AAA", False),
                 (at, "AAA shares plunge as fraud investigation widens", "AAA", True))
    real = _sentiment(news).iloc[0]
    assert (real["headlines"], real["generated_share"], real["top_generated"]) == (1, 0.0, False)
    drilled = _sentiment(news, include_generated=True).iloc[0]
    assert drilled["headlines"] == 2 and drilled["generated_share"] == 0.5
    assert drilled["top_generated"] and drilled["score"] < 0
    evidence = news_by_symbol_day(_sentiment(news, include_generated=True))
    assert evidence[("AAA", date(2019, 3, 14))].quote().startswith("[drill] ")


@pytest.mark.parametrize(("kind", "sign"), [("rumour", 1), ("crash", -1),
                                            ("contradiction", 0)])
def test_each_drill_has_its_tone(kind: str, sign: int) -> None:
    at = datetime(2019, 3, 14, 16)
    drafted = drill_headlines(kind, "AAA", at)
    assert (drafted["symbol"] == "AAA").all() and drafted["published_at"].min() == at
    scores = [score_headline(h).score for h in drafted["headline"]]
    if sign:
        assert all(s * sign > 0 for s in scores)
    else:  # a contradiction: one headline each way
        assert min(scores) < 0 < max(scores)
    assert set(DRILL_KINDS) == {"rumour", "crash", "contradiction"}
    with pytest.raises(ValueError, match="unknown drill kind"):
        drill_headlines("tsunami", "AAA", at)
