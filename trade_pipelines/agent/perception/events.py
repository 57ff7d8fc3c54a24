"""Dated market events: earnings reports, central-bank decisions and strong headlines,
each scored 1-10 for impact with the reason, linked to the similar events before it
(how the stock or the market moved then), and, from an impact of 8, a response plan that
the planner and the risk engine read.

Events are known ahead; each row says from when (``known_from``) and nothing uses it
before. The memory of past events reads only bars from before ``known_from``.

Sources:

* Earnings dates: the SQLite calendar packaged in ``stocks-earnings-dates`` 0.1.1
  (``stocks_earnings_dates/data/earnings.db``, table ``earnings(Ticker, Earnings_Date)``:
  24,670 rows, 515 US tickers, 2015-01-06..2025-07-31, some rows twice). Its metadata
  states no licence. The report's hour (before the open or after the close) is not
  given, so no entry may fill on the session before the date or on the date itself
  (none is decided on the two sessions before it: orders fill at the next open).
* FOMC decisions: the second day of each scheduled meeting, transcribed from the Federal
  Reserve's published meeting calendars (federalreserve.gov/monetarypolicy/
  fomccalendars.htm) for 2015-2022, the years the earnings calendar and the built-in
  US bars share; 2017, 2019, 2020, 2021 and 2022 and the 2016 quarterly dates were
  checked against copies of the Fed's announced schedules, 2015, 2018 and the other
  2016 dates are as transcribed. The scheduled 18 March 2020 meeting stays listed, as
  it was known ahead (it was brought forward to Sunday 15 March); the two unscheduled
  decisions of 2020 (3 March, 15 March) are listed apart: they were known only when
  announced. 2023-2027/01 are the Committee's announced schedules (its press releases
  of the tentative schedules for 2023, 2024 and 2025-26), for live and imported data.
  Outside 2015..2027-01 no FOMC event is produced (extend ``FOMC_DECISIONS``).
* Headlines: the ``news`` table when it exists (``published_at, available_at, symbol,
  headline, score``); a headline is known from the day after its ``available_at``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.perception.news import headline_scores

EVENT_COLUMNS = ["event_id", "as_of", "known_from", "kind", "symbol", "title", "impact",
                 "reason", "memory", "response", "blackout_days", "size_scale", "source"]
RESPONSE_IMPACT = 8
# Scheduled earnings are announced weeks ahead; 14 days is a conservative floor.
EARNINGS_KNOWN_AHEAD = timedelta(days=14)
# The FOMC publishes its meeting calendar about a year ahead; 30 days is conservative.
FOMC_KNOWN_AHEAD = timedelta(days=30)
# How far back the memory of similar events reaches (about four reports, eight meetings).
MEMORY_SPAN = timedelta(days=365)
# Impact of a report whose last moves averaged at least this much: 9 instead of 8.
BIG_REPORT_MOVE = 0.05
UNSCHEDULED_SIZE_SCALE = 0.5
SOURCE_EARNINGS = "stocks-earnings-dates:earnings.db"
SOURCE_FOMC = "federalreserve.gov FOMC calendar (transcribed)"
SOURCE_NEWS = "news table"

FOMC_DECISIONS: tuple[date, ...] = tuple(date.fromisoformat(d) for d in (
    "2015-01-28", "2015-03-18", "2015-04-29", "2015-06-17", "2015-07-29", "2015-09-17",
    "2015-10-28", "2015-12-16",
    "2016-01-27", "2016-03-16", "2016-04-27", "2016-06-15", "2016-07-27", "2016-09-21",
    "2016-11-02", "2016-12-14",
    "2017-02-01", "2017-03-15", "2017-05-03", "2017-06-14", "2017-07-26", "2017-09-20",
    "2017-11-01", "2017-12-13",
    "2018-01-31", "2018-03-21", "2018-05-02", "2018-06-13", "2018-08-01", "2018-09-26",
    "2018-11-08", "2018-12-19",
    "2019-01-30", "2019-03-20", "2019-05-01", "2019-06-19", "2019-07-31", "2019-09-18",
    "2019-10-30", "2019-12-11",
    "2020-01-29", "2020-03-18", "2020-04-29", "2020-06-10", "2020-07-29", "2020-09-16",
    "2020-11-05", "2020-12-16",
    "2021-01-27", "2021-03-17", "2021-04-28", "2021-06-16", "2021-07-28", "2021-09-22",
    "2021-11-03", "2021-12-15",
    "2022-01-26", "2022-03-16", "2022-05-04", "2022-06-15", "2022-07-27", "2022-09-21",
    "2022-11-02", "2022-12-14",
    "2023-02-01", "2023-03-22", "2023-05-03", "2023-06-14", "2023-07-26", "2023-09-20",
    "2023-11-01", "2023-12-13",
    "2024-01-31", "2024-03-20", "2024-05-01", "2024-06-12", "2024-07-31", "2024-09-18",
    "2024-11-07", "2024-12-18",
    "2025-01-29", "2025-03-19", "2025-05-07", "2025-06-18", "2025-07-30", "2025-09-17",
    "2025-10-29", "2025-12-10",
    "2026-01-28", "2026-03-18", "2026-04-29", "2026-06-17", "2026-07-29", "2026-09-16",
    "2026-10-28", "2026-12-09",
    "2027-01-27",
))
FOMC_UNSCHEDULED: tuple[date, ...] = (date(2020, 3, 3), date(2020, 3, 15))


class EarningsCalendarMissingError(RuntimeError):
    """The packaged earnings calendar is not installed."""


def earnings_database() -> Path:
    """The SQLite file packaged in ``stocks-earnings-dates`` (a declared dependency)."""
    spec = importlib.util.find_spec("stocks_earnings_dates")
    if spec is None or not spec.submodule_search_locations:
        raise EarningsCalendarMissingError(
            "stocks-earnings-dates is not installed: reinstall the project's dependencies")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "earnings.db"
    if not path.exists():
        raise EarningsCalendarMissingError(f"{path} is missing from stocks-earnings-dates")
    return path


def earnings_dates(symbols: Iterable[str]) -> pd.DataFrame:
    """symbol, event_date: each report once, in date order, for the given tickers."""
    wanted = sorted(set(symbols))
    with sqlite3.connect(f"file:{earnings_database()}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT DISTINCT Ticker, substr(Earnings_Date, 1, 10) FROM earnings WHERE Ticker "
            f"IN ({', '.join('?' for _ in wanted)}) ORDER BY 1, 2", wanted).fetchall() \
            if wanted else []
    return pd.DataFrame([(s, date.fromisoformat(d)) for s, d in rows],
                        columns=["symbol", "event_date"])


@dataclass(frozen=True)
class _Closes:
    """One symbol's closes by session, for the moves around past events."""

    days: np.ndarray      # datetime64[D], ascending
    closes: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Closes:
        ordered = frame.sort_values("as_of", kind="mergesort")
        return cls(pd.to_datetime(ordered["as_of"]).to_numpy(dtype="datetime64[D]"),
                   ordered["close"].to_numpy(dtype=float))

    def move(self, day: date, before: int, after: int, known_before: date) -> float:
        """Close ``after`` sessions on from ``day``'s session over the close ``before``
        sessions earlier, if both are bars from before ``known_before``."""
        at = int(np.searchsorted(self.days, np.datetime64(day, "D")))
        first, last = at - before, at + after
        if first < 0 or last >= len(self.days) or \
                self.days[last] >= np.datetime64(known_before, "D"):
            return math.nan
        return float(self.closes[last] / self.closes[first] - 1)


