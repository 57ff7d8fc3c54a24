"""The sentiment, anomaly and event assets run in a replay through the graph, store their
rows, and reach the plan and the orders."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
from replay_helpers import SYMBOLS, table

from trade_pipelines.cli import run_replay

START, END = date(2019, 4, 1), date(2019, 4, 30)


def test_a_replay_materialises_sentiment_anomalies_and_events(project_home: Path) -> None:
    assert run_replay(START, END, SYMBOLS, progress=False)

    sentiment = table(project_home, "market_sentiment")
    sentiment["as_of"] = pd.to_datetime(sentiment["as_of"]).dt.date
    april = sentiment[sentiment["as_of"] >= START]
    assert len(april) == 21 and (april["market"] == "us").all()
    # The built-in VIX ends on 2019-01-03: the S&P 500's realised volatility stands in,
    # labelled as such; in 2018 the index itself is read.
    assert (april["volatility_source"] == "realised_vol_20d:^GSPC").all()
    june_2018 = sentiment[sentiment["as_of"] == date(2018, 6, 1)].iloc[0]
    assert june_2018["volatility_source"] == "^VIX"
    assert april["fear_greed"].between(0, 100).all()
    assert april["reason"].str.contains("fear/greed").all()
    # The whole history is stored, so the gene pool's look-back reads it too.
    assert sentiment["as_of"].min() < date(1991, 1, 1)

    anomalies = table(project_home, "anomalies")
    assert set(anomalies["symbol"]) == {*SYMBOLS.split(","), "^GSPC"}
    assert len(anomalies) == 21 * 6
    assert anomalies["score"].between(0, 10).all()

    events = table(project_home, "market_events")
    events["as_of"] = pd.to_datetime(events["as_of"]).dt.date
    aapl = events[(events["symbol"] == "AAPL") & (events["kind"] == "earnings")].iloc[0]
    assert aapl["as_of"] == date(2019, 4, 30) and aapl["impact"] >= 8
    # The window's events run a week past its end: the FOMC decision of 1 May is there.
    assert date(2019, 5, 1) in set(events.loc[events["kind"] == "central_bank", "as_of"])

    plans = table(project_home, "plans")
    plans["as_of"] = pd.to_datetime(plans["as_of"]).dt.date
    tasks = json.loads(plans.loc[plans["as_of"] == date(2019, 4, 26), "tasks"].iloc[0])
    assert any("AAPL earnings" in t and "no new entries into AAPL" in t for t in tasks)

    # The debate cites the market's mood in every transcript and the events ahead where
    # a name has one (the blackout itself is shown in tests/agent/loop).
    decisions = table(project_home, "decisions")
    assert len(decisions) > 0
    assert decisions["transcript"].str.contains("Fear/greed stands at").all()
    assert decisions["transcript"].str.contains(r"impact \d+/10").any()
