"""Dated events: the packaged earnings calendar, FOMC decisions, headlines, impact with
the reason, the memory of similar past events, response plans, and no look-ahead."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pytest

from trade_pipelines.agent.perception.events import (
    FOMC_DECISIONS,
    EventBook,
    EventResponses,
    earnings_database,
    earnings_dates,
    market_events,
    upcoming,
)
from trade_pipelines.market_data.builtin import load_builtin_bars
from trade_pipelines.market_data.calendar import exchange_sessions

SYMBOLS = ["AAPL", "JPM", "KO", "XOM", "MSFT"]


@pytest.fixture(scope="module")
def closes() -> pd.DataFrame:
    bars = load_builtin_bars()
    return bars[bars["symbol"].isin([*SYMBOLS, "^GSPC"])][["symbol", "as_of", "close"]]


def _events(closes: pd.DataFrame, start: date, end: date, **kwargs) -> pd.DataFrame:
    sessions = exchange_sessions(date(start.year - 1, 1, 1), date(end.year + 1, 12, 31))
    return market_events("us", SYMBOLS, closes, "^GSPC", sessions, start, end, **kwargs)


def test_the_packaged_calendar_is_read_with_its_duplicates_removed() -> None:
    assert earnings_database().name == "earnings.db"
    aapl = earnings_dates(["AAPL"])
    assert date(2019, 4, 30) in set(aapl["event_date"])
    assert aapl["event_date"].is_unique and aapl["event_date"].is_monotonic_increasing
    assert earnings_dates([]).empty


def test_an_earnings_event_with_its_memory_and_response_plan(closes) -> None:
    events = _events(closes, date(2019, 4, 1), date(2019, 4, 30))
    aapl = events[(events["symbol"] == "AAPL") & (events["kind"] == "earnings")].iloc[0]
    assert aapl["as_of"] == date(2019, 4, 30)
    assert aapl["known_from"] == date(2019, 4, 16)  # 14 days ahead, never earlier
    # decided on the 26th or 29th, an entry would fill on the 29th or the report day
    assert json.loads(aapl["blackout_days"]) == ["2019-04-26", "2019-04-29"]
    # Memory: the previous reports' moves, close after over close before the report day.
    by_day = closes[closes["symbol"] == "AAPL"].set_index("as_of")["close"]
    move = by_day[date(2019, 1, 30)] / by_day[date(2019, 1, 28)] - 1
    assert f"2019-01-29 {move:+.1%}" in aapl["memory"]
    assert "2018-05-01" in aapl["memory"] and "2018-02-01" not in aapl["memory"]
    # AAPL's last four reports moved it 6% on average: impact 9, with the reason.
    assert aapl["impact"] == 9
    assert "moved it" in aapl["reason"]
    assert "no new entries into AAPL decided on 2019-04-26 and 2019-04-29" in aapl["response"]


def test_fomc_decisions_are_scored_7_without_a_plan_and_emergencies_halve_sizes(closes) -> None:
    events = _events(closes, date(2020, 1, 1), date(2020, 4, 30))
    fomc = events[events["kind"] == "central_bank"]
    # The scheduled 18 March meeting was known ahead (and brought forward): it stays.
    assert fomc["as_of"].tolist() == [date(2020, 1, 29), date(2020, 3, 3), date(2020, 3, 16),
                                      date(2020, 3, 18), date(2020, 4, 29)]
    assert fomc["impact"].tolist() == [7, 9, 9, 7, 7]
    # The Sunday 15 March cut acts on the next session and is known only when announced.
    emergency = fomc.iloc[2]
    assert emergency["known_from"] == date(2020, 3, 15)
    assert emergency["size_scale"] == 0.5
    responses = EventResponses.of(events)
    assert responses.scale(date(2020, 3, 16)) == 0.5
    assert responses.scale(date(2020, 1, 29)) == 1.0
    assert all(d.weekday() < 5 for d in FOMC_DECISIONS)
    # Eight scheduled decisions a year, each a Wednesday or (after an election) Thursday.
    years = pd.Series([d.year for d in FOMC_DECISIONS]).value_counts()
    assert (years.loc[2015:2026] == 8).all() and len(years.loc[2015:2026]) == 12
    assert {d.weekday() for d in FOMC_DECISIONS} == {2, 3}
    assert list(FOMC_DECISIONS) == sorted(set(FOMC_DECISIONS))


def test_responses_apply_only_from_when_the_event_is_known() -> None:
    row = {"event_id": "E-1", "as_of": date(2020, 3, 16), "known_from": date(2020, 3, 16),
           "kind": "news", "symbol": "AAPL", "title": "t", "impact": 8, "reason": "r",
           "memory": "m", "response": "no new entries into AAPL",
           "blackout_days": json.dumps(["2020-03-13", "2020-03-16"]), "size_scale": 1.0,
           "source": "s"}
    responses = EventResponses.of(pd.DataFrame([row]))
    assert responses.names_barred(date(2020, 3, 16)) == {"AAPL"}
    assert responses.names_barred(date(2020, 3, 13)) == frozenset()  # not known yet
    book = EventBook(pd.DataFrame([row]))
    assert book.ahead("AAPL", date(2020, 3, 13)) is None
    assert book.ahead("AAPL", date(2020, 3, 16))["event_id"] == "E-1"
    assert book.ahead("MSFT", date(2020, 3, 16)) is None


def test_headlines_become_events_from_the_day_after_they_are_available(closes) -> None:
    """Rows as the ``news`` table stores them (no score column: each headline is scored
    here as the news sentiment scores it); a drill headline is left out unless asked."""
    news = pd.DataFrame({
        "published_at": [datetime(2019, 3, 4, 13), datetime(2019, 3, 5, 9),
                         datetime(2019, 3, 6, 9), datetime(2019, 3, 7, 9)],
        "available_at": [datetime(2019, 3, 4, 13, 5), datetime(2019, 3, 5, 9, 5),
                         datetime(2019, 3, 6, 9, 5), datetime(2019, 3, 7, 9, 5)],
        "symbol": ["AAPL", "KO", "ZZZZ", "KO"],
        "headline": ["Apple faces fraud charges, losses and a default; shares plunge on "
                     "the failure", "KO beats estimates",
                     "Unknown name soars to record gains, strong profit",
                     "Coca-Cola crashes in fraud scandal, losses and default feared"],
        "body": [None, None, None, None], "language": ["en"] * 4,
        "generated": [False, False, False, True]})
    events = _events(closes, date(2019, 3, 1), date(2019, 3, 31), news=news)
    headlines = events[events["kind"] == "news"]
    # weak, untraded and generated ones are not events
    assert headlines["symbol"].tolist() == ["AAPL"]
    row = headlines.iloc[0]
    assert (row["as_of"], row["known_from"]) == (date(2019, 3, 5), date(2019, 3, 5))
    assert row["impact"] == 8 and row["response"] == "no new entries into AAPL on 2019-03-05"
    assert row["reason"] == "headline on AAPL scored -0.80"
    drills = _events(closes, date(2019, 3, 1), date(2019, 3, 31), news=news,
                     include_generated=True)
    assert drills[drills["kind"] == "news"]["symbol"].tolist() == ["AAPL", "KO"]


def test_the_plan_window_lists_only_known_events_ahead(closes) -> None:
    events = _events(closes, date(2019, 4, 1), date(2019, 5, 10))
    ahead = upcoming(events, date(2019, 4, 26))
    titles = [(e["as_of"], e["title"]) for e in ahead]
    assert titles == [(date(2019, 4, 30), "AAPL earnings"),
                      (date(2019, 5, 1), "FOMC rate decision")]
    # 15 April: AAPL's report (known from the 16th) is not yet known.
    assert all(e["title"] != "AAPL earnings" for e in upcoming(events, date(2019, 4, 15)))


def test_no_event_row_depends_on_a_later_bar(closes) -> None:
    cut = date(2019, 6, 28)
    base = _events(closes, date(2019, 1, 1), date(2019, 12, 31))
    later = closes["as_of"] > cut
    perturbed = closes.copy()
    wobble = [1.10 if i % 2 else 0.90 for i in range(int(later.sum()))]
    perturbed.loc[later, "close"] = perturbed.loc[later, "close"] * wobble
    changed = _events(perturbed, date(2019, 1, 1), date(2019, 12, 31))
    before = base["as_of"] <= cut
    assert before.sum() > 10
    pd.testing.assert_frame_equal(base[before], changed[before])
    assert not base[~before].equals(changed[~before])  # later memories did change