class _Sessions:
    """A market's sessions, searchable by day."""

    def __init__(self, sessions: Sequence[date]) -> None:
        self.days = list(sessions)
        self._array = np.array(self.days, dtype="datetime64[D]")

    def _index(self, day: date) -> int:
        return int(np.searchsorted(self._array, np.datetime64(day, "D")))

    def on_or_after(self, day: date) -> date | None:
        index = self._index(day)
        return self.days[index] if index < len(self.days) else None

    def before(self, day: date) -> date | None:
        index = self._index(day)
        return self.days[index - 1] if index > 0 else None


def _memory(label: str, past: list[tuple[date, float]]) -> tuple[str, float]:
    """Past events' moves in words and their mean absolute move (NaN without any)."""
    moved = [(d, m) for d, m in past if math.isfinite(m)]
    if not moved:
        return f"no earlier {label} with known bars in the year before", math.nan
    mean_abs = float(np.mean([abs(m) for _, m in moved]))
    listed = ", ".join(f"{d} {m:+.1%}" for d, m in moved[-4:])
    return (f"last {min(4, len(moved))} {label}: {listed}; mean absolute move "
            f"{mean_abs:.1%}"), mean_abs


def _row(kind: str, as_of: date, known_from: date, symbol: str | None, title: str,
         impact: int, reason: str, memory: str, response: str, blackout: list[date],
         size_scale: float, source: str) -> dict[str, object]:
    return {"event_id": stable_id("E", kind, symbol or "", as_of, title), "as_of": as_of,
            "known_from": known_from, "kind": kind, "symbol": symbol, "title": title,
            "impact": int(impact), "reason": reason, "memory": memory, "response": response,
            "blackout_days": json.dumps([d.isoformat() for d in blackout]),
            "size_scale": float(size_scale), "source": source}


