"""News as the agent perceives it: each session's headlines, scored and aggregated per
symbol, as of that session's close; and generated headlines for drills.

The as-of rule: the decision for session D is made after D's close, so D's news is every
headline with ``previous close < available_at <= close of D`` (``available_at`` is the
headline's own timestamp: it is seen only once published). A headline ten minutes before
D's close counts for D; ten minutes after, for the next session; a weekend's headlines
count for Monday. Headlines without a symbol make the market-wide row (``MARKET_WIDE``).

Generated (drill) headlines are left out unless a caller asks for them, so a replay of
real data never mixes them in; when included, they are marked in every row they touch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.agent.perception.news_scoring import (
    HeadlineScore,
    score_headline,
    sentiment_score,
)

MARKET_WIDE = "*"
NEWS_SENTIMENT_COLUMNS = [
    "as_of", "symbol", "headlines", "score", "positive", "negative", "generated_share",
    "top_headline", "top_published_at", "top_generated", "window_start", "window_end",
]
DRILL_KINDS = ("rumour", "crash", "contradiction")
DRILL_MARK = "[drill]"


@dataclass(frozen=True)
class NewsSentiment:
    """One symbol's news for one session, as the debate reads it."""

    headlines: int
    score: float
    positive: int
    negative: int
    top_headline: str
    top_published_at: datetime
    top_generated: bool = False
    generated_share: float = 0.0

    def quote(self) -> str:
        """The top headline with its timestamp, marked when a drill generated it."""
        mark = f"{DRILL_MARK} " if self.top_generated else ""
        return (f"{mark}\"{self.top_headline}\" "
                f"({pd.Timestamp(self.top_published_at):%Y-%m-%d %H:%M} UTC)")


def news_by_symbol_day(rows: pd.DataFrame) -> dict[tuple[str, date], NewsSentiment]:
    """``news_sentiment`` rows keyed by (symbol, day) for the debate."""
    if rows is None or rows.empty:
        return {}
    return {
        (r["symbol"], pd.Timestamp(r["as_of"]).date()): NewsSentiment(
            headlines=int(r["headlines"]), score=float(r["score"]),
            positive=int(r["positive"]), negative=int(r["negative"]),
            top_headline=str(r["top_headline"]),
            top_published_at=pd.Timestamp(r["top_published_at"]).to_pydatetime(),
            top_generated=bool(r["top_generated"]),
            generated_share=float(r["generated_share"]))
        for r in rows.to_dict("records")}


def headline_scores(news: pd.DataFrame) -> list[HeadlineScore]:
    """Each stored headline's tone, its body joined (the ``news`` table's rows)."""
    texts = (news["headline"].astype(str) + " "
             + news.get("body", pd.Series("", index=news.index)).fillna("").astype(str))
    languages = news["language"] if "language" in news else [None] * len(news)
    return [score_headline(t, lang) for t, lang in zip(texts, languages, strict=True)]


def daily_news_sentiment(news: pd.DataFrame, sessions: Sequence[date],
                         closes: Sequence[datetime], previous_close: datetime,
                         include_generated: bool = False) -> pd.DataFrame:
    """One row per session and symbol with news (and per session with market-wide news).

    ``news``: news_id, symbol (None: market-wide), headline, body, language, published_at,
    available_at (naive UTC), generated. ``closes``: each session's close in naive UTC,
    ascending; ``previous_close``: the close of the session before the first.
    """
    if news.empty or not len(sessions):
        return pd.DataFrame(columns=NEWS_SENTIMENT_COLUMNS)
    if not include_generated:
        news = news[~news["generated"].astype(bool)]
    available = pd.to_datetime(news["available_at"]).to_numpy(dtype="datetime64[ns]")
    edges = pd.to_datetime(pd.Series(list(closes))).to_numpy(dtype="datetime64[ns]")
    session = np.searchsorted(edges, available, side="left")
    inside = (available > np.datetime64(pd.Timestamp(previous_close))) & (session < len(edges))
    news = news[inside].assign(session=session[inside])
    if news.empty:
        return pd.DataFrame(columns=NEWS_SENTIMENT_COLUMNS)
    scores = headline_scores(news)
    news = news.assign(
        symbol=news["symbol"].where(news["symbol"].notna(), MARKET_WIDE),
        positive=[s.positive for s in scores], negative=[s.negative for s in scores],
        strength=[abs(s.score) for s in scores],
        published_at=pd.to_datetime(news["published_at"]))
    rows = []
    # The top headline: the strongest tone; on a tie the latest, then the id.
    ordered = news.sort_values(["session", "symbol", "strength", "available_at", "news_id"],
                               ascending=[True, True, False, False, True], kind="mergesort")
    for (i, symbol), group in ordered.groupby(["session", "symbol"], sort=True):
        top = group.iloc[0]
        positive, negative = int(group["positive"].sum()), int(group["negative"].sum())
        rows.append({
            "as_of": sessions[i], "symbol": symbol, "headlines": len(group),
            "score": round(sentiment_score(positive, negative), 6),
            "positive": positive, "negative": negative,
            "generated_share": round(float(group["generated"].astype(bool).mean()), 6),
            "top_headline": str(top["headline"]),
            "top_published_at": top["published_at"],
            "top_generated": bool(top["generated"]),
            "window_start": pd.Timestamp(closes[i - 1] if i else previous_close),
            "window_end": pd.Timestamp(closes[i])})
    return pd.DataFrame(rows, columns=NEWS_SENTIMENT_COLUMNS)


# What each drill says; the words are chosen from the lexicon so each kind has a known
# tone (a rumour lifts, a crash sinks, a contradiction pulls both ways).
DRILL_TEMPLATES: Mapping[str, tuple[tuple[int, str], ...]] = {
    "rumour": ((0, "Unconfirmed rumour: {symbol} said to be an attractive takeover target, "
                   "a strong gain for holders"),),
    "crash": ((0, "{symbol} shares plunge as fraud investigation widens"),
              (5, "{symbol} warns of heavy losses; analysts fear default and bankruptcy")),
    "contradiction": ((0, "{symbol} reports strong profitable quarter, beats expectations"),
                      (10, "{symbol} denies report: quarter was a loss, misstatement "
                           "alleged")),
}


def drill_headlines(kind: str, symbol: str | None, published_at: datetime) -> pd.DataFrame:
    """Generated headlines for a drill, from ``published_at`` (naive UTC) on: columns
    published_at, headline, symbol, source. Stored with ``generated = true``."""
    if kind not in DRILL_TEMPLATES:
        raise ValueError(f"unknown drill kind {kind!r}: use {', '.join(DRILL_KINDS)}")
    name = symbol or "The market"
    return pd.DataFrame([
        {"published_at": published_at + timedelta(minutes=minutes),
         "headline": text.format(symbol=name), "symbol": symbol,
         "source": f"drill:{kind}"}
        for minutes, text in DRILL_TEMPLATES[kind]])