def earnings_events(calendar: pd.DataFrame, closes: pd.DataFrame, sessions: Sequence[date],
                    start: date, end: date) -> list[dict[str, object]]:
    """A report of a traded (held or candidate) name: impact 8, 9 when its last reports
    moved it 5% or more on average (close after the report over the close before)."""
    rows = []
    calendar_days = _Sessions(sessions)
    by_symbol = {s: _Closes.of(g) for s, g in closes.groupby("symbol", sort=False)}
    for symbol, reports in calendar.groupby("symbol", sort=True):
        dates = list(reports["event_date"])
        history = by_symbol.get(symbol)
        for i, reported in enumerate(dates):
            as_of = calendar_days.on_or_after(reported)
            if as_of is None or not start <= as_of <= end:
                continue
            known_from = reported - EARNINGS_KNOWN_AHEAD
            past = [(d, history.move(d, 1, 1, known_from) if history else math.nan)
                    for d in dates[:i] if d >= known_from - MEMORY_SPAN]
            memory, mean_abs = _memory(f"{symbol} reports", past)
            big = math.isfinite(mean_abs) and mean_abs >= BIG_REPORT_MOVE
            impact = 9 if big else 8
            # Orders decided at a close fill at the next open: no entry decided on the two
            # sessions before the report, which would fill the session before it and on
            # the day of it (the report's hour is unknown).
            before = calendar_days.before(as_of)
            two_before = calendar_days.before(before) if before is not None else None
            blackout = [d for d in (two_before, before) if d is not None]
            reason = (f"earnings of {symbol}, a traded name: the price can gap either way "
                      "on the report" + (f"; its recent reports moved it {mean_abs:.1%} "
                                         "on average" if big else ""))
            response = (f"no new entries into {symbol} decided on "
                        f"{' and '.join(d.isoformat() for d in blackout)} (they would fill "
                        "the session before the report and the day of it)")
            rows.append(_row("earnings", as_of, known_from, symbol, f"{symbol} earnings",
                             impact, reason, memory, response, blackout, 1.0,
                             SOURCE_EARNINGS))
    return rows


def fomc_events(benchmark: pd.DataFrame, sessions: Sequence[date], start: date, end: date,
                benchmark_symbol: str) -> list[dict[str, object]]:
    """Scheduled FOMC decisions (impact 7: the whole market reprices, no response plan)
    and unscheduled ones (impact 9: new sizes halved that session)."""
    history = _Closes.of(benchmark) if not benchmark.empty else None
    calendar_days = _Sessions(sessions)
    decisions = sorted([(d, False) for d in FOMC_DECISIONS]
                       + [(d, True) for d in FOMC_UNSCHEDULED])
    rows = []
    for i, (decided, unscheduled) in enumerate(decisions):
        as_of = calendar_days.on_or_after(decided)
        if as_of is None or not start <= as_of <= end:
            continue
        known_from = decided if unscheduled else decided - FOMC_KNOWN_AHEAD
        past = [(d, history.move(d, 1, 0, known_from) if history else math.nan)
                for d, _ in decisions[:i] if d >= known_from - MEMORY_SPAN]
        memory, _ = _memory(f"FOMC decisions ({benchmark_symbol} on the day)", past)
        if unscheduled:
            rows.append(_row(
                "central_bank", as_of, known_from, None, "FOMC unscheduled rate decision", 9,
                "an emergency Federal Reserve decision between meetings: the market is under "
                "stress", memory, f"new position sizes halved on {as_of}", [as_of],
                UNSCHEDULED_SIZE_SCALE, SOURCE_FOMC))
        else:
            rows.append(_row(
                "central_bank", as_of, known_from, None, "FOMC rate decision", 7,
                "scheduled Federal Reserve rate decision at 14:00 ET: the whole market "
                "reprices", memory, "", [], 1.0, SOURCE_FOMC))
    return rows


def news_events(news: pd.DataFrame, symbols: Iterable[str], sessions: Sequence[date],
                start: date, end: date,
                include_generated: bool = False) -> list[dict[str, object]]:
    """Strong headlines (|score| >= 0.5 of 1) on a traded name, scored as the news
    sentiment scores them: impact 4 + 4|score| rounded up (6..8); a strongly negative one
    (8) bars new entries that session. Generated drill headlines only when asked for."""
    traded = set(symbols)
    rows: list[dict[str, object]] = []
    if not include_generated and "generated" in news:
        news = news[~news["generated"].astype(bool)]
    if news.empty:
        return rows
    news = news.assign(score=[s.score for s in headline_scores(news)])
    ordered = news.sort_values("available_at", kind="mergesort")
    calendar_days = _Sessions(sessions)
    seen: dict[str, list[tuple[date, float, str]]] = {}
    for item in ordered.to_dict("records"):
        symbol, score = item.get("symbol"), item.get("score")
        if symbol not in traded or score is None or not math.isfinite(float(score)):
            continue
        known_from = pd.Timestamp(item["available_at"]).date() + timedelta(days=1)
        earlier = seen.setdefault(symbol, [])
        memory = ("earlier strong headlines: " + "; ".join(
            f"{d} {s:+.2f} {h[:60]}" for d, s, h in earlier[-3:])) if earlier else \
            f"no earlier strong headline on {symbol}"
        score = float(score)
        if abs(score) < 0.5:
            continue
        earlier.append((known_from, score, str(item["headline"])))
        as_of = calendar_days.on_or_after(known_from)
        if as_of is None or not start <= as_of <= end:
            continue
        impact = min(8, 4 + math.ceil(4 * min(abs(score), 1.0)))
        negative = impact >= RESPONSE_IMPACT and score < 0
        rows.append(_row(
            "news", as_of, known_from, symbol, str(item["headline"])[:200], impact,
            f"headline on {symbol} scored {score:+.2f}", memory,
            f"no new entries into {symbol} on {as_of}" if negative else "",
            [as_of] if negative else [], 1.0, SOURCE_NEWS))
    return rows


def market_events(market: str, symbols: Sequence[str], closes: pd.DataFrame,
                  benchmark_symbol: str, sessions: Sequence[date], start: date, end: date,
                  news: pd.DataFrame | None = None,
                  calendar: pd.DataFrame | None = None,
                  include_generated: bool = False) -> pd.DataFrame:
    """Every event whose session falls in [start, end] (``EVENT_COLUMNS``), in date order.

    ``closes``: symbol, as_of, close of the traded symbols and the benchmark (from a year
    before ``start``); ``sessions``: the market's sessions covering the window;
    ``calendar``: earnings dates (symbol, event_date), read from the packaged calendar
    when not given (US only: its tickers are US listings)."""
    rows: list[dict[str, object]] = []
    if market == "us":
        calendar = earnings_dates(symbols) if calendar is None else calendar
        rows += earnings_events(calendar, closes[closes["symbol"].isin(symbols)], sessions,
                                start, end)
        rows += fomc_events(closes[closes["symbol"] == benchmark_symbol], sessions, start,
                            end, benchmark_symbol)
    if news is not None:
        rows += news_events(news, symbols, sessions, start, end, include_generated)
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return frame.sort_values(["as_of", "kind", "symbol", "event_id"], kind="mergesort",
                             na_position="first").reset_index(drop=True)


@dataclass(frozen=True)
class EventResponses:
    """What the response plans (impact >= 8) ask of each session: the names with no new
    entries and the scale of new sizes; only rows known by that session count."""

    blackout: Mapping[date, frozenset[str]]
    size_scale: Mapping[date, float]

    @classmethod
    def of(cls, events: pd.DataFrame) -> EventResponses:
        blackout: dict[date, set[str]] = {}
        scale: dict[date, float] = {}
        if events.empty:
            return cls({}, {})
        planned = events[events["impact"] >= RESPONSE_IMPACT]
        for row in planned.to_dict("records"):
            for text in json.loads(row["blackout_days"]):
                day = date.fromisoformat(text)
                if _as_date(row["known_from"]) > day:
                    continue
                if row["symbol"] is not None and isinstance(row["symbol"], str):
                    blackout.setdefault(day, set()).add(row["symbol"])
                if float(row["size_scale"]) < 1.0:
                    scale[day] = min(scale.get(day, 1.0), float(row["size_scale"]))
        return cls({d: frozenset(s) for d, s in blackout.items()}, scale)

    def names_barred(self, day: date) -> frozenset[str]:
        return self.blackout.get(day, frozenset())

    def scale(self, day: date) -> float:
        return self.size_scale.get(day, 1.0)


NO_RESPONSES = EventResponses({}, {})


def _as_date(value: object) -> date:
    return pd.Timestamp(value).date() if not isinstance(value, date) else value


# Calendar days ahead in which an event counts against a new position (about 5 sessions).
EVENT_HORIZON = timedelta(days=7)


class EventBook:
    """The events, indexed for "what is ahead of this name at this close"."""

    def __init__(self, events: pd.DataFrame | None) -> None:
        self.by_symbol: dict[str | None, list[dict[str, object]]] = {}
        if events is None or events.empty:
            return
        for row in events.to_dict("records"):
            row["as_of"], row["known_from"] = _as_date(row["as_of"]), _as_date(row["known_from"])
            symbol = row["symbol"] if isinstance(row["symbol"], str) else None
            self.by_symbol.setdefault(symbol, []).append(row)

    def ahead(self, symbol: str, day: date) -> dict[str, object] | None:
        """The most impactful event known by ``day`` on ``symbol`` or the whole market
        within ``EVENT_HORIZON`` from ``day`` (the nearest on a tie), or None."""
        candidates = [row for key in (symbol, None) for row in self.by_symbol.get(key, ())
                      if row["known_from"] <= day <= row["as_of"] <= day + EVENT_HORIZON]
        if not candidates:
            return None
        return min(candidates, key=lambda r: (-int(r["impact"]), r["as_of"], r["event_id"]))


def upcoming(events: pd.DataFrame, day: date, horizon: timedelta = EVENT_HORIZON
             ) -> list[dict[str, object]]:
    """The events known at ``day``'s close that fall after it and within ``horizon``
    (the planner's risk window), in date order, the most impactful first on a day."""
    if events is None or events.empty:
        return []
    rows = [row for row in events.to_dict("records")
            if _as_date(row["known_from"]) <= day < _as_date(row["as_of"]) <= day + horizon]
    return sorted(rows, key=lambda r: (_as_date(r["as_of"]), -int(r["impact"]),
                                       str(r["event_id"])))
